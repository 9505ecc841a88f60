// Parse throughput of one thread on a 100 MB numeric TSV (4 MB with --quick): shmframe's
// readDelimited (workers: 0: this thread reads, scans and parses the file into a SharedFrame of
// typed columns) against the fastest JavaScript parsers in the same run, each from the file to
// typed numeric columns:
// - uDSV: readFileSync + toString + inferSchema + parser.typedCols (columns of JS numbers);
// - d3-dsv: readFileSync + toString + tsvParseRows(text, row => row.map(Number)).
// Rates are bytes of input per second of wall time, and per second of this process's CPU time
// (the machine is shared: CPU time is the steadier figure for "per core").
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Heap, readDelimited } from 'shmframe';
import { inferSchema, initParser } from 'udsv';
import { tsvParseRows } from 'd3-dsv';
import { prng } from '../data.js';
import { MiB, gc, measureInterleaved, runCase, summarize } from '../lib.js';

const kCols = [
  ['id', 'i4'],
  ['x', 'f8'],
  ['y', 'f8'],
  ['z', 'f8'],
  ['count', 'i4'],
  ['score', 'f8'],
  ['flag', 'i4'],
  ['w', 'f8'],
];

/** Writes a TSV of about `bytes` bytes: ints and floats printed as JS does (up to 17 digits). */
function writeNumericTsv(path, bytes) {
  const random = prng(4);
  const parts = [];
  let size = 0;
  let rows = 0;
  while (size < bytes) {
    const line =
      `${rows}\t${(random() * 1000).toFixed(6)}\t${random() * 2 - 1}\t${(random() * 1e6).toFixed(2)}\t` +
      `${Math.floor(random() * 100000)}\t${(random() * 100).toFixed(3)}\t${random() < 0.5 ? 0 : 1}\t${random().toPrecision(9)}\n`;
    parts.push(line);
    size += line.length;
    rows++;
  }
  writeFileSync(path, parts.join(''));
  return rows;
}

await runCase('io-parse', async ({ quick, repeats, result, log }) => {
  const dir = mkdtempSync(join(tmpdir(), 'shmframe-bench-parse-'));
  try {
    const path = join(dir, 'numeric.tsv');
    const rows = writeNumericTsv(path, (quick ? 4 : 100) * 1e6);
    const bytes = statSync(path).size;
    const mb = bytes / 1e6;
    log(`io-parse: ${rows} rows, ${mb.toFixed(0)} MB`);
    const heap = Heap.create({ size: 4 * bytes + 64 * MiB });
    const cpu = {};
    const timed = (name, fn) => async () => {
      const c0 = process.cpuUsage();
      const out = await fn();
      const c = process.cpuUsage(c0);
      (cpu[name] ??= []).push((c.user + c.system) / 1000);
      return out;
    };
    let checks = {};
    const methods = {
      shmframe: timed('shmframe', async () => {
        const f = await readDelimited(path, { schema: kCols, delimiter: '\t', workers: 0, heap });
        checks.shmframe = [f.length, f.get(rows - 1, 'id'), f.get(rows - 1, 'w')];
        f.close();
      }),
      uDSV: timed('uDSV', () => {
        const text = readFileSync(path).toString();
        const schema = inferSchema(text, { header: () => [], col: '\t', row: '\n' });
        const cols = initParser(schema).typedCols(text);
        checks.uDSV = [cols[0].length, cols[0][rows - 1], cols[7][rows - 1]];
      }),
      'd3-dsv': timed('d3-dsv', () => {
        const text = readFileSync(path).toString();
        const out = tsvParseRows(text, (row) => row.map(Number));
        checks['d3-dsv'] = [out.length, out[rows - 1][0], out[rows - 1][7]];
      }),
    };
    gc();
    const stats = await measureInterleaved(methods, {
      warmup: 1,
      repeats: repeats ?? (quick ? 3 : 5),
      before: () => gc(),
    });
    // Check what was measured: every parser saw every row and the same last values.
    const want = JSON.stringify(checks.shmframe);
    for (const [name, got] of Object.entries(checks))
      if (JSON.stringify(got) !== want)
        throw new Error(`${name} parsed ${JSON.stringify(got)}, shmframe ${want}`);
    const rate = (ms) => ({ ...summarize(ms.map((t) => mb / (t / 1000))) });
    const cpuRate = (name) => rate(cpu[name].slice(-stats[name].n));
    for (const alt of ['uDSV', 'd3-dsv']) {
      result.add({
        id: `parse-vs-${alt}`,
        what: `one thread: ${mb.toFixed(0)} MB numeric TSV (${rows} rows x 8) -> typed columns`,
        unit: 'MB/s',
        better: 'higher',
        shmframe: rate(stats.shmframe.samples),
        alternative: { name: alt, stat: rate(stats[alt].samples) },
      });
    }
    result.add({
      id: 'parse-cpu-vs-uDSV',
      what: `the same, per second of CPU time`,
      unit: 'MB/s',
      better: 'higher',
      shmframe: cpuRate('shmframe'),
      alternative: { name: 'uDSV', stat: cpuRate('uDSV') },
    });
    result.note(
      'uDSV and d3-dsv need the whole file as one string (they parse strings, not bytes) and produce arrays of JS numbers; shmframe reads the file in 1 MiB chunks into a SharedFrame of typed columns.',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
