/**
 * Validation of pool options and call arguments: every message says what was expected, what
 * came, and the fix.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { InvalidArgumentError, describe } from '../errors.js';
import { parseSize } from '../util/size.js';

/** The task module as a URL string (paths are resolved against the working directory). */
export function resolveModule(module: unknown): string {
  let href: string;
  if (module instanceof URL) href = module.href;
  else if (typeof module === 'string' && module !== '') {
    href = /^[a-z][a-z\d+.-]+:/i.test(module) ? module : pathToFileURL(resolve(module)).href;
  } else {
    throw new InvalidArgumentError(
      `Expected \`module\` to be the path or URL of an ES module exporting task functions ` +
        `(e.g. new URL('./tasks.js', import.meta.url)), got ${describe(module)}`,
    );
  }
  if (href.startsWith('file:')) {
    let path: string;
    try {
      path = fileURLToPath(href);
    } catch (err) {
      throw new InvalidArgumentError(`Expected \`module\` to be a valid file URL, got ${href}`, {
        cause: err,
      });
    }
    if (!existsSync(path)) {
      throw new InvalidArgumentError(
        `Expected \`module\` to name an existing ES module, got ${path} (no such file). Relative ` +
          `paths resolve against the working directory; new URL('./tasks.js', import.meta.url) ` +
          'resolves against your own module.',
      );
    }
  } else if (!href.startsWith('data:')) {
    throw new InvalidArgumentError(
      `Expected \`module\` to be a file path, a file: URL or a data: URL, got ${describe(href)}`,
    );
  }
  return href;
}

export function positiveInt(value: unknown, what: string, max = 2 ** 31 - 1): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= max)
    return value;
  throw new InvalidArgumentError(
    `Expected \`${what}\` to be an integer from 1 to ${max}, got ${describe(value)}`,
  );
}

/** Milliseconds: a positive number, or Infinity for "never" (returned as 0 when `zeroIsNone`). */
export function milliseconds(value: unknown, what: string, allowZero = false): number {
  if (
    typeof value === 'number' &&
    !Number.isNaN(value) &&
    (value > 0 || (allowZero && value === 0))
  ) {
    return value;
  }
  throw new InvalidArgumentError(
    `Expected \`${what}\` to be a ${allowZero ? 'non-negative' : 'positive'} number of milliseconds (or Infinity), got ${describe(value)}`,
  );
}

/** A per-task timeout: 0 for none. */
export function timeoutOf(value: unknown): number {
  if (value === undefined) return 0;
  const ms = milliseconds(value, 'timeout');
  return Number.isFinite(ms) ? Math.max(1, Math.ceil(ms)) : 0;
}

export function signalOf(value: unknown): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AbortSignal).aborted === 'boolean' &&
    typeof (value as AbortSignal).addEventListener === 'function'
  ) {
    return value as AbortSignal;
  }
  throw new InvalidArgumentError(
    `Expected \`signal\` to be an AbortSignal (from an AbortController or AbortSignal.timeout), got ${describe(value)}`,
  );
}

export function taskName(value: unknown): string {
  if (typeof value === 'string' && value !== '') return value;
  throw new InvalidArgumentError(
    `Expected the task name to be the name of a function exported by the task module, got ${describe(value)}`,
  );
}

export function optionsObject<T extends object>(value: unknown, what: string): Partial<T> {
  if (value === undefined) return {};
  if (typeof value === 'object' && value !== null) return value as Partial<T>;
  throw new InvalidArgumentError(`Expected \`${what}\` to be an object, got ${describe(value)}`);
}

export function autoShareBytes(value: unknown): number {
  if (value === undefined || value === Infinity || value === false) return Infinity;
  if (value === 0) return 0;
  if (typeof value === 'number' || typeof value === 'string') return parseSize(value, 'autoShare');
  throw new InvalidArgumentError(
    `Expected \`autoShare\` to be a byte size (a number or a string like '1M'), got ${describe(value)}`,
  );
}

/** The number of items when it is known without consuming them (arrays, TypedArrays, Sets, Maps). */
export function knownLength(items: unknown): number | undefined {
  if (Array.isArray(items)) return items.length;
  if (ArrayBuffer.isView(items)) return (items as unknown as { length: number }).length;
  if (items instanceof Set || items instanceof Map) return items.size;
  return undefined;
}

export function checkItems(items: unknown): Iterable<unknown> | AsyncIterable<unknown> {
  if (
    typeof items === 'object' &&
    items !== null &&
    (typeof (items as Record<symbol, unknown>)[Symbol.iterator] === 'function' ||
      typeof (items as Record<symbol, unknown>)[Symbol.asyncIterator] === 'function')
  ) {
    return items as Iterable<unknown>;
  }
  throw new InvalidArgumentError(
    `Expected \`items\` to be an iterable or async iterable (an array, a generator, a stream...), got ${describe(items)}`,
  );
}
