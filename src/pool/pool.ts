/**
 * Pool: the public face of the worker pool. It validates and documents; PoolEngine schedules
 * (piscina's Piscina / ThreadPool split).
 */
import os from 'node:os';
import { ClosedError, InvalidArgumentError, describe } from '../errors.js';
import { Heap } from '../heap/heap.js';
import { PoolEngine } from './engine.js';
import { closeAll, encode, type AutoShare } from './marshal.js';
import {
  autoShareBytes,
  checkItems,
  milliseconds,
  optionsObject,
  positiveInt,
  resolveModule,
  signalOf,
  taskName,
  timeoutOf,
} from './options.js';
import { checkProgress } from './progress.js';
import { Task, abortError, type TaskOwner } from './task.js';
import { TaskStream } from './task-stream.js';
import type {
  ImapOptions,
  MapOptions,
  PoolOptions,
  PoolStats,
  RunOptions,
  TaskArgs,
  TaskModule,
  TaskName,
  TaskResult,
} from './types.js';
import { hasBrand } from '../util/brand.js';

const kBrand = Symbol.for('shmframe.Pool');
/** The heap's thread table holds 1024 threads; leave room for the rest of the program. */
const kMaxWorkers = 512;

/**
 * Items for map/imap: any iterable or async iterable, consumed lazily.
 * @example pool.imap('parse', readdirSync(dir).values())
 */
export type TaskItems<A> = Iterable<A> | AsyncIterable<A>;

let processHeap: Heap | undefined;
/**
 * The heap of process pools created without one: a heap in OS shared memory (a memfd, which
 * nothing outlives), made on first use and shared by such pools for the life of the program.
 * Its size is `SHMFRAME_HEAP_SIZE`, else half of physical memory, reserved, not touched.
 */
function defaultProcessHeap(): Heap {
  const env = process.env['SHMFRAME_HEAP_SIZE'];
  processHeap ??= Heap.create({
    shared: 'process',
    ...(env !== undefined && env !== '' ? { size: env } : {}),
  });
  return processHeap;
}

/** One `run` call waiting for its task. */
class RunCall implements TaskOwner {
  task: Task | null = null;
  readonly #resolve: (v: unknown) => void;
  readonly #reject: (e: unknown) => void;
  readonly #signal: AbortSignal | undefined;
  #onAbort: (() => void) | null = null;

  constructor(
    engine: PoolEngine,
    resolve: (v: unknown) => void,
    reject: (e: unknown) => void,
    signal: AbortSignal | undefined,
  ) {
    this.#resolve = resolve;
    this.#reject = reject;
    this.#signal = signal;
    if (signal !== undefined) {
      this.#onAbort = () => {
        const task = this.task;
        if (task === null || task.settled) return;
        const err = abortError(`Task '${task.name}'`, signal.reason, task.index);
        engine.cancel(task, err);
        this.settle(task, err, undefined);
      };
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
  }

  settle(_task: Task, error: Error | undefined, value: unknown): void {
    if (this.#onAbort !== null) {
      this.#signal?.removeEventListener('abort', this.#onAbort);
      this.#onAbort = null;
    }
    if (error === undefined) this.#resolve(value);
    else this.#reject(error);
  }
}

/**
 * A pool of worker threads (or, with `isolation: 'process'`, worker processes attached to a heap
 * in OS shared memory) running the functions a task module exports, where shared objects
 * (SharedArray, SharedFrame, SharedQueue, SharedLock) anywhere in arguments and results travel
 * by handle, with no copy, and everything else by structured clone.
 *
 * - Workers start with the pool's heap as their `Heap.default()`, load the module once, and run
 *   one task at a time. `ctx` gives each call its `index`, a `signal` and its `workerId`.
 * - Shared objects in arguments: the worker gets its own reference, closed when the task settles
 *   (keep one beyond that with `SharedArray.attach(arg.handle)`); the caller keeps its object.
 * - Shared objects in results are moved to the caller, who owns (and closes) them: returning a
 *   new `SharedArray` hands it over with no copy.
 * - A task that throws rejects with SHMFRAME_ERR_TASK (`cause`: the original error, rebuilt;
 *   `details.index`). A worker that crashes, exits or runs out of memory fails its task with
 *   SHMFRAME_ERR_WORKER_CRASHED and is replaced; everything it held is released. `timeout`
 *   gives SHMFRAME_ERR_TIMEOUT, `signal` SHMFRAME_ERR_ABORTED.
 * - Idle workers do not keep the process alive; `close()` finishes the work and stops them,
 *   `destroy()` stops them now.
 *
 * @example
 * // tasks.js
 * import { SharedArray } from 'shmframe';
 * export function scale({ a, k }) {                  // a: the caller's array, attached
 *   const out = SharedArray.empty(a.shape, a.dtype);
 *   for (let i = 0; i < a.size; i++) out.data[i] = a.data[i] * k;
 *   return out;                                      // moved to the caller, not copied
 * }
 *
 * // main.js
 * await using pool = new Pool({ module: new URL('./tasks.js', import.meta.url) });
 * const a = SharedArray.from(new Float64Array(1e6).fill(1));
 * const b = await pool.run('scale', { a, k: 3 });
 * for await (const r of pool.imap('scale', [1, 2, 3].map((k) => ({ a, k })), { progress: true })) r.close();
 */
export class Pool<T extends TaskModule = TaskModule> {
  readonly #engine: PoolEngine;
  readonly #autoShare: number;

  /**
   * Starts `workers` threads or processes (they load the module in the background).
   * @throws SHMFRAME_ERR_INVALID_ARG for bad options (a missing module file, workers < 1...)
   */
  constructor(options: PoolOptions) {
    const o = optionsObject<PoolOptions>(options, 'options');
    if (o.module === undefined) {
      throw new InvalidArgumentError(
        "Expected `options.module`: the path or URL of the ES module exporting your task functions, e.g. new Pool({ module: new URL('./tasks.js', import.meta.url) })",
      );
    }
    const module = resolveModule(o.module);
    const workers =
      o.workers === undefined
        ? os.availableParallelism()
        : positiveInt(o.workers, 'workers', kMaxWorkers);
    if (o.heap !== undefined && !Heap.isHeap(o.heap)) {
      throw new InvalidArgumentError(`Expected \`heap\` to be a Heap, got ${describe(o.heap)}`);
    }
    const isolation = o.isolation ?? 'thread';
    if (isolation !== 'thread' && isolation !== 'process') {
      throw new InvalidArgumentError(
        `Expected \`isolation\` to be 'thread' (worker threads) or 'process' (child processes), got ${describe(o.isolation)}`,
      );
    }
    if (isolation === 'process' && o.heap !== undefined && o.heap.shared !== 'process') {
      throw new InvalidArgumentError(
        "A Pool with isolation: 'process' needs a heap in OS shared memory, which its worker processes " +
          "attach: pass heap: Heap.create({ size, shared: 'process' }) (or a named or file heap), or " +
          'no heap (the pool then uses a process heap of its own). The given heap is a thread heap.',
      );
    }
    if (
      o.resourceLimits !== undefined &&
      (typeof o.resourceLimits !== 'object' || o.resourceLimits === null)
    ) {
      throw new InvalidArgumentError(
        `Expected \`resourceLimits\` to be an object like { maxOldGenerationSizeMb: 256 }, got ${describe(o.resourceLimits)}`,
      );
    }
    const idleTimeout =
      o.idleTimeout === undefined ? Infinity : milliseconds(o.idleTimeout, 'idleTimeout');
    const terminateAfter =
      o.terminateAfter === undefined ? 100 : milliseconds(o.terminateAfter, 'terminateAfter', true);
    if (!Number.isFinite(terminateAfter)) {
      throw new InvalidArgumentError(
        'Expected `terminateAfter` to be a finite number of milliseconds: a cancelled task that never stops would hold its worker forever',
      );
    }
    this.#autoShare = autoShareBytes(o.autoShare);
    this.#engine = new PoolEngine({
      module,
      workers,
      heap: o.heap ?? (isolation === 'process' ? defaultProcessHeap() : Heap.default()),
      isolation,
      resourceLimits: o.resourceLimits,
      idleTimeout,
      terminateAfter,
    });
  }

  /** True for a Pool from any copy of this module. */
  static isPool(value: unknown): value is Pool {
    return hasBrand(value, kBrand);
  }

  get [kBrand](): boolean {
    return true;
  }

  /** Number of workers (threads, or processes with `isolation: 'process'`). */
  get workers(): number {
    return this.#engine.size;
  }

  /** The heap workers start with. */
  get heap(): Heap {
    return this.#engine.heap;
  }

  /** URL of the task module. */
  get module(): string {
    return this.#engine.module;
  }

  /** True once `close()` or `destroy()` was called: new calls fail with SHMFRAME_ERR_CLOSED. */
  get closed(): boolean {
    return !this.#engine.open;
  }

  /**
   * Runs task `name` with `args` on a worker and resolves with its result.
   * @example const rowSum = await pool.run('sumRow', { a, row: 3 }, { timeout: 5000 })
   */
  run<K extends TaskName<T>>(
    name: K,
    args?: TaskArgs<T, K>,
    options?: RunOptions,
  ): Promise<TaskResult<T, K>> {
    let task: Task;
    let call: RunCall;
    let promise: Promise<TaskResult<T, K>>;
    try {
      const n = taskName(name);
      const o = optionsObject<RunOptions>(options, 'options');
      const timeout = timeoutOf(o.timeout);
      const signal = signalOf(o.signal);
      if (!this.#engine.open) {
        throw new ClosedError(`Cannot run '${n}': the pool is closed`);
      }
      const missing = this.#engine.missingExport(n);
      if (missing !== null) throw missing;
      if (signal?.aborted) throw abortError(`Task '${n}'`, signal.reason, 0);
      const auto = this.#auto();
      let out;
      try {
        out = encode(args, auto);
      } finally {
        // The handles carry their own references: the pool's copies can go now.
        if (auto !== null) closeAll([...auto.copies.values()]);
      }
      promise = new Promise<TaskResult<T, K>>((resolve, reject) => {
        call = new RunCall(this.#engine, resolve as (v: unknown) => void, reject, signal);
      });
      task = new Task(call!, n, out.value, out.handles, out.typed, 0, 0, timeout);
    } catch (err) {
      return Promise.reject(err);
    }
    call!.task = task;
    this.#engine.submit(task);
    return promise;
  }

  /**
   * Runs task `name` once per item (each item is the task's `args`) and resolves with the results
   * in input order. Stops at the first failure, cancelling what is in flight and closing results
   * already received.
   * @example const sums = await pool.map('sumRow', rows, { progress: true, chunkSize: 16 })
   */
  map<K extends TaskName<T>>(
    name: K,
    items: TaskItems<TaskArgs<T, K>>,
    options?: MapOptions,
  ): Promise<Array<TaskResult<T, K>>> {
    let stream: TaskStream;
    try {
      stream = this.#stream('map', name, items, options, false, true);
    } catch (err) {
      return Promise.reject(err);
    }
    return stream.collect() as Promise<Array<TaskResult<T, K>>>;
  }

  /**
   * Runs task `name` once per item, pulling items lazily (at most `window` tasks in flight), and
   * yields results in input order (`ordered: false`: as they complete). Breaking out of the loop
   * cancels the tasks in flight. Arguments are checked now; the work starts on the first `next()`.
   * @example
   * for await (const out of pool.imap('transform', labels, { progress: 'rows' })) { use(out); out.close(); }
   */
  imap<K extends TaskName<T>>(
    name: K,
    items: TaskItems<TaskArgs<T, K>>,
    options?: ImapOptions,
  ): AsyncIterableIterator<TaskResult<T, K>> {
    const ordered = options?.ordered;
    if (ordered !== undefined && typeof ordered !== 'boolean') {
      throw new InvalidArgumentError(
        `Expected \`ordered\` to be a boolean, got ${describe(ordered)}`,
      );
    }
    return this.#stream(
      ordered === false ? 'imapUnordered' : 'imap',
      name,
      items,
      options,
      ordered !== false,
      false,
    ) as AsyncIterableIterator<TaskResult<T, K>>;
  }

  /** `imap` yielding results as they complete. */
  imapUnordered<K extends TaskName<T>>(
    name: K,
    items: TaskItems<TaskArgs<T, K>>,
    options?: MapOptions,
  ): AsyncIterableIterator<TaskResult<T, K>> {
    return this.#stream(
      'imapUnordered',
      name,
      items,
      options,
      false,
      false,
    ) as AsyncIterableIterator<TaskResult<T, K>>;
  }

  #stream(
    what: string,
    name: unknown,
    items: unknown,
    options: unknown,
    ordered: boolean,
    collect: boolean,
  ): TaskStream {
    const n = taskName(name);
    const checked = checkItems(items);
    const o = optionsObject<ImapOptions>(options, 'options');
    return new TaskStream(this.#engine, {
      what,
      name: n,
      items: checked,
      ordered,
      collect,
      window: o.window === undefined ? undefined : positiveInt(o.window, 'window'),
      chunkSize: o.chunkSize === undefined ? 1 : positiveInt(o.chunkSize, 'chunkSize'),
      timeout: timeoutOf(o.timeout),
      signal: signalOf(o.signal),
      progress: checkProgress(o.progress),
      autoShare: this.#autoShare,
    });
  }

  #auto(): AutoShare | null {
    if (!Number.isFinite(this.#autoShare)) return null;
    return { bytes: this.#autoShare, heap: this.#engine.heap, copies: new Map() };
  }

  /**
   * Per worker: tasks done, busy and idle time; for the pool: tasks completed, failed, queued,
   * running, and tasks per second of active time.
   */
  stats(): PoolStats {
    return this.#engine.stats();
  }

  /**
   * Resolves once every worker has started and loaded the task module, so that what you time
   * next is the work and not the start-up (tasks never need it: they wait for a worker anyway).
   * Rejects with the module's load error, or with SHMFRAME_ERR_CLOSED if the pool closes first.
   * @example
   * const pool = new Pool({ module: new URL('./tasks.js', import.meta.url) });
   * await pool.ready();
   * const t = performance.now(); await pool.map('work', items); // no start-up in this figure
   */
  ready(): Promise<void> {
    return this.#engine.ready();
  }

  /**
   * Resolves when no task is waiting or running, counting tasks that were cancelled (aborted,
   * timed out, their `map`/`imap` stopped) but that a worker has not finished with yet. By then
   * every result that arrived for nobody has been released, so `heap.stats()` shows only what
   * your code holds. It does not keep new calls out: it waits for the first idle moment.
   * @example
   * controller.abort();                 // the task may still be running in its worker
   * await pool.onIdle();                // its result, if it comes, is released by now
   * assert.equal(heap.stats().objects, objectsBefore);
   */
  onIdle(): Promise<void> {
    return this.#engine.onIdle();
  }

  /**
   * Finishes every task and running `map`/`imap`, then stops the workers. Calls made after it
   * fail with SHMFRAME_ERR_CLOSED. Idempotent: returns the same promise every time.
   */
  close(): Promise<void> {
    return this.#engine.close();
  }

  /**
   * Stops the workers now. Tasks and operations not finished fail with SHMFRAME_ERR_CLOSED;
   * everything the workers held is released. Idempotent.
   */
  destroy(): Promise<void> {
    return this.#engine.destroy();
  }

  /** `await using pool = new Pool(...)` closes it (gracefully) at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  toString(): string {
    const s = this.#engine.stats();
    return `Pool(${this.workers} workers, ${s.running} running, ${s.queued} queued${this.closed ? ', closed' : ''})`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}
