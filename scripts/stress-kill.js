#!/usr/bin/env node
// Kills workers at random points of an allocate / view / free loop and checks after each kill
// that heap.releaseThread() leaves the heap exactly where it was. Usage:
//   node scripts/stress-kill.js [rounds=1000] [--empty]
// --empty: the worker holds nothing between iterations, so its ledger block is made and freed
// every time (issue 15) and kills land in that too.
// (npm test runs a 30-round version of this in test/integration/thread-death.test.js.)
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { Heap, SharedArray } from 'shmframe';
import { kCore } from '../dist/heap/heap.js';

const args = process.argv.slice(2);
const empty = args.includes('--empty');
const rounds = Number(args.find((a) => !a.startsWith('--')) ?? 1000);
const heap = Heap.create({ size: '64M' });
const keep = SharedArray.full([1000], 7, 'f8', { heap });
const before = heap.stats();
const source = `
import { workerData, parentPort } from 'node:worker_threads';
import { SharedArray, Heap } from 'shmframe';
const heap = Heap.fromBuffer(workerData.buffer);
const live = []; let seed = workerData.seed;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
for (let i = 0; ; i++) {
  if (workerData.empty) { const a = SharedArray.empty([1 + Math.floor(rnd() * 20000)], 'u1', { heap }); a.rows(0).close(); a.close(); }
  else if (live.length > 0 && rnd() < 0.45) live.splice(Math.floor(rnd() * live.length), 1)[0].close();
  else { const a = SharedArray.empty([1 + Math.floor(rnd() * 20000)], 'u1', { heap }); live.push(a.rows(0)); a.close(); }
  if (i === workerData.signalAt) parentPort.postMessage('running');
}`;
let leaks = 0;
for (let round = 1; round <= rounds; round++) {
  const w = new Worker(source, {
    eval: true,
    type: 'module',
    workerData: {
      buffer: heap.buffer,
      seed: round * 7919 + 1,
      signalAt: 200 + (round % 50) * 37,
      empty,
    },
  });
  const tid = w.threadId;
  await once(w, 'message');
  await w.terminate();
  heap.releaseThread(tid);
  const problems = heap[kCore].alloc.verify();
  const s = heap.stats();
  if (problems.length > 0)
    throw new Error(`round ${round}: allocator inconsistent: ${problems.join('; ')}`);
  if (
    s.objects !== before.objects ||
    s.used !== before.used ||
    s.handles !== before.handles ||
    s.overhead !== before.overhead
  ) {
    leaks++;
    console.log(`round ${round}: heap not back to start: ${JSON.stringify(s)}`);
  }
  if (round % 100 === 0 || round === rounds)
    console.log(`${round} kills, ${s.repairs} inside the allocator (repaired), ${leaks} leaks`);
}
keep.close();
process.exitCode = leaks === 0 ? 0 : 1;
