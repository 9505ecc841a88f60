// Seed 001 across languages: a Python parent makes a frame of strings and NaN from the seed's own
// DataFrame in a named heap; a multiprocessing.Pool of Python workers fills a missing value in
// place and appends rows (the frame travels to them pickled as a handle string); after every
// Python process exited, Node reads the frame, published under a key.
// Run: node examples/python-001-pool-writes/index.js
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Heap } from 'shmframe';

const here = fileURLToPath(new URL('.', import.meta.url));
const python = process.env.SHMFRAME_PYTHON || '/usr/bin/python3';
const env = { ...process.env, PYTHONPATH: fileURLToPath(new URL('../../python', import.meta.url)) };

const heap = Heap.create({ size: '64M', name: `example-python-001-${process.pid}` });
const start = heap.stats();
const r = spawnSync(python, [`${here}pool.py`, heap.name], { encoding: 'utf8', env });
if (r.error || r.status !== 0) {
  console.log(
    `python could not run (${r.error?.message ?? r.stderr.trim().split('\n').pop()}): needs numpy and pandas`,
  );
} else {
  process.stdout.write(r.stdout);
  heap.releaseDead(); // the pool's workers were terminated by `with Pool()`: release them now
  const frame = heap.lookup('seed001', { remove: true });
  console.log(
    `node reads ${frame.length} rows; schema ${frame.schema.map(([n, d]) => `${n}:${d}`).join(' ')}`,
  );
  console.log(frame.head(3).toString());
  let nulls = 0;
  for (let i = 0; i < frame.length; i++) if (frame.isNull(i, 'd2')) nulls++;
  console.log(
    `node: d2 has ${nulls} nulls; categories of w2: ${frame.col('w2').categories.join(', ')}`,
  );
  frame.close();
}
const end = heap.stats();
const clean =
  end.objects === start.objects && end.used === start.used && end.handles === start.handles;
console.log(
  `\nheap: ${end.objects} objects, ${end.used} bytes used, ${end.handles} handles pending: ` +
    (clean ? 'back to where it began' : 'LEAKED'),
);
if (!clean) process.exitCode = 1;
