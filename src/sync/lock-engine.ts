/**
 * The engine of SharedLock: a FIFO ticket lock in shared memory whose waiters sleep on a word of
 * their own, so that a release wakes exactly the next waiter.
 *
 * Why a ticket lock and not a barging futex mutex: fairness. With a barging mutex the releasing
 * thread takes the lock straight back before the woken waiter runs; measured on the 2-core test
 * machine, one thread made 11,685 acquisitions while another made 2,000 of its own, and in a
 * tight loop a waiter can starve. Tickets are served in order, so a waiter is passed over at
 * most once by every thread that queued before it. The price is a wake-up per contended hand-off.
 *
 * Layout (Int32 words of the block payload):
 *   [0] magic  [1] layout version  [2] ring size R
 *   [16] NEXT: next ticket   [17] SERVING: ticket of the last owner   [18] OWNER: thread id + 1
 *   [19] DIED: thread id + 1 of a holder released while holding   [20] room waiters
 *   [21] acquisitions (a counter, for diagnostics)
 *   [32 .. 32+R) ring of per-ticket words: GRANT(t) or CANCEL(t) for ticket t (mod R)
 *   [32+R .. 32+2R) thread id + 1 of the thread that took ticket t (for repair after its death)
 *
 * A ticket is decided exactly once, by compare-and-swap on its ring word: the releaser writes
 * GRANT(t), a waiter that gives up (timeout, abort, death) writes CANCEL(t), and a releaser skips
 * cancelled tickets. At most R tickets are outstanding; more waiters wait for room first.
 *
 * Waiters sleep in slices of kOwnerCheckMs and then look at the holder (#checkHolder): a holder
 * that is provably gone (its heap released it, or OWNER names no thread at all) is repaired as
 * if released dead, so a damaged OWNER word never leaves a waiter waiting for nobody.
 */
import { notifyWord, selfIn, waitWord } from '../heap/futex.js';
import { CorruptError, LockOwnerError, ShmframeTimeoutError } from '../errors.js';
import { kOwnerCheckMs } from '../heap/owned-mutex.js';
import { abortError, deadlineOf, millisecondsHint, remaining, waitAsync } from './wait.js';

export const kLockMagic = 0x314b4c53; // "SLK1"
const kVersion = 1;
const kRing = 256;
const kMask = kRing - 1;
const W_MAGIC = 0;
const W_VERSION = 1;
const W_RING = 2;
const NEXT = 16;
const SERVING = 17;
const OWNER = 18;
const DIED = 19;
const ROOM_WAITERS = 20;
const ACQUISITIONS = 21;
const RING = 32;
const TIDS = RING + kRing;
/** Payload bytes of a lock block. */
export const kLockBytes = (TIDS + kRing) * 4;
/** Loads of the ticket word before sleeping: enough to catch a hand-off from a running thread. */
const kSpins = 64;

function grant(t: number): number {
  return (Math.imul(t, 2) + 1) | 0;
}
function cancel(t: number): number {
  return (Math.imul(t, 2) + 2) | 0;
}

/** Async acquisitions pending in this thread, per lock: a blocking acquire then would deadlock. */
const asyncPending = new Map<string, number>();

export class LockEngine {
  readonly #w: Int32Array;
  readonly #key: string;
  /** This thread's identity in the lock's heap + 1 (what OWNER and TIDS hold). */
  readonly #me: number;
  readonly #gone: (tid: number) => boolean;
  /** SERVING when the last slice check found the lock without an owner and nothing granted. */
  #ownerless = NaN;
  /** Whether the hold this thread has now began by taking over from a holder that died. */
  ownerDied = false;

  /** `gone(tid)`: whether a thread is provably gone (normally `HeapCore.isThreadGone`). */
  constructor(w: Int32Array, key: string, gone: (tid: number) => boolean = () => false) {
    if (Atomics.load(w, W_MAGIC) !== kLockMagic || w[W_VERSION] !== kVersion) {
      throw new CorruptError('Block is not a SharedLock of this layout version (bad magic)');
    }
    if (w[W_RING] !== kRing)
      throw new CorruptError(`SharedLock has ring size ${w[W_RING]}, expected ${kRing}`);
    this.#w = w;
    this.#key = key;
    this.#me = selfIn(w.buffer);
    this.#gone = gone;
  }

  /** Writes a fresh, unlocked lock into zeroed memory. */
  static format(w: Int32Array): void {
    w[W_VERSION] = kVersion;
    w[W_RING] = kRing;
    w[SERVING] = -1;
    // Ticket 0 is granted up front: the first acquirer finds the lock free.
    w[RING] = grant(0);
    Atomics.store(w, W_MAGIC, kLockMagic);
  }

  /** Thread id of the holder, or undefined. */
  get owner(): number | undefined {
    const o = Atomics.load(this.#w, OWNER);
    return o === 0 ? undefined : o - 1;
  }

  /** Threads (or async calls) queued for the lock, the holder excluded (tickets given up count until skipped). */
  get waiting(): number {
    const w = this.#w;
    return Math.max(0, (Atomics.load(w, NEXT) - Atomics.load(w, SERVING) - 1) | 0);
  }

  get acquisitions(): number {
    return Atomics.load(this.#w, ACQUISITIONS) >>> 0;
  }

  /** Takes the lock if nobody holds it or waits for it. */
  tryAcquire(): boolean {
    const w = this.#w;
    const t = Atomics.load(w, NEXT);
    if (Atomics.load(w, RING + (t & kMask)) !== grant(t)) return false;
    if (Atomics.compareExchange(w, NEXT, t, (t + 1) | 0) !== t) return false;
    Atomics.store(w, TIDS + (t & kMask), this.#me);
    this.#claim(t);
    return true;
  }

  /** Blocks until acquired; false when `timeout` ms passed first. */
  acquire(timeout: number): boolean {
    const w = this.#w;
    const me = this.#me;
    if (Atomics.load(w, OWNER) === me) {
      throw new LockOwnerError(
        'This thread already holds the SharedLock, and it is not reentrant: a blocking acquire() would wait forever. Release it first.',
      );
    }
    if ((asyncPending.get(this.#key) ?? 0) > 0) {
      throw new LockOwnerError(
        'An acquireAsync() of this SharedLock is pending in this thread: a blocking acquire() would keep it from ever running. Await it, or use acquireAsync().',
      );
    }
    if (this.tryAcquire()) return true;
    const deadline = deadlineOf(timeout);
    let t: number;
    for (;;) {
      t = Atomics.load(w, NEXT);
      const s = Atomics.load(w, SERVING);
      if (((t - s) | 0) >= kRing) {
        const left = remaining(deadline);
        if (left === 0) return false;
        Atomics.add(w, ROOM_WAITERS, 1);
        waitWord(w, SERVING, s, left);
        Atomics.sub(w, ROOM_WAITERS, 1);
        continue;
      }
      if (Atomics.compareExchange(w, NEXT, t, (t + 1) | 0) === t) {
        // Straight-line after the swap (no call, no loop): a terminated thread cannot stop
        // between taking a ticket and recording it, so repair always finds its tickets.
        Atomics.store(w, TIDS + (t & kMask), me);
        break;
      }
    }
    const at = RING + (t & kMask);
    const g = grant(t);
    for (let spins = 0; ; spins++) {
      const v = Atomics.load(w, at);
      if (v === g) break;
      if (spins < kSpins) continue;
      const left = remaining(deadline);
      if (left === 0) {
        if (Atomics.compareExchange(w, at, v, cancel(t)) === v) return false;
        continue;
      }
      if (waitWord(w, at, v, Math.min(left, kOwnerCheckMs)) === 'timed-out') this.#checkHolder();
    }
    this.#claim(t);
    return true;
  }

  /** Resolves when acquired; rejects with SHMFRAME_ERR_TIMEOUT or SHMFRAME_ERR_ABORTED. */
  async acquireAsync(
    timeout: number,
    signal: AbortSignal | undefined,
    what: string,
  ): Promise<void> {
    if (signal?.aborted) throw abortError(signal, what);
    if (Atomics.load(this.#w, OWNER) !== this.#me && this.tryAcquire()) return;
    const key = this.#key;
    asyncPending.set(key, (asyncPending.get(key) ?? 0) + 1);
    try {
      await this.#acquireAsync(deadlineOf(timeout), signal, what, timeout);
    } finally {
      const n = (asyncPending.get(key) ?? 1) - 1;
      if (n === 0) asyncPending.delete(key);
      else asyncPending.set(key, n);
    }
  }

  async #acquireAsync(
    deadline: number,
    signal: AbortSignal | undefined,
    what: string,
    timeout: number,
  ): Promise<void> {
    const w = this.#w;
    const me = this.#me;
    const timedOut = (): ShmframeTimeoutError =>
      new ShmframeTimeoutError(
        `${what} timed out after ${timeout} ms${millisecondsHint(timeout)}`,
        {
          details: { timeout, owner: this.owner },
        },
      );
    let t: number;
    for (;;) {
      t = Atomics.load(w, NEXT);
      const s = Atomics.load(w, SERVING);
      if (((t - s) | 0) >= kRing) {
        const left = remaining(deadline);
        if (left === 0) throw timedOut();
        Atomics.add(w, ROOM_WAITERS, 1);
        const r = await waitAsync(w, SERVING, s, left, signal);
        Atomics.sub(w, ROOM_WAITERS, 1);
        if (r === 'aborted') throw abortError(signal as AbortSignal, what);
        continue;
      }
      if (Atomics.compareExchange(w, NEXT, t, (t + 1) | 0) === t) {
        Atomics.store(w, TIDS + (t & kMask), me);
        break;
      }
    }
    const at = RING + (t & kMask);
    const g = grant(t);
    for (;;) {
      const v = Atomics.load(w, at);
      if (v === g) break;
      const left = remaining(deadline);
      const aborted = signal?.aborted === true;
      if (left === 0 || aborted) {
        if (Atomics.compareExchange(w, at, v, cancel(t)) === v) {
          throw aborted ? abortError(signal as AbortSignal, what) : timedOut();
        }
        continue; // granted meanwhile: take it
      }
      if ((await waitAsync(w, at, v, Math.min(left, kOwnerCheckMs), signal)) === 'timed-out')
        this.#checkHolder();
    }
    this.#claim(t);
    if (signal?.aborted) {
      // Granted as the signal fired: pass the lock on rather than keep it unasked.
      this.release();
      throw abortError(signal, what);
    }
  }

  #claim(t: number): void {
    const w = this.#w;
    Atomics.store(w, SERVING, t);
    this.ownerDied = Atomics.exchange(w, DIED, 0) !== 0;
    Atomics.store(w, OWNER, this.#me);
    Atomics.add(w, ACQUISITIONS, 1);
    if (Atomics.load(w, ROOM_WAITERS) > 0) notifyWord(w, SERVING);
  }

  /** Releases the lock held by this thread. */
  release(): void {
    const w = this.#w;
    const owner = Atomics.load(w, OWNER);
    if (owner !== this.#me) {
      throw new LockOwnerError(
        owner === 0
          ? `Cannot release a SharedLock that is not held (thread ${this.#me - 1} called release())`
          : `Cannot release a SharedLock held by thread ${owner - 1} from thread ${this.#me - 1}: only the holder releases it`,
        { details: { owner: owner === 0 ? undefined : owner - 1, thread: this.#me - 1 } },
      );
    }
    this.ownerDied = false;
    const t = Atomics.load(w, SERVING);
    Atomics.store(w, OWNER, 0);
    this.#grantAfter(t);
  }

  /** Grants the first ticket after `t` that was not cancelled, and wakes its waiter. */
  #grantAfter(t: number): void {
    const w = this.#w;
    let n = (t + 1) | 0;
    for (;;) {
      const at = RING + (n & kMask);
      const v = Atomics.load(w, at);
      if (v === cancel(n)) {
        n = (n + 1) | 0;
        continue;
      }
      if (Atomics.compareExchange(w, at, v, grant(n)) === v) {
        notifyWord(w, at);
        return;
      }
    }
  }

  /**
   * Called by a waiter after a slice without its grant. If OWNER names a thread that is gone,
   * the lock is repaired as if that thread had been released dead, unless the thread that took
   * the serving ticket is alive: then OWNER was overwritten and is given back to it. If the lock
   * has no owner and nothing granted for two checks in a row (a release takes microseconds),
   * the same, for the thread that took the serving ticket.
   */
  #checkHolder(): void {
    const w = this.#w;
    const o = Atomics.load(w, OWNER);
    const s = Atomics.load(w, SERVING);
    const taker = Atomics.load(w, TIDS + (s & kMask));
    if (o !== 0) {
      this.#ownerless = NaN;
      if (!this.#gone(o - 1)) return;
      if (taker !== o && taker !== 0 && !this.#gone(taker - 1)) {
        Atomics.compareExchange(w, OWNER, o, taker);
        return;
      }
      this.#repair(o);
      return;
    }
    if (taker === 0 || this.#grantedAfter(s)) {
      this.#ownerless = NaN;
      return;
    }
    if (this.#gone(taker - 1)) this.#repair(taker);
    else if (this.#ownerless === s) Atomics.compareExchange(w, OWNER, 0, taker);
    this.#ownerless = s;
  }

  /** Whether the first ticket after `t` that was not cancelled has been granted. */
  #grantedAfter(t: number): boolean {
    const w = this.#w;
    const next = Atomics.load(w, NEXT);
    for (let n = (t + 1) | 0; ; n = (n + 1) | 0) {
      const v = Atomics.load(w, RING + (n & kMask));
      if (v === grant(n)) return true;
      if (v !== cancel(n) || n === next) return false;
    }
  }

  /**
   * Repairs the lock after thread `tid` was released (it exited or was terminated): releases
   * the lock if it held it (the next holder sees `ownerDied`), and cancels every ticket it was
   * waiting with, passing on a grant it received but never claimed.
   */
  static repair(w: Int32Array, tid: number): void {
    if (Atomics.load(w, W_MAGIC) !== kLockMagic) return;
    const engine = new LockEngine(w, '', () => false);
    engine.#repair(tid + 1);
  }

  #repair(dead: number): void {
    const w = this.#w;
    const s = Atomics.load(w, SERVING);
    if (Atomics.load(w, OWNER) === dead) {
      if (Atomics.compareExchange(w, OWNER, dead, 0) === dead) {
        Atomics.store(w, DIED, dead);
        this.#grantAfter(s);
      }
    } else if (
      Atomics.load(w, OWNER) === 0 &&
      Atomics.load(w, TIDS + (s & kMask)) === dead &&
      !this.#grantedAfter(s)
    ) {
      // It died inside release(), after letting go and before handing the lock on.
      this.#grantAfter(s);
    }
    const next = Atomics.load(w, NEXT);
    // At most kRing tickets are outstanding: a damaged NEXT cannot make this loop run on.
    for (let t = (s + 1) | 0, k = 0; t !== next && k < kRing; t = (t + 1) | 0, k++) {
      if (Atomics.load(w, TIDS + (t & kMask)) !== dead) continue;
      const at = RING + (t & kMask);
      for (;;) {
        const v = Atomics.load(w, at);
        if (v === cancel(t)) break;
        if (v === grant(t)) {
          this.#grantAfter(t); // granted to a thread that will never claim it
          break;
        }
        if (Atomics.compareExchange(w, at, v, cancel(t)) === v) break;
      }
    }
  }
}
