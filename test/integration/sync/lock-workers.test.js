import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedArray, SharedLock } from 'shmframe';
import { withHeap } from '../../helpers/heap.js';
import { run, until } from './fixtures/run.js';

test('4 threads increment a non-atomic counter 100k times each under the lock: exactly 400k', () =>
  withHeap(async (heap) => {
    const lock = SharedLock.create({ heap });
    const counter = SharedArray.zeros([1], 'f8', { heap });
    const go = new SharedArrayBuffer(8);
    const workers = Array.from({ length: 4 }, () =>
      run(heap, 'lockCounter', { lock: lock.handle, counter: counter.handle, n: 100_000, go }),
    );
    const flags = new Int32Array(go);
    await until(flags, 0, 4); // all started: they contend from the first increment
    Atomics.store(flags, 1, 1);
    Atomics.notify(flags, 1);
    await Promise.all(workers.map((w) => w.result));
    assert.equal(counter.get(0), 400_000);
    assert.equal(lock.locked, false);
    counter.close();
    lock.close();
  }));

test('fair: a queued waiter always gets the lock before the releasing thread takes it back', () =>
  withHeap(async (heap) => {
    const lock = SharedLock.create({ heap });
    const rounds = 500;
    const log = new SharedArrayBuffer(4 * (2 * rounds + 2));
    const flags = new SharedArrayBuffer(8);
    const a = run(heap, 'alternate', { lock: lock.handle, log, role: 'A', rounds, flags });
    const b = run(heap, 'alternate', { lock: lock.handle, log, role: 'B', rounds, flags });
    await Promise.all([a.result, b.result]);
    const entries = Array.from(new Int32Array(log, 4, 2 * rounds));
    let repeats = 0;
    for (let i = 1; i < entries.length; i++) if (entries[i] === entries[i - 1]) repeats++;
    assert.equal(
      repeats,
      0,
      `a thread took the lock back over a queued one ${repeats} times: ${entries.slice(0, 60).join('')}`,
    );
    lock.close();
  }));

test('acquire in a worker times out with SHMFRAME_ERR_TIMEOUT while another thread holds it', () =>
  withHeap(async (heap) => {
    const lock = SharedLock.create({ heap });
    lock.acquire();
    const r = await run(heap, 'acquireTimeout', { lock: lock.handle, timeout: 50 }).result;
    assert.equal(r.code, 'SHMFRAME_ERR_TIMEOUT');
    assert.ok(r.waited >= 49 && r.waited < 10_000, `waited ${r.waited} ms`);
    lock.release();
    const ok = await run(heap, 'acquireTimeout', { lock: lock.handle, timeout: 5000 }).result;
    assert.equal(ok.code, 'none');
    lock.close();
  }));

test('a holder that is terminated passes the lock on; the next holder sees previousOwnerDied', () =>
  withHeap(async (heap) => {
    const lock = SharedLock.create({ heap });
    const sig = new SharedArrayBuffer(8);
    const w = run(heap, 'holdForever', { lock: lock.handle, mode: 'hold', signal: sig });
    w.result.catch(() => {}); // it is terminated
    await until(new Int32Array(sig), 0, 1);
    assert.equal(lock.owner, w.worker.threadId);
    const waiting = lock.acquireAsync();
    // A blocking acquire now would keep the pending acquireAsync of this thread from ever running.
    assert.throws(
      () => lock.acquire({ timeout: 10 }),
      /acquireAsync\(\) of this SharedLock is pending/,
    );
    await w.worker.terminate(); // heap.watch releases the thread, which repairs the lock
    await waiting;
    assert.equal(lock.held, true);
    assert.equal(lock.previousOwnerDied, true);
    lock.release();
    assert.equal(lock.previousOwnerDied, false);
    lock.acquire();
    assert.equal(lock.previousOwnerDied, false, 'only the first hold after the death says so');
    lock.release();
    lock.close();
  }));

test('a waiter that is terminated gives up its place: the lock is not handed to the dead', () =>
  withHeap(async (heap) => {
    const lock = SharedLock.create({ heap });
    lock.acquire();
    const sig = new SharedArrayBuffer(8);
    const w = run(heap, 'holdForever', { lock: lock.handle, mode: 'wait', signal: sig });
    w.result.catch(() => {});
    while (lock.waiting < 1) await new Promise((r) => setImmediate(r)); // its ticket is taken
    await w.worker.terminate();
    lock.release();
    assert.equal(lock.tryAcquire(), true, 'the dead waiter’s ticket was cancelled and skipped');
    lock.release();
    lock.close();
  }));
