/**
 * Waiting on a word of shared memory: option checks, deadlines, and an `Atomics.waitAsync` that
 * keeps the process alive and can be aborted.
 *
 * Node does not count a pending `Atomics.waitAsync` as work that keeps the event loop alive
 * (measured on Node 20: `await Atomics.waitAsync(...).value` in a script with nothing else to do
 * exits without resolving). While any async wait is pending we hold one ref'd timer, released
 * when the last wait ends.
 */
import { AbortedError, InvalidArgumentError, describe } from '../errors.js';

/** `timeout` (ms) as a number: `undefined` means forever. */
export function checkTimeout(value: unknown, what = 'timeout'): number {
  if (value === undefined) return Infinity;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new InvalidArgumentError(
      `Expected \`${what}\` to be a non-negative number of milliseconds (or Infinity), got ${describe(value)}`,
    );
  }
  return value;
}

export function checkSignal(value: unknown): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof (value as AbortSignal).aborted !== 'boolean' ||
    typeof (value as AbortSignal).addEventListener !== 'function'
  ) {
    throw new InvalidArgumentError(
      `Expected \`signal\` to be an AbortSignal (e.g. AbortSignal.timeout(1000)), got ${describe(value)}`,
    );
  }
  return value as AbortSignal;
}

/** Checks an options bag and returns it (or an empty one). */
export function checkOptions<T extends object>(value: unknown, example: string): Partial<T> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null) {
    throw new InvalidArgumentError(
      `Expected options to be an object like ${example}, got ${describe(value)}`,
    );
  }
  return value as Partial<T>;
}

/** Absolute deadline for a timeout in ms (Infinity for none). */
export function deadlineOf(timeout: number): number {
  return timeout === Infinity ? Infinity : performance.now() + timeout;
}

/** Milliseconds left until `deadline` (Infinity for none, 0 when passed). */
export function remaining(deadline: number): number {
  if (deadline === Infinity) return Infinity;
  return Math.max(0, deadline - performance.now());
}

export function abortError(signal: AbortSignal, what: string): AbortedError {
  return new AbortedError(`${what} was aborted by its signal`, { cause: signal.reason });
}

let pending = 0;
let keeper: NodeJS.Timeout | undefined;

/** Keeps the event loop alive while at least one async wait is pending. */
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

/**
 * Waits asynchronously until the word at `index` is notified or no longer `value`, the timeout
 * passes, or `signal` aborts. On abort every waiter on that word is woken (they re-check and
 * wait again), so that the abandoned V8 waiter is removed at once and can never swallow a
 * notification meant for a live one.
 */
export async function waitAsync(
  i32: Int32Array,
  index: number,
  value: number,
  timeout: number,
  signal: AbortSignal | undefined,
): Promise<WaitResult> {
  if (signal?.aborted) return 'aborted';
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
}

/**
 * A reminder appended to a timeout's message when the timeout was under 10 ms: shmframe's times
 * are milliseconds, and Python's queue and lock timeouts are seconds (`q.get(timeout=2)`), so a
 * 2 here is usually a 2 s meant. Empty for 0 (a deliberate "do not wait") and for 10 ms or more.
 */
export function millisecondsHint(timeout: number): string {
  if (!(timeout > 0 && timeout < 10)) return '';
  return ` (timeouts are in milliseconds: ${timeout} ms is ${timeout / 1000} s; for ${timeout} s, pass ${timeout * 1000})`;
}
