#!/usr/bin/env node
// Test data for the benches. Seed 004's TSV files: per-CpG methylation calls, one line per site,
//   chr <TAB> pos <TAB> pct <TAB> c <TAB> t
// (chromosome, 1-based position, percent methylated, methylated and unmethylated read counts),
// the columns np.loadtxt reads with [('chr','S10'),('pos','<i4'),('pct','<f4'),('c','<i4'),('t','<i4')].
// Realistic values: chromosomes in order with rows in proportion to their length, positions
// increasing by CpG-like gaps, coverage 1..~60, methylation bimodal (most sites near 0% or near
// 100%), pct = 100 * c / (c + t) printed with up to 6 significant digits. Deterministic per seed.
//
//   import { writeMethylationTsv } from '../data.js';
//   const { rows, bytes } = writeMethylationTsv('/tmp/x.tsv', { rows: 1_000_000, seed: 1 });
//
//   node bench/data.js methylation <out.tsv> [--rows 1000000] [--seed 1] [--header]
import { closeSync, openSync, writeSync } from 'node:fs';

// GRCh38 lengths in Mb, for the share of rows per chromosome.
const kChromosomes = [
  ['chr1', 248],
  ['chr2', 242],
  ['chr3', 198],
  ['chr4', 190],
  ['chr5', 181],
  ['chr6', 171],
  ['chr7', 159],
  ['chr8', 145],
  ['chr9', 138],
  ['chr10', 134],
  ['chr11', 135],
  ['chr12', 133],
  ['chr13', 114],
  ['chr14', 107],
  ['chr15', 102],
  ['chr16', 90],
  ['chr17', 83],
  ['chr18', 80],
  ['chr19', 59],
  ['chr20', 64],
  ['chr21', 47],
  ['chr22', 51],
  ['chrX', 156],
  ['chrY', 57],
  ['chrM', 1],
];

/** A small seeded PRNG (mulberry32): uniform in [0, 1). */
export function prng(seed = 1) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * Writes `rows` methylation lines to `path`. Returns { path, rows, bytes }.
 * @param {{ rows?: number, seed?: number, header?: boolean }} options
 */
export function writeMethylationTsv(path, { rows = 1_000_000, seed = 1, header = false } = {}) {
  const random = prng(seed);
  const total = kChromosomes.reduce((p, [, mb]) => p + mb, 0);
  const fd = openSync(path, 'w');
  let bytes = 0;
  let written = 0;
  const flush = (text) => {
    bytes += writeSync(fd, text);
  };
  try {
    if (header) flush('chr\tpos\tpct\tc\tt\n');
    let chunk = [];
    for (let k = 0; k < kChromosomes.length && written < rows; k++) {
      const [chr, mb] = kChromosomes[k];
      const share =
        k === kChromosomes.length - 1 ? rows - written : Math.round((rows * mb) / total);
      const n = Math.min(rows - written, share);
      // Spread the sites over the chromosome: mean gap = length / sites, at least 2 bp.
      const meanGap = Math.max(2, Math.floor((mb * 1e6) / Math.max(1, n)));
      let pos = 10_000 + Math.floor(random() * 1000);
      for (let i = 0; i < n; i++) {
        pos += 1 + Math.floor(-Math.log(1 - random()) * meanGap);
        if (pos > 2_000_000_000) pos = 2_000_000_000; // stays an <i4
        const coverage = 1 + Math.floor(-Math.log(1 - random()) * 14);
        const u = random();
        const p = u < 0.7 ? 0.8 + 0.2 * random() : u < 0.9 ? 0.1 * random() : random();
        // Binomial(coverage, p), approximated by its mean plus uniform noise of the same variance.
        const sd = Math.sqrt(coverage * p * (1 - p));
        const c = Math.min(
          coverage,
          Math.max(0, Math.round(coverage * p + (random() - 0.5) * 3.4641 * sd)),
        );
        const t = coverage - c;
        const pct = Number(((100 * c) / coverage).toPrecision(6));
        chunk.push(`${chr}\t${pos}\t${pct}\t${c}\t${t}\n`);
        if (chunk.length === 65536) {
          flush(chunk.join(''));
          chunk = [];
        }
      }
      written += n;
    }
    if (chunk.length > 0) flush(chunk.join(''));
  } finally {
    closeSync(fd);
  }
  return { path, rows: written, bytes };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [kind, out, ...rest] = process.argv.slice(2);
  if (kind !== 'methylation' || !out) {
    console.error(
      'usage: node bench/data.js methylation <out.tsv> [--rows 1000000] [--seed 1] [--header]',
    );
    process.exit(2);
  }
  const opt = (name, dflt) => {
    const i = rest.indexOf(`--${name}`);
    return i >= 0 ? Number(rest[i + 1]) : dflt;
  };
  const r = writeMethylationTsv(out, {
    rows: opt('rows', 1_000_000),
    seed: opt('seed', 1),
    header: rest.includes('--header'),
  });
  console.log(JSON.stringify(r));
}
