/**
 * A small mutex on two Int32 words (state = holder thread id + 1, or 0; sleeping waiters) for
 * critical sections of a few hundred nanoseconds: the queue's producer side and consumer side.
 * It spins briefly, then sleeps with `Atomics.wait` and is woken only if someone sleeps.
 *
 * Not fair (a releasing thread may take it straight back) and not for user code: SharedLock is
 * the fair lock. The holder's thread id is recorded so that the queue's repair can release a
 * mutex whose holder was terminated mid-section (see QueueEngine.repair).
 *
 * It is only ever held inside synchronous code (the async callers wait for it to look free,
 * then take it synchronously), so a word that names this very thread when it asks for the mutex
 * is stale: nothing of this thread can be inside the section.
 */
import { notifyWord, selfIn, waitWord } from '../heap/futex.js';
import { kOwnerCheckMs } from '../heap/owned-mutex.js';
import { waitAsync } from './wait.js';

const kSpins = 100;

/**
 * Asked when a waiter finds the mutex held by `holder` (the word's value) after sleeping a
 * slice, or held by this very thread: it may repair what the holder left half done and release
 * the mutex (when the holder is gone, or the word is stale).
 */
export type StaleHolder = (holder: number) => void;

/**
 * Takes the mutex if it comes free within `ms` milliseconds (0: a short spin, never sleeps).
 * A live holder keeps it for well under a microsecond, or a scheduler quantum if preempted; one
 * that holds it longer was terminated and awaits repair, which may need this very thread's
 * event loop (heap.watch), so callers on an event loop must not wait for it unboundedly. A
 * waiter sleeps in slices and asks `stale` after each one.
 */
export function lockWithin(w: Int32Array, at: number, ms: number, stale?: StaleHolder): boolean {
  const me = selfIn(w.buffer);
  if (Atomics.compareExchange(w, at, 0, me) === 0) return true;
  for (let i = 0; i < kSpins; i++) {
    if (Atomics.load(w, at) === 0 && Atomics.compareExchange(w, at, 0, me) === 0) return true;
  }
  if (stale !== undefined && Atomics.load(w, at) === me) {
    stale(me);
    if (Atomics.compareExchange(w, at, 0, me) === 0) return true;
  }
  if (ms <= 0) return false;
  const deadline = performance.now() + ms;
  Atomics.add(w, at + 1, 1);
  try {
    for (;;) {
      const v = Atomics.load(w, at);
      if (v === 0 && Atomics.compareExchange(w, at, 0, me) === 0) return true;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      if (v === 0) continue;
      if (
        waitWord(w, at, v, Math.min(left, kOwnerCheckMs)) === 'timed-out' &&
        stale !== undefined &&
        Atomics.load(w, at) === v
      )
        stale(v);
    }
  } finally {
    Atomics.sub(w, at + 1, 1);
  }
}

/**
 * Waits, without blocking the event loop, until the mutex looks free (or one slice passed, after
 * which `stale` was asked). The caller then tries {@link lockWithin} again: the mutex is never
 * held across an await.
 */
export async function waitFree(w: Int32Array, at: number, stale?: StaleHolder): Promise<void> {
  Atomics.add(w, at + 1, 1);
  try {
    const v = Atomics.load(w, at);
    if (v === 0) return;
    const r = await waitAsync(w, at, v, kOwnerCheckMs, undefined);
    if (r === 'timed-out' && stale !== undefined && Atomics.load(w, at) === v) stale(v);
  } finally {
    Atomics.sub(w, at + 1, 1);
  }
}

export function unlock(w: Int32Array, at: number): void {
  Atomics.store(w, at, 0);
  if (Atomics.load(w, at + 1) > 0) notifyWord(w, at, 1);
}

/** True when thread `tid` holds the mutex. */
export function heldBy(w: Int32Array, at: number, tid: number): boolean {
  return Atomics.load(w, at) === tid + 1;
}

/** Releases a mutex held by a thread that is gone, waking everyone waiting for it. */
export function forceUnlock(w: Int32Array, at: number, tid: number): boolean {
  if (Atomics.compareExchange(w, at, tid + 1, 0) !== tid + 1) return false;
  notifyWord(w, at);
  return true;
}
