// Seed 004 across languages: Node's readDelimited parses the seed's text files in worker threads
// straight into frames of a named heap and publishes one per file; a Python process gets them by
// key, checks them against np.loadtxt and writes one HDF5 compound dataset per file with h5py,
// as the seed's parent does. No SharedMemory blocks, no names passed around, nothing to unlink.
// Run: node examples/python-004-load-to-hdf5/index.js
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Heap, readDelimited } from 'shmframe';

const here = fileURLToPath(new URL('.', import.meta.url));
const python = process.env.SHMFRAME_PYTHON || '/usr/bin/python3';
const env = { ...process.env, PYTHONPATH: fileURLToPath(new URL('../../python', import.meta.url)) };

// ---- 3 files of `chr pos pct c t` lines (the seed's data1.txt, data2.txt, ...)
const dir = mkdtempSync(join(tmpdir(), 'shmframe-example-python-004-'));
let seed = 4;
const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
const files = [1, 2, 3].map((k) => {
  const lines = [];
  for (let i = 0; i < 20_000; i++) {
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

const heap = Heap.create({ size: '64M', name: `example-python-004-${process.pid}` });
const start = heap.stats();
try {
  const frames = await readDelimited(files, {
    schema: "[('chr', 'S10'), ('pos', '<i4'), ('pct', '<f4'), ('c', '<i4'), ('t', '<i4')]",
    workers: 2,
    concat: false, // one frame per file, as the seed's children each load one
    heap,
  });
  const rows = frames.map((f) => f.length);
  frames.forEach((frame, i) => {
    heap.publish(basename(files[i], '.txt'), frame); // the heap keeps it under the file's name
    frame.close();
  });
  console.log(`node loaded ${rows.join(' + ')} rows and published ${heap.published().join(', ')}`);
  const r = spawnSync(python, [`${here}to_hdf5.py`, heap.name, join(dir, 'seed004.h5'), ...files], {
    encoding: 'utf8',
    env,
  });
  if (r.error || r.status !== 0) {
    console.log(
      `python could not run (${r.error?.message ?? r.stderr.trim().split('\n').pop()}): needs numpy and h5py`,
    );
  } else {
    process.stdout.write(r.stdout);
  }
} finally {
  for (const key of heap.published()) heap.unpublish(key);
  rmSync(dir, { recursive: true, force: true });
}
const end = heap.stats();
const clean =
  end.objects === start.objects && end.used === start.used && end.handles === start.handles;
console.log(
  `\nheap: ${end.objects} objects, ${end.used} bytes used, ${end.handles} handles pending: ` +
    (clean ? 'back to where it began' : 'LEAKED'),
);
if (!clean) process.exitCode = 1;
