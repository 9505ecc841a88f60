// A byte copy of a heap buffer (a new SharedArrayBuffer with the heap's bytes copied in) carries
// the heap's id. Registered first in a fresh worker, it used to take the place of the heap there:
// every later genuine handle attached to the copy, its writes were lost and the real heap leaked
// (issue 15). A thread now tells the two memories apart and refuses the second, coded, in either
// order, releasing the reference the refused handle carried.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Heap, SharedArray } from 'shmframe';
import { request, startWorker } from '../helpers/worker.js';

const workerSource = `
  import { parentPort } from 'node:worker_threads';
  import { SharedArray } from 'shmframe';
  const held = [];
  parentPort.on('message', ({ handle, write }) => {
    try {
      const a = SharedArray.attach(handle);
      if (write !== undefined) a.set([0], write);
      held.push(a);
      parentPort.postMessage({ ok: true, first: a.get(0) });
    } catch (err) {
      parentPort.postMessage({ ok: false, code: err.code, message: err.message });
    }
  });`;

function copyOf(heap) {
  const copy = new SharedArrayBuffer(heap.size);
  new Uint8Array(copy).set(new Uint8Array(heap.buffer));
  return copy;
}

for (const copyFirst of [true, false])
  test(`a byte copy of a heap buffer ${copyFirst ? 'registered first' : 'arriving after the heap'} never stands in for the heap in a worker`, async () => {
    const heap = Heap.create({ size: '8M' });
    const start = heap.stats();
    const a = SharedArray.from([1, 2, 3], 'f8', { heap });
    const threads = heap.stats().threads; // this thread's own entry
    // The forged handle: the array's handle with the buffer swapped for a copy made after it
    // (so the copy holds the handle's ticket too).
    const h = a.handle;
    const forged = { ...h, buffer: copyOf(heap) };
    const worker = startWorker(workerSource);
    heap.watch(worker);
    try {
      const sends = copyFirst
        ? [{ handle: forged }, { handle: a.handle, write: 42 }]
        : [{ handle: a.handle, write: 42 }, { handle: forged }];
      const [first, second] = [await request(worker, sends[0]), await request(worker, sends[1])];
      const [accepted, refused] = [first, second];
      assert.equal(accepted.ok, true, accepted.message);
      assert.equal(refused.ok, false, 'both memories were accepted under one heap id');
      assert.equal(refused.code, 'SHMFRAME_ERR_CORRUPT', refused.message);
      assert.match(
        refused.message,
        /not the memory this thread knows under that id: one of the two is a byte copy/,
      );
      if (!copyFirst) assert.equal(a.get(0), 42, 'the genuine handle wrote the heap');
      else assert.equal(a.get(0), 1, 'nothing was written through a refused handle');
      // The forged handle's ticket in the real heap was never consumed (only its copy was):
      // release it here. The refused genuine handle's reference was released by the worker.
      heap.releaseHandle(h);
      assert.equal(heap.stats().handles, 0, 'a refused handle kept its reference');
    } finally {
      const exited = once(worker, 'exit');
      await worker.terminate();
      await exited;
    }
    a.close();
    const end = heap.stats();
    assert.deepEqual(
      [end.objects, end.used, end.handles, end.threads],
      [start.objects, start.used, start.handles, threads],
    );
  });

test('the same memory posted again (a new SharedArrayBuffer object each time) is recognised', async () => {
  const heap = Heap.create({ size: '8M' });
  const a = SharedArray.from([5, 6], 'i4', { heap });
  const worker = startWorker(workerSource);
  heap.watch(worker);
  try {
    for (let i = 0; i < 20; i++) {
      const r = await request(worker, { handle: a.handle });
      assert.deepEqual(r, { ok: true, first: 5 });
    }
  } finally {
    const exited = once(worker, 'exit');
    await worker.terminate();
    await exited;
  }
  a.close();
  assert.equal(heap.stats().objects, 0);
  assert.equal(heap.stats().handles, 0);
});

test('fromBuffer in one thread: a copy is refused once the heap is known, with SHMFRAME_ERR_CORRUPT', () => {
  const heap = Heap.create({ size: '4M' });
  assert.equal(Heap.fromBuffer(heap.buffer), heap);
  assert.throws(() => Heap.fromBuffer(copyOf(heap)), { code: 'SHMFRAME_ERR_CORRUPT' });
  assert.throws(() => Heap.fromBuffer(copyOf(heap), heap.id), { code: 'SHMFRAME_ERR_CORRUPT' });
});
