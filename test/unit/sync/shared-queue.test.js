import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Heap, SharedArray, SharedLock, SharedQueue, ShmframeError } from 'shmframe';
import { withHeap } from '../../helpers/heap.js';

const code = (c) => (err) => {
  assert.ok(ShmframeError.isShmframeError(err), `expected a ShmframeError, got ${err}`);
  assert.equal(err.code, c, err.message);
  return true;
};

test('primitives round-trip in FIFO order with their exact values', () =>
  withHeap((heap) => {
    const q = SharedQueue.create({ capacity: 32, heap });
    const items = [
      0,
      -0,
      1.5,
      NaN,
      -Infinity,
      2 ** 53 + 2,
      'héllo wörld ☃ 🎉',
      '',
      true,
      false,
      null,
    ];
    items.push(123n, -(2n ** 63n), 2n ** 64n + 5n, [1, 'a', { b: [2] }], { x: new Date(5) });
    items.push(new Map([[1, 'one']]), new Set(['s']), new Float32Array([1.5, 2]), /re/g);
    for (const it of items) q.put(it);
    assert.equal(q.size, items.length);
    for (const it of items) assert.deepEqual(q.get(), it);
    assert.ok(Object.is(items[1], -0));
    assert.equal(q.size, 0);
    q.detach();
  }));

test('tryPut / tryGet never wait: false when full, undefined when empty', () =>
  withHeap((heap) => {
    const q = SharedQueue.create({ capacity: 2, heap });
    assert.equal(q.tryGet(), undefined);
    assert.equal(q.tryPut('a'), true);
    assert.equal(q.tryPut('b'), true);
    assert.equal(q.tryPut('c'), false);
    assert.equal(q.size, 2);
    assert.equal(q.tryGet(), 'a');
    assert.equal(q.tryPut('c'), true);
    assert.deepEqual([q.tryGet(), q.tryGet(), q.tryGet()], ['b', 'c', undefined]);
    q.detach();
  }));

test('the ring wraps many times, also with capacity 1', () =>
  withHeap((heap) => {
    for (const capacity of [1, 3, 50]) {
      const q = SharedQueue.create({ capacity, heap });
      let next = 0;
      let expected = 0;
      for (let round = 0; round < 1000; round++) {
        while (q.tryPut(next)) next++;
        assert.equal(q.size, capacity);
        const take = 1 + (round % capacity);
        for (let k = 0; k < take; k++) assert.equal(q.get(), expected++);
      }
      q.detach();
    }
  }));

test('undefined, functions and symbols are refused with INVALID_ARG and change nothing', () =>
  withHeap((heap) => {
    const q = SharedQueue.create({ capacity: 2, heap });
    assert.throws(() => q.put(undefined), code('SHMFRAME_ERR_INVALID_ARG'));
    assert.throws(() => q.put(() => 1), code('SHMFRAME_ERR_INVALID_ARG'));
    assert.throws(() => q.put({ f: Symbol('x') }), code('SHMFRAME_ERR_INVALID_ARG'));
    assert.throws(() => q.tryPut(undefined), code('SHMFRAME_ERR_INVALID_ARG'));
    assert.equal(q.size, 0);
    q.detach();
  }));

test('an item beyond maxItemBytes is refused naming both sizes; the queue is unchanged', () =>
  withHeap((heap) => {
    const q = SharedQueue.create({ capacity: 2, maxItemBytes: 64, heap });
    q.put('first');
    const a = SharedArray.zeros([10], 'f8', { heap });
    const big = { data: 'x'.repeat(100), a };
    assert.throws(
      () => q.put(big),
      (err) => {
        code('SHMFRAME_ERR_INVALID_ARG')(err);
        assert.match(err.message, /maxItemBytes = 64 bytes/);
        assert.match(err.message, /encodes to \d+ bytes/);
        assert.equal(err.details.maxItemBytes, 64);
        assert.ok(err.details.itemBytes > 64);
        return true;
      },
    );
    assert.throws(() => q.put('y'.repeat(65)), /encodes to 65 bytes/);
    assert.throws(() => q.put('€'.repeat(22)), /encodes to 66 bytes/);
    q.put('€'.repeat(21)); // 63 bytes: fits
    assert.equal(q.size, 2);
    assert.equal(q.get(), 'first');
    assert.equal(q.get(), '€'.repeat(21));
    assert.equal(heap.stats().handles, 0, 'the refused item left no handle behind');
    a.close();
    q.detach();
  }));

test('options are validated with clear messages', () =>
  withHeap((heap) => {
    assert.throws(() => SharedQueue.create(), code('SHMFRAME_ERR_INVALID_ARG'));
    assert.throws(
      () => SharedQueue.create({ capacity: -3, heap }),
      /Expected `capacity` to be a positive integer .*got -3 \(number\)/,
    );
    assert.throws(() => SharedQueue.create({ capacity: 1.5, heap }), /capacity/);
    assert.throws(() => SharedQueue.create({ capacity: 2, maxItemBytes: 4, heap }), /maxItemBytes/);
    assert.throws(
      () => SharedQueue.create({ capacity: 2, heap: {} }),
      /Expected `heap` to be a Heap/,
    );
    assert.throws(
      () => SharedQueue.create({ capacity: 2 ** 20, maxItemBytes: 2 ** 20, heap }),
      /2147483648-byte limit/,
    );
    const q = SharedQueue.create({ capacity: 2, heap });
    assert.throws(() => q.get({ timeout: -1 }), /`timeout` to be a non-negative number/);
    assert.throws(() => q.put(1, 5), /Expected options to be an object/);
    assert.rejects(q.getAsync({ signal: 'no' }), /AbortSignal/);
    q.detach();
  }));

test('get and put time out with their codes, after about the timeout', () =>
  withHeap(async (heap) => {
    const q = SharedQueue.create({ capacity: 1, heap });
    let t0 = performance.now();
    assert.throws(() => q.get({ timeout: 40 }), code('SHMFRAME_ERR_QUEUE_EMPTY'));
    let waited = performance.now() - t0;
    assert.ok(waited >= 39, `get returned after ${waited} ms, before its 40 ms timeout`);
    q.put(1);
    t0 = performance.now();
    assert.throws(() => q.put(2, { timeout: 40 }), code('SHMFRAME_ERR_QUEUE_FULL'));
    waited = performance.now() - t0;
    assert.ok(waited >= 39, `put returned after ${waited} ms`);
    await assert.rejects(q.putAsync(2, { timeout: 30 }), code('SHMFRAME_ERR_QUEUE_FULL'));
    assert.equal(q.get(), 1);
    t0 = performance.now();
    await assert.rejects(q.getAsync({ timeout: 40 }), code('SHMFRAME_ERR_QUEUE_EMPTY'));
    waited = performance.now() - t0;
    assert.ok(waited >= 39, `getAsync returned after ${waited} ms`);
    assert.throws(() => q.get({ timeout: 0 }), code('SHMFRAME_ERR_QUEUE_EMPTY'));
    q.detach();
  }));

test('a signal aborts a waiting getAsync / putAsync / join, and the queue is unchanged', () =>
  withHeap(async (heap) => {
    const q = SharedQueue.create({ capacity: 1, heap });
    const ac = new AbortController();
    const pending = q.getAsync({ signal: ac.signal });
    setImmediate(() => ac.abort(new Error('stop')));
    await assert.rejects(pending, (err) => {
      code('SHMFRAME_ERR_ABORTED')(err);
      assert.equal(err.cause.message, 'stop');
      return true;
    });
    await assert.rejects(q.getAsync({ signal: AbortSignal.abort() }), code('SHMFRAME_ERR_ABORTED'));
    q.put('kept');
    const ac2 = new AbortController();
    const a = SharedArray.zeros([4], 'f8', { heap });
    const put = q.putAsync({ a }, { signal: ac2.signal });
    setImmediate(() => ac2.abort());
    await assert.rejects(put, code('SHMFRAME_ERR_ABORTED'));
    assert.equal(heap.stats().handles, 0, 'the aborted put released its handle');
    const ac3 = new AbortController();
    const joined = q.join({ signal: ac3.signal });
    setImmediate(() => ac3.abort());
    await assert.rejects(joined, code('SHMFRAME_ERR_ABORTED'));
    assert.equal(q.size, 1);
    assert.equal(q.get(), 'kept');
    // An aborted waiter must not swallow the next wake-up meant for a live one.
    const ac4 = new AbortController();
    const dead = q.getAsync({ signal: ac4.signal });
    const live = q.getAsync();
    ac4.abort();
    await assert.rejects(dead, code('SHMFRAME_ERR_ABORTED'));
    q.put('for the live one');
    assert.equal(await live, 'for the live one');
    a.close();
    q.detach();
  }));

test('async waits keep the process alive until an item arrives', async () => {
  // A script whose only pending work is getAsync: Node would exit at once without our ref'd timer.
  const { spawnSync } = await import('node:child_process');
  const src = `
    import { Heap, SharedQueue } from 'shmframe';
    const q = SharedQueue.create({ capacity: 1, heap: Heap.create({ size: '4M' }) });
    const { Worker } = await import('node:worker_threads');
    const w = new Worker("import { workerData } from 'node:worker_threads'; import { SharedQueue } from 'shmframe'; const q = SharedQueue.attach(workerData); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100); q.put('late');", { eval: true, type: 'module', workerData: q.handle });
    w.unref();
    q.getAsync().then((v) => console.log('got', v));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', src], { encoding: 'utf8' });
  assert.equal(r.stderr, '');
  assert.equal(r.stdout.trim(), 'got late');
});

test('close(): puts fail, consumers drain and then end; close is idempotent', () =>
  withHeap(async (heap) => {
    const q = SharedQueue.create({ capacity: 4, heap });
    q.put(1);
    q.put(2);
    q.close();
    q.close();
    assert.equal(q.closed, true);
    assert.throws(() => q.put(3), code('SHMFRAME_ERR_QUEUE_CLOSED'));
    assert.throws(() => q.tryPut(3), code('SHMFRAME_ERR_QUEUE_CLOSED'));
    await assert.rejects(q.putAsync(3), code('SHMFRAME_ERR_QUEUE_CLOSED'));
    assert.equal(q.get(), 1);
    const seen = [];
    for await (const x of q) seen.push(x);
    assert.deepEqual(seen, [2]);
    assert.throws(() => q.get(), code('SHMFRAME_ERR_QUEUE_CLOSED'));
    assert.throws(() => q.get({ timeout: 10 }), code('SHMFRAME_ERR_QUEUE_CLOSED'));
    await assert.rejects(q.getAsync(), code('SHMFRAME_ERR_QUEUE_CLOSED'));
    assert.equal(q.tryGet(), undefined);
    q.detach();
  }));

test('close() wakes a pending getAsync and putAsync in this thread', () =>
  withHeap(async (heap) => {
    const q = SharedQueue.create({ capacity: 1, heap });
    const get = q.getAsync();
    setImmediate(() => q.close());
    await assert.rejects(get, code('SHMFRAME_ERR_QUEUE_CLOSED'));
    q.detach();
    const q2 = SharedQueue.create({ capacity: 1, heap });
    q2.put(0);
    const put = q2.putAsync(1);
    setImmediate(() => q2.close());
    await assert.rejects(put, code('SHMFRAME_ERR_QUEUE_CLOSED'));
    q2.detach();
  }));

test('breaking out of for-await neither closes the queue nor loses an item', () =>
  withHeap(async (heap) => {
    const q = SharedQueue.create({ capacity: 4, heap });
    for (const x of [1, 2, 3]) q.put(x);
    for await (const x of q) {
      assert.equal(x, 1);
      break;
    }
    assert.equal(q.closed, false);
    assert.deepEqual([q.get(), q.get()], [2, 3]);
    q.detach();
  }));

test('release() drops only this reference: the queue stays open for other holders', () =>
  withHeap((heap) => {
    const q = SharedQueue.create({ capacity: 2, heap });
    const other = SharedQueue.attach(q.handle); // a second holder (as another thread would be)
    q.put('x');
    q.detach();
    q.detach(); // idempotent
    assert.equal(q.detached, true);
    assert.throws(() => q.put('y'), code('SHMFRAME_ERR_CLOSED'));
    assert.throws(() => q.size, code('SHMFRAME_ERR_CLOSED'));
    assert.equal(other.closed, false);
    other.put('y');
    assert.deepEqual([other.get(), other.get()], ['x', 'y']);
    other[Symbol.dispose]();
    assert.equal(heap.stats().objects, 0);
  }));

test('taskDone / join: join resolves only after the last taskDone; extra taskDone throws', () =>
  withHeap(async (heap) => {
    const q = SharedQueue.create({ capacity: 4, heap });
    await q.join(); // nothing put yet
    q.put('a');
    q.put('b');
    assert.equal(q.unfinished, 2);
    let joined = false;
    const j = q.join().then(() => (joined = true));
    q.get();
    q.taskDone();
    await new Promise((r) => setImmediate(r));
    assert.equal(joined, false, 'join resolved with one task unfinished');
    q.get();
    q.taskDone();
    await j;
    assert.equal(joined, true);
    assert.throws(() => q.taskDone(), code('SHMFRAME_ERR_INVALID_ARG'));
    q.put('c');
    await assert.rejects(q.join({ timeout: 20 }), code('SHMFRAME_ERR_TIMEOUT'));
    assert.throws(() => q.joinSync({ timeout: 20 }), code('SHMFRAME_ERR_TIMEOUT'));
    q.get();
    q.taskDone();
    q.joinSync();
    q.detach();
  }));

test('shared objects travel by handle, in nested arrays, objects, Maps and Sets, keeping identity', () =>
  withHeap((heap) => {
    const q = SharedQueue.create({ capacity: 4, heap });
    const a = SharedArray.from([1, 2, 3, 4, 5, 6], { heap, shape: [2, 3] });
    const b = SharedArray.zeros([2], 'i4', { heap });
    const lock = SharedLock.create({ heap });
    const cyclic = { name: 'c' };
    cyclic.self = cyclic;
    cyclic.arr = a;
    q.put(a);
    q.put([
      a,
      { b, nested: [[b]] },
      new Map([
        [a, b],
        ['k', a],
      ]),
      new Set([b, 'x']),
      lock,
      cyclic,
    ]);
    const row = a.rows(1, 2); // a view: its offset and shape travel too
    q.put(row);
    row.close();
    const a1 = q.get();
    assert.ok(SharedArray.isSharedArray(a1));
    assert.notEqual(a1, a);
    a1.data[0] = 42;
    assert.equal(a.data[0], 42, 'the consumer sees the same memory');
    const [a2, { b: b2, nested }, map, set, lock2, cyc] = q.get();
    assert.equal(nested[0][0], b2, 'one object appearing twice arrives as one object');
    assert.equal(map.get(a2), b2, 'shared objects can be Map keys');
    assert.equal(map.get('k'), a2);
    assert.deepEqual([...set], [b2, 'x']);
    assert.ok(SharedLock.isSharedLock(lock2));
    assert.equal(cyc.self, cyc);
    assert.equal(cyc.arr, a2);
    assert.deepEqual(a2.toArray(), [
      [42, 2, 3],
      [4, 5, 6],
    ]);
    const view = q.get();
    assert.deepEqual(view.toArray(), [[4, 5, 6]]);
    assert.equal(heap.stats().handles, 0);
    for (const o of [a, b, lock, a1, a2, b2, lock2, view]) o.close();
    q.detach();
  }));

test('items never taken release their shared objects when the last queue reference goes', () =>
  withHeap((heap) => {
    const q = SharedQueue.create({ capacity: 8, heap });
    const before = heap.stats();
    const arrays = [];
    for (let i = 0; i < 5; i++) {
      const a = SharedArray.full([1000], i, 'f8', { heap });
      q.put(i % 2 ? a : { frame: i, a, again: [a] });
      arrays.push(a);
    }
    for (const a of arrays) a.close(); // the producer closes its own, as in seed 002
    assert.equal(heap.stats().objects, before.objects + 5, 'the queue keeps the arrays alive');
    const first = q.get();
    assert.equal(first.a.get(0), 0);
    first.a.close();
    q.close();
    q.detach(); // 4 items never taken
  }));

test('an item whose heap this thread does not know stays in the queue', async () => {
  // Simulate "unknown" by a heap created in a worker that only ever posts the queue handle.
  const { startWorker } = await import('../../helpers/worker.js');
  await withHeap(async (heap) => {
    const q = SharedQueue.create({ capacity: 2, heap });
    const w = startWorker(
      `
      import { parentPort, workerData } from 'node:worker_threads';
      import { Heap, SharedArray, SharedQueue } from 'shmframe';
      const q = SharedQueue.attach(workerData);
      const own = Heap.create({ size: '2M' });
      const a = SharedArray.zeros([3], 'f8', { heap: own });
      q.put(a);
      a.close();
      q.detach();
      parentPort.postMessage('done');
      parentPort.once('message', () => process.exit(0));
    `,
      { workerData: q.handle },
    );
    const { once } = await import('node:events');
    await once(w, 'message');
    assert.throws(
      () => q.get(),
      (err) => {
        code('SHMFRAME_ERR_UNKNOWN_HEAP')(err);
        assert.match(err.message, /stays in the queue/);
        return true;
      },
    );
    assert.equal(q.size, 1);
    w.postMessage('exit');
    await once(w, 'exit');
    q.detach(); // the worker's heap is unreachable here: a warning, no crash
  });
});

test('toString and inspection', () =>
  withHeap((heap) => {
    const q = SharedQueue.create({ capacity: 3, heap });
    q.put(1);
    assert.equal(String(q), 'SharedQueue(1/3)');
    q.close();
    assert.equal(String(q), 'SharedQueue(1/3, closed)');
    assert.ok(SharedQueue.isSharedQueue(q));
    assert.equal(SharedQueue.isSharedQueue({}), false);
    q.detach();
    assert.equal(String(q), 'SharedQueue(detached)');
  }));

test('a queue can travel inside another queue', () =>
  withHeap((heap) => {
    const outer = SharedQueue.create({ capacity: 2, heap });
    const inner = SharedQueue.create({ capacity: 2, heap });
    inner.put('inside');
    outer.put({ reply: inner });
    const { reply } = outer.get();
    assert.equal(reply.get(), 'inside');
    reply.detach();
    inner.detach();
    outer.detach();
  }));

test('the default heap is used when none is given', () => {
  const q = SharedQueue.create({ capacity: 1 });
  assert.equal(q.heap, Heap.default());
  q.detach();
});

test('putMany / getMany move batches in order, wrap the ring, and respect max', () =>
  withHeap((heap) => {
    const q = SharedQueue.create({ capacity: 5, heap });
    q.putMany([1, 'two', null]);
    assert.deepEqual(q.getMany(2), [1, 'two']);
    q.putMany(new Set([3n, true, 4]));
    assert.equal(q.size, 4);
    assert.deepEqual(q.getMany(10), [null, 3n, true, 4]);
    let next = 0;
    for (let round = 0; round < 200; round++) {
      q.putMany([next, next + 1, next + 2]);
      const got = q.getMany(3);
      assert.deepEqual(got, [next, next + 1, next + 2]);
      next += 3;
    }
    assert.throws(() => q.getMany(0), /`max`/);
    assert.throws(() => q.putMany(5), /to be an array/);
    assert.throws(() => q.getMany(2, { timeout: 10 }), code('SHMFRAME_ERR_QUEUE_EMPTY'));
    q.detach();
  }));

test('putMany: a bad item puts nothing; a timeout or close says how many were put', () =>
  withHeap((heap) => {
    const q = SharedQueue.create({ capacity: 3, maxItemBytes: 32, heap });
    const a = SharedArray.zeros([2], 'f8', { heap });
    assert.throws(() => q.putMany([1, a, 'x'.repeat(40)]), /encodes to 40 bytes/);
    assert.equal(q.size, 0);
    assert.equal(heap.stats().handles, 0, 'the encoded array handle was released');
    assert.throws(
      () => q.putMany([1, 2, a, 4, 5], { timeout: 20 }),
      (err) => {
        code('SHMFRAME_ERR_QUEUE_FULL')(err);
        assert.equal(err.details.put, 3);
        return true;
      },
    );
    assert.equal(
      heap.stats().handles,
      1,
      'the array in the queue holds its handle; the rest released',
    );
    assert.deepEqual(q.getMany(2), [1, 2]);
    const [back] = q.getMany(5); // an item holding a shared object is taken alone
    assert.ok(SharedArray.isSharedArray(back));
    back.close();
    q.close();
    assert.throws(
      () => q.putMany([1]),
      (err) => code('SHMFRAME_ERR_QUEUE_CLOSED')(err) && err.details.put === 0,
    );
    assert.throws(() => q.getMany(3), code('SHMFRAME_ERR_QUEUE_CLOSED'));
    a.close();
    q.detach();
  }));

test('getManyAsync waits without blocking, aborts and times out with codes', () =>
  withHeap(async (heap) => {
    const q = SharedQueue.create({ capacity: 8, heap });
    const pending = q.getManyAsync(4);
    setImmediate(() => q.putMany(['a', 'b']));
    assert.deepEqual(await pending, ['a', 'b']);
    await assert.rejects(q.getManyAsync(4, { timeout: 20 }), code('SHMFRAME_ERR_QUEUE_EMPTY'));
    const ac = new AbortController();
    const aborted = q.getManyAsync(4, { signal: ac.signal });
    setImmediate(() => ac.abort());
    await assert.rejects(aborted, code('SHMFRAME_ERR_ABORTED'));
    await assert.rejects(q.getManyAsync(-1), /`max`/);
    q.close();
    await assert.rejects(q.getManyAsync(4), code('SHMFRAME_ERR_QUEUE_CLOSED'));
    q.detach();
  }));
