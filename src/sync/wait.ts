/**
 * Waiting on a word of shared memory: option checks and deadlines. The waits themselves
 * (blocking and async, in thread and process heaps) are in heap/futex.ts.
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

export { waitWordAsync as waitAsync, type WaitResult } from '../heap/futex.js';

/**
 * A reminder appended to a timeout's message when the timeout was under 10 ms: shmframe's times
 * are milliseconds, and Python's queue and lock timeouts are seconds (`q.get(timeout=2)`), so a
 * 2 here is usually a 2 s meant. Empty for 0 (a deliberate "do not wait") and for 10 ms or more.
 */
export function millisecondsHint(timeout: number): string {
  if (!(timeout > 0 && timeout < 10)) return '';
  return ` (timeouts are in milliseconds: ${timeout} ms is ${timeout / 1000} s; for ${timeout} s, pass ${timeout * 1000})`;
}
