// Seed 002 with processes, as the seed has them (multiprocessing.Pool): Pool.imap over the row
// labels of a shared frame in worker *processes*, each task returning a new SharedArray moved
// back by handle; then a worker killed with SIGKILL mid-task (what the kernel's OOM killer does),
// which fails that task with a coded error instead of hanging the pool, and is replaced.
// Run: node examples/002-pool-processes/index.js
import { Heap, Pool, SharedFrame } from 'shmframe';

// Worker processes can only see memory they map: the pool's heap is in OS shared memory (an
// anonymous memfd: nothing to unlink, nothing left behind even if every process is killed).
const heap = Heap.create({ size: '256M', shared: 'process' });
const start = heap.stats();

const rows = 200;
const cols = 1000;
const columns = { label: Array.from({ length: rows }, (_, i) => `Idx-${i}`) };
for (let j = 0; j < cols; j++)
  columns[`Col-${j}`] = Float64Array.from({ length: rows }, Math.random);
const df = SharedFrame.from(columns, { index: 'label', heap });
const numbers = df.select(df.columns.slice(1));
const values = numbers.values(); // [rows, cols] over the frame's memory: no copy
numbers.close();

const pool = new Pool({
  module: new URL('./tasks.js', import.meta.url),
  isolation: 'process', // mp.Pool: workers are processes
  workers: 2,
  heap,
});
await pool.ready();
const pids = pool.stats().workers.map((w) => w.pid);
const ran = await pool.run('whoAmI');
console.log(
  `2 worker processes, not threads: ${pids.every((p) => p > 0 && p !== process.pid)}; a task ran in one of them: ${pids.includes(ran)}`,
);

// ---- 1. The row transform, as in example 002, in worker processes
const processRows = Array.from({ length: 40 }, (_, i) => `Idx-${(i * 37) % rows}`);
const items = processRows.map((label, seed) => ({ frame: df, values, label, seed }));
let done = 0;
for await (const result of pool.imap('transform', items, { progress: 'rows' })) {
  done++;
  result.close(); // moved to this process: closing it frees it
}
console.log(
  `imap: ${done} results of [${rows}, ${cols}] f8, each a SharedArray moved back from a worker process`,
);

// ---- 2. A worker killed mid-task (SIGKILL, as by the OOM killer)
try {
  await pool.run('killedMidTask', { values });
} catch (err) {
  console.log(`killed worker: ${err.code}, signal ${err.details.signal}`);
}
const again = await pool.run('transform', items[0]);
console.log(`the pool replaced it and goes on: a new result of [${again.shape}]`);
again.close();
const restarts = pool.stats().workers.reduce((s, w) => s + w.restarts, 0);
console.log(`workers replaced: ${restarts}`);

await pool.close();
values.close();
df.close();
const end = heap.stats();
const clean =
  end.objects === start.objects && end.used === start.used && end.handles === start.handles;
console.log(
  `heap: ${end.objects} objects, ${end.used} bytes used, ${end.handles} handles pending: ` +
    (clean ? 'back to where it began' : 'LEAKED'),
);
if (!clean) process.exitCode = 1;
