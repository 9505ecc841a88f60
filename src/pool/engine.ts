/**
 * PoolEngine: the scheduler behind {@link Pool}. It owns the worker threads, a FIFO queue of
 * tasks, and the bookkeeping that makes crashes, timeouts and cancellation leave nothing behind.
 *
 * Scheduling. Each worker runs one task at a time but may hold several (`capacity`), posted in
 * one message, so that it never waits a round trip between short tasks. The capacity adapts to
 * the measured task duration: 1 for tasks of a millisecond or more (best balance), up to 64 for
 * microsecond tasks (one message carries many). Measured on 2 cores with empty tasks: one task
 * per message and per round trip ~35k tasks/s (piscina's figure); batched ~250k tasks/s.
 *
 * Accounting. A task posted to a worker stays on that worker's list until the worker replies
 * (result, failure or "skipped"), even after its caller got an answer (aborted, timed out), so
 * the pool always knows which tasks a dead worker took with it: the first one is the task that
 * was running (it fails with SHMFRAME_ERR_WORKER_CRASHED), the others never started and go back
 * to the queue. When a worker exits for any reason the pool releases every reference its thread
 * still held (`heap.releaseThread`, in every heap this thread knows), every handle sent to it
 * and never attached, and every result handle it made but did not post (ResultRecord).
 */
import { performance } from 'node:perf_hooks';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { ClosedError, InvalidArgumentError, decodeError, encodeError } from '../errors.js';
import type { EncodedError } from '../errors.js';
import { type Heap, knownHeaps } from '../heap/heap.js';
import { decode, releaseHandles } from './marshal.js';
import {
  kCancel,
  kFail,
  kInitError,
  kOk,
  kReady,
  kReturned,
  kRun,
  kSkipped,
  kSteal,
  kStop,
  kThrew,
  type WorkerInit,
} from './protocol.js';
import { ResultRecord } from './record.js';
import {
  type Task,
  crashError,
  kAssigned,
  kDone,
  kQueued,
  taskError,
  timeoutError,
} from './task.js';
import type { PoolStats, WorkerStats } from './types.js';

const kEntry = new URL('./worker-entry.js', import.meta.url);

/**
 * The parent's Node options minus `--input-type`, which workers would inherit and which makes
 * Node refuse to load a file entry ("--input-type can only be used with string input"): a
 * program started with `node --input-type=module -e ...` could not use a pool otherwise.
 */
function workerExecArgv(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--input-type') i++;
    else if (!a.startsWith('--input-type=')) out.push(a);
  }
  return out;
}

/** Longest a worker asked to stop may take before it is terminated. */
const kStopGrace = 2000;
const kMaxCapacity = 64;

export interface EngineOptions {
  /** URL of the task module. */
  module: string;
  workers: number;
  heap: Heap;
  resourceLimits: ResourceLimits | undefined;
  idleTimeout: number;
  terminateAfter: number;
}

/** A running map/imap: it keeps a closing pool open, and learns when the pool is destroyed. */
export interface Operation {
  abandon(error: Error): void;
}

const kOpen = 0;
const kClosing = 1;
const kClosed = 2;

type SlotState = 'starting' | 'ready' | 'stopping' | 'stopped';

class Slot {
  worker: Worker | null = null;
  threadId = -1;
  state: SlotState = 'stopped';
  /** Tasks posted to this worker, in order: the first one is running. */
  readonly tasks: Task[] = [];
  readonly record = new ResultRecord();
  refed = true;
  /** We asked it to stop (graceful) or terminated it: its exit is not a crash. */
  planned = false;
  /** We terminated it (timeout, cancelled task, destroy): replace it. */
  killed = false;
  /** It reported that the task module failed to load. */
  initFailed = false;
  crashCause: Error | undefined;
  timeoutTimer: NodeJS.Timeout | null = null;
  graceTimer: NodeJS.Timeout | null = null;
  idleTimer: NodeJS.Timeout | null = null;
  stopTimer: NodeJS.Timeout | null = null;
  exitWaiters: Array<() => void> = [];
  // statistics (ms)
  done = 0;
  busyTime = 0;
  busySince = 0;
  readyTime = 0;
  readySince = 0;
  restarts = 0;

  constructor(readonly id: number) {}
}

export class PoolEngine {
  readonly heap: Heap;
  readonly module: string;
  readonly size: number;
  readonly #opts: EngineOptions;
  readonly #slots: Slot[];
  #queue: Array<Task | undefined> = [];
  #qHead = 0;
  #queued = 0;
  #running = 0;
  #nextId = 1;
  #exports: Set<string> | null = null;
  #state = kOpen;
  readonly #ops = new Set<Operation>();
  #dispatchScheduled = false;
  readonly #dispatchBound = (): void => this.#dispatch();
  /** Moving average of task durations (ms); 0 until the first task completes. */
  #avg = 0;
  #completed = 0;
  #failed = 0;
  readonly #created = performance.now();
  #activeSince = 0;
  #activeTime = 0;
  #onDrained: (() => void) | null = null;
  #closePromise: Promise<void> | null = null;
  #destroyPromise: Promise<void> | null = null;

  constructor(opts: EngineOptions) {
    this.#opts = opts;
    this.heap = opts.heap;
    this.module = opts.module;
    this.size = opts.workers;
    this.#slots = Array.from({ length: opts.workers }, (_, i) => new Slot(i));
    for (const slot of this.#slots) this.#spawn(slot);
  }

  // ---------------------------------------------------------------- public to Pool and streams

  /** Accepting new calls (false once close() or destroy() was called). */
  get open(): boolean {
    return this.#state === kOpen;
  }

  get destroyed(): boolean {
    return this.#destroyPromise !== null;
  }

  /** How many tasks a worker may hold now (see the file comment). */
  get capacity(): number {
    const a = this.#avg;
    if (a === 0) return 2;
    if (a >= 1) return 1;
    return Math.min(kMaxCapacity, Math.max(2, Math.ceil(1 / a)));
  }

  /** Function exports of the task module, once a worker has loaded it. */
  get exports(): ReadonlySet<string> | null {
    return this.#exports;
  }

  missingExport(name: string): InvalidArgumentError | null {
    if (this.#exports === null || this.#exports.has(name)) return null;
    const names = [...this.#exports];
    return new InvalidArgumentError(
      `Task '${name}' is not a function exported by ${this.module}; ` +
        (names.length === 0
          ? 'it exports no functions. Export your task functions by name.'
          : `its function exports are: ${names.join(', ')}.`),
      { details: { task: name, exports: names } },
    );
  }

  begin(op: Operation): void {
    this.#ops.add(op);
  }

  end(op: Operation): void {
    if (this.#ops.delete(op)) this.#checkDrained();
  }

  submit(task: Task): void {
    if (this.#state === kClosed) {
      releaseHandles(task.handles);
      task.state = kDone;
      this.#settle(task, new ClosedError('The pool is closed: create a new Pool'), undefined);
      return;
    }
    task.id = this.#nextId++;
    this.#queue.push(task);
    this.#queued++;
    if (this.#activeSince === 0) this.#activeSince = performance.now();
    if (!this.#dispatchScheduled) {
      this.#dispatchScheduled = true;
      queueMicrotask(this.#dispatchBound);
    }
  }

  /**
   * Stops a task whose owner no longer wants it (the owner already has its answer): dropped if
   * still queued; otherwise its ctx.signal fires, and its worker is terminated if the task is
   * running and has not settled within `terminateAfter`.
   */
  cancel(task: Task, reason: Error): void {
    if (task.settled || task.state === kDone) return;
    task.settled = true;
    this.#failed++;
    if (task.state === kQueued) {
      task.state = kDone;
      this.#queued--;
      releaseHandles(task.handles);
      this.#checkDrained();
      return;
    }
    this.#cancelAssigned(this.#slots[task.slot] as Slot, task, reason);
  }

  stats(): PoolStats {
    const now = performance.now();
    const workers: WorkerStats[] = this.#slots.map((s) => {
      const busy = s.busyTime + (s.tasks.length > 0 && s.busySince > 0 ? now - s.busySince : 0);
      const ready = s.readyTime + (s.state === 'ready' ? now - s.readySince : 0);
      return {
        id: s.id,
        threadId: s.worker === null ? -1 : s.threadId,
        state:
          s.state === 'ready' ? (s.tasks.length > 0 ? 'busy' : 'idle') : (s.state as 'starting'),
        tasks: s.done,
        busyTime: busy,
        idleTime: Math.max(0, ready - busy),
        restarts: s.restarts,
      };
    });
    const active = this.#activeTime + (this.#activeSince > 0 ? now - this.#activeSince : 0);
    return {
      workers,
      completed: this.#completed,
      failed: this.#failed,
      queued: this.#queued,
      running: this.#running,
      tasksPerSecond: active > 0 ? (this.#completed * 1000) / active : 0,
      uptime: now - this.#created,
    };
  }

  /** Finishes queued work and running operations, then stops the workers. */
  close(): Promise<void> {
    if (this.#closePromise !== null) return this.#closePromise;
    if (this.#destroyPromise !== null) return this.#destroyPromise;
    this.#state = kClosing;
    this.#closePromise = new Promise<void>((resolve) => {
      this.#onDrained = resolve;
    })
      .then(() => this.#shutdown(true))
      .then(() => {
        this.#state = kClosed;
      });
    this.#refreshRefs();
    this.#checkDrained();
    return this.#closePromise;
  }

  /** Stops every worker now; every unfinished task and operation fails with SHMFRAME_ERR_CLOSED. */
  destroy(): Promise<void> {
    if (this.#destroyPromise !== null) return this.#destroyPromise;
    this.#state = kClosed;
    const closed = (): ClosedError =>
      new ClosedError('The pool was destroyed before this task finished');
    for (let i = this.#qHead; i < this.#queue.length; i++) {
      const t = this.#queue[i];
      if (t === undefined || t.state !== kQueued) continue;
      t.state = kDone;
      releaseHandles(t.handles);
      if (!t.settled) {
        this.#failed++;
        this.#settle(t, closed(), undefined);
      }
    }
    this.#queue = [];
    this.#qHead = 0;
    this.#queued = 0;
    for (const slot of this.#slots) {
      for (const t of slot.tasks) {
        if (!t.settled) {
          this.#failed++;
          this.#settle(t, closed(), undefined);
        }
      }
    }
    for (const op of [...this.#ops]) op.abandon(new ClosedError('The pool was destroyed'));
    this.#ops.clear();
    this.#destroyPromise = this.#shutdown(false);
    const drained = this.#onDrained;
    this.#onDrained = null;
    drained?.();
    return this.#destroyPromise;
  }

  // ---------------------------------------------------------------- workers

  #spawn(slot: Slot): void {
    const init: WorkerInit = {
      heap: this.heap.buffer,
      heapId: this.heap.id,
      module: this.module,
      workerId: slot.id,
      record: slot.record.buffer,
    };
    const worker = new Worker(kEntry, {
      workerData: init,
      resourceLimits: this.#opts.resourceLimits,
      execArgv: workerExecArgv(),
    });
    slot.worker = worker;
    slot.threadId = worker.threadId;
    slot.state = 'starting';
    slot.planned = false;
    slot.killed = false;
    slot.initFailed = false;
    slot.crashCause = undefined;
    slot.refed = true;
    worker.on('message', (m: unknown[]) => this.#onMessage(slot, worker, m));
    worker.on('messageerror', (err: Error) => this.#onMessageError(slot, worker, err));
    worker.on('error', (err: Error) => {
      if (slot.worker === worker) slot.crashCause ??= err;
    });
    worker.on('exit', (code: number) => this.#onExit(slot, worker, code));
    this.#updateRef(slot);
  }

  #updateRef(slot: Slot): void {
    const w = slot.worker;
    if (w === null) return;
    const want =
      slot.tasks.length > 0 ||
      this.#state !== kOpen ||
      (slot.state === 'starting' && this.#queued > 0);
    if (want === slot.refed) return;
    slot.refed = want;
    if (want) w.ref();
    else w.unref();
  }

  #refreshRefs(): void {
    for (const slot of this.#slots) this.#updateRef(slot);
  }

  /** Starts stopped workers while tasks wait and none can take them. */
  #ensureWorkers(): void {
    if (this.#state !== kOpen) return;
    let want = this.#queued;
    for (const slot of this.#slots) {
      if (want <= 0) break;
      if (slot.state === 'stopped') {
        this.#spawn(slot);
        want -= this.capacity;
      }
    }
  }

  /** Asks an idle worker to exit (terminated if it does not within kStopGrace). */
  #stopSlot(slot: Slot): void {
    const w = slot.worker;
    if (w === null || slot.tasks.length > 0 || slot.planned) return;
    slot.planned = true;
    this.#leaveReady(slot);
    if (slot.state !== 'ready') {
      slot.state = 'stopping';
      void w.terminate();
      return;
    }
    slot.state = 'stopping';
    try {
      w.postMessage([kStop]);
    } catch {
      void w.terminate();
      return;
    }
    slot.stopTimer = setTimeout(() => void w.terminate(), kStopGrace);
    slot.stopTimer.unref();
  }

  #kill(slot: Slot): void {
    const w = slot.worker;
    if (w === null) return;
    slot.planned = true;
    slot.killed = true;
    this.#leaveReady(slot);
    slot.state = 'stopping';
    void w.terminate();
  }

  #leaveReady(slot: Slot): void {
    if (slot.state === 'ready') slot.readyTime += performance.now() - slot.readySince;
    if (slot.idleTimer !== null) {
      clearTimeout(slot.idleTimer);
      slot.idleTimer = null;
    }
  }

  #shutdown(graceful: boolean): Promise<void> {
    const exits: Array<Promise<void>> = [];
    for (const slot of this.#slots) {
      if (slot.worker === null) continue;
      exits.push(new Promise<void>((resolve) => slot.exitWaiters.push(resolve)));
      if (graceful) this.#stopSlot(slot);
      else this.#kill(slot);
    }
    this.#refreshRefs();
    return Promise.all(exits).then(() => undefined);
  }

  #clearTimers(slot: Slot): void {
    for (const key of ['timeoutTimer', 'graceTimer', 'idleTimer', 'stopTimer'] as const) {
      const t = slot[key];
      if (t !== null) {
        clearTimeout(t);
        slot[key] = null;
      }
    }
  }

  // ---------------------------------------------------------------- dispatch

  #dispatch(): void {
    this.#dispatchScheduled = false;
    if (this.#queued > 0) {
      const cap = this.capacity;
      let live = 0;
      for (const s of this.#slots) if (s.state === 'ready' || s.state === 'starting') live++;
      // Spread first: one task to every idle worker, then fill pipelines, fewest tasks first.
      for (const s of this.#slots) {
        if (this.#queued === 0) break;
        if (s.state === 'ready' && s.tasks.length === 0) this.#send(s, 1);
      }
      while (this.#queued > 0) {
        let best: Slot | null = null;
        for (const s of this.#slots) {
          if (s.state !== 'ready' || s.tasks.length >= cap) continue;
          if (best === null || s.tasks.length < best.tasks.length) best = s;
        }
        if (best === null) break;
        const share = Math.ceil(this.#queued / Math.max(1, live));
        this.#send(best, Math.min(cap - best.tasks.length, share));
      }
      if (this.#queued > 0) {
        this.#ensureWorkers();
        this.#refreshRefs();
      }
    }
    this.#balance();
  }

  /**
   * A worker has nothing to do while another holds tasks it has not started (pipelined behind a
   * long or never-ending task, say a consumer loop): ask for them back. The worker returns the
   * ones still waiting (at once if its task is asynchronous, after it otherwise) and the pool
   * dispatches them again.
   */
  #balance(): void {
    if (this.#queued > 0) return;
    let idle = false;
    for (const s of this.#slots) if (s.state === 'ready' && s.tasks.length === 0) idle = true;
    if (!idle) return;
    for (const s of this.#slots) {
      if (s.state !== 'ready' || s.tasks.length < 2) continue;
      const msg: unknown[] = [kSteal];
      for (let i = 1; i < s.tasks.length; i++) {
        const t = s.tasks[i] as Task;
        if (t.stealing || t.settled) continue;
        t.stealing = true;
        msg.push(t.id);
      }
      if (msg.length > 1) {
        try {
          s.worker?.postMessage(msg);
        } catch {
          // the worker is gone; its exit puts the tasks back in the queue
        }
      }
    }
  }

  #returned(slot: Slot, m: unknown[]): void {
    const back: Task[] = [];
    let headGone = false;
    for (let k = 1; k < m.length; k++) {
      // The worker never returns a task it started; one asked back may since have become the
      // first on the pool's list (the tasks before it replied), and then its clock stops here.
      const at = slot.tasks.findIndex((t) => t.id === m[k]);
      if (at < 0) continue;
      if (at === 0) headGone = true;
      const t = slot.tasks.splice(at, 1)[0] as Task;
      this.#running--;
      t.stealing = false;
      if (t.settled) {
        t.state = kDone;
        releaseHandles(t.handles);
      } else {
        t.state = kQueued;
        back.push(t);
      }
    }
    if (back.length > 0) {
      this.#queue.splice(this.#qHead, 0, ...back);
      this.#queued += back.length;
    }
    if (headGone) {
      const now = performance.now();
      if (slot.timeoutTimer !== null) {
        clearTimeout(slot.timeoutTimer);
        slot.timeoutTimer = null;
      }
      if (slot.tasks.length > 0) {
        this.#startHead(slot, now);
      } else {
        slot.busyTime += now - slot.busySince;
        slot.busySince = 0;
        this.#becameIdle(slot);
      }
    }
    this.#dispatch();
    this.#checkDrained();
  }

  #take(): Task | undefined {
    while (this.#qHead < this.#queue.length) {
      const t = this.#queue[this.#qHead];
      this.#queue[this.#qHead++] = undefined;
      if (t !== undefined && t.state === kQueued) return t;
    }
    return undefined;
  }

  #compactQueue(): void {
    if (this.#qHead === this.#queue.length) {
      this.#queue.length = 0;
      this.#qHead = 0;
    } else if (this.#qHead > 1024 && this.#qHead * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#qHead);
      this.#qHead = 0;
    }
  }

  #send(slot: Slot, n: number): void {
    const batch: Task[] = [];
    const msg: unknown[] = [kRun];
    while (batch.length < n) {
      const t = this.#take();
      if (t === undefined) break;
      batch.push(t);
      msg.push(t.id, t.name, t.value, t.handles, t.typed, t.index, t.chunk);
    }
    this.#compactQueue();
    this.#queued -= batch.length;
    const w = slot.worker as Worker;
    try {
      w.postMessage(msg);
      for (const t of batch) this.#assign(slot, t);
    } catch {
      // One of the batch cannot be cloned: post one by one to fail only the culprits.
      for (const t of batch) {
        try {
          w.postMessage([kRun, t.id, t.name, t.value, t.handles, t.typed, t.index, t.chunk]);
          this.#assign(slot, t);
        } catch (err) {
          t.state = kDone;
          releaseHandles(t.handles);
          if (!t.settled) {
            this.#failed++;
            this.#settle(
              t,
              new InvalidArgumentError(
                `Could not send the arguments of task '${t.name}' (index ${t.index}) to a worker: ` +
                  `${(err as Error).message}. Arguments must be structured-clonable (no functions or symbols).`,
                { cause: err },
              ),
              undefined,
            );
          }
        }
      }
      this.#checkDrained();
    }
  }

  #assign(slot: Slot, t: Task): void {
    t.state = kAssigned;
    t.slot = slot.id;
    slot.tasks.push(t);
    this.#running++;
    if (slot.tasks.length === 1) {
      const now = performance.now();
      slot.busySince = now;
      if (slot.idleTimer !== null) {
        clearTimeout(slot.idleTimer);
        slot.idleTimer = null;
      }
      this.#startHead(slot, now);
      this.#updateRef(slot);
    }
  }

  /** The first task of a worker is (about to be) running: start its clock. */
  #startHead(slot: Slot, now: number): void {
    const head = slot.tasks[0] as Task;
    head.startedAt = now;
    if (head.timeout > 0 && !head.settled) {
      slot.timeoutTimer = setTimeout(() => this.#onTimeout(slot, head), head.timeout);
      slot.timeoutTimer.unref();
    }
  }

  #onTimeout(slot: Slot, task: Task): void {
    slot.timeoutTimer = null;
    if (slot.tasks[0] !== task || task.settled) return;
    this.#failed++;
    this.#settle(task, timeoutError(task), undefined);
    this.#cancelAssigned(slot, task, timeoutError(task));
  }

  #cancelAssigned(slot: Slot, task: Task, reason: Error): void {
    try {
      slot.worker?.postMessage([kCancel, task.id, encodeError(reason)]);
    } catch {
      // the worker is gone; its exit releases the task
    }
    if (slot.tasks[0] !== task) return; // not started: the worker will skip it
    if (slot.timeoutTimer !== null) {
      clearTimeout(slot.timeoutTimer);
      slot.timeoutTimer = null;
    }
    if (this.#opts.terminateAfter === 0) {
      this.#kill(slot);
    } else if (slot.graceTimer === null) {
      slot.graceTimer = setTimeout(() => {
        slot.graceTimer = null;
        if (slot.tasks[0] === task) this.#kill(slot);
      }, this.#opts.terminateAfter);
      slot.graceTimer.unref();
    }
  }

  // ---------------------------------------------------------------- replies

  #onMessage(slot: Slot, worker: Worker, m: unknown[]): void {
    if (slot.worker !== worker) return;
    switch (m[0]) {
      case kOk:
      case kFail:
      case kSkipped:
        this.#reply(slot, m);
        break;
      case kReturned:
        this.#returned(slot, m);
        break;
      case kReady:
        this.#exports = new Set(m[1] as string[]);
        slot.state = 'ready';
        slot.readySince = performance.now();
        this.#updateRef(slot);
        this.#becameIdle(slot);
        this.#dispatch();
        break;
      case kInitError:
        slot.initFailed = true;
        this.#startFailed(decodeError(m[1] as EncodedError));
        break;
    }
  }

  #onMessageError(slot: Slot, worker: Worker, err: Error): void {
    // A reply that could not be deserialized: fail the running task with it.
    const head = slot.tasks[0];
    if (slot.worker !== worker || head === undefined) return;
    this.#reply(slot, [kFail, head.id, encodeError(err), 0, kThrew]);
  }

  #reply(slot: Slot, m: unknown[]): void {
    const kind = m[0];
    const id = m[1] as number;
    let at = 0;
    if (slot.tasks[0]?.id !== id) {
      at = slot.tasks.findIndex((t) => t.id === id);
      if (at < 0) {
        if (kind === kOk) releaseHandles(m[3] as null);
        return;
      }
    }
    const task = slot.tasks.splice(at, 1)[0] as Task;
    this.#running--;
    task.state = kDone;
    const now = performance.now();
    if (at === 0) {
      for (const key of ['timeoutTimer', 'graceTimer'] as const) {
        const t = slot[key];
        if (t !== null) {
          clearTimeout(t);
          slot[key] = null;
        }
      }
      if (kind !== kSkipped) {
        slot.done++;
        const d = now - task.startedAt;
        this.#avg = this.#avg === 0 ? d : this.#avg * 0.8 + d * 0.2;
      }
    }
    if (kind === kOk) {
      if (task.settled) {
        releaseHandles(m[3] as null);
      } else {
        let value: unknown;
        let error: Error | undefined;
        try {
          value = decode(m[2], m[3] as null, m[4] as null, []);
        } catch (err) {
          error = err as Error;
        }
        if (error === undefined) this.#completed++;
        else this.#failed++;
        this.#settle(task, error, value);
      }
    } else if (kind === kFail && !task.settled) {
      this.#failed++;
      const encoded = m[2] as EncodedError;
      this.#settle(
        task,
        m[4] === kThrew ? taskError(task, encoded, m[3] as number, slot.id) : decodeError(encoded),
        undefined,
      );
    }
    if (slot.tasks.length > 0) {
      if (at === 0) this.#startHead(slot, now);
    } else {
      slot.busyTime += now - slot.busySince;
      slot.busySince = 0;
      this.#becameIdle(slot);
    }
    if ((this.#queued > 0 || slot.tasks.length === 0) && !this.#dispatchScheduled) {
      this.#dispatchScheduled = true;
      queueMicrotask(this.#dispatchBound);
    }
    this.#checkDrained();
  }

  #becameIdle(slot: Slot): void {
    if (slot.tasks.length > 0) return;
    this.#updateRef(slot);
    const ms = this.#opts.idleTimeout;
    if (this.#state === kOpen && Number.isFinite(ms) && slot.idleTimer === null) {
      slot.idleTimer = setTimeout(() => {
        slot.idleTimer = null;
        this.#stopSlot(slot);
      }, ms);
      slot.idleTimer.unref();
    }
  }

  #settle(task: Task, error: Error | undefined, value: unknown): void {
    task.settled = true;
    try {
      task.owner.settle(task, error, value);
    } catch (err) {
      queueMicrotask(() => {
        throw err;
      });
    }
  }

  #startFailed(cause: Error): void {
    const error = new InvalidArgumentError(
      `Could not load the task module ${this.module} in a worker: ${cause.name}: ${cause.message}`,
      { cause },
    );
    // Nothing can run: fail what waits rather than restart workers in a loop.
    for (let i = this.#qHead; i < this.#queue.length; i++) {
      const t = this.#queue[i];
      if (t === undefined || t.state !== kQueued) continue;
      t.state = kDone;
      releaseHandles(t.handles);
      if (!t.settled) {
        this.#failed++;
        this.#settle(t, error, undefined);
      }
    }
    this.#queue = [];
    this.#qHead = 0;
    this.#queued = 0;
    this.#checkDrained();
  }

  // ---------------------------------------------------------------- exits

  #onExit(slot: Slot, worker: Worker, code: number): void {
    if (slot.worker !== worker) return;
    const now = performance.now();
    this.#leaveReady(slot);
    this.#clearTimers(slot);
    if (slot.tasks.length > 0 && slot.busySince > 0) slot.busyTime += now - slot.busySince;
    slot.busySince = 0;
    const wasStarting = slot.state === 'starting';
    const planned = slot.planned;
    const cause = slot.crashCause;
    // worker.threadId reads -1 once the thread is gone: use the id noted at spawn.
    const threadId = slot.threadId;
    slot.worker = null;
    slot.state = 'stopped';

    // Whatever the thread still held goes back to the heaps.
    for (const heap of knownHeaps()) {
      try {
        heap.releaseThread(threadId);
      } catch {
        // a heap this thread cannot repair is reported by its own stats
      }
    }
    slot.record.releaseOutstanding();

    const tasks = slot.tasks.splice(0);
    this.#running -= tasks.length;
    const requeue: Task[] = [];
    tasks.forEach((t, i) => {
      if (t.settled || i === 0) {
        t.state = kDone;
        releaseHandles(t.handles);
        if (!t.settled) {
          this.#failed++;
          this.#settle(t, crashError(t, slot.id, code, cause), undefined);
        }
      } else {
        t.state = kQueued;
        t.stealing = false;
        requeue.push(t);
      }
    });
    if (requeue.length > 0) {
      this.#queue.splice(this.#qHead, 0, ...requeue);
      this.#queued += requeue.length;
    }
    if (wasStarting && !planned && !slot.initFailed) {
      this.#startFailed(
        cause ??
          new Error(
            `the worker exited with code ${code} while loading the module (process.exit at its top level?)`,
          ),
      );
    } else if (this.#state === kOpen && !slot.initFailed) {
      // Replace a crashed or killed worker at once, so the pool keeps its size; a worker stopped
      // for being idle comes back only when work waits.
      const replace = !planned || slot.killed;
      if (replace) slot.restarts++;
      if (replace || this.#queued > 0) this.#spawn(slot);
    }
    for (const resolve of slot.exitWaiters.splice(0)) resolve();
    if (this.#queued > 0) this.#dispatch();
    this.#checkDrained();
  }

  #checkDrained(): void {
    if (this.#queued === 0 && this.#running === 0 && this.#activeSince > 0) {
      this.#activeTime += performance.now() - this.#activeSince;
      this.#activeSince = 0;
    }
    if (
      this.#onDrained !== null &&
      this.#queued === 0 &&
      this.#running === 0 &&
      this.#ops.size === 0
    ) {
      const resolve = this.#onDrained;
      this.#onDrained = null;
      resolve();
    }
  }
}
