import { test } from 'node:test';
import assert from 'node:assert/strict';
import { threadId } from 'node:worker_threads';
import { SharedLock, ShmframeError } from 'shmframe';
import { withHeap } from '../../helpers/heap.js';

const code = (c) => (err) => {
  assert.ok(ShmframeError.isShmframeError(err), `expected a ShmframeError, got ${err}`);
  assert.equal(err.code, c, err.message);
  return true;
};

test('acquire / release / tryAcquire and the owner', () =>
  withHeap((heap) => {
    const lock = SharedLock.create({ heap });
    assert.equal(lock.locked, false);
    assert.equal(lock.owner, undefined);
    lock.acquire();
    assert.equal(lock.locked, true);
    assert.equal(lock.owner, threadId);
    assert.equal(lock.held, true);
    assert.equal(lock.tryAcquire(), false);
    lock.release();
    assert.equal(lock.tryAcquire(), true);
    lock.release();
    for (let i = 0; i < 1000; i++) {
      lock.acquire(); // ticket numbers wrap around the ring many times
      lock.release();
    }
    assert.equal(lock.locked, false);
    assert.equal(String(lock), 'SharedLock(unlocked)');
    lock.close();
  }));

test('releasing a lock this thread does not hold is SHMFRAME_ERR_LOCK_OWNER', () =>
  withHeap((heap) => {
    const lock = SharedLock.create({ heap });
    assert.throws(
      () => lock.release(),
      (err) => {
        code('SHMFRAME_ERR_LOCK_OWNER')(err);
        assert.match(err.message, /not held/);
        return true;
      },
    );
    lock.close();
  }));

test('a blocking acquire by the holder throws instead of deadlocking (not reentrant)', () =>
  withHeap(async (heap) => {
    const lock = SharedLock.create({ heap });
    lock.acquire();
    assert.throws(
      () => lock.acquire(),
      (err) => {
        code('SHMFRAME_ERR_LOCK_OWNER')(err);
        assert.match(err.message, /not reentrant/);
        return true;
      },
    );
    assert.throws(() => lock.hold(), code('SHMFRAME_ERR_LOCK_OWNER'));
    lock.release();
    lock.close();
  }));

test('two async callers in one thread exclude each other, first come first served', () =>
  withHeap(async (heap) => {
    const lock = SharedLock.create({ heap });
    const order = [];
    const task = async (name) => {
      await lock.acquireAsync();
      order.push(`${name}+`);
      await new Promise((r) => setImmediate(r));
      order.push(`${name}-`);
      lock.release();
    };
    await Promise.all([task('a'), task('b'), task('c')]);
    assert.deepEqual(order, ['a+', 'a-', 'b+', 'b-', 'c+', 'c-']);
    lock.close();
  }));

test('hold() returns a disposable that releases once', () =>
  withHeap(async (heap) => {
    const lock = SharedLock.create({ heap });
    const held = lock.hold({ timeout: 100 });
    assert.equal(lock.held, true);
    held[Symbol.dispose]();
    held.release(); // no second release
    assert.equal(lock.locked, false);
    const h2 = await lock.holdAsync();
    assert.equal(lock.held, true);
    h2[Symbol.dispose]();
    assert.equal(lock.locked, false);
    lock.close();
  }));

test('acquireAsync times out and aborts with codes, and then does not hold the lock', () =>
  withHeap(async (heap) => {
    const lock = SharedLock.create({ heap });
    const other = SharedLock.attach(lock.handle);
    lock.acquire();
    const t0 = performance.now();
    await assert.rejects(other.acquireAsync({ timeout: 40 }), code('SHMFRAME_ERR_TIMEOUT'));
    assert.ok(performance.now() - t0 >= 39);
    const ac = new AbortController();
    const p = other.acquireAsync({ signal: ac.signal });
    setImmediate(() => ac.abort());
    await assert.rejects(p, code('SHMFRAME_ERR_ABORTED'));
    await assert.rejects(
      other.acquireAsync({ signal: AbortSignal.abort() }),
      code('SHMFRAME_ERR_ABORTED'),
    );
    // The given-up tickets are skipped: the next waiter still gets the lock.
    const next = other.acquireAsync();
    lock.release();
    await next;
    assert.equal(other.held, true);
    other.release();
    assert.equal(lock.tryAcquire(), true);
    lock.release();
    other.close();
    lock.close();
  }));

test('options are validated', () =>
  withHeap((heap) => {
    assert.throws(() => SharedLock.create({ heap: 1 }), /Expected `heap` to be a Heap/);
    assert.throws(() => SharedLock.create(5), /Expected options to be an object/);
    const lock = SharedLock.create({ heap });
    assert.throws(() => lock.acquire({ timeout: 'x' }), code('SHMFRAME_ERR_INVALID_ARG'));
    assert.rejects(lock.acquireAsync({ signal: {} }), /AbortSignal/);
    lock.close();
  }));

test('close() drops the reference and releases a hold taken through it; idempotent', () =>
  withHeap((heap) => {
    const lock = SharedLock.create({ heap });
    const other = SharedLock.attach(lock.handle);
    other.acquire();
    other.close();
    other.close();
    assert.equal(other.closed, true);
    assert.throws(() => other.acquire(), code('SHMFRAME_ERR_CLOSED'));
    assert.equal(lock.locked, false, 'closing released the hold');
    assert.ok(SharedLock.isSharedLock(lock));
    assert.equal(SharedLock.isSharedLock({}), false);
    lock[Symbol.dispose]();
  }));
