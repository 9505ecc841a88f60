// A producer terminated while blocked in put() on a full queue: the item's shared objects were
// encoded (each with a reference and a ticket) before the wait, and nothing released them
// (issue 15). Now the put holds them (heap/held.ts) and releaseThread releases them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Heap, SharedQueue } from 'shmframe';
import { withPool } from '../../helpers/pool.js';
import { startWorker } from '../../helpers/worker.js';

const kRounds = 20;
// Queue header words (src/sync/queue-engine.ts): producers sleeping on a full queue.
const PUT_WAITERS = 65;

/** The queue's header words, to see from here that a producer sleeps in put(). */
function queueWords(heap, q) {
  const h = q.handle;
  const words = new Int32Array(heap.buffer, (h.unit + 1) * 64, 96);
  heap.releaseHandle(h);
  return words;
}

/** Yields to the event loop until `cond()` holds: the worker's state, not a duration. */
async function until(cond) {
  while (!cond()) await new Promise((resolve) => setImmediate(resolve));
}

const producer = `
  import { workerData, parentPort } from 'node:worker_threads';
  import { SharedArray, SharedFrame, SharedQueue } from 'shmframe';
  const q = SharedQueue.attach(workerData.queue);
  const a = SharedArray.zeros([1000], 'f8');
  const item = workerData.shape === 'shared'
    ? a
    : [a, { frame: SharedFrame.from({ x: new Float64Array(100), s: ['a', 'b', null, 'c'].concat(Array(96).fill('z')) }), nested: [SharedArray.zeros([10], 'i4')] }];
  parentPort.postMessage('putting');
  q.put(item); // the queue is full: blocks until terminated
`;

test(`${kRounds} hand-started watched producers terminated while blocked in put() leak nothing`, async () => {
  const heap = Heap.create({ size: '64M' });
  Heap.setDefault(heap); // the workers' objects go to this heap too
  const fresh = heap.stats().largestFree;
  const q = SharedQueue.create({ capacity: 1, heap });
  q.put(0); // full
  const words = queueWords(heap, q);
  const start = heap.stats();
  for (let round = 0; round < kRounds; round++) {
    const shape = round % 2 === 0 ? 'value' : 'shared';
    // A producer terminated asleep leaves its count of sleepers behind (harmless: it only
    // costs a wake-up), so wait for one more than now.
    const sleeping = Atomics.load(words, PUT_WAITERS) + 1;
    const w = startWorker(producer, { workerData: { queue: q.handle, shape } });
    heap.watch(w);
    const failed = once(w, 'error').then(([err]) => {
      throw err;
    });
    await Promise.race([once(w, 'message'), failed]);
    // Encoded and asleep in put(): its tickets exist (the item's handles) and it waits for room.
    await Promise.race([until(() => Atomics.load(words, PUT_WAITERS) === sleeping), failed]);
    assert.ok(heap.stats().handles >= (shape === 'shared' ? 1 : 3), 'the item was encoded');
    const exited = once(w, 'exit');
    await w.terminate();
    await exited;
    const s = heap.stats();
    assert.deepEqual(
      [s.objects, s.used, s.handles, s.threads],
      [start.objects, start.used, start.handles, start.threads],
      `round ${round} (${shape}): the blocked put's objects were not all released`,
    );
  }
  assert.equal(q.get(), 0);
  assert.equal(q.size, 0, 'no item of a terminated producer was published');
  q.detach();
  assert.equal(heap.stats().objects, 0);
  assert.equal(heap.stats().largestFree, fresh);
});

test(`${kRounds} Pool tasks blocked in put() that hit their timeout leak nothing`, async () => {
  const heap = Heap.create({ size: '64M' });
  const fresh = heap.stats().largestFree;
  await withPool(heap, async (pool) => {
    const q = SharedQueue.create({ capacity: 1, heap });
    q.put(0); // full
    const restarts = () => pool.stats().workers.reduce((n, w) => n + w.restarts, 0);
    const start = heap.stats();
    for (let round = 0; round < kRounds; round++) {
      const shape = round % 2 === 0 ? 'value' : 'shared';
      await assert.rejects(pool.run('blockedPut', { queue: q, shape }, { timeout: 300 }), {
        code: 'SHMFRAME_ERR_TIMEOUT',
      });
      // The pool terminates the worker (it ignores its signal, blocked in put), releases what
      // it held and starts another: wait for that restart by running tasks.
      while (restarts() < round + 1) await pool.run('later', { value: 0, ms: 1 });
      const s = heap.stats();
      assert.deepEqual(
        [s.objects, s.used, s.handles],
        [start.objects, start.used, start.handles],
        `round ${round} (${shape})`,
      );
    }
    assert.equal(q.get(), 0);
    assert.equal(q.size, 0);
    q.detach();
  });
  assert.equal(heap.stats().objects, 0);
  assert.equal(heap.stats().largestFree, fresh);
});

test('a put that published before its producer died delivers its item whole; the consumer owns it', async () => {
  const heap = Heap.create({ size: '16M' });
  Heap.setDefault(heap);
  const q = SharedQueue.create({ capacity: 1, heap });
  q.put(0);
  const words = queueWords(heap, q);
  const start = heap.stats();
  const sleeping = Atomics.load(words, PUT_WAITERS) + 1;
  const w = startWorker(producer, { workerData: { queue: q.handle, shape: 'value' } });
  heap.watch(w);
  await once(w, 'message');
  await until(() => Atomics.load(words, PUT_WAITERS) === sleeping);
  // Make room: the producer's put publishes; then it is terminated (it waits for nothing more).
  assert.equal(await q.getAsync(), 0);
  await until(() => q.size === 1);
  const exited = once(w, 'exit');
  await w.terminate();
  await exited;
  const [a, { frame, nested }] = await q.getAsync();
  assert.equal(a.size, 1000);
  assert.equal(frame.length, 100);
  assert.equal(frame.get(2, 's'), null);
  assert.deepEqual(nested[0].toArray(), new Array(10).fill(0));
  for (const o of [a, frame, nested[0]]) o.close();
  const s = heap.stats();
  assert.deepEqual([s.objects, s.used, s.handles], [start.objects, start.used, start.handles]);
  q.detach();
});
