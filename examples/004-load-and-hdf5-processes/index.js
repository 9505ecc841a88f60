// Seed 004 with real processes, as the seed has them: one child process per text file loads it
// (np.loadtxt with a structured dtype -> readDelimited) into shared memory and leaves the frame
// for the parent under a key; the children exit; the parent writes every frame into one HDF5
// file. No SharedMemory name + shape + dtype passed back, no "memory not found" (a child may
// exit before the parent looks), no unlink, no leak.
// Run: node examples/004-load-and-hdf5-processes/index.js
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Heap, readHDF5, writeHDF5 } from 'shmframe';

const heap = Heap.create({ size: '256M', shared: 'process' });
const start = heap.stats();

// ---- The seed's data1.txt ... data4.txt: `chr pos pct c t`, tab-separated
const dir = mkdtempSync(join(tmpdir(), 'shmframe-example-004p-'));
let seed = 4;
const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
const paths = [1, 2, 3, 4].map((k) => {
  const lines = [];
  for (let i = 0; i < 50_000; i++) {
    const c = Math.floor(rnd() * 30);
    const t = Math.floor(rnd() * 30);
    lines.push(
      `chr${1 + Math.floor(rnd() * 22)}\t${10_000 * k + i}\t${(c + t === 0 ? 0 : (100 * c) / (c + t)).toFixed(2)}\t${c}\t${t}`,
    );
  }
  const path = join(dir, `data${k}.txt`);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
});

// ---- One child process per file, as the seed's Process(target=loadtxt_worker). Each gets the
// heap as an inherited file descriptor (fd 3) and the dtype pasted from the seed.
const dtype = "[('chr', 'S10'), ('pos', '<i4'), ('pct', '<f4'), ('c', '<i4'), ('t', '<i4')]";
const children = paths.map((path) =>
  spawn(process.execPath, [new URL('./child.js', import.meta.url).pathname, path, dtype], {
    stdio: ['ignore', 'inherit', 'inherit', heap.fd],
  }),
);
const codes = await Promise.all(children.map((c) => once(c, 'exit').then(([code]) => code)));
if (codes.some((c) => c !== 0)) throw new Error(`a child failed: exit codes ${codes}`);
console.log(`${children.length} child processes loaded their files and exited`);
console.log(`published in the heap: ${heap.published().sort().join(', ')}`);

// ---- The parent takes each frame (the name goes, its reference becomes ours) and writes them
// all into one HDF5 file, one compound dataset per file, as h5py would.
const frames = Object.fromEntries(
  paths.map((p) => [basename(p, '.txt'), heap.lookup(basename(p, '.txt'), { remove: true })]),
);
console.log(
  `rows per file: ${Object.values(frames)
    .map((f) => f.length)
    .join(' + ')}`,
);
console.log(frames.data1.head(2));
const out = join(dir, 'combined.h5');
await writeHDF5(out, frames);
console.log(
  `wrote combined.h5: datasets ${Object.keys(frames).join(', ')} (${(statSync(out).size / 2 ** 20).toFixed(1)} MiB)`,
);
try {
  const back = await readHDF5(out, 'data3');
  const f = frames.data3;
  let same = back.length === f.length;
  for (const name of f.columns) {
    const [x, y] = [f.col(name), back.col(name)];
    const [a, b] = name === 'chr' ? [x.data, y.data] : [x, y];
    for (let i = 0; same && i < a.length; i++) same = a[i] === b[i];
  }
  console.log(`read back data3: ${back.length} rows, identical: ${same}`);
  back.close();
} catch (err) {
  if (err.code !== 'SHMFRAME_ERR_DEPENDENCY') throw err;
  console.log(`HDF5 read-back skipped: ${err.message}`);
}
for (const f of Object.values(frames)) f.close();
rmSync(dir, { recursive: true, force: true });

heap.releaseDead();
const end = heap.stats();
const clean =
  end.objects === start.objects && end.used === start.used && end.handles === start.handles;
console.log(
  `\nheap: ${end.objects} objects, ${end.used} bytes used, ${end.handles} handles pending: ` +
    (clean ? 'back to where it began' : 'LEAKED'),
);
if (!clean) process.exitCode = 1;
