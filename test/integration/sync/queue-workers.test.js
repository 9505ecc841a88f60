import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedArray, SharedQueue } from 'shmframe';
import { withHeap } from '../../helpers/heap.js';
import { run, until } from './fixtures/run.js';

const GET_WAITERS = 49; // queue header words (white-box; see src/sync/queue-engine.ts)
const PUT_WAITERS = 65;

/** The queue's header words, to see who sleeps (white-box). */
function header(q) {
  const h = q.handle;
  q.heap.releaseHandle(h); // only its block number was needed
  return new Int32Array(q.heap.buffer, (h.unit + 1) * 64, 128);
}

async function moveItems(
  heap,
  { producers, consumers, total, capacity, async = false, batch = 0 },
) {
  const q = SharedQueue.create({ capacity, maxItemBytes: 16, heap });
  const perProducer = total / producers;
  const seen = new SharedArrayBuffer(4 * total);
  const cs = Array.from({ length: consumers }, (_, i) =>
    run(heap, 'consumer', {
      q: q.handle,
      seen,
      perProducer,
      async: async && i % 2 === 0,
      batch: batch && batch + i,
    }),
  );
  const ps = Array.from({ length: producers }, (_, pid) =>
    run(heap, 'producer', {
      q: q.handle,
      pid,
      n: perProducer,
      async: async && pid % 2 === 1,
      batch: batch && batch + pid,
    }),
  );
  await Promise.all(ps.map((p) => p.result));
  q.close(); // consumers drain what is left, then end
  const results = await Promise.all(cs.map((c) => c.result));
  const marks = new Int32Array(seen);
  const wrong = marks.findIndex((m) => m !== 1);
  assert.equal(wrong, -1, `item ${wrong} was received ${marks[wrong]} times`);
  assert.equal(
    results.reduce((s, r) => s + r.count, 0),
    total,
  );
  for (const r of results) assert.ok(r.orderOk, 'a consumer saw a producer out of order');
  assert.equal(q.size, 0);
  q.detach();
  return results;
}

test('2 producers x 2 consumers move 100k items: each received once, in order per producer', () =>
  withHeap(async (heap) => {
    await moveItems(heap, { producers: 2, consumers: 2, total: 100_000, capacity: 64 });
  }));

test('4 producers x 1 consumer move 100k items: each received once, in order per producer', () =>
  withHeap(async (heap) => {
    const [r] = await moveItems(heap, { producers: 4, consumers: 1, total: 100_000, capacity: 16 });
    assert.equal(r.count, 100_000);
  }));

test('sync and async producers and consumers mix (putAsync, for await) on one queue', () =>
  withHeap(async (heap) => {
    await moveItems(heap, { producers: 2, consumers: 2, total: 20_000, capacity: 8, async: true });
  }));

test('putMany / getMany / getManyAsync, 2 x 2 threads, 100k items: each once, in order per producer', () =>
  withHeap(async (heap) => {
    await moveItems(heap, {
      producers: 2,
      consumers: 2,
      total: 100_000,
      capacity: 64,
      async: true,
      batch: 50,
    });
  }));

test('close() wakes every blocked consumer and producer, sync and async, in other threads', () =>
  withHeap(async (heap) => {
    const empty = SharedQueue.create({ capacity: 1, heap });
    const full = SharedQueue.create({ capacity: 1, heap });
    full.put('occupies the only slot');
    const consumers = ['get', 'get', 'getAsync'].map((op) =>
      run(heap, 'blocked', { q: empty.handle, op }),
    );
    const producers = ['put', 'put', 'putAsync'].map((op) =>
      run(heap, 'blocked', { q: full.handle, op }),
    );
    // Wait until all six are asleep in the queue (waiter counts in the header), then close.
    await until(header(empty), GET_WAITERS, 3);
    await until(header(full), PUT_WAITERS, 3);
    empty.close();
    full.close();
    for (const { result } of [...consumers, ...producers]) {
      assert.deepEqual(await result, { code: 'SHMFRAME_ERR_QUEUE_CLOSED' });
    }
    assert.equal(full.get(), 'occupies the only slot', 'consumers still drain after close');
    empty.detach();
    full.detach();
  }));

test('SharedArrays put by a worker arrive with their data; the heap returns to its start', () =>
  withHeap(async (heap) => {
    const q = SharedQueue.create({ capacity: 4, heap });
    const p = run(heap, 'arrayProducer', { q: q.handle, count: 20, length: 1000 });
    for (let i = 0; i < 20; i++) {
      const { index, a } = q.get();
      assert.equal(index, i);
      assert.equal(a.size, 1000);
      assert.equal(a.get(0), i * 1000);
      assert.equal(a.get(999), i * 1000 + 999);
      a.close();
    }
    await p.result;
    q.detach();
  }));

test('items left in the queue are released when the last holder, a worker, drops it', () =>
  withHeap(async (heap) => {
    const q = SharedQueue.create({ capacity: 8, heap });
    const sig = new SharedArrayBuffer(8);
    const flags = new Int32Array(sig);
    const w = run(heap, 'lastHolder', { q: q.handle, count: 5, signal: sig });
    await until(flags, 0, 1); // all 5 put, each holding a SharedArray the worker closed
    q.detach(); // the worker now holds the last reference
    Atomics.store(flags, 1, 1);
    Atomics.notify(flags, 1);
    assert.deepEqual(await w.result, { put: 5, size: 5 });
    // The worker exited holding the queue with 5 untaken items: freeing it there released the
    // 5 arrays too (withHeap checks objects, bytes and handles).
  }));

test('a consumer that was terminated holding the consumer mutex is repaired', () =>
  withHeap(async (heap) => {
    const q = SharedQueue.create({ capacity: 4, heap });
    q.put('a');
    q.put('b');
    const sig = new SharedArrayBuffer(8);
    const { worker, result } = run(heap, 'dieInQueue', { q: q.handle, word: 33, signal: sig });
    result.catch(() => {}); // it is terminated
    await until(new Int32Array(sig), 0, 1);
    const got = q.getAsync(); // waits for the mutex held by the doomed worker
    await worker.terminate(); // heap.watch releases the thread: the queue repairs its mutex
    assert.equal(await got, 'a');
    assert.equal(q.get(), 'b');
    q.detach();
  }));

test('a producer that was terminated holding the producer mutex is repaired', () =>
  withHeap(async (heap) => {
    const q = SharedQueue.create({ capacity: 4, heap });
    const sig = new SharedArrayBuffer(8);
    const { worker, result } = run(heap, 'dieInQueue', { q: q.handle, word: 17, signal: sig });
    result.catch(() => {}); // it is terminated
    await until(new Int32Array(sig), 0, 1);
    const put = q.putAsync('after the repair');
    await worker.terminate();
    await put;
    assert.equal(q.get(), 'after the repair');
    q.detach();
  }));

test('a put left half-committed by a terminated producer is published by the repair', () =>
  withHeap(async (heap) => {
    const q = SharedQueue.create({ capacity: 4, heap });
    q.put(1);
    const sig = new SharedArrayBuffer(8);
    const { worker, result } = run(heap, 'halfCommit', {
      q: q.handle,
      mode: 'half-put',
      signal: sig,
    });
    result.catch(() => {}); // it is terminated
    await until(new Int32Array(sig), 0, 1);
    assert.equal(q.size, 2, 'the tail moved');
    await worker.terminate(); // heap.watch: releaseThread repairs the queue
    assert.equal(q.get(), 1);
    assert.equal(q.get({ timeout: 1000 }), 42, 'the half-committed item was published');
    assert.equal(q.unfinished, 2);
    q.taskDone();
    q.taskDone();
    q.detach();
  }));

test('a get left half-committed by a terminated consumer is undone: the item and its array survive', () =>
  withHeap(async (heap) => {
    const q = SharedQueue.create({ capacity: 4, heap });
    const a = SharedArray.from([7, 8, 9], { heap });
    q.put(a);
    a.close(); // only the queue item keeps the array alive now
    const sig = new SharedArrayBuffer(8);
    const { worker, result } = run(heap, 'halfCommit', {
      q: q.handle,
      mode: 'half-get',
      signal: sig,
    });
    result.catch(() => {});
    await until(new Int32Array(sig), 0, 1);
    assert.equal(heap.stats().handles, 0, 'the dying consumer consumed the item’s ticket');
    await worker.terminate(); // its reference to the array is dropped after the repair re-armed it
    const back = q.get({ timeout: 1000 });
    assert.deepEqual(back.toArray(), [7, 8, 9]);
    back.close();
    assert.equal(q.size, 0);
    q.detach();
  }));

test('a worker can attach a queue received inside a queue item and answer on it', () =>
  withHeap(async (heap) => {
    const jobs = SharedQueue.create({ capacity: 2, heap });
    const replies = SharedQueue.create({ capacity: 2, heap });
    const a = SharedArray.from([1, 2, 3], { heap });
    jobs.put({ reply: replies, a });
    a.close();
    const w = run(heap, 'echo', { q: jobs.handle });
    const answer = await replies.getAsync();
    assert.deepEqual(answer, { sum: 6 });
    await w.result;
    jobs.detach();
    replies.detach();
  }));
