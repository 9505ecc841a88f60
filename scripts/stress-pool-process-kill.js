#!/usr/bin/env node
// Kills the worker processes of a Pool (isolation: 'process') with SIGKILL at random moments while
// they run tasks that attach shared arrays and return new ones, many times over. Checks that every
// task either succeeded with the right result or failed with SHMFRAME_ERR_WORKER_CRASHED, that the
// pool went on, and, after the pool closed, that the heap came back exactly (objects, bytes,
// handles, allocator invariants). Prints a summary; exits 1 on the first leak or wrong result.
//
// Usage: node scripts/stress-pool-process-kill.js [kills=200] [max ms between kills=60]
import { setTimeout as sleep } from 'node:timers/promises';
import { Heap, Pool, SharedArray } from '../dist/index.js';
import { kCore } from '../dist/heap/heap.js';

const kills = Number(process.argv[2] ?? 200);
const maxDelay = Number(process.argv[3] ?? 60);
const tasks = new URL('../test/fixtures/process-pool-tasks.js', import.meta.url);
const heap = Heap.create({ size: '256M', shared: 'process' });
const base = heap.stats();
const pool = new Pool({ module: tasks, workers: 2, heap, isolation: 'process' });
await pool.ready();
const a = SharedArray.full([4096], 1, 'f8', { heap });
const started = Date.now();
let ok = 0;
let crashed = 0;
let done = 0;
let stop = false;
const fail = (msg) => {
  console.error(`FAIL after ${done} kills: ${msg}`);
  process.exit(1);
};

// Two streams of tasks: sums of the shared array (attached by the worker) and new arrays (made by
// the worker, moved to this process).
async function stream(kind) {
  while (!stop) {
    try {
      if (kind === 0) {
        const s = await pool.run('sumArray', { a });
        if (s !== 4096) fail(`sumArray returned ${s}`);
      } else {
        const z = await pool.run('zeros', { n: 1000 + (ok % 500) });
        if (z.size < 1000 || z.data[0] !== 0) fail(`zeros returned ${z.shape}`);
        z.close();
      }
      ok++;
    } catch (err) {
      if (err.code !== 'SHMFRAME_ERR_WORKER_CRASHED') fail(`${err.code}: ${err.message}`);
      crashed++;
    }
  }
}
const streams = [stream(0), stream(1), stream(0), stream(1)];

while (done < kills) {
  await sleep(Math.random() * maxDelay);
  const pids = pool
    .stats()
    .workers.filter((w) => w.pid > 0 && w.state !== 'starting')
    .map((w) => w.pid);
  if (pids.length === 0) continue;
  const pid = pids[Math.floor(Math.random() * pids.length)];
  try {
    process.kill(pid, 'SIGKILL');
    done++;
  } catch {
    // it had just exited
  }
  if (done % 50 === 0) {
    const s = heap.stats();
    console.log(
      `${done} kills: ${ok} tasks ok, ${crashed} crashed, heap ${s.objects} objects, ${s.handles} handles in flight, repairs ${s.repairs}`,
    );
  }
}
stop = true;
await Promise.all(streams);
await pool.close();
a.close();
heap.releaseDead();
const end = heap.stats();
const problems = heap[kCore].alloc.verify();
if (end.objects !== base.objects || end.used !== base.used || end.handles !== base.handles)
  fail(
    `heap not back: objects ${base.objects} -> ${end.objects}, used ${base.used} -> ${end.used}, handles ${base.handles} -> ${end.handles}`,
  );
if (problems.length > 0) fail(`allocator: ${problems.join('; ')}`);
if (end.largestFree !== base.largestFree)
  fail(`largestFree ${base.largestFree} -> ${end.largestFree}`);
console.log(
  `OK: ${done} SIGKILLs of pool worker processes in ${((Date.now() - started) / 1000).toFixed(0)} s; ` +
    `${ok} tasks succeeded, ${crashed} failed with SHMFRAME_ERR_WORKER_CRASHED; the heap is back ` +
    `exactly (objects ${end.objects}, used ${end.used}, handles ${end.handles}, largestFree ` +
    `${end.largestFree}); allocator repairs ${end.repairs}`,
);
