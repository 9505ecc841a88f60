/**
 * A tiny futex-style mutex on one int32 word of shared memory (Drepper's three-state lock:
 * 0 free, 1 held, 2 held with waiters). Frames use it around critical sections of a few
 * instructions (reserving rows, appending a dictionary label) that cannot throw, so a holder
 * always releases it. `frame/` sits below `sync/`, hence its own lock rather than SharedLock.
 */
export function lockWord(words: Int32Array, i: number): void {
  let c = Atomics.compareExchange(words, i, 0, 1);
  if (c === 0) return;
  // Spin briefly: the sections it guards are a few instructions long.
  for (let spin = 0; spin < 64; spin++) {
    c = Atomics.compareExchange(words, i, 0, 1);
    if (c === 0) return;
  }
  if (c !== 2) c = Atomics.exchange(words, i, 2);
  while (c !== 0) {
    Atomics.wait(words, i, 2);
    c = Atomics.exchange(words, i, 2);
  }
}

export function unlockWord(words: Int32Array, i: number): void {
  if (Atomics.sub(words, i, 1) !== 1) {
    Atomics.store(words, i, 0);
    Atomics.notify(words, i, 1);
  }
}
