// Errors that name the real cause (issue 14): each queue method names itself, timeouts under
// 10 ms remind that times are milliseconds, a missing folder is called a missing folder, and no
// message ends a quoted message with a second period. (The delimiter hints: io/delimiter.test.js.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { join } from 'node:path';
import {
  Pool,
  SharedArray,
  SharedFrame,
  SharedLock,
  SharedQueue,
  readDelimited,
  writeArrow,
  writeHDF5,
  writeNpy,
} from 'shmframe';
import { withHeap } from '../helpers/heap.js';
import { tempDir } from '../helpers/io.js';
import { request, startWorker } from '../helpers/worker.js';

const hint = (ms) =>
  ` (timeouts are in milliseconds: ${ms} ms is ${ms / 1000} s; for ${ms} s, pass ${ms * 1000})`;

/** The error `fn` throws or rejects with. */
async function errorOf(fn) {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  assert.fail('expected an error');
}

test('a closed queue: every put and get names the method that was called', () =>
  withHeap(async (heap) => {
    const q = SharedQueue.create({ capacity: 2, heap });
    q.close();
    const closed = (what) =>
      `${what} failed: the queue is closed (close() was called), so it takes no more items`;
    for (const [what, fn] of [
      ['SharedQueue.put()', () => q.put(1)],
      ['SharedQueue.tryPut()', () => q.tryPut(1)],
      ['SharedQueue.putAsync()', () => q.putAsync(1)],
      ['SharedQueue.putAsync()', () => q.putAsync(1, { timeout: 100 })],
    ]) {
      const err = await errorOf(fn);
      assert.equal(err.code, 'SHMFRAME_ERR_QUEUE_CLOSED', what);
      assert.equal(err.message, closed(what));
    }
    const many = await errorOf(() => q.putMany([1, 2]));
    assert.equal(
      many.message,
      `${closed('SharedQueue.putMany()')} (0 of the items were put before)`,
    );
    const drained = (what) => `${what}: the queue is closed and every item has been taken`;
    for (const [what, fn] of [
      ['SharedQueue.get()', () => q.get({ timeout: 100 })],
      ['SharedQueue.getAsync()', () => q.getAsync()],
      ['SharedQueue.getMany()', () => q.getMany(4)],
      ['SharedQueue.getManyAsync()', () => q.getManyAsync(4)],
    ]) {
      const err = await errorOf(fn);
      assert.equal(err.code, 'SHMFRAME_ERR_QUEUE_CLOSED', what);
      assert.equal(err.message, drained(what));
    }
    q.detach();
  }));

test('queue timeouts name their method; under 10 ms they remind that times are milliseconds', () =>
  withHeap(async (heap) => {
    const full = SharedQueue.create({ capacity: 1, heap });
    full.put('x');
    const stayedFull = (what, ms) =>
      `${what} timed out after ${ms} ms: the queue stayed full (capacity 1)`;
    let err = await errorOf(() => full.put('y', { timeout: 2 }));
    assert.equal(err.code, 'SHMFRAME_ERR_QUEUE_FULL');
    assert.equal(err.message, stayedFull('SharedQueue.put()', 2) + hint(2));
    err = await errorOf(() => full.putAsync('y', { timeout: 5 }));
    assert.equal(err.message, stayedFull('SharedQueue.putAsync()', 5) + hint(5));
    err = await errorOf(() => full.putMany(['y'], { timeout: 3 }));
    assert.equal(
      err.message,
      `${stayedFull('SharedQueue.putMany()', 3)}; the first 0 items were put${hint(3)}`,
    );
    err = await errorOf(() => full.join({ timeout: 1 }));
    assert.equal(err.code, 'SHMFRAME_ERR_TIMEOUT');
    assert.equal(
      err.message,
      `SharedQueue.join() timed out after 1 ms with 1 item(s) not marked done${hint(1)}`,
    );
    // 10 ms and more: no reminder.
    err = await errorOf(() => full.put('y', { timeout: 10 }));
    assert.equal(err.message, stayedFull('SharedQueue.put()', 10));
    assert.equal(full.get(), 'x');
    full.taskDone();
    full.close();
    full.detach();

    const empty = SharedQueue.create({ capacity: 1, heap });
    const stayedEmpty = (what, ms) => `${what} timed out after ${ms} ms: the queue stayed empty`;
    for (const [what, fn] of [
      ['SharedQueue.get()', () => empty.get({ timeout: 2 })],
      ['SharedQueue.getAsync()', () => empty.getAsync({ timeout: 2 })],
      ['SharedQueue.getMany()', () => empty.getMany(3, { timeout: 2 })],
      ['SharedQueue.getManyAsync()', () => empty.getManyAsync(3, { timeout: 2 })],
    ]) {
      err = await errorOf(fn);
      assert.equal(err.code, 'SHMFRAME_ERR_QUEUE_EMPTY', what);
      assert.equal(err.message, stayedEmpty(what, 2) + hint(2));
    }
    err = await errorOf(() => empty.getAsync({ timeout: 30 }));
    assert.equal(err.message, stayedEmpty('SharedQueue.getAsync()', 30));
    empty.close();
    empty.detach();
  }));

test('lock timeouts under 10 ms remind that times are milliseconds (blocking and async)', () =>
  withHeap(async (heap) => {
    const lock = SharedLock.create({ heap });
    lock.acquire();
    const other = SharedLock.attach(lock.handle);
    let err = await errorOf(() => other.acquireAsync({ timeout: 3 }));
    assert.equal(err.code, 'SHMFRAME_ERR_TIMEOUT');
    assert.equal(err.message, `SharedLock.acquireAsync() timed out after 3 ms${hint(3)}`);
    err = await errorOf(() => other.acquireAsync({ timeout: 12 }));
    assert.equal(err.message, 'SharedLock.acquireAsync() timed out after 12 ms');
    other.detach();
    // The blocking acquire, from a worker (this thread holds the lock).
    const worker = startWorker(`
      import { parentPort } from 'node:worker_threads';
      import { SharedLock } from 'shmframe';
      parentPort.once('message', (h) => {
        const lock = SharedLock.attach(h);
        let reply;
        try { lock.acquire({ timeout: 2 }); lock.release(); reply = 'acquired'; }
        catch (err) { reply = err.message; }
        lock.detach(); // before replying: the reference is gone when the reply arrives
        parentPort.postMessage(reply);
      });`);
    const exited = once(worker, 'exit');
    const message = await request(worker, lock.handle);
    assert.match(message, /^SharedLock\.acquire\(\) timed out after 2 ms \(held by thread \d+\)/);
    assert.ok(message.endsWith(hint(2)), message);
    await exited;
    lock.release();
    lock.close();
  }));

test('writing into a missing folder says the folder is missing (HDF5, .npy, Arrow); reading too', async () => {
  const t = tempDir();
  try {
    await withHeap(async (heap) => {
      const a = SharedArray.zeros([2], 'f8', { heap });
      const f = SharedFrame.from({ x: [1, 2] }, { heap });
      const missing = join(t.dir, 'results');
      const path = (name) => join(missing, 'run1', name);
      const want = (p) =>
        `Cannot write ${JSON.stringify(p)}: the folder ${JSON.stringify(missing)} does not exist ` +
        `(create it first: mkdir -p ${JSON.stringify(join(missing, 'run1'))})`;
      for (const [p, fn] of [
        [path('out.h5'), () => writeHDF5(path('out.h5'), { a })],
        [path('out.npy'), () => writeNpy(path('out.npy'), a)],
        [path('out.arrow'), () => writeArrow(path('out.arrow'), f)],
      ]) {
        const err = await errorOf(fn);
        assert.equal(err.code, 'SHMFRAME_ERR_IO');
        assert.equal(err.message, want(p));
      }
      const err = await errorOf(() => readDelimited(path('in.txt'), { schema: 'x:f8', heap }));
      assert.equal(
        err.message,
        `Cannot read ${JSON.stringify(path('in.txt'))}: the folder ${JSON.stringify(missing)} does not exist`,
      );
      a.close();
      f.close();
    });
  } finally {
    t.cleanup();
  }
});

test('a function in pool arguments: "could not be cloned." with one period', async () => {
  const pool = new Pool({
    module: new URL('../fixtures/pool-tasks.js', import.meta.url),
    workers: 1,
  });
  try {
    const err = await errorOf(() => pool.run('echo', { f: () => 1 }));
    assert.equal(err.code, 'SHMFRAME_ERR_INVALID_ARG');
    assert.match(
      err.message,
      /could not be cloned\. Arguments must be structured-clonable \(no functions or symbols\)\.$/,
    );
    assert.doesNotMatch(err.message, /\.\./);
  } finally {
    await pool.close();
  }
});
