/**
 * PoolEngine: the scheduler behind {@link Pool}. It owns the worker slots, the queue of waiting
 * tasks, and the bookkeeping that makes crashes, timeouts and cancellation leave nothing behind.
 * It speaks the protocol (protocol.ts) and knows nothing of threads: a Slot (worker-slot.ts for threads, process-slot.ts for processes) is the
 * transport that carries messages to one worker and reports its exit.
 *
 * Scheduling. Each worker runs one task at a time but may hold several (`capacity`), posted in
 * one message, so that it never waits a round trip between tasks. The capacity adapts to the
 * measured task duration: 2 for tasks of a millisecond or more (the next one waits in the worker
 * while the current one runs), up to 64 for microsecond tasks. Idle workers get work first; a
 * worker is topped up once it is down to half its capacity, so messages carry many tasks; a
 * worker with nothing to do takes over tasks still waiting behind another worker's running task.
 * Who runs a posted task is settled by its claim word (claims.ts): the pool takes a task back
 * (to cancel it, or for an idle worker) at once, even while its worker is inside a long
 * synchronous task, and the worker skips it.
 *
 * Accounting. A task posted to a worker stays on that worker's list until the worker replies or
 * the pool takes it back, even after its caller got an answer (aborted, timed out), so the pool
 * always knows which tasks a dead worker took with it: one it had claimed was running (it fails
 * with SHMFRAME_ERR_WORKER_CRASHED), the others never started and go back to the queue.
 *
 * Nothing is left behind. A reply that reaches nobody (its task was cancelled, timed out or
 * failed by destroy(), or it comes from a worker the pool no longer knows) has the handles it
 * carries released here, when it arrives (`#discard`), whatever the transport. When a worker
 * exits for any reason the pool releases every reference its thread still held
 * (`heap.releaseThread`, in every heap this thread knows), every handle sent to it and never
 * attached, and every result handle it made but did not post (ResultRecord).
 */
import { performance } from 'node:perf_hooks';
import type { ResourceLimits } from 'node:worker_threads';
import { ClosedError, InvalidArgumentError, decodeError, encodeError } from '../errors.js';
import type { EncodedError } from '../errors.js';
import type { Heap } from '../heap/heap.js';
import { type Carried, restoreCarried } from './error-carry.js';
import { decode, releaseHandles } from './marshal.js';
import {
  kCancel,
  kCrash,
  kFail,
  kInitError,
  kOk,
  kReady,
  kRun,
  kThrew,
  replyHandles,
} from './protocol.js';
import {
  type Task,
  crashError,
  missingExportError,
  kAssigned,
  kDone,
  kQueued,
  taskError,
  timeoutError,
} from './task.js';
import { TaskQueue } from './task-queue.js';
import type { PoolStats } from './types.js';
import { ProcessSlot } from './process-slot.js';
import type { Slot, SlotEvents } from './slot.js';
import { WorkerSlot } from './worker-slot.js';

const kMaxCapacity = 64;

export interface EngineOptions {
  /** URL of the task module. */
  module: string;
  workers: number;
  heap: Heap;
  resourceLimits: ResourceLimits | undefined;
  idleTimeout: number;
  terminateAfter: number;
  /** 'thread': worker threads; 'process': child processes attached to `heap` (a process heap). */
  isolation: 'thread' | 'process';
}

/** A running map/imap: it keeps a closing pool open, and learns when the pool is destroyed. */
export interface Operation {
  abandon(error: Error): void;
}

const kOpen = 0;
const kClosing = 1;
const kClosed = 2;

export class PoolEngine implements SlotEvents {
  readonly heap: Heap;
  readonly module: string;
  readonly size: number;
  readonly #opts: EngineOptions;
  readonly #slots: Slot[];
  readonly #queue = new TaskQueue();
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
  /** Callers of ready() waiting for every worker to load the task module. */
  #readyWaiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  /** Callers of onIdle() waiting for no task to be queued or on a worker. */
  #idleWaiters: Array<() => void> = [];

  constructor(opts: EngineOptions) {
    this.#opts = opts;
    this.heap = opts.heap;
    this.module = opts.module;
    this.size = opts.workers;
    this.#slots = Array.from({ length: opts.workers }, (_, i) =>
      opts.isolation === 'process' ? new ProcessSlot(i, opts.heap) : new WorkerSlot(i, opts.heap),
    );
    for (const slot of this.#slots) this.#spawn(slot);
  }

  // ---------------------------------------------------------------- used by Pool and streams

  /**
   * Resolves once every worker has started and loaded the task module (restarting workers that
   * stopped when idle); rejects if the module cannot be loaded or the pool closes first.
   */
  ready(): Promise<void> {
    if (this.#state !== kOpen) {
      return Promise.reject(new ClosedError('This Pool is closed: its workers will not start'));
    }
    for (const slot of this.#slots) if (slot.state === 'stopped') this.#spawn(slot);
    if (this.#slots.every((s) => s.state === 'ready')) return Promise.resolve();
    const waiting = new Promise<void>((resolve, reject) =>
      this.#readyWaiters.push({ resolve, reject }),
    );
    this.#refreshRefs(); // starting workers keep the process alive while someone waits
    return waiting;
  }

  #settleReady(error?: Error): void {
    if (this.#readyWaiters.length === 0) return;
    if (error === undefined && !this.#slots.every((s) => s.state === 'ready')) return;
    for (const w of this.#readyWaiters.splice(0)) {
      if (error === undefined) w.resolve();
      else w.reject(error);
    }
    for (const slot of this.#slots)
      if (slot.state === 'ready' && slot.tasks.length === 0) this.#armIdle(slot);
    this.#refreshRefs();
  }

  /** Accepting new calls (false once close() or destroy() was called). */
  get open(): boolean {
    return this.#state === kOpen;
  }

  /**
   * How many tasks a worker may hold now (see the file comment). Never fewer than 2: a worker
   * whose next task waits in its own queue starts it without a round trip through this thread,
   * which costs tens of microseconds on an idle machine and milliseconds on a loaded one (seed
   * 002's 13 ms tasks spent a tenth of their time waiting so with one task per worker).
   */
  get capacity(): number {
    const a = this.#avg;
    if (a === 0 || a >= 1) return 2;
    return Math.min(kMaxCapacity, Math.max(2, Math.ceil(1 / a)));
  }

  /**
   * Resolves when no task is queued or held by a worker, counting cancelled tasks that a worker
   * has not finished with yet: by then every late result has been released.
   */
  onIdle(): Promise<void> {
    if (this.#queue.size === 0 && this.#running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  missingExport(name: string): InvalidArgumentError | null {
    if (this.#exports === null || this.#exports.has(name)) return null;
    return missingExportError(this.module, name, [...this.#exports]);
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
    if (this.#activeSince === 0) this.#activeSince = performance.now();
    this.#scheduleDispatch();
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
      this.#queue.forget();
      releaseHandles(task.handles);
      this.#checkDrained();
      return;
    }
    const slot = this.#slots[task.slot] as Slot;
    if (this.#takeBack(slot, task)) {
      // It never started: its worker will skip it, and its handles are ours to release.
      task.state = kDone;
      releaseHandles(task.handles);
      this.#afterRemoval(slot);
      return;
    }
    this.#cancelRunning(slot, task, reason);
  }

  stats(): PoolStats {
    const now = performance.now();
    const active = this.#activeTime + (this.#activeSince > 0 ? now - this.#activeSince : 0);
    return {
      workers: this.#slots.map((s) => s.snapshot(now)),
      completed: this.#completed,
      failed: this.#failed,
      queued: this.#queue.size,
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
    for (const t of this.#queue.drain()) {
      releaseHandles(t.handles);
      this.#fail(t, closed());
    }
    for (const slot of this.#slots) for (const t of slot.tasks) this.#fail(t, closed());
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
    slot.start({ module: this.module, resourceLimits: this.#opts.resourceLimits }, this);
    this.#updateRef(slot);
  }

  #updateRef(slot: Slot): void {
    slot.setRef(
      slot.tasks.length > 0 ||
        this.#state !== kOpen ||
        // A worker starting, or stopping to be replaced (terminated after a cancel), while tasks
        // or ready() wait for it: without this, a script awaiting ready() right after an abort
        // could exit with the promise unsettled.
        ((slot.state === 'starting' || slot.state === 'stopping') &&
          (this.#queue.size > 0 || this.#readyWaiters.length > 0)),
    );
  }

  #refreshRefs(): void {
    for (const slot of this.#slots) this.#updateRef(slot);
  }

  /** Starts stopped workers (idle-stopped, or after a failed start) while tasks wait. */
  #ensureWorkers(): void {
    if (this.#state !== kOpen) return;
    let want = this.#queue.size;
    for (const slot of this.#slots) {
      if (want <= 0) break;
      if (slot.state === 'stopped') {
        this.#spawn(slot);
        want -= this.capacity;
      }
    }
  }

  #shutdown(graceful: boolean): Promise<void> {
    this.#settleReady(new ClosedError('The Pool was closed before its workers were ready'));
    const exits: Array<Promise<void>> = [];
    for (const slot of this.#slots) {
      if (!slot.alive) continue;
      exits.push(new Promise<void>((resolve) => slot.exitWaiters.push(resolve)));
      if (graceful) slot.stop();
      else slot.kill();
    }
    this.#refreshRefs();
    return Promise.all(exits).then(() => {
      for (const slot of this.#slots) slot.dispose();
    });
  }

  // ---------------------------------------------------------------- dispatch

  #scheduleDispatch(): void {
    if (this.#dispatchScheduled) return;
    this.#dispatchScheduled = true;
    queueMicrotask(this.#dispatchBound);
  }

  #dispatch(): void {
    this.#dispatchScheduled = false;
    const q = this.#queue;
    if (q.size > 0) {
      const cap = this.capacity;
      let live = 0;
      for (const s of this.#slots) if (s.state === 'ready' || s.state === 'starting') live++;
      const share = (): number => Math.ceil(q.size / Math.max(1, live));
      // Idle workers first, then top up pipelines, fewest tasks first. A worker is topped up only
      // once it is down to half its capacity, so that messages carry many tasks rather than one
      // each (one message per task costs ~10 us at each end).
      for (const s of this.#slots) {
        if (q.size > 0 && s.state === 'ready' && s.tasks.length === 0) {
          this.#send(s, Math.min(cap, share()));
        }
      }
      const low = cap >> 1;
      while (q.size > 0) {
        let best: Slot | null = null;
        for (const s of this.#slots) {
          if (s.state !== 'ready' || s.tasks.length > low) continue;
          if (best === null || s.tasks.length < best.tasks.length) best = s;
        }
        if (best === null) break;
        this.#send(best, Math.min(cap - best.tasks.length, share()));
      }
      if (q.size > 0) {
        this.#ensureWorkers();
        this.#refreshRefs();
      }
    }
    this.#balance();
  }

  /**
   * A worker has nothing to do while another holds tasks it has not started (queued behind a
   * long or never-ending task, a consumer loop say): take the later half of those back and
   * dispatch them again. Taking back needs no answer from the busy worker (claims.ts), so this
   * works while it is inside a synchronous task.
   */
  #balance(): void {
    if (this.#queue.size > 0) return;
    if (!this.#slots.some((s) => s.state === 'ready' && s.tasks.length === 0)) return;
    const back: Task[] = [];
    for (const s of this.#slots) {
      if (s.state !== 'ready' || s.tasks.length < 2) continue;
      let want = s.tasks.length >> 1;
      for (let i = s.tasks.length - 1; i >= 1 && want > 0; i--) {
        const t = s.tasks[i] as Task;
        if (t.settled || !s.claims.take(t.claim, t.id)) continue;
        s.tasks.splice(i, 1);
        this.#running--;
        t.state = kQueued;
        back.push(t);
        want--;
      }
    }
    if (back.length === 0) return;
    back.sort((a, b) => a.id - b.id);
    this.#queue.unshift(back);
    this.#dispatch();
  }

  #post(slot: Slot, msg: unknown[]): void {
    try {
      slot.post(msg);
    } catch {
      // the worker is gone: its exit handles its tasks
    }
  }

  #send(slot: Slot, n: number): void {
    const batch: Task[] = [];
    const msg: unknown[] = [kRun];
    while (batch.length < n) {
      const t = this.#queue.take();
      if (t === undefined) break;
      batch.push(t);
      t.claim = slot.claims.offer(t.id);
      msg.push(t.id, t.name, t.value, t.handles, t.typed, t.index, t.chunk, t.claim);
    }
    if (!slot.alive) return;
    try {
      slot.post(msg);
      for (const t of batch) this.#assign(slot, t);
      return;
    } catch {
      // One of the batch cannot be cloned: post one by one to fail only the culprits.
    }
    for (const t of batch) {
      try {
        slot.post([kRun, t.id, t.name, t.value, t.handles, t.typed, t.index, t.chunk, t.claim]);
        this.#assign(slot, t);
      } catch (err) {
        t.state = kDone;
        releaseHandles(t.handles);
        this.#fail(
          t,
          // A coded refusal (a thread heap's object for a worker process) says what to do itself.
          err instanceof InvalidArgumentError
            ? err
            : new InvalidArgumentError(
                `Could not send the arguments of task '${t.name}' (index ${t.index}) to a worker: ` +
                  `${(err as Error).message.replace(/\.+$/, '')}. Arguments must be structured-clonable (no functions or symbols).`,
                { cause: err },
              ),
        );
      }
    }
    this.#checkDrained();
  }

  #assign(slot: Slot, t: Task): void {
    t.state = kAssigned;
    t.slot = slot.id;
    slot.tasks.push(t);
    this.#running++;
    if (slot.tasks.length === 1) {
      const now = performance.now();
      slot.beginBusy(now);
      this.#startHead(slot, now);
      this.#updateRef(slot);
    }
  }

  /** The first task of a worker is (about to be) running: start its clock. */
  #startHead(slot: Slot, now: number): void {
    const head = slot.tasks[0] as Task;
    head.startedAt = now;
    if (head.settled) {
      // Cancelled while the task before it was finishing (it had started, so it could not be
      // taken back): it gets `terminateAfter` to stop, as a cancelled running task does.
      this.#armGrace(slot, head);
    } else if (head.timeout > 0) {
      slot.timeoutTimer = setTimeout(() => this.#onTimeout(slot, head), head.timeout);
      slot.timeoutTimer.unref();
    }
  }

  /** The first task of a worker left its list: start the next one's clock, or go idle. */
  #nextHead(slot: Slot, now: number): void {
    slot.clearTimer('timeoutTimer');
    slot.clearTimer('graceTimer');
    if (slot.tasks.length > 0) {
      this.#startHead(slot, now);
      return;
    }
    slot.endBusy(now);
    this.#updateRef(slot);
    // While someone awaits ready(), no worker stops for being idle: a worker ready early would
    // otherwise stop before a slow one is ready, and ready() would wait for ever.
    if (this.#readyWaiters.length === 0) this.#armIdle(slot);
  }

  /** Stops an idle worker after `idleTimeout` without work. */
  #armIdle(slot: Slot): void {
    const ms = this.#opts.idleTimeout;
    if (this.#state === kOpen && Number.isFinite(ms) && slot.idleTimer === null) {
      slot.idleTimer = setTimeout(() => {
        slot.idleTimer = null;
        slot.stop();
      }, ms);
      slot.idleTimer.unref();
    }
  }

  #onTimeout(slot: Slot, task: Task): void {
    slot.timeoutTimer = null;
    if (slot.tasks[0] !== task || task.settled) return;
    this.#fail(task, timeoutError(task));
    if (this.#takeBack(slot, task)) {
      // Its worker never got to it (busy draining its port, or slow to wake): no worker to stop.
      task.state = kDone;
      releaseHandles(task.handles);
      this.#afterRemoval(slot);
      return;
    }
    this.#cancelRunning(slot, task, timeoutError(task));
  }

  /**
   * Takes back a task posted to `slot` that its worker has not started (claims.ts). On success
   * the task is off the worker's list (the caller decides what becomes of it).
   */
  #takeBack(slot: Slot, task: Task): boolean {
    if (!slot.claims.take(task.claim, task.id)) return false;
    const at = slot.tasks.indexOf(task);
    if (at >= 0) {
      slot.tasks.splice(at, 1);
      this.#running--;
      if (at === 0) this.#nextHead(slot, performance.now());
    }
    return true;
  }

  /** A task left a worker's list outside a reply: dispatch, and settle waiters of close(). */
  #afterRemoval(slot: Slot): void {
    if (this.#queue.size > 0 || slot.tasks.length === 0) this.#scheduleDispatch();
    this.#checkDrained();
  }

  /** A task its worker had claimed was cancelled: abort its ctx.signal, stop it if it goes on. */
  #cancelRunning(slot: Slot, task: Task, reason: Error): void {
    this.#post(slot, [kCancel, task.id, encodeError(reason)]);
    // Not first: the task before it has replied and the reply is on its way; its clock (and
    // this grace period) starts when it becomes first (#startHead).
    if (slot.tasks[0] === task) this.#armGrace(slot, task);
  }

  #armGrace(slot: Slot, task: Task): void {
    slot.clearTimer('timeoutTimer');
    if (this.#opts.terminateAfter === 0) {
      slot.kill();
    } else if (slot.graceTimer === null) {
      slot.graceTimer = setTimeout(() => {
        slot.graceTimer = null;
        if (slot.tasks[0] === task) slot.kill();
      }, this.#opts.terminateAfter);
      slot.graceTimer.unref();
    }
  }

  // ---------------------------------------------------------------- messages from workers

  message(slot: Slot, m: unknown[]): void {
    switch (m[0]) {
      case kOk:
      case kFail:
        this.#reply(slot, m);
        break;
      case kReady: {
        this.#exports = new Set(m[1] as string[]);
        const now = performance.now();
        slot.becameReady(now);
        this.#nextHead(slot, now);
        this.#dispatch();
        this.#settleReady();
        break;
      }
      case kCrash:
        slot.crashCause ??= decodeError(m[1] as EncodedError);
        break;
      case kInitError:
        slot.initFailed = true;
        this.#startFailed(decodeError(m[1] as EncodedError));
        break;
    }
  }

  messageError(slot: Slot, err: Error): void {
    // A reply that could not be deserialized: it was the running task's. (The handles it carried
    // are lost with it; the worker's record of them was cleared when it posted.)
    const head = slot.tasks[0];
    if (head !== undefined) {
      this.#reply(slot, [kFail, head.id, encodeError(err), 0, kThrew, null, null]);
    }
  }

  /** A message from a worker the slot no longer holds (a transport may deliver one late). */
  orphan(m: unknown[]): void {
    this.#discard(m);
  }

  /** Releases what a reply nobody will receive carries. */
  #discard(m: unknown[]): void {
    releaseHandles(replyHandles(m));
  }

  #reply(slot: Slot, m: unknown[]): void {
    // Replies come in order, for tasks the worker claimed: the first task on the list.
    const at = slot.tasks.findIndex((t) => t.id === m[1]);
    if (at < 0) {
      this.#discard(m);
      return;
    }
    const task = slot.tasks.splice(at, 1)[0] as Task;
    this.#running--;
    task.state = kDone;
    const now = performance.now();
    if (at === 0) {
      slot.done++;
      const d = now - task.startedAt;
      this.#avg = this.#avg === 0 ? d : this.#avg * 0.8 + d * 0.2;
    }
    if (task.settled) {
      // Cancelled, timed out or failed by destroy() while it ran: nobody waits for this reply.
      this.#discard(m);
    } else if (m[0] === kOk) {
      let value: unknown;
      let error: Error | undefined;
      try {
        value = decode(m[2], m[3] as null, m[4] as null, []);
      } catch (err) {
        error = err as Error;
      }
      if (error === undefined) {
        this.#completed++;
        this.#settle(task, undefined, value);
      } else {
        this.#fail(task, error);
      }
    } else {
      this.#fail(task, this.#failure(task, slot, m));
    }
    if (at === 0) this.#nextHead(slot, now);
    if (this.#queue.size > 0 || slot.tasks.length === 0) this.#scheduleDispatch();
    this.#checkDrained();
  }

  /** The error of a kFail reply, with the shared objects it carried put back in place. */
  #failure(task: Task, slot: Slot, m: unknown[]): Error {
    const encoded = m[2] as EncodedError;
    const threw = m[4] === kThrew;
    const error = threw ? taskError(task, encoded, m[3] as number, slot.id) : decodeError(encoded);
    const carried = m[5] as Carried | null;
    const handles = replyHandles(m);
    if (carried !== null && handles !== null) {
      try {
        restoreCarried(threw ? (error.cause as Error) : error, carried, handles);
      } catch {
        // The objects could not be attached (decode released what it had not attached): the
        // error goes without them.
      }
    }
    return error;
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

  /** Fails a task (once: an owner already answered is left alone). */
  #fail(task: Task, error: Error): void {
    if (task.settled) return;
    this.#failed++;
    this.#settle(task, error, undefined);
  }

  #startFailed(cause: Error): void {
    const error = new InvalidArgumentError(
      `Could not load the task module ${this.module} in a worker: ${cause.name}: ${cause.message}`,
      { cause },
    );
    // Nothing can run: fail what waits rather than restart workers in a loop.
    for (const t of this.#queue.drain()) {
      releaseHandles(t.handles);
      this.#fail(t, error);
    }
    this.#settleReady(error);
    this.#checkDrained();
  }

  // ---------------------------------------------------------------- exits

  exit(slot: Slot, code: number): void {
    const { wasStarting, planned, cause, signal } = slot.exited(performance.now());
    // Whatever the worker still held goes back to the heaps (a thread's ledgers, or everything a
    // dead process held), then the result handles it made and never posted.
    slot.releaseExited();
    slot.record.releaseOutstanding();

    const tasks = slot.tasks.splice(0);
    this.#running -= tasks.length;
    const requeue: Task[] = [];
    for (const t of tasks) {
      // A task the worker had not claimed never started: it runs elsewhere (unless nobody wants
      // it any more). The one it had claimed was running when it died.
      if (slot.claims.take(t.claim, t.id) && !t.settled) {
        t.state = kQueued;
        requeue.push(t);
      } else {
        t.state = kDone;
        releaseHandles(t.handles);
        this.#fail(t, crashError(t, slot.id, code, cause, signal));
      }
    }
    this.#queue.unshift(requeue);

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
      // A worker that was stopping when ready() was called comes back for it too.
      if (replace || this.#queue.size > 0 || this.#readyWaiters.length > 0) this.#spawn(slot);
    }
    for (const resolve of slot.exitWaiters.splice(0)) resolve();
    if (this.#queue.size > 0) this.#dispatch();
    this.#checkDrained();
  }

  #checkDrained(): void {
    const idle = this.#queue.size === 0 && this.#running === 0;
    if (idle && this.#activeSince > 0) {
      this.#activeTime += performance.now() - this.#activeSince;
      this.#activeSince = 0;
    }
    if (idle && this.#idleWaiters.length > 0) {
      for (const resolve of this.#idleWaiters.splice(0)) resolve();
    }
    if (this.#onDrained !== null && idle && this.#ops.size === 0) {
      const resolve = this.#onDrained;
      this.#onDrained = null;
      resolve();
    }
  }
}
