/**
 * Public types of the pool: options, the task context, statistics.
 */
import type { ResourceLimits } from 'node:worker_threads';
import type { Heap } from '../heap/heap.js';

/**
 * The second argument of every task function.
 *
 * @example
 * export async function fetchRow(label, ctx) {
 *   const res = await fetch(url(label), { signal: ctx.signal }); // stops when the task is cancelled
 *   return { label, index: ctx.index, worker: ctx.workerId, body: await res.text() };
 * }
 */
export interface TaskContext {
  /** Position of the item in the `map`/`imap` input (0 for `run`). */
  readonly index: number;
  /**
   * Aborted when the task is cancelled: its caller's `signal` aborted, its `timeout` passed, a
   * sibling task of the same `map`/`imap` failed, or the pool was destroyed. The reason is the
   * ShmframeError the caller got. A task that stops within `terminateAfter` keeps its worker.
   */
  readonly signal: AbortSignal;
  /** The worker's slot in the pool, `0 .. workers - 1` (a replacement takes its predecessor's). */
  readonly workerId: number;
  /** The worker's thread id (0 in a worker process: its main thread). */
  readonly threadId: number;
  /** The worker's process id (the pool's own process for a worker thread). */
  readonly pid: number;
}

/**
 * A task function: `(args, ctx) => result | Promise<result>`.
 * @example export async function resize({ image, width }, ctx) { ... }
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TaskFunction = (args: any, ctx: TaskContext) => unknown;

/**
 * The shape of a task module: named function exports.
 * @example const pool = new Pool<typeof import('./tasks.js')>({ module: new URL('./tasks.js', import.meta.url) });
 */
export type TaskModule = { [name: string]: unknown };

/**
 * Names of the function exports of a task module; any string when the module's type is not
 * given (`new Pool({ module })` without a type argument).
 */
export type TaskName<T extends TaskModule> = string extends keyof T
  ? string
  : {
      [K in keyof T]: T[K] extends TaskFunction ? K : never;
    }[keyof T] &
      string;

/** The first parameter of task `K`. */
export type TaskArgs<T extends TaskModule, K extends keyof T> = T[K] extends (
  args: infer A,
  ...rest: never[]
) => unknown
  ? A
  : unknown;

/** What awaiting task `K` gives. */
export type TaskResult<T extends TaskModule, K extends keyof T> = T[K] extends (
  ...args: never[]
) => infer R
  ? Awaited<R>
  : unknown;

/**
 * `true` draws a bar labelled with the task name, a string draws one with that label (on stderr,
 * only when it is a terminal: count, rate and ETA, or count and rate when the total is unknown);
 * a function is called with `(done, total)` once at the start and after every completed task,
 * whether or not stderr is a terminal (`total` is undefined for generators).
 * @example await pool.map('parse', files, { progress: 'files' })
 * @example await pool.map('parse', files, { progress: (done, total) => report(done / total) })
 * @default false
 */
export type ProgressOption = boolean | string | ((done: number, total: number | undefined) => void);

/**
 * Options of `new Pool()`.
 * @example new Pool({ module: new URL('./tasks.js', import.meta.url), workers: 4, idleTimeout: 30_000 })
 */
export interface PoolOptions {
  /**
   * The task module: a path (absolute, or relative to the working directory) or a URL (`file:`,
   * `data:`) of an ES module whose named function exports are the tasks.
   */
  module: string | URL;
  /** Workers (threads, or processes with `isolation: 'process'`). @default os.availableParallelism() */
  workers?: number;
  /**
   * `'thread'`: workers are worker threads of this process. `'process'`: workers are child
   * processes attached to the pool's heap, which must then be a heap in OS shared memory
   * (`Heap.create({ size, shared: 'process' })`; without `heap`, the pool uses one of its own).
   * The API, the handling of shared objects and the crash handling are the same; a worker process
   * killed in any way (SIGKILL, the kernel's OOM killer) fails its task with
   * SHMFRAME_ERR_WORKER_CRASHED, is replaced, and what it held in the heap is released.
   * @default 'thread'
   */
  isolation?: 'thread' | 'process';
  /** The heap workers start with (their `Heap.default()`). @default Heap.default() */
  heap?: Heap;
  /** V8 limits for each worker; a worker that exceeds them fails its task with SHMFRAME_ERR_WORKER_CRASHED. */
  resourceLimits?: ResourceLimits;
  /** Milliseconds after which an idle worker is stopped (restarted on demand). @default Infinity */
  idleTimeout?: number;
  /**
   * Milliseconds a cancelled task (timeout, abort, failed sibling) has to settle after its
   * `ctx.signal` fires before its worker is terminated and replaced. `0` terminates at once.
   * @default 100
   */
  terminateAfter?: number;
  /**
   * Plain TypedArrays in task arguments larger than this many bytes (or a size like `'1M'`) are
   * copied into the heap once per call and shared with every task of a `map`/`imap`, instead of
   * being cloned for each task (joblib's automatic memmapping). Tasks receive a TypedArray of the
   * same class viewing shared memory, valid until the task settles; treat it as read-only.
   * Results are not affected. @default Infinity (off)
   */
  autoShare?: number | string;
}

/**
 * Options of `pool.run()` (and of every task of a map/imap).
 * @example await pool.run('fit', data, { timeout: 60_000, signal: AbortSignal.timeout(120_000) })
 */
export interface RunOptions {
  /** Aborting rejects with SHMFRAME_ERR_ABORTED and cancels the task (see `TaskContext.signal`). */
  signal?: AbortSignal;
  /**
   * Milliseconds the task may run (from when it starts on a worker): then it rejects with
   * SHMFRAME_ERR_TIMEOUT and is cancelled; its worker is terminated and replaced unless the task
   * stops within `terminateAfter`. With `chunkSize > 1`, the limit applies to each chunk.
   * @default Infinity
   */
  timeout?: number;
}

/**
 * Options of `pool.map()` and `pool.imapUnordered()`.
 * @example await pool.map('square', numbers, { chunkSize: 256, progress: true })
 */
export interface MapOptions extends RunOptions {
  /** Progress display or callback, see {@link ProgressOption}. @default false */
  progress?: ProgressOption;
  /**
   * Items sent and run together as one task (one message, one result message): larger chunks cut
   * per-task overhead for tiny tasks. @default 1
   */
  chunkSize?: number;
  /**
   * Most tasks (chunks) in flight: submitted and not yet consumed. Items are pulled from the
   * input only as tasks complete, so a huge or infinite generator never fills memory.
   * @default `map`: 4 x workers, raised automatically up to 128 x workers for sub-millisecond
   * tasks; `imap`: 3 x workers (per worker: a task running, the next one queued in the worker, a
   * result waiting for you)
   */
  window?: number;
}

/**
 * Options of `pool.imap()`.
 * @example for await (const r of pool.imap('load', paths, { ordered: false, window: 8 })) ...
 */
export interface ImapOptions extends MapOptions {
  /** Yield results in input order (`false`: as they complete). @default true */
  ordered?: boolean;
}

/**
 * One worker slot in {@link PoolStats}. Times in milliseconds.
 * @example pool.stats().workers.map((w) => `${w.id}: ${w.tasks} tasks, ${(w.busyTime / 1000).toFixed(1)} s busy`)
 */
export interface WorkerStats {
  /** The slot, as in `ctx.workerId`. */
  id: number;
  /** Thread id of the current worker (0 for a worker process; -1 when none runs). */
  threadId: number;
  /** Pid of the current worker's process (this process for a worker thread; -1 when none runs). */
  pid: number;
  state: 'starting' | 'idle' | 'busy' | 'stopping' | 'stopped';
  /** Tasks this slot finished (successfully or not), across replacements. */
  tasks: number;
  /** Time with at least one task assigned. */
  busyTime: number;
  /** Time running and ready with nothing assigned. */
  idleTime: number;
  /** Times a worker of this slot was replaced after a crash, timeout or forced stop. */
  restarts: number;
}

/**
 * What `pool.stats()` reports.
 * @example console.log(`${pool.stats().tasksPerSecond.toFixed(0)} tasks/s`)
 */
export interface PoolStats {
  workers: WorkerStats[];
  /** Tasks completed successfully. */
  completed: number;
  /** Tasks that failed (threw, crashed, timed out, aborted). */
  failed: number;
  /** Tasks waiting for a worker. */
  queued: number;
  /** Tasks assigned to workers. */
  running: number;
  /** Completed tasks per second of active time (time with tasks queued or running). */
  tasksPerSecond: number;
  /** Milliseconds since the pool was created. */
  uptime: number;
}
