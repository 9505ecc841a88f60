import { tidIn } from '../heap/futex.js';
import { BlockRef } from '../heap/block-ref.js';
import type { Handle } from '../heap/handle.js';
import { Heap } from '../heap/heap.js';
import { KindCode, kShare, registerKind } from '../heap/kinds.js';
import { CorruptError, InvalidArgumentError, ShmframeTimeoutError, describe } from '../errors.js';
import { LockEngine, kLockBytes } from './lock-engine.js';
import { checkOptions, checkSignal, checkTimeout, millisecondsHint } from './wait.js';
import { hasBrand } from '../util/brand.js';

const kBrand = Symbol.for('shmframe.SharedLock');
const kKind = 'lock';

/** Options of {@link SharedLock.create}. */
export interface LockOptions {
  /** Heap to allocate the lock in. @default Heap.default() */
  heap?: Heap;
}

/** Options of {@link SharedLock.acquire} and {@link SharedLock.hold}. */
export interface AcquireOptions {
  /**
   * Milliseconds to wait before giving up with SHMFRAME_ERR_TIMEOUT.
   * @default Infinity (wait as long as it takes)
   */
  timeout?: number;
}

/** Options of {@link SharedLock.acquireAsync} and {@link SharedLock.holdAsync}. */
export interface AcquireAsyncOptions extends AcquireOptions {
  /** Aborts the wait (rejects with SHMFRAME_ERR_ABORTED); the lock is not taken. */
  signal?: AbortSignal;
}

/** What {@link SharedLock.hold} returns: releases the lock when disposed. */
export interface LockHold extends Disposable {
  /** Releases the lock (once; later calls do nothing). */
  release(): void;
}

/**
 * A mutual-exclusion lock in shared memory, usable from every thread that attaches its handle.
 *
 * - Fair: waiters are served first come, first served (a ticket lock), so none is starved.
 * - Owned by a thread: only the thread that acquired it may release it, and a blocking
 *   `acquire()` by the holder throws SHMFRAME_ERR_LOCK_OWNER instead of deadlocking. Two async
 *   callers in one thread do exclude each other with `acquireAsync()`.
 * - Robust: if a worker holding it (or waiting for it) is released by
 *   `heap.releaseThread(worker.threadId)` (Pool and `heap.watch(worker)` do this when a worker
 *   exits or is terminated), the lock passes to the next waiter, which sees
 *   `previousOwnerDied === true`.
 * - `acquire()` uses `Atomics.wait`: on the main thread it blocks the event loop; prefer
 *   `acquireAsync()` / `holdAsync()` there.
 *
 * @example
 * const lock = SharedLock.create();
 * worker.postMessage({ lock: lock.handle, data: arr.handle });
 * // in any thread:
 * {
 *   using held = lock.hold({ timeout: 1000 });
 *   arr.data[0] += 1;
 * } // released here
 */
export class SharedLock {
  readonly #ref: BlockRef;
  readonly #engine: LockEngine;
  /** Holds taken through this object and not released yet (released by close()). */
  #holds = 0;

  private constructor(ref: BlockRef) {
    this.#ref = ref;
    const w = new Int32Array(ref.heap.buffer, ref.byteOffset, kLockBytes / 4);
    this.#engine = new LockEngine(w, `${ref.heap.id}:${ref.unit}`, (tid) =>
      ref.core.isThreadGone(tid),
    );
    ref.track(this);
  }

  /**
   * A new, unlocked lock.
   * @example const lock = SharedLock.create({ heap });
   */
  static create(options?: LockOptions): SharedLock {
    const opts = checkOptions<LockOptions>(options, '{ heap }');
    let heap: Heap;
    if (opts.heap === undefined) heap = Heap.default();
    else if (Heap.isHeap(opts.heap)) heap = opts.heap;
    else
      throw new InvalidArgumentError(`Expected \`heap\` to be a Heap, got ${describe(opts.heap)}`);
    const ref = BlockRef.allocate(heap, KindCode.lock, kLockBytes, 'a SharedLock', true);
    try {
      LockEngine.format(new Int32Array(heap.buffer, ref.byteOffset, kLockBytes / 4));
      return new SharedLock(ref);
    } catch (err) {
      ref.release();
      throw err;
    }
  }

  /** Attaches a lock's handle posted from another thread, adopting the reference it carries. */
  static attach(handle: Handle | string): SharedLock {
    const { ref } = BlockRef.adopt(handle, kKind, KindCode.lock, 'SharedLock');
    try {
      if (ref.byteLength < kLockBytes)
        throw new CorruptError(
          `SharedLock block holds ${ref.byteLength} bytes, expected ${kLockBytes}`,
        );
      return new SharedLock(ref);
    } catch (err) {
      ref.release();
      throw err;
    }
  }

  /** True for a SharedLock from any copy of this module (works across worker realms). */
  static isSharedLock(value: unknown): value is SharedLock {
    return hasBrand(value, kBrand);
  }

  get [kBrand](): boolean {
    return true;
  }

  #check(): void {
    this.#ref.check('This SharedLock');
  }

  /**
   * Blocks until the lock is acquired. Throws SHMFRAME_ERR_TIMEOUT after `timeout` ms, and
   * SHMFRAME_ERR_LOCK_OWNER if this thread already holds it.
   * @example lock.acquire({ timeout: 500 }); try { ... } finally { lock.release(); }
   */
  acquire(options?: AcquireOptions): void {
    this.#check();
    const timeout = checkTimeout(
      checkOptions<AcquireOptions>(options, '{ timeout: 1000 }').timeout,
    );
    if (!this.#engine.acquire(timeout)) {
      throw new ShmframeTimeoutError(
        `SharedLock.acquire() timed out after ${timeout} ms (held by thread ${String(this.#engine.owner)})${millisecondsHint(timeout)}`,
        { details: { timeout, owner: this.#engine.owner } },
      );
    }
    this.#holds++;
  }

  /** Acquires the lock if it is free and nobody is queued for it; never waits. */
  tryAcquire(): boolean {
    this.#check();
    if (!this.#engine.tryAcquire()) return false;
    this.#holds++;
    return true;
  }

  /**
   * Resolves once the lock is acquired, without blocking the event loop. Rejects with
   * SHMFRAME_ERR_TIMEOUT or SHMFRAME_ERR_ABORTED (and then does not hold the lock).
   * @example await lock.acquireAsync({ signal }); try { ... } finally { lock.release(); }
   */
  async acquireAsync(options?: AcquireAsyncOptions): Promise<void> {
    this.#check();
    const opts = checkOptions<AcquireAsyncOptions>(options, '{ timeout: 1000, signal }');
    const timeout = checkTimeout(opts.timeout);
    const signal = checkSignal(opts.signal);
    await this.#engine.acquireAsync(timeout, signal, 'SharedLock.acquireAsync()');
    this.#holds++;
  }

  /**
   * Releases the lock. Throws SHMFRAME_ERR_LOCK_OWNER if this thread does not hold it.
   */
  release(): void {
    this.#check();
    this.#engine.release();
    if (this.#holds > 0) this.#holds--;
  }

  /**
   * Acquires the lock and returns a hold that releases it when disposed, for `using`.
   * @example
   * {
   *   using held = lock.hold();
   *   counter[0]++;
   * }
   */
  hold(options?: AcquireOptions): LockHold {
    this.acquire(options);
    return this.#hold();
  }

  /**
   * Async {@link SharedLock.hold}: `await using held = await lock.holdAsync()` (or call
   * `held.release()`).
   */
  async holdAsync(options?: AcquireAsyncOptions): Promise<LockHold> {
    await this.acquireAsync(options);
    return this.#hold();
  }

  #hold(): LockHold {
    let done = false;
    const release = (): void => {
      if (done) return;
      done = true;
      this.release();
    };
    return { release, [Symbol.dispose]: release };
  }

  /** Whether some thread holds the lock now. */
  get locked(): boolean {
    this.#check();
    return this.#engine.owner !== undefined;
  }

  /** Thread id of the holder (`threadId` of node:worker_threads; 0 is the main thread). */
  get owner(): number | undefined {
    this.#check();
    return this.#engine.owner;
  }

  /** Whether this thread holds the lock. */
  get held(): boolean {
    this.#check();
    return this.#engine.owner === tidIn(this.#ref.heap.buffer);
  }

  /** Callers queued for the lock now (a snapshot, for diagnostics). */
  get waiting(): number {
    this.#check();
    return this.#engine.waiting;
  }

  /**
   * True when this thread's current hold began by taking over from a holder that was released
   * while holding the lock (a worker that exited or was terminated): the data the lock guards may
   * be half-updated. Reset by `release()`.
   */
  get previousOwnerDied(): boolean {
    return this.#engine.ownerDied;
  }

  get heap(): Heap {
    return this.#ref.heap;
  }

  /** Whether this object's reference was dropped (by `close()`). */
  get closed(): boolean {
    return this.#ref.released;
  }

  /**
   * A handle to post to another thread (`SharedLock.attach(handle)` there). Reading it again
   * before it was attached returns the same handle.
   */
  get handle(): Handle {
    this.#check();
    return this.#ref.reuseHandle(() => this[kShare]());
  }

  /** @internal A handle with a new reference on every call (used by Pool and queues). */
  [kShare](): Handle {
    return this.#ref.share(kKind);
  }

  /**
   * Drops this thread's reference to the lock (the last one, in any thread, frees it).
   * Releases the lock first if it was acquired through this object and is still held.
   * Idempotent.
   */
  close(): void {
    if (this.#ref.released) return;
    while (this.#holds > 0 && this.#engine.owner === tidIn(this.#ref.heap.buffer)) {
      this.#holds--;
      this.#engine.release();
    }
    this.#ref.release();
  }

  /**
   * The same as {@link close}: drops this thread's reference. Every shared class has
   * `detach()`, the counterpart of `attach()` (on a SharedQueue, where `close()` closes the
   * queue for everyone, it is the only way to drop a reference).
   */
  detach(): void {
    this.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  toString(): string {
    if (this.closed) return 'SharedLock(closed)';
    const owner = this.#engine.owner;
    return owner === undefined
      ? 'SharedLock(unlocked)'
      : `SharedLock(held by thread ${owner}, ${this.#engine.waiting} waiting)`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

registerKind({
  name: kKind,
  code: KindCode.lock,
  attach: (h) => SharedLock.attach(h),
  threadReleased: (block, tid) => {
    if (block.byteLength < kLockBytes) return;
    LockEngine.repair(new Int32Array(block.buffer, block.byteOffset, kLockBytes / 4), tid);
  },
});
