/**
 * A mutex on one word of shared memory that records its owner (thread id + 1), with a second
 * word counting sleepers so that unlock notifies only when someone waits. Unlike an anonymous
 * futex lock, a thread that dies holding it can be recognised: a waiter that times out asks
 * `gone(owner)` (normally `HeapCore.isThreadGone`, true once the heap has released that thread)
 * and takes the lock over. The caller then repairs what the lock guards, which is why
 * {@link lockOwned} reports a takeover.
 *
 * These locks guard synchronous sections only (never held across an await), so a lock word that
 * names this very thread when it asks for the lock is stale (a damaged word, or a section this
 * thread left by a throw it never unlocked after): it is taken over at once rather than waited
 * for forever. A word naming no thread at all (negative) is gone by `gone`.
 */
import { notifyWord, selfIn, waitWord } from './futex.js';

/** How long a waiter sleeps before it checks whether the owner died, in ms. */
export const kOwnerCheckMs = 100;

/**
 * Takes the lock at `words[lock]`. Returns true when it was taken over from a dead owner (the
 * guarded state may be half-updated), false for a normal acquisition.
 */
export function lockOwned(
  words: Int32Array,
  lock: number,
  waiters: number,
  gone: (tid: number) => boolean,
): boolean {
  const me = selfIn(words.buffer);
  if (Atomics.compareExchange(words, lock, 0, me) === 0) return false;
  for (let spin = 0; spin < 64; spin++) {
    if (Atomics.load(words, lock) === 0 && Atomics.compareExchange(words, lock, 0, me) === 0)
      return false;
  }
  if (Atomics.load(words, lock) === me) return true;
  Atomics.add(words, waiters, 1);
  try {
    for (;;) {
      const owner = Atomics.load(words, lock);
      if (owner === 0) {
        if (Atomics.compareExchange(words, lock, 0, me) === 0) return false;
        continue;
      }
      if (waitWord(words, lock, owner, kOwnerCheckMs) === 'timed-out' && gone(owner - 1)) {
        if (Atomics.compareExchange(words, lock, owner, me) === owner) return true;
      }
    }
  } finally {
    Atomics.sub(words, waiters, 1);
  }
}

export function unlockOwned(words: Int32Array, lock: number, waiters: number): void {
  Atomics.store(words, lock, 0);
  if (Atomics.load(words, waiters) > 0) notifyWord(words, lock, 1);
}
