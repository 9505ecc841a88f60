// A worker that dies (terminated, crashed) leaves references in its ledger; releaseThread drops
// them, and rebuilds the allocator if the worker died holding the allocator lock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Heap, SharedArray } from 'shmframe';
import { withHeap } from '../helpers/heap.js';
import { startWorker } from '../helpers/worker.js';
import { core } from '../helpers/internals.js';

test('a terminated worker leaks nothing once releaseThread (heap.watch) runs', async () => {
  await withHeap(async (heap) => {
    const a = SharedArray.zeros([1000], 'f8', { heap });
    const w = startWorker(
      `
      import { workerData, parentPort } from 'node:worker_threads';
      import { SharedArray, Heap } from 'shmframe';
      const heap = Heap.fromBuffer(workerData.buffer);
      const mine = [SharedArray.attach(workerData.h), ...Array.from({ length: 20 }, () => SharedArray.zeros([500], 'i4', { heap }))];
      globalThis.keep = [mine, mine[0].rows(0, 5)];
      parentPort.postMessage('holding');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); // block until terminated
    `,
      { workerData: { h: a.handle, buffer: heap.buffer } },
    );
    heap.watch(w);
    await once(w, 'message');
    assert.equal(heap.stats().objects, 21);
    const exited = once(w, 'exit');
    await w.terminate();
    await exited;
    assert.equal(heap.stats().objects, 1, 'only the main thread array is left');
    assert.deepEqual(core(heap).alloc.verify(), []);
    a.close();
  });
});

test('a worker that dies holding the allocator lock: releaseThread repairs and unlocks the heap', async () => {
  await withHeap(async (heap) => {
    const keep = SharedArray.full([10], 3, 'i4', { heap });
    const w = startWorker(
      `
      import { workerData, parentPort } from 'node:worker_threads';
      import { Heap } from 'shmframe';
      import { kCore } from './dist/heap/heap.js';
      const heap = Heap.fromBuffer(workerData.buffer);
      heap[kCore].alloc.lock();
      parentPort.postMessage('locked');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
    `,
      { workerData: { buffer: heap.buffer } },
    );
    const tid = w.threadId;
    await once(w, 'message');
    assert.equal(core(heap).alloc.lockOwner(), tid);
    await w.terminate();
    const report = heap.releaseThread(tid);
    assert.equal(report.repaired, true);
    assert.equal(core(heap).alloc.lockOwner(), -1);
    assert.equal(heap.stats().repairs, 1);
    assert.deepEqual(core(heap).alloc.verify(), []);
    const b = SharedArray.zeros([100], 'f8', { heap }); // the heap allocates again
    assert.deepEqual(keep.toArray(), Array(10).fill(3), 'live data survived the repair');
    b.close();
    keep.close();
  });
});

test('workers killed at random points of an allocate/free loop never corrupt the heap', async (t) => {
  const heap = Heap.create({ size: '64M' });
  const keep = SharedArray.full([1000], 7, 'f8', { heap });
  const before = heap.stats();
  let kills = 0;
  for (let round = 0; round < 30; round++) {
    const w = startWorker(
      `
      import { workerData, parentPort } from 'node:worker_threads';
      import { SharedArray, Heap } from 'shmframe';
      const heap = Heap.fromBuffer(workerData.buffer);
      const live = [];
      let seed = workerData.seed;
      const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
      for (let i = 0; ; i++) {
        if (live.length > 0 && rnd() < 0.45) live.splice(Math.floor(rnd() * live.length), 1)[0].close();
        else {
          const a = SharedArray.empty([1 + Math.floor(rnd() * 20000)], 'u1', { heap });
          live.push(a.rows(0));
          a.close();
        }
        if (i === workerData.signalAt) parentPort.postMessage('running');
      }
    `,
      { workerData: { buffer: heap.buffer, seed: round * 7919 + 1, signalAt: 200 + round * 37 } },
    );
    const tid = w.threadId;
    await once(w, 'message');
    await w.terminate();
    kills++;
    heap.releaseThread(tid);
    assert.deepEqual(core(heap).alloc.verify(), [], `round ${round}`);
    assert.equal(core(heap).alloc.lockOwner(), -1);
  }
  assert.deepEqual(keep.toArray(), Array(1000).fill(7));
  const after = heap.stats();
  t.diagnostic(`${kills} kills, ${after.repairs} allocator repairs`);
  // Every reference operation is recorded so a thread killed anywhere leaves nothing behind.
  assert.equal(after.objects, before.objects, 'objects');
  assert.equal(after.used, before.used, 'used bytes');
  assert.equal(after.handles, before.handles, 'handles');
  assert.equal(after.overhead, before.overhead, 'no ledger block left behind');
  keep.close();
});

test('releaseThread validates its argument and is a no-op for an unknown thread', () => {
  const heap = Heap.create({ size: '4M' });
  assert.deepEqual(heap.releaseThread(987654), { references: 0, repaired: false });
  assert.throws(() => heap.releaseThread(-1), {
    code: 'SHMFRAME_ERR_INVALID_ARG',
    message: /non-negative integer/,
  });
});
