#!/usr/bin/env node
// Kills producers at random points of a loop of queue puts whose items carry shared objects
// (one array, or a frame and arrays inside a structured item), while this thread consumes, and
// checks after each kill that releaseThread left the heap exactly where it was once the queue
// is drained: nothing an item or a put in progress held may leak, no item may lose an object.
// Usage:
//   node scripts/stress-put-kill.js [rounds=300]
// (npm test runs 20 kills of producers blocked in put() in
// test/integration/sync/queue-put-death.test.js.)
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { Heap, SharedQueue } from 'shmframe';
import { kCore } from '../dist/heap/heap.js';

const rounds = Number(process.argv[2] ?? 300);
const heap = Heap.create({ size: '64M' });
Heap.setDefault(heap); // the workers allocate in it too
const q = SharedQueue.create({ capacity: 4, heap });
let base = heap.stats();
const source = `
import { workerData, parentPort } from 'node:worker_threads';
import { SharedArray, SharedFrame, SharedQueue } from 'shmframe';
const q = SharedQueue.attach(workerData.queue);
let seed = workerData.seed;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
for (let i = 0; ; i++) {
  const a = SharedArray.zeros([1 + Math.floor(rnd() * 5000)], 'f8');
  a.data[0] = i;
  if (rnd() < 0.5) {
    q.put(a);
    a.close();
  } else {
    const f = SharedFrame.from({ x: [i, 1, 2], s: ['a', null, 'c'] });
    const b = a.rows(0, 1);
    q.put([i, { frame: f, parts: [a, b] }]);
    for (const o of [a, b, f]) o.close();
  }
  if (i === workerData.signalAt) parentPort.postMessage('running');
}`;

/** Takes every item there is now and closes its objects; counts the objects. */
function drain() {
  let objects = 0;
  for (let item = q.tryGet(); item !== undefined; item = q.tryGet()) {
    if (Array.isArray(item)) {
      const { frame, parts } = item[1];
      if (frame.get(0, 'x') !== item[0] || parts[0].get(0) !== item[0])
        throw new Error(`item ${item[0]} came back wrong`);
      for (const o of [frame, ...parts]) o.close();
      objects += 3;
    } else {
      item.close();
      objects++;
    }
  }
  return objects;
}

let leaks = 0;
let leakedObjects = 0;
let leakedHandles = 0;
let delivered = 0;
let released = 0;
for (let round = 1; round <= rounds; round++) {
  const w = new Worker(source, {
    eval: true,
    type: 'module',
    workerData: { queue: q.handle, seed: round * 7919 + 1, signalAt: 5 + (round % 40) * 3 },
  });
  const tid = w.threadId;
  // Consume while the producer runs, so that kills land in full-queue waits and in puts alike
  // (the producer keeps running after the consumer stops, until the queue is full).
  let running = true;
  const consumer = (async () => {
    while (running) {
      delivered += drain();
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  const failed = once(w, 'error').then(([err]) => {
    throw new Error(`round ${round}: the producer failed: ${err.stack}`);
  });
  await Promise.race([once(w, 'message'), failed]);
  // Stop consuming first: a thread stopped inside the allocator holds its lock until
  // releaseThread repairs it, so nothing here may allocate or free between the kill and that.
  running = false;
  await consumer;
  const exited = once(w, 'exit');
  await w.terminate();
  await exited;
  released += heap.releaseThread(tid).references;
  delivered += drain();
  const problems = heap[kCore].alloc.verify();
  if (problems.length > 0)
    throw new Error(`round ${round}: allocator inconsistent: ${problems.join('; ')}`);
  const s = heap.stats();
  if (s.objects !== base.objects || s.used !== base.used || s.handles !== base.handles) {
    // Counted per round: the next round is compared with where this one left the heap.
    leaks++;
    leakedObjects += s.objects - base.objects;
    leakedHandles += s.handles - base.handles;
    if (process.env.VERBOSE) console.log(`round ${round}: heap not back: ${JSON.stringify(s)}`);
    base = s;
  }
  if (round % 50 === 0 || round === rounds)
    console.log(
      `${round} producers killed: ${delivered} objects delivered whole, ${released} references released after the kills; ` +
        `${leaks} rounds leaked (${leakedObjects} objects, ${leakedHandles} handles never attached)`,
    );
}
q.detach();
process.exitCode = leaks === 0 ? 0 : 1;
