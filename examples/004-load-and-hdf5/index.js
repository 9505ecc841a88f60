// Seed 004: load several `chr pos pct c t` text files in parallel worker threads (np.loadtxt with
// a structured dtype) straight into ONE shared frame, write it as an HDF5 compound dataset as
// h5py would, read it back, print a summary. No SharedMemory names, no unlink, no leak.
// Run: node examples/004-load-and-hdf5/index.js
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Heap, readDelimited, readHDF5, writeHDF5 } from 'shmframe';

const heap = Heap.default();
const start = heap.stats();

// ---- Generate 4 small genomic text files (the seed's data1.txt, data2.txt, ...)
const dir = mkdtempSync(join(tmpdir(), 'shmframe-example-004-'));
let seed = 4;
const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
const paths = [1, 2, 3, 4].map((k) => {
  const lines = [];
  for (let i = 0; i < 50_000; i++) {
    const chr = `chr${1 + Math.floor(rnd() * 22)}`;
    const c = Math.floor(rnd() * 30);
    const t = Math.floor(rnd() * 30);
    const pct = c + t === 0 ? 0 : (100 * c) / (c + t);
    lines.push(`${chr}\t${10_000 * k + i}\t${pct.toFixed(2)}\t${c}\t${t}`);
  }
  const path = join(dir, `data${k}.txt`);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
});
const inputBytes = paths.reduce((s, p) => s + statSync(p).size, 0);
console.log(`generated ${paths.length} files, ${(inputBytes / 2 ** 20).toFixed(1)} MiB`);

// ---- Load them in parallel: the seed's dtype, pasted as Python, is accepted as is.
const dtype = "[('chr', 'S10'), ('pos', '<i4'), ('pct', '<f4'), ('c', '<i4'), ('t', '<i4')]";
let report;
const frame = await readDelimited(paths, {
  schema: dtype,
  workers: 2, // small inputs would be parsed on this thread; the seed's point is workers
  progress: 'loading', // a bar on stderr when it is a terminal
  onReport: (r) => (report = r),
});
console.log(
  `loaded ${frame.length} rows from ${report.files.length} files with ${report.workers} workers ` +
    `(${report.files.map((f) => f.rows).join(' + ')} rows) into one shared frame`,
);
console.log(frame.head(3));

// ---- A summary, straight from the shared columns
const pct = frame.col('pct'); // Float32Array over the shared memory
const chr = frame.col('chr'); // |S10 strings
const perChr = new Map();
for (let i = 0; i < frame.length; i++) {
  const name = chr.get(i);
  const s = perChr.get(name) ?? { rows: 0, pct: 0 };
  s.rows++;
  s.pct += pct[i];
  perChr.set(name, s);
}
const top = [...perChr].sort((a, b) => b[1].rows - a[1].rows).slice(0, 3);
console.log(
  `${perChr.size} chromosomes; most rows: ` +
    top.map(([n, s]) => `${n} ${s.rows} rows, mean pct ${(s.pct / s.rows).toFixed(2)}`).join('; '),
);

// ---- One HDF5 file, one compound dataset: h5py reads it back as the seed's dtype.
const out = join(dir, 'combined.h5');
try {
  await writeHDF5(out, { data: frame });
  const back = await readHDF5(out, 'data');
  // Compare every cell, column by column: numbers as TypedArrays, chr as its |S10 bytes.
  let same = back.length === frame.length;
  for (const name of frame.columns) {
    const [x, y] = [frame.col(name), back.col(name)];
    const [a, b] = name === 'chr' ? [x.data, y.data] : [x, y];
    for (let i = 0; same && i < a.length; i++) same = a[i] === b[i];
  }
  console.log(
    `wrote ${out.slice(dir.length + 1)} (${(statSync(out).size / 2 ** 20).toFixed(1)} MiB, ` +
      `compound dataset 'data': ${back.schema.map(([n, d]) => `${n} ${d}`).join(', ')})`,
  );
  console.log(`read back ${back.length} rows, identical: ${same}`);
  back.close();
} catch (err) {
  // Reading HDF5 needs the optional peer dependency h5wasm: without it, say so and go on.
  if (err.code !== 'SHMFRAME_ERR_DEPENDENCY') throw err;
  console.log(`HDF5 read-back skipped: ${err.message}`);
}
frame.close();

// ---- The seed's own shape, in one call: one dataset per file, each written to the HDF5 file
// as soon as that file is parsed, while the workers parse the next ones.
const perFile = join(dir, 'per-file.h5');
const frames = await readDelimited(paths, {
  schema: dtype,
  workers: 2,
  concat: false,
  hdf5: perFile, // add direct: true for direct I/O (docs/io.md)
});
console.log(
  `wrote per-file.h5 while loading: datasets ${paths.map((p) => basename(p, '.txt')).join(', ')} ` +
    `(${frames.map((f) => f.length).join(' + ')} rows, ${(statSync(perFile).size / 2 ** 20).toFixed(1)} MiB)`,
);
for (const f of frames) f.close();

console.log('\nthe same from the command line (a progress bar, a summary, one HDF5 file):');
console.log(
  "  npx shmframe load data*.txt --schema 'chr:S10,pos:i4,pct:f4,c:i4,t:i4' --out combined.h5",
);
rmSync(dir, { recursive: true, force: true });

const end = heap.stats();
const clean =
  end.objects === start.objects && end.used === start.used && end.handles === start.handles;
console.log(
  `\nheap: ${end.objects} objects, ${end.used} bytes used, ${end.handles} handles pending: ` +
    (clean ? 'back to where it began' : 'LEAKED'),
);
if (!clean) process.exitCode = 1;
