/**
 * TaskStream: the driver of `map`, `imap` and `imapUnordered`. It pulls items from any iterable
 * or async iterable only while fewer than `window` tasks are in flight (submitted and not yet
 * consumed), so a huge or infinite input never fills memory, and yields results in input order
 * or as they complete. The first failure (a task error, a crash, a timeout, an abort, an input
 * error) stops it: nothing more is pulled, tasks in flight are cancelled, results not yet handed
 * out are closed, and the input's `return()` is called.
 */
import { AbortedError, ClosedError } from '../errors.js';
import type { SharedArray } from '../array/shared-array.js';
import type { Operation, PoolEngine } from './engine.js';
import { closeAll, closeShareables, encode, type AutoShare } from './marshal.js';
import { knownLength } from './options.js';
import { Progress } from './progress.js';
import { Task, abortError, type TaskOwner } from './task.js';
import type { ProgressOption } from './types.js';

export interface StreamOptions {
  /** 'map', 'imap' or 'imapUnordered', for messages. */
  what: string;
  name: string;
  items: Iterable<unknown> | AsyncIterable<unknown>;
  ordered: boolean;
  /** map: gather results into an array instead of yielding them. */
  collect: boolean;
  /** Undefined: automatic (see MapOptions.window). */
  window: number | undefined;
  chunkSize: number;
  timeout: number;
  signal: AbortSignal | undefined;
  progress: ProgressOption | undefined;
  autoShare: number;
}

type Source = Iterator<unknown> | AsyncIterator<unknown>;
interface Waiter {
  resolve(r: IteratorResult<unknown>): void;
  reject(e: unknown): void;
}

export class TaskStream implements AsyncIterableIterator<unknown>, TaskOwner, Operation {
  readonly #engine: PoolEngine;
  readonly #o: StreamOptions;
  #source: Source | null = null;
  #async = false;
  #started = false;
  #sourceDone = false;
  #pulling = false;
  /** Stopped by a failure or by the consumer: nothing more is pulled or handed out. */
  #stopped = false;
  #finished = false;
  #error: unknown = null;
  #hasError = false;
  /** Tasks submitted whose results were not yet consumed (yielded, or stored by map). */
  #inFlight = 0;
  readonly #tasks = new Set<Task>();
  #nextIndex = 0;
  /** ordered: the index whose result is handed out next. */
  #expect = 0;
  readonly #buffer = new Map<number, [unknown, boolean]>();
  #ready: unknown[] = [];
  #readyChunk: boolean[] = [];
  #readyHead = 0;
  #chunkPos = 0;
  readonly #waiters: Waiter[] = [];
  #progress: Progress | null = null;
  #auto: AutoShare | null = null;
  #results: unknown[] = [];
  #mapPromise: Promise<unknown[]> | null = null;
  #mapResolve: ((v: unknown[]) => void) | null = null;
  #mapReject: ((e: unknown) => void) | null = null;
  #onAbort: (() => void) | null = null;

  constructor(engine: PoolEngine, options: StreamOptions) {
    this.#engine = engine;
    this.#o = options;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** map: runs everything and resolves with the results in input order. */
  collect(): Promise<unknown[]> {
    this.#mapPromise ??= new Promise<unknown[]>((resolve, reject) => {
      this.#mapResolve = resolve;
      this.#mapReject = reject;
      const err = this.#start();
      if (err !== null) {
        this.#mapResolve = null;
        this.#mapReject = null;
        reject(err);
      }
    });
    return this.#mapPromise;
  }

  next(): Promise<IteratorResult<unknown>> {
    if (!this.#started) {
      const err = this.#start();
      if (err !== null) return Promise.reject(err);
    }
    if (this.#readyHead < this.#ready.length) {
      return Promise.resolve({ value: this.#shift(), done: false });
    }
    if (this.#hasError) {
      this.#hasError = false;
      const err = this.#error;
      this.#error = null;
      return Promise.reject(err);
    }
    if (this.#finished || this.#stopped) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** The consumer stopped (`break` in `for await`): cancel everything, release everything. */
  return(value?: unknown): Promise<IteratorResult<unknown>> {
    if (!this.#stopped && !this.#finished) {
      this.#stopped = true;
      this.#release(new AbortedError(`The consumer of ${this.#o.what}('${this.#o.name}') stopped`));
      this.#wake();
    }
    return Promise.resolve({ value, done: true });
  }

  /** The pool was destroyed. */
  abandon(error: Error): void {
    this.#fail(error);
  }

  // ---------------------------------------------------------------- start and pull

  #start(): unknown {
    this.#started = true;
    const o = this.#o;
    const fail = (err: unknown): unknown => {
      this.#finished = true;
      return err;
    };
    if (!this.#engine.open) {
      return fail(new ClosedError(`Cannot start ${o.what}('${o.name}'): the pool is closed`));
    }
    if (o.signal?.aborted) return fail(abortError(`${o.what}('${o.name}')`, o.signal.reason));
    const missing = this.#engine.missingExport(o.name);
    if (missing !== null) return fail(missing);
    try {
      const items = o.items as unknown as Record<symbol, () => Source>;
      const asyncIt = items[Symbol.asyncIterator];
      this.#async = typeof asyncIt === 'function';
      this.#source = this.#async
        ? (asyncIt as () => Source).call(o.items)
        : (items[Symbol.iterator] as () => Source).call(o.items);
    } catch (err) {
      return fail(err);
    }
    this.#engine.begin(this);
    if (Number.isFinite(o.autoShare)) {
      this.#auto = { bytes: o.autoShare, heap: this.#engine.heap, copies: new Map() };
    }
    const total = knownLength(o.items);
    if (o.collect && total !== undefined) this.#results = new Array<unknown>(total);
    if (o.signal !== undefined) {
      const signal = o.signal;
      this.#onAbort = () => this.#fail(abortError(`${o.what}('${o.name}')`, signal.reason));
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
    this.#progress = Progress.create(o.progress, o.name, total);
    try {
      this.#progress?.start();
    } catch (err) {
      this.#fail(err);
      return null;
    }
    this.#pump();
    return null;
  }

  #window(): number {
    const o = this.#o;
    if (o.window !== undefined) return o.window;
    const workers = this.#engine.size;
    // imap: per worker, a task running, the next one waiting in the worker, and a result waiting
    // for the consumer (with 2 per worker, a worker that finished ahead of an ordered result had
    // nothing queued and waited for the slower one).
    if (!o.collect) return 3 * workers;
    // map keeps every result anyway: let short tasks fill the workers' pipelines.
    return Math.min(128 * workers, 2 * workers * this.#engine.capacity);
  }

  #pump(): void {
    if (this.#pulling || this.#stopped) return;
    if (this.#sourceDone || this.#inFlight >= this.#window()) {
      this.#checkFinished();
      return;
    }
    this.#pulling = true;
    if (this.#async) void this.#pullAsync();
    else this.#pullSync();
  }

  #pullSync(): void {
    const it = this.#source as Iterator<unknown>;
    const size = this.#o.chunkSize;
    try {
      while (!this.#stopped && this.#inFlight < this.#window()) {
        if (size === 1) {
          const r = it.next();
          if (r.done === true) {
            this.#sourceDone = true;
            break;
          }
          this.#submit(r.value, false);
          continue;
        }
        const items: unknown[] = [];
        while (items.length < size) {
          const r = it.next();
          if (r.done === true) {
            this.#sourceDone = true;
            break;
          }
          items.push(r.value);
        }
        if (items.length > 0) this.#submit(items, true);
        if (this.#sourceDone) break;
      }
    } catch (err) {
      this.#sourceDone = true; // a generator that threw is finished
      this.#fail(err);
    }
    this.#pulling = false;
    this.#checkFinished();
  }

  async #pullAsync(): Promise<void> {
    const it = this.#source as AsyncIterator<unknown>;
    const size = this.#o.chunkSize;
    try {
      while (!this.#stopped && this.#inFlight < this.#window()) {
        const items: unknown[] = [];
        while (items.length < size) {
          const r = await it.next();
          if (this.#stopped) break; // the item stays its owner's: nothing was sent
          if (r.done === true) {
            this.#sourceDone = true;
            break;
          }
          items.push(r.value);
        }
        if (this.#stopped) break;
        if (items.length > 0) {
          if (size === 1) this.#submit(items[0], false);
          else this.#submit(items, true);
        }
        if (this.#sourceDone) break;
      }
    } catch (err) {
      this.#sourceDone = true;
      this.#fail(err);
    }
    this.#pulling = false;
    this.#checkFinished();
  }

  #submit(value: unknown, chunk: boolean): void {
    const o = this.#o;
    const index = this.#nextIndex;
    let out;
    try {
      out = encode(value, this.#auto);
    } catch (err) {
      this.#fail(err);
      return;
    }
    const n = chunk ? (value as unknown[]).length : 0;
    const task = new Task(this, o.name, out.value, out.handles, out.typed, index, n, o.timeout);
    this.#nextIndex += chunk ? n : 1;
    this.#tasks.add(task);
    this.#inFlight++;
    this.#engine.submit(task);
  }

  // ---------------------------------------------------------------- results

  settle(task: Task, error: Error | undefined, value: unknown): void {
    this.#tasks.delete(task);
    if (this.#stopped) {
      closeShareables(value);
      return;
    }
    if (error !== undefined) {
      this.#fail(error);
      return;
    }
    const chunk = task.chunk > 0;
    try {
      this.#progress?.tick(chunk ? task.chunk : 1);
    } catch (err) {
      closeShareables(value);
      this.#fail(err);
      return;
    }
    if (this.#stopped) {
      // The progress callback stopped the operation (it aborted the signal): this value would
      // land in buffers already released.
      closeShareables(value);
      return;
    }
    if (this.#o.collect) {
      if (chunk) {
        const values = value as unknown[];
        for (let k = 0; k < values.length; k++) this.#results[task.index + k] = values[k];
      } else {
        this.#results[task.index] = value;
      }
      this.#inFlight--;
      this.#pump();
      return;
    }
    if (!this.#o.ordered || task.index === this.#expect) {
      this.#push(value, chunk);
      if (this.#o.ordered) {
        this.#expect += chunk ? task.chunk : 1;
        for (;;) {
          const next = this.#buffer.get(this.#expect);
          if (next === undefined) break;
          this.#buffer.delete(this.#expect);
          this.#push(next[0], next[1]);
          this.#expect += next[1] ? (next[0] as unknown[]).length : 1;
        }
      }
    } else {
      this.#buffer.set(task.index, [value, chunk]);
    }
    this.#wake();
  }

  #push(value: unknown, chunk: boolean): void {
    this.#ready.push(value);
    this.#readyChunk.push(chunk);
  }

  /** Hands out the next ready value; a task's slot in the window frees when its last value goes. */
  #shift(): unknown {
    const h = this.#readyHead;
    let value = this.#ready[h];
    let last = true;
    if (this.#readyChunk[h] === true) {
      const values = value as unknown[];
      value = values[this.#chunkPos++];
      last = this.#chunkPos >= values.length;
    }
    if (last) {
      this.#ready[h] = undefined;
      this.#readyHead++;
      this.#chunkPos = 0;
      if (this.#readyHead === this.#ready.length) {
        this.#ready = [];
        this.#readyChunk = [];
        this.#readyHead = 0;
      }
      this.#inFlight--;
      this.#pump();
    }
    return value;
  }

  #wake(): void {
    while (this.#waiters.length > 0) {
      if (this.#readyHead < this.#ready.length) {
        (this.#waiters.shift() as Waiter).resolve({ value: this.#shift(), done: false });
      } else if (this.#hasError) {
        this.#hasError = false;
        const err = this.#error;
        this.#error = null;
        (this.#waiters.shift() as Waiter).reject(err);
      } else if (this.#finished || this.#stopped) {
        (this.#waiters.shift() as Waiter).resolve({ value: undefined, done: true });
      } else {
        return;
      }
    }
  }

  // ---------------------------------------------------------------- the end

  #checkFinished(): void {
    if (
      this.#finished ||
      this.#stopped ||
      !this.#sourceDone ||
      this.#pulling ||
      this.#inFlight > 0
    ) {
      return;
    }
    this.#finished = true;
    this.#cleanup();
    if (this.#mapResolve !== null) {
      const results = this.#results;
      this.#results = [];
      this.#mapResolve(results);
      this.#mapResolve = null;
      this.#mapReject = null;
    }
    this.#wake();
  }

  #fail(error: unknown): void {
    if (this.#stopped || this.#finished) return;
    this.#stopped = true;
    const o = this.#o;
    this.#release(new AbortedError(`Cancelled: ${o.what}('${o.name}') failed`, { cause: error }));
    if (this.#mapReject !== null) {
      this.#mapReject(error);
      this.#mapResolve = null;
      this.#mapReject = null;
    } else {
      this.#error = error;
      this.#hasError = true;
    }
    this.#wake();
  }

  /** Cancels tasks in flight, closes results nobody will get, closes the input. */
  #release(reason: Error): void {
    for (const t of this.#tasks) this.#engine.cancel(t, reason);
    this.#tasks.clear();
    for (let i = this.#readyHead; i < this.#ready.length; i++) {
      const v = this.#ready[i];
      closeShareables(
        this.#readyChunk[i] === true && i === this.#readyHead
          ? (v as unknown[]).slice(this.#chunkPos)
          : v,
      );
    }
    this.#ready = [];
    this.#readyChunk = [];
    this.#readyHead = 0;
    for (const [v] of this.#buffer.values()) closeShareables(v);
    this.#buffer.clear();
    closeShareables(this.#results);
    this.#results = [];
    if (!this.#sourceDone) {
      this.#sourceDone = true;
      try {
        const r = this.#source?.return?.();
        if (r instanceof Promise) r.catch(() => undefined);
      } catch {
        // the input's own cleanup failed; the first error is the one reported
      }
    }
    this.#cleanup();
  }

  #cleanup(): void {
    this.#progress?.stop();
    this.#progress = null;
    if (this.#auto !== null) {
      closeAll([...this.#auto.copies.values()] as SharedArray[]);
      this.#auto = null;
    }
    if (this.#onAbort !== null) {
      this.#o.signal?.removeEventListener('abort', this.#onAbort);
      this.#onAbort = null;
    }
    this.#engine.end(this);
  }
}
