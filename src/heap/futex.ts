/**
 * Waiting and waking on words of a heap, and who "I" am in it.
 *
 * In a thread heap these are Atomics.wait / notify / waitAsync, and a thread's identity is its
 * `threadId`. In a process heap (OS shared memory mapped by several processes) V8's Atomics
 * never wake a waiter in another process (its waiters are a per-process list), so:
 * - blocking waits are the addon's non-private futex waits, in slices of at most
 *   {@link kSliceMs} so that `Worker.terminate()` still lands between two slices;
 * - every wake does Atomics.notify (waitAsync waiters of this process), a futex wake (blocking
 *   waiters of any process) and, while some process has async waits pending
 *   (`H_ASYNC_WAITERS`), rings that process's doorbell: its relay thread (one per heap per
 *   process, in the addon, never on the libuv pool) calls back into each waiting event loop,
 *   which notifies the words its async waits sleep on so they re-check;
 * - identities are `slot * 2^21 + threadId` (see layout.ts `kSlotSpan`).
 *
 * Everything here is looked up by the SharedArrayBuffer of the Int32Array passed in, so the
 * sync layer (queues, locks, frame appends) keeps calling one function for both kinds.
 */
import { threadId } from 'node:worker_threads';
import type { NativeBinding } from '../native/binding.js';
import { AbortedError } from '../errors.js';
import {
  H_ASYNC_WAITERS,
  H_PROC_CAP,
  H_PROC_START,
  P_ASYNC,
  P_DOORBELL,
  P_STATE,
  kProcLive,
  kProcWords,
} from './layout.js';

/** Longest single blocking futex wait: bounds how late `Worker.terminate()` lands. */
export const kSliceMs = 50;

/** How this thread waits in one process heap. */
export interface ProcessLink {
  native: NativeBinding;
  /** Whole-heap Int32Array (control words live in the first 16 GiB). */
  words: Int32Array;
  /** This process's slot in the process table. */
  slot: number;
  /**
   * Called when a blocking wait has slept a whole slice: releases processes that died (a dead
   * process may hold what the waiter waits for, and a blocked event loop runs no watchdog).
   */
  stall?: () => void;
  /** When `stall` last ran (performance.now()). */
  stalled?: number;
}

/** How often at most a blocked waiter looks for dead processes, in ms. */
const kStallMs = 100;

interface Context {
  /** This thread's identity in the heap (lock words hold it + 1). */
  tid: number;
  link: ProcessLink | undefined;
}

const contexts = new WeakMap<SharedArrayBuffer, Context>();

/** Records this thread's identity (and, for a process heap, how to wait) in a heap buffer. */
export function registerContext(
  buffer: SharedArrayBuffer,
  tid: number,
  link: ProcessLink | undefined,
): void {
  contexts.set(buffer, { tid, link });
}

/** This thread's identity in the heap owning `buffer` (its `threadId` in a thread heap). */
export function tidIn(buffer: ArrayBufferLike): number {
  return contexts.get(buffer as SharedArrayBuffer)?.tid ?? threadId;
}

/** The value lock words hold for this thread in that heap: identity + 1. */
export function selfIn(buffer: ArrayBufferLike): number {
  return tidIn(buffer) + 1;
}

function linkOf(i32: Int32Array): ProcessLink | undefined {
  return contexts.get(i32.buffer as SharedArrayBuffer)?.link;
}

/** True when `buffer` is a process heap this thread has opened. */
export function isProcessBuffer(buffer: ArrayBufferLike): boolean {
  return contexts.get(buffer as SharedArrayBuffer)?.link !== undefined;
}

/** `Atomics.wait`, or a futex wait that other processes can wake. */
export function waitWord(
  i32: Int32Array,
  index: number,
  value: number,
  timeout = Infinity,
): 'ok' | 'not-equal' | 'timed-out' {
  const link = linkOf(i32);
  if (link === undefined) return Atomics.wait(i32, index, value, timeout);
  const sab = i32.buffer as SharedArrayBuffer;
  const at = i32.byteOffset + index * 4;
  const deadline = timeout === Infinity ? Infinity : performance.now() + timeout;
  let first = true;
  for (;;) {
    const left =
      deadline === Infinity ? kSliceMs : Math.min(kSliceMs, deadline - performance.now());
    if (left <= 0) return 'timed-out';
    const r = link.native.futexWait(sab, at, value, left);
    if (r === 0) return 'ok';
    if (r === 1) return first ? 'not-equal' : 'ok';
    first = false;
    // timed out (a slice) or interrupted: the value may have changed without a wake reaching us
    if (Atomics.load(i32, index) !== value) return 'ok';
    if (r === 2 && link.stall !== undefined) {
      const now = performance.now();
      if (now - (link.stalled ?? 0) >= kStallMs) {
        link.stalled = now;
        link.stall();
        if (Atomics.load(i32, index) !== value) return 'ok';
      }
    }
  }
}

/** `Atomics.notify`, reaching waiters in every process of a process heap. */
export function notifyWord(i32: Int32Array, index: number, count = Infinity): number {
  const woken = Atomics.notify(i32, index, count);
  const link = linkOf(i32);
  if (link === undefined) return woken;
  const n = link.native.futexWake(
    i32.buffer as SharedArrayBuffer,
    i32.byteOffset + index * 4,
    count === Infinity ? 2 ** 31 - 1 : count,
  );
  if (Atomics.load(link.words, H_ASYNC_WAITERS) > 0) ringDoorbells(link);
  return woken + n;
}

/** Wakes the relay of every other process that has async waits pending in this heap. */
function ringDoorbells(link: ProcessLink): void {
  const w = link.words;
  const start = Atomics.load(w, H_PROC_START);
  const top = Math.min(Atomics.load(w, start), Atomics.load(w, H_PROC_CAP));
  for (let s = 1; s < top; s++) {
    const at = start + s * kProcWords;
    if (s === link.slot || Atomics.load(w, at + P_ASYNC) <= 0) continue;
    if (Atomics.load(w, at + P_STATE) !== kProcLive) continue;
    Atomics.add(w, at + P_DOORBELL, 1);
    link.native.futexWake(w.buffer as SharedArrayBuffer, (at + P_DOORBELL) * 4, 1);
  }
}

// ---------------------------------------------------------------- async waits

/**
 * Node does not count a pending `Atomics.waitAsync` as work that keeps the event loop alive
 * (measured on Node 20: `await Atomics.waitAsync(...).value` in a script with nothing else to do
 * exits without resolving). While any async wait is pending we hold one ref'd timer, released
 * when the last wait ends.
 */
let pending = 0;
let keeper: NodeJS.Timeout | undefined;

function hold(): void {
  if (pending++ === 0) {
    if (keeper === undefined) keeper = setInterval(() => {}, 2 ** 30);
    else keeper.ref();
  }
}

function unhold(): void {
  if (--pending === 0) keeper?.unref();
}

export type WaitResult = 'ok' | 'not-equal' | 'timed-out' | 'aborted';

/** `Atomics.waitAsync` (Node 16+; typed in TypeScript's es2024 lib, which this build does not use). */
const atomicsWaitAsync = (
  Atomics as unknown as {
    waitAsync(
      typed: Int32Array,
      index: number,
      value: number,
      timeout?: number,
    ):
      | { async: false; value: 'not-equal' | 'timed-out' }
      | { async: true; value: Promise<'ok' | 'timed-out'> };
  }
).waitAsync;

/** Async waits of this thread in process heaps: the relay callback notifies their words. */
const relayWaits = new Map<Int32Array, Map<number, number>>();
/** Heaps whose relay this thread is subscribed to, with the timer that unsubscribes when idle. */
const relaySubs = new Map<
  SharedArrayBuffer,
  { link: ProcessLink; active: number; idle: NodeJS.Timeout | undefined }
>();
let relayInstalled = false;
/** How long a relay subscription outlives its last async wait: a busy getAsync loop keeps one thread. */
const kRelayLingerMs = 5000;

function onRelay(): void {
  for (const [i32, indexes] of relayWaits) {
    for (const index of indexes.keys()) Atomics.notify(i32, index);
  }
}

function relayEnter(link: ProcessLink, i32: Int32Array, index: number): void {
  const w = link.words;
  const start = Atomics.load(w, H_PROC_START);
  Atomics.add(w, start + link.slot * kProcWords + P_ASYNC, 1);
  Atomics.add(w, H_ASYNC_WAITERS, 1);
  if (!relayInstalled) {
    link.native.relayCallback(onRelay);
    relayInstalled = true;
  }
  const sab = w.buffer as SharedArrayBuffer;
  let sub = relaySubs.get(sab);
  if (sub === undefined) {
    link.native.relaySubscribe(sab, (start + link.slot * kProcWords + P_DOORBELL) * 4);
    sub = { link, active: 0, idle: undefined };
    relaySubs.set(sab, sub);
  }
  if (sub.idle !== undefined) {
    clearTimeout(sub.idle);
    sub.idle = undefined;
  }
  sub.active++;
  let m = relayWaits.get(i32);
  if (m === undefined) relayWaits.set(i32, (m = new Map()));
  m.set(index, (m.get(index) ?? 0) + 1);
}

function relayLeave(link: ProcessLink, i32: Int32Array, index: number): void {
  const w = link.words;
  const start = Atomics.load(w, H_PROC_START);
  Atomics.sub(w, start + link.slot * kProcWords + P_ASYNC, 1);
  Atomics.sub(w, H_ASYNC_WAITERS, 1);
  const m = relayWaits.get(i32);
  if (m !== undefined) {
    const n = (m.get(index) ?? 1) - 1;
    if (n <= 0) m.delete(index);
    else m.set(index, n);
    if (m.size === 0) relayWaits.delete(i32);
  }
  const sab = w.buffer as SharedArrayBuffer;
  const sub = relaySubs.get(sab);
  if (sub !== undefined && --sub.active === 0) {
    sub.idle = setTimeout(() => {
      relaySubs.delete(sab);
      link.native.relayUnsubscribe(sab, (start + link.slot * kProcWords + P_DOORBELL) * 4);
    }, kRelayLingerMs);
    sub.idle.unref();
  }
}

/**
 * Waits asynchronously until the word at `index` is notified or no longer `value`, the timeout
 * passes, or `signal` aborts. On abort every waiter on that word is woken (they re-check and
 * wait again), so that the abandoned V8 waiter is removed at once and can never swallow a
 * notification meant for a live one. In a process heap, wakes from other processes arrive
 * through the relay (see the file comment).
 */
export async function waitWordAsync(
  i32: Int32Array,
  index: number,
  value: number,
  timeout: number,
  signal: AbortSignal | undefined,
): Promise<WaitResult> {
  if (signal?.aborted) return 'aborted';
  const link = linkOf(i32);
  if (link !== undefined) relayEnter(link, i32, index);
  try {
    const r = atomicsWaitAsync(i32, index, value, timeout);
    if (!r.async) return r.value;
    hold();
    try {
      if (signal === undefined) return await r.value;
      return await new Promise<WaitResult>((resolve) => {
        const onAbort = (): void => {
          resolve('aborted');
          Atomics.notify(i32, index);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        void r.value.then((v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        });
      });
    } finally {
      unhold();
    }
  } finally {
    if (link !== undefined) relayLeave(link, i32, index);
  }
}

/** An {@link AbortedError} for `what`, with the signal's reason as cause. */
export function abortedBy(signal: AbortSignal, what: string): AbortedError {
  return new AbortedError(`${what} was aborted by its signal`, { cause: signal.reason });
}
