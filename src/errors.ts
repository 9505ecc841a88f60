/**
 * Errors raised by shmframe. Every error is a {@link ShmframeError} with a stable `code`;
 * one subclass exists per condition a caller may want to handle. Node 20 drops the class and
 * `code` of an error posted between threads, so {@link encodeError} / {@link decodeError}
 * carry name, code, message, stack, cause and extra fields across worker boundaries.
 */

import { hasBrand } from './util/brand.js';

/** Every stable error code shmframe raises. */
export const ErrorCodes = {
  INVALID_ARG: 'SHMFRAME_ERR_INVALID_ARG',
  DTYPE: 'SHMFRAME_ERR_DTYPE',
  SHAPE: 'SHMFRAME_ERR_SHAPE',
  HEAP_FULL: 'SHMFRAME_ERR_HEAP_FULL',
  CLOSED: 'SHMFRAME_ERR_CLOSED',
  UNKNOWN_HEAP: 'SHMFRAME_ERR_UNKNOWN_HEAP',
  CORRUPT: 'SHMFRAME_ERR_CORRUPT',
  QUEUE_FULL: 'SHMFRAME_ERR_QUEUE_FULL',
  QUEUE_EMPTY: 'SHMFRAME_ERR_QUEUE_EMPTY',
  QUEUE_CLOSED: 'SHMFRAME_ERR_QUEUE_CLOSED',
  TIMEOUT: 'SHMFRAME_ERR_TIMEOUT',
  ABORTED: 'SHMFRAME_ERR_ABORTED',
  TASK: 'SHMFRAME_ERR_TASK',
  WORKER_CRASHED: 'SHMFRAME_ERR_WORKER_CRASHED',
  PARSE: 'SHMFRAME_ERR_PARSE',
  IO: 'SHMFRAME_ERR_IO',
  LOCK_OWNER: 'SHMFRAME_ERR_LOCK_OWNER',
  DEPENDENCY: 'SHMFRAME_ERR_DEPENDENCY',
  NATIVE: 'SHMFRAME_ERR_NATIVE',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

const kBrand = Symbol.for('shmframe.error');

/**
 * Base class of every error shmframe raises. `code` is stable across releases; the message is
 * for people and says what was expected, what came, and the fix when one is known.
 *
 * @example
 * try { SharedArray.zeros([2, -1]); }
 * catch (err) { if (ShmframeError.isShmframeError(err) && err.code === 'SHMFRAME_ERR_SHAPE') ... }
 */
export class ShmframeError extends Error {
  readonly code: ErrorCode;
  /** Extra structured details (sizes, file positions, task index...), also carried across threads. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = Object.freeze({ ...(options?.details ?? {}) });
  }

  override get name(): string {
    return this.constructor.name;
  }

  /** True for any shmframe error, also one rebuilt in another thread or module copy. */
  static isShmframeError(value: unknown): value is ShmframeError {
    return hasBrand(value, kBrand);
  }

  get [kBrand](): boolean {
    return true;
  }
}

type Opts = { cause?: unknown; details?: Record<string, unknown> };

/** An argument has the wrong type or value. */
export class InvalidArgumentError extends ShmframeError {
  constructor(message: string, options?: Opts) {
    super(ErrorCodes.INVALID_ARG, message, options);
  }
}
/** An unknown, unsupported or mismatched dtype. */
export class DtypeError extends ShmframeError {
  constructor(message: string, options?: Opts) {
    super(ErrorCodes.DTYPE, message, options);
  }
}
/** A shape, index or size that does not fit. */
export class ShapeError extends ShmframeError {
  constructor(message: string, options?: Opts) {
    super(ErrorCodes.SHAPE, message, options);
  }
}
/** The heap has no free block large enough. `details` has `requested`, `free`, `largestFree`. */
export class HeapFullError extends ShmframeError {
  constructor(message: string, options?: Opts) {
    super(ErrorCodes.HEAP_FULL, message, options);
  }
}
/** The object (or the block a handle names) was closed and freed. */
export class ClosedError extends ShmframeError {
  constructor(message: string, options?: Opts) {
    super(ErrorCodes.CLOSED, message, options);
  }
}
/** A handle names a heap this thread cannot reach. */
export class UnknownHeapError extends ShmframeError {
  constructor(message: string, options?: Opts) {
    super(ErrorCodes.UNKNOWN_HEAP, message, options);
  }
}
/** A block header or handle is inconsistent: refused before any out-of-bounds access. */
export class CorruptError extends ShmframeError {
  constructor(message: string, options?: Opts) {
    super(ErrorCodes.CORRUPT, message, options);
  }
}
/** A put timed out on a full queue. */
export class QueueFullError extends ShmframeError {
  constructor(message: string, options?: Opts) {
    super(ErrorCodes.QUEUE_FULL, message, options);
  }
}
/** A get timed out on an empty queue. */
export class QueueEmptyError extends ShmframeError {
  constructor(message: string, options?: Opts) {
    super(ErrorCodes.QUEUE_EMPTY, message, options);
  }
}
/** The queue was closed. */
export class QueueClosedError extends ShmframeError {
  constructor(message: string, options?: Opts) {
    super(ErrorCodes.QUEUE_CLOSED, message, options);
  }
}
/** An operation or task took longer than its `timeout`. */
export class ShmframeTimeoutError extends ShmframeError {
  constructor(message: string, options?: Opts) {
    super(ErrorCodes.TIMEOUT, message, options);
  }
}
/** An operation was aborted through its `signal`. */
export class AbortedError extends ShmframeError {
  constructor(message: string, options?: Opts) {
    super(ErrorCodes.ABORTED, message, options);
  }
}
/** A task function threw; `cause` is the original error, `details.index` the task index. */
export class TaskError extends ShmframeError {
  constructor(message: string, options?: Opts) {
    super(ErrorCodes.TASK, message, options);
  }
}
/** The worker running a task exited, crashed or ran out of memory. */
export class WorkerCrashedError extends ShmframeError {
  constructor(message: string, options?: Opts) {
    super(ErrorCodes.WORKER_CRASHED, message, options);
  }
}
/** Malformed input text; `details` has `file`, `line`, `column`, `field`, `expected`. */
export class ParseError extends ShmframeError {
  constructor(message: string, options?: Opts) {
    super(ErrorCodes.PARSE, message, options);
  }
}
/** A file could not be read or written. */
export class ShmframeIOError extends ShmframeError {
  constructor(message: string, options?: Opts) {
    super(ErrorCodes.IO, message, options);
  }
}

/**
 * A SharedLock call that needs a different holder: `release()` by a thread that does not hold
 * the lock, or a blocking `acquire()` by the thread that already holds it (it is not reentrant).
 */
export class LockOwnerError extends ShmframeError {
  constructor(message: string, options?: Opts) {
    super(ErrorCodes.LOCK_OWNER, message, options);
  }
}
/**
 * An optional peer dependency a feature needs is not installed (apache-arrow for Arrow,
 * h5wasm for HDF5). `details.package` names it; the message says what to install.
 */
export class MissingDependencyError extends ShmframeError {
  constructor(message: string, options?: Opts) {
    super(ErrorCodes.DEPENDENCY, message, options);
  }
}

/**
 * The native backend (the `native/` addon that maps OS shared memory and waits across
 * processes) is not available: it was not built, or cannot load in this runtime. Thread heaps
 * work without it; process heaps, named and file heaps need it.
 */
export class NativeBackendError extends ShmframeError {
  constructor(message: string, options?: Opts) {
    super(ErrorCodes.NATIVE, message, options);
  }
}

const kClassByCode: Record<ErrorCode, new (message: string, options?: Opts) => ShmframeError> = {
  [ErrorCodes.INVALID_ARG]: InvalidArgumentError,
  [ErrorCodes.DTYPE]: DtypeError,
  [ErrorCodes.SHAPE]: ShapeError,
  [ErrorCodes.HEAP_FULL]: HeapFullError,
  [ErrorCodes.CLOSED]: ClosedError,
  [ErrorCodes.UNKNOWN_HEAP]: UnknownHeapError,
  [ErrorCodes.CORRUPT]: CorruptError,
  [ErrorCodes.QUEUE_FULL]: QueueFullError,
  [ErrorCodes.QUEUE_EMPTY]: QueueEmptyError,
  [ErrorCodes.QUEUE_CLOSED]: QueueClosedError,
  [ErrorCodes.TIMEOUT]: ShmframeTimeoutError,
  [ErrorCodes.ABORTED]: AbortedError,
  [ErrorCodes.TASK]: TaskError,
  [ErrorCodes.WORKER_CRASHED]: WorkerCrashedError,
  [ErrorCodes.PARSE]: ParseError,
  [ErrorCodes.IO]: ShmframeIOError,
  [ErrorCodes.LOCK_OWNER]: LockOwnerError,
  [ErrorCodes.DEPENDENCY]: MissingDependencyError,
  [ErrorCodes.NATIVE]: NativeBackendError,
};

/** The plain, structured-clonable form of an error. */
export interface EncodedError {
  readonly $shmframeError: 1;
  name: string;
  message: string;
  stack: string | undefined;
  code: string | undefined;
  details: Record<string, unknown> | undefined;
  cause: EncodedError | undefined;
  /** Own enumerable fields of a foreign error (errno, syscall, path...), when clonable. */
  extra: Record<string, unknown> | undefined;
}

function clonable(value: unknown): boolean {
  const t = typeof value;
  return (
    value === null ||
    t === 'string' ||
    t === 'number' ||
    t === 'boolean' ||
    t === 'bigint' ||
    t === 'undefined'
  );
}

/**
 * Turns any thrown value into a plain object that survives `postMessage` with its class name,
 * code, message, stack, details and cause chain (up to 8 levels).
 */
export function encodeError(error: unknown, depth = 0): EncodedError {
  if (
    error instanceof Error ||
    (typeof error === 'object' && error !== null && 'message' in error)
  ) {
    const e = error as Error & { code?: unknown; details?: unknown; cause?: unknown };
    const extra: Record<string, unknown> = {};
    for (const key of Object.keys(e)) {
      if (
        key === 'code' ||
        key === 'details' ||
        key === 'cause' ||
        key === 'message' ||
        key === 'stack'
      )
        continue;
      const v = (e as unknown as Record<string, unknown>)[key];
      if (clonable(v)) extra[key] = v;
    }
    let details: Record<string, unknown> | undefined;
    if (typeof e.details === 'object' && e.details !== null) {
      details = {};
      for (const [k, v] of Object.entries(e.details))
        if (clonable(v) || Array.isArray(v)) details[k] = v;
    }
    return {
      $shmframeError: 1,
      name: typeof e.name === 'string' ? e.name : 'Error',
      message: String(e.message),
      stack: typeof e.stack === 'string' ? e.stack : undefined,
      code: typeof e.code === 'string' ? e.code : undefined,
      details,
      cause: e.cause !== undefined && depth < 8 ? encodeError(e.cause, depth + 1) : undefined,
      extra: Object.keys(extra).length > 0 ? extra : undefined,
    };
  }
  return {
    $shmframeError: 1,
    name: 'Error',
    message: `Non-error value thrown: ${safeString(error)}`,
    stack: undefined,
    code: undefined,
    details: undefined,
    cause: undefined,
    extra: undefined,
  };
}

function safeString(value: unknown): string {
  try {
    return typeof value === 'string' ? JSON.stringify(value) : String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** True when `value` is the output of {@link encodeError}. */
export function isEncodedError(value: unknown): value is EncodedError {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { $shmframeError?: unknown }).$shmframeError === 1
  );
}

const kBuiltins: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

/**
 * Rebuilds an error from {@link encodeError}: a shmframe code gives its subclass, a built-in
 * name its built-in class, anything else an `Error` whose `name` is the original one.
 */
export function decodeError(encoded: EncodedError): Error {
  const cause = encoded.cause === undefined ? undefined : decodeError(encoded.cause);
  let error: Error;
  const Cls = encoded.code !== undefined ? kClassByCode[encoded.code as ErrorCode] : undefined;
  if (Cls !== undefined) {
    error = new Cls(encoded.message, { cause, details: encoded.details });
  } else {
    const Builtin = kBuiltins[encoded.name] ?? Error;
    error =
      cause === undefined ? new Builtin(encoded.message) : new Builtin(encoded.message, { cause });
    if (!(encoded.name in kBuiltins)) {
      Object.defineProperty(error, 'name', {
        value: encoded.name,
        configurable: true,
        writable: true,
      });
    }
    if (encoded.code !== undefined) (error as Error & { code: string }).code = encoded.code;
  }
  if (encoded.extra !== undefined) {
    for (const [k, v] of Object.entries(encoded.extra)) {
      if (!(k in error)) (error as unknown as Record<string, unknown>)[k] = v;
    }
  }
  if (encoded.stack !== undefined) {
    Object.defineProperty(error, 'stack', {
      value: encoded.stack,
      configurable: true,
      writable: true,
    });
  }
  return error;
}

/** Describes a value for an error message: `-3 (number)`, `"x" (string)`, `[object Map]`. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  const t = typeof value;
  if (t === 'string') {
    const s = value as string;
    return `${JSON.stringify(s.length > 60 ? s.slice(0, 57) + '...' : s)} (string)`;
  }
  if (t === 'number' || t === 'boolean' || t === 'bigint')
    return `${String(value)}${t === 'bigint' ? 'n' : ''} (${t})`;
  if (Array.isArray(value)) {
    const inner = value
      .slice(0, 8)
      .map((v) => (typeof v === 'string' ? JSON.stringify(v) : String(v)));
    return `[${inner.join(',')}${value.length > 8 ? ',...' : ''}]`;
  }
  if (ArrayBuffer.isView(value))
    return `${value.constructor.name}(${(value as unknown as { length?: number }).length ?? value.byteLength})`;
  if (t === 'function') return 'a function';
  return Object.prototype.toString.call(value);
}
