/**
 * One task as the pool engine tracks it, and the errors a task can end with.
 */
import {
  AbortedError,
  InvalidArgumentError,
  ShmframeTimeoutError,
  TaskError,
  WorkerCrashedError,
  decodeError,
  type EncodedError,
} from '../errors.js';
import type { Handle } from '../heap/handle.js';

/** Who gets a task's outcome: exactly one `settle` call per task. */
export interface TaskOwner {
  settle(task: Task, error: Error | undefined, value: unknown): void;
}

export const kQueued = 0;
export const kAssigned = 1;
export const kDone = 2;

export class Task {
  id = 0;
  /** kQueued (in the pool queue), kAssigned (posted to a worker), kDone (replied or dropped). */
  state = kQueued;
  /** The owner has its outcome (it may still be running on a worker, to be cancelled). */
  settled = false;
  /** When it became the first task of its worker (its start, as near as the pool can tell). */
  startedAt = 0;
  /** The worker slot it was posted to. */
  slot: number = -1;
  /** Its word in that worker's claim ring (claims.ts). */
  claim = -1;

  constructor(
    readonly owner: TaskOwner,
    readonly name: string,
    readonly value: unknown,
    readonly handles: Handle[] | null,
    readonly typed: (string | null)[] | null,
    readonly index: number,
    /** 0: one call; n: a chunk of n items. */
    readonly chunk: number,
    /** Milliseconds, 0 for none. */
    readonly timeout: number,
  ) {}
}

function where(task: Task, offset = 0): string {
  return `Task '${task.name}' (index ${task.index + offset})`;
}

/** The task function threw: a TaskError whose cause is the original error, rebuilt. */
export function taskError(
  task: Task,
  encoded: EncodedError,
  offset: number,
  workerId: number,
): TaskError {
  const cause = decodeError(encoded);
  const index = task.index + offset;
  const message = `${where(task, offset)} threw ${cause.name}: ${cause.message}`;
  const err = new TaskError(message, {
    cause,
    details: { index, task: task.name, workerId, name: cause.name, message: cause.message },
  });
  // The pool's own stack says nothing useful; show where the task threw, in the worker, without
  // the pool's worker loop below it (the cause keeps the full stack).
  const frames = (cause.stack ?? '')
    .split('\n')
    .filter((l) => /^\s+at /.test(l) && !/\/pool\/worker-entry\.js|\(?node:internal\//.test(l));
  Object.defineProperty(err, 'stack', {
    value: `TaskError: ${message}\n${frames.join('\n')}`,
    configurable: true,
    writable: true,
  });
  return err;
}

export function crashError(
  task: Task,
  workerId: number,
  exitCode: number,
  cause: Error | undefined,
  signal: string | null = null,
): WorkerCrashedError {
  const code = (cause as { code?: unknown } | undefined)?.code;
  const how =
    code === 'ERR_WORKER_OUT_OF_MEMORY'
      ? 'ran out of memory (raise `resourceLimits` or use less memory per task)'
      : signal !== null && cause === undefined
        ? `was killed by ${signal}` +
          (signal === 'SIGKILL'
            ? ' (kill -9, or the kernel out of memory)'
            : signal === 'SIGABRT' || signal === 'SIGSEGV' || signal === 'SIGBUS'
              ? ' (a native crash, or V8 out of memory: raise `resourceLimits`)'
              : '')
        : cause !== undefined
          ? `died of an uncaught ${cause.name}: ${cause.message}`
          : `exited with code ${exitCode} (process.exit in a task, or the thread was stopped)`;
  return new WorkerCrashedError(
    `The worker running ${where(task).replace('Task', 'task')} ${how}; the worker was replaced`,
    { cause, details: { index: task.index, task: task.name, workerId, exitCode, signal } },
  );
}

/** A task name that is not a function export of the module (checked in the pool and the worker). */
export function missingExportError(
  module: string,
  name: string,
  names: readonly string[],
): InvalidArgumentError {
  return new InvalidArgumentError(
    `Task '${name}' is not a function exported by ${module}; ` +
      (names.length === 0
        ? 'it exports no functions. Export your task functions by name.'
        : `its function exports are: ${names.join(', ')}.`),
    { details: { task: name, exports: [...names] } },
  );
}

export function timeoutError(task: Task): ShmframeTimeoutError {
  return new ShmframeTimeoutError(
    `${where(task)} did not finish within its timeout of ${task.timeout} ms; it was cancelled and ` +
      'its worker is replaced unless the task stops on ctx.signal',
    { details: { index: task.index, task: task.name, timeout: task.timeout } },
  );
}

export function abortError(what: string, reason: unknown, index?: number): AbortedError {
  return new AbortedError(`${what} was aborted`, {
    cause: reason,
    details: index === undefined ? {} : { index },
  });
}
