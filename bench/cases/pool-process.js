// The Pool with isolation: 'process' against the same Pool over worker threads, in one run,
// taking turns, over one heap in OS shared memory (a memfd heap: both pools read the same frame
// and leave their results in the same memory):
//   seed 002's row transform at full size (a 1000 x 5000 f8 frame indexed by row label, each
//   task returning a new 1000 x 5000 SharedArray, moved to the caller by handle): issue 12's
//   target is the process pool within 10% of the thread pool (>= 0.9x);
//   tiny tasks (map of x * x over 20,000 numbers, chunkSize 64): what a message costs over the
//   IPC channel against a thread's port (no target: shown so users know).
import os from 'node:os';
import { Heap, Pool } from 'shmframe';
import { GiB, MiB, availableMemory, gc, measureInterleaved, runCase, summarize } from '../lib.js';
import { checksum, makeFrame, pickLabels, touchHeap } from '../seed002.js';

const kTasks = new URL('../workers/pool-tasks.js', import.meta.url);

await runCase('pool-process', async ({ quick, repeats, result, log }) => {
  const rows = quick ? 200 : 1000;
  const cols = quick ? 500 : 5000;
  const tasks = quick ? 8 : 60;
  const workers = Math.min(2, os.availableParallelism());
  const resultBytes = rows * cols * 8;
  const need = 24 * resultBytes + 2 * GiB;
  if (availableMemory() < need) {
    result.skip(
      `pool-process: needs ${(need / GiB).toFixed(1)} GiB available, ${(availableMemory() / GiB).toFixed(1)} GiB are`,
    );
    return;
  }
  let heap;
  try {
    heap = Heap.create({ size: 16 * resultBytes + 512 * MiB, shared: 'process' });
  } catch (err) {
    if (err.code !== 'SHMFRAME_ERR_NATIVE') throw err;
    result.skip(`pool-process: process heaps need the native addon (${err.message})`);
    return;
  }
  const { frame, values } = makeFrame(rows, cols, heap);
  const labels = pickLabels(tasks, rows);
  const threads = new Pool({ module: kTasks, workers, heap });
  const processes = new Pool({ module: kTasks, workers, heap, isolation: 'process' });
  await Promise.all([threads.ready(), processes.ready()]);
  const touched = touchHeap(heap, [rows, cols]);
  const sums = { threads: [], processes: [] };
  const items = labels.map((label, seed) => ({ frame, values, label, seed }));
  const transformWith = (pool, name) => async () => {
    let s = 0;
    for await (const out of pool.imap('transform', items)) {
      s += checksum(out);
      out.close();
    }
    sums[name].push(s);
  };
  const numbers = Array.from({ length: quick ? 2000 : 20_000 }, (_, i) => i);
  const tinyWith = (pool) => async () => {
    const out = await pool.map('square', numbers, { chunkSize: 64 });
    if (out[numbers.length - 1] !== (numbers.length - 1) ** 2) throw new Error('wrong result');
  };
  try {
    const big = await measureInterleaved(
      {
        threads: transformWith(threads, 'threads'),
        processes: transformWith(processes, 'processes'),
      },
      { warmup: 1, repeats: repeats ?? (quick ? 1 : 5), before: () => gc() },
    );
    for (const s of sums.processes) {
      if (Math.abs(s - sums.threads[0]) > 1e-6 * Math.abs(sums.threads[0]))
        throw new Error(`the process pool computed ${s}, the thread pool ${sums.threads[0]}`);
    }
    const tiny = await measureInterleaved(
      { threads: tinyWith(threads), processes: tinyWith(processes) },
      { warmup: 1, repeats: repeats ?? (quick ? 1 : 5) },
    );
    const perTask = (stat) => summarize(stat.samples.map((ms) => ms / tasks));
    const perItem = (stat) => summarize(stat.samples.map((ms) => (ms * 1000) / numbers.length));
    log(
      `${rows}x${cols}, ${tasks} tasks: threads ${big.threads.median.toFixed(0)} ms, processes ${big.processes.median.toFixed(0)} ms; ` +
        `${numbers.length} tiny items: threads ${tiny.threads.median.toFixed(0)} ms, processes ${tiny.processes.median.toFixed(0)} ms`,
    );
    result.add({
      id: 'seed002-process-vs-thread',
      what: `seed 002 transform (${rows}x${cols} f8, ${tasks} tasks): Pool.imap with ${workers} worker processes vs ${workers} worker threads, one process heap`,
      unit: 'ms',
      shmframe: perTask(big.processes),
      alternative: { name: `Pool, ${workers} worker threads`, stat: perTask(big.threads) },
      target: { text: '>= 0.9x', min: 0.9 },
    });
    result.add({
      id: 'tiny-process-vs-thread',
      what: `map of x * x over ${numbers.length} numbers, chunkSize 64: worker processes (IPC channel) vs worker threads (ports)`,
      unit: 'us',
      shmframe: perItem(tiny.processes),
      alternative: { name: `Pool, ${workers} worker threads`, stat: perItem(tiny.threads) },
      target: null,
    });
    result.note(
      `pool-process: the transform in ms per task (${tasks} tasks per sample), the tiny map in us per item; both pools take turns over one memfd heap whose pages were touched first (${touched} result-sized blocks); every result checked against the thread pool's`,
    );
  } finally {
    await Promise.all([threads.close(), processes.close()]);
    frame.close();
    values.close();
  }
});
