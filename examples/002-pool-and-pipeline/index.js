// Seed 002 at a small scale: (1) Pool.imap over the row labels of a shared frame, each task
// returning a new SharedArray, with a progress bar; (2) a producer-consumer pipeline of cameras
// and matchers over a bounded SharedQueue with put timeouts and skipped frames.
// Run: node examples/002-pool-and-pipeline/index.js      (the full-size story: npm start)
import { Heap, Pool, SharedFrame, SharedQueue } from 'shmframe';

const heap = Heap.default();
const start = heap.stats();
const tasks = new URL('./tasks.js', import.meta.url);
const MiB = 2 ** 20;

// ---- 1. The row transform: a rows x cols frame indexed by labels, transformed row by row
const rows = 200;
const cols = 1000;
const columns = { label: Array.from({ length: rows }, (_, i) => `Idx-${i}`) };
for (let j = 0; j < cols; j++)
  columns[`Col-${j}`] = Float64Array.from({ length: rows }, Math.random);
const df = SharedFrame.from(columns, { index: 'label' });
const numbers = df.select(df.columns.slice(1));
const values = numbers.values(); // [rows, cols] over the frame's memory: no copy
numbers.close();
console.log(
  `frame: ${df.length} rows x ${cols} f8 columns (${(values.byteLength / MiB).toFixed(1)} MiB), indexed by label`,
);

const processRows = Array.from({ length: 40 }, (_, i) => `Idx-${(i * 37) % rows}`);
const pool = new Pool({ module: tasks, workers: 2 });
const items = processRows.map((label, seed) => ({ frame: df, values, label, seed }));
let done = 0;
let checksum = 0;
// `progress: 'rows'` draws a bar on stderr when it is a terminal (tqdm's job); piped, it is quiet.
for await (const result of pool.imap('transform', items, { progress: 'rows' })) {
  checksum += result.data[0];
  done++;
  result.close(); // the result was moved to this thread: closing it frees it
}
await pool.close();
console.log(
  `imap: ${done} results of [${rows}, ${cols}] f8, each a SharedArray moved back (checksum ${checksum.toFixed(3)})`,
);
values.close();
df.close();

// ---- 2. Producer-consumer: 5 cameras, 2 matchers, a bounded queue
const cameras = 5;
const matchers = 2;
const frames = 32;
const descriptors = 200;
const features = 64;
const capacity = 10; // the seed's mp.Queue(maxsize=...)
const q = SharedQueue.create({ capacity });
const pipeline = new Pool({ module: tasks, workers: cameras + matchers });
console.log(
  `\npipeline: ${cameras} cameras x ${frames} frames of [${descriptors}, ${features}] f8, ` +
    `${matchers} matchers, queue capacity ${capacity}, put timeout 100 ms`,
);
let peak = 0;
const sampler = setInterval(() => (peak = Math.max(peak, heap.stats().used)), 5);

const matching = Array.from({ length: matchers }, () =>
  pipeline.run('matcher', { q, cameras, threshold: 0.385 }),
);
const capturing = Array.from({ length: cameras }, (_, camera) =>
  pipeline.run('camera', { q, camera, frames, descriptors, features, putTimeout: 100 }),
);
const captured = await Promise.all(capturing);
q.close(); // done is signalled: matchers drain what is left and stop
const matched = await Promise.all(matching);
clearInterval(sampler);
await pipeline.close();

const queued = captured.reduce((s, c) => s + c.queued, 0);
const skipped = captured.reduce((s, c) => s + c.skipped, 0);
const taken = matched.reduce((s, m) => s + m.taken, 0);
const found = matched.reduce((s, m) => s + m.found, 0);
const frameBytes = descriptors * features * 8;
const bound = (capacity + matchers * cameras + cameras) * frameBytes;
console.log(
  `${cameras * frames} frames captured: ${queued} queued, ${skipped} skipped (queue full), ` +
    `${taken} taken by the matchers, ${found} matches`,
);
console.log(`no frame lost: ${queued + skipped === cameras * frames && taken === queued}`);
console.log(
  `peak heap use ${(peak / MiB).toFixed(1)} MiB, bounded by (queue + newest per matcher + one per camera) ` +
    `x frame = ${(bound / MiB).toFixed(1)} MiB`,
);
q.detach(); // drop this thread's reference: the queue is freed

const end = heap.stats();
const clean =
  end.objects === start.objects && end.used === start.used && end.handles === start.handles;
console.log(
  `\nheap: ${end.objects} objects, ${end.used} bytes used, ${end.handles} handles pending: ` +
    (clean ? 'back to where it began' : 'LEAKED'),
);
if (!clean) process.exitCode = 1;
