/**
 * WorkerSlot: one place in the pool and the worker thread filling it (replaced when it dies).
 * It starts the thread, tracks its state, timers and statistics, and stops it; what to do with
 * its tasks is the engine's business.
 */
import { performance } from 'node:perf_hooks';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { TaskClaims } from './claims.js';
import { kStop, type WorkerInit } from './protocol.js';
import { ResultRecord } from './record.js';
import type { Task } from './task.js';
import type { WorkerStats } from './types.js';

const kEntry = new URL('./worker-entry.js', import.meta.url);
/** Longest a worker asked to stop may take before it is terminated. */
const kStopGrace = 2000;

/**
 * The parent's Node options minus `--input-type`, which workers would inherit and which makes
 * Node refuse to load a file entry ("--input-type can only be used with string input"): a
 * program started with `node --input-type=module -e ...` could not use a pool otherwise.
 * Undefined (inherit, the default) when there is nothing to remove: an explicit list is checked
 * by Node, which refuses the V8 options (`--expose-gc`...) it accepts when inherited.
 */
let execArgv: string[] | undefined | null = null;
function workerExecArgv(): string[] | undefined {
  if (execArgv !== null) return execArgv;
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--input-type') i++;
    else if (!a.startsWith('--input-type=')) out.push(a);
  }
  execArgv = out.length === argv.length ? undefined : out;
  return execArgv;
}

function startWorker(init: WorkerInit, resourceLimits: ResourceLimits | undefined): Worker {
  const options = { workerData: init, resourceLimits, execArgv: workerExecArgv() };
  try {
    return new Worker(kEntry, options);
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV' || !options.execArgv)
      throw err;
    // "Initiated Worker with invalid execArgv flags: --expose-gc, ...": drop those and retry.
    const bad = new Set(
      String((err as Error).message)
        .replace(/^.*flags:\s*/, '')
        .split(/,\s*/),
    );
    execArgv = options.execArgv.filter((a) => !bad.has(a) && !bad.has(a.split('=')[0] as string));
    return new Worker(kEntry, { ...options, execArgv });
  }
}

export interface SlotEvents {
  message(slot: WorkerSlot, m: unknown[]): void;
  /** A message from a worker this slot no longer holds: its contents reach nobody. */
  orphan(m: unknown[]): void;
  messageError(slot: WorkerSlot, err: Error): void;
  exit(slot: WorkerSlot, code: number): void;
}

export type SlotState = 'starting' | 'ready' | 'stopping' | 'stopped';
type TimerKey = 'timeoutTimer' | 'graceTimer' | 'idleTimer' | 'stopTimer';

export class WorkerSlot {
  readonly id: number;
  worker: Worker | null = null;
  /** Noted at start: `worker.threadId` reads -1 once the thread is gone. */
  threadId = -1;
  state: SlotState = 'stopped';
  /** Tasks posted to this worker, in order: the first one is running (or about to). */
  readonly tasks: Task[] = [];
  readonly record = new ResultRecord();
  /** Claim words of the tasks posted to this slot's worker (a replacement inherits them). */
  readonly claims = new TaskClaims();
  refed = true;
  /** We asked it to stop or terminated it: its exit is not a crash. */
  planned = false;
  /** We terminated it (timeout, a cancelled task, destroy): it is replaced. */
  killed = false;
  /** It reported that the task module failed to load. */
  initFailed = false;
  /** The `error` event before its exit (uncaught exception, out of memory). */
  crashCause: Error | undefined;
  timeoutTimer: NodeJS.Timeout | null = null;
  graceTimer: NodeJS.Timeout | null = null;
  idleTimer: NodeJS.Timeout | null = null;
  stopTimer: NodeJS.Timeout | null = null;
  readonly exitWaiters: Array<() => void> = [];
  // statistics, ms
  done = 0;
  restarts = 0;
  #busyTime = 0;
  #busySince = 0;
  #readyTime = 0;
  #readySince = 0;

  constructor(id: number) {
    this.id = id;
  }

  start(
    init: Omit<WorkerInit, 'workerId' | 'record' | 'claims'>,
    limits: ResourceLimits | undefined,
    events: SlotEvents,
  ): void {
    const worker = startWorker(
      { ...init, workerId: this.id, record: this.record.buffer, claims: this.claims.buffer },
      limits,
    );
    this.worker = worker;
    this.threadId = worker.threadId;
    this.state = 'starting';
    this.planned = false;
    this.killed = false;
    this.initFailed = false;
    this.crashCause = undefined;
    this.refed = true;
    worker.on('message', (m: unknown[]) => {
      if (this.worker === worker) events.message(this, m);
      else events.orphan(m);
    });
    worker.on('messageerror', (err: Error) => {
      if (this.worker === worker) events.messageError(this, err);
    });
    worker.on('error', (err: Error) => {
      if (this.worker === worker) this.crashCause ??= err;
    });
    worker.on('exit', (code: number) => {
      if (this.worker === worker) events.exit(this, code);
    });
  }

  /** Whether the worker keeps the process alive (only while it has work, or the pool closes). */
  setRef(want: boolean): void {
    const w = this.worker;
    if (w === null || want === this.refed) return;
    this.refed = want;
    if (want) w.ref();
    else w.unref();
  }

  becameReady(now: number): void {
    this.state = 'ready';
    this.#readySince = now;
  }

  beginBusy(now: number): void {
    this.#busySince = now;
    this.clearTimer('idleTimer');
  }

  endBusy(now: number): void {
    if (this.#busySince > 0) this.#busyTime += now - this.#busySince;
    this.#busySince = 0;
  }

  #leaveReady(): void {
    if (this.state === 'ready') this.#readyTime += performance.now() - this.#readySince;
    this.clearTimer('idleTimer');
  }

  /** Asks an idle worker to exit (terminated if it does not within kStopGrace). */
  stop(): void {
    const w = this.worker;
    if (w === null || this.tasks.length > 0 || this.planned) return;
    this.planned = true;
    const wasReady = this.state === 'ready';
    this.#leaveReady();
    this.state = 'stopping';
    if (!wasReady) {
      void w.terminate();
      return;
    }
    try {
      w.postMessage([kStop]);
    } catch {
      void w.terminate();
      return;
    }
    this.stopTimer = setTimeout(() => void w.terminate(), kStopGrace);
    this.stopTimer.unref();
  }

  /** Terminates the worker now. */
  kill(): void {
    const w = this.worker;
    if (w === null) return;
    this.planned = true;
    this.killed = true;
    this.#leaveReady();
    this.state = 'stopping';
    void w.terminate();
  }

  /** The worker exited: forget it (the slot may start another). */
  exited(now: number): { wasStarting: boolean; planned: boolean; cause: Error | undefined } {
    const out = {
      wasStarting: this.state === 'starting',
      planned: this.planned,
      cause: this.crashCause,
    };
    this.#leaveReady();
    this.clearTimers();
    this.endBusy(now);
    this.worker = null;
    this.state = 'stopped';
    return out;
  }

  clearTimer(key: TimerKey): void {
    const t = this[key];
    if (t !== null) {
      clearTimeout(t);
      this[key] = null;
    }
  }

  clearTimers(): void {
    this.clearTimer('timeoutTimer');
    this.clearTimer('graceTimer');
    this.clearTimer('idleTimer');
    this.clearTimer('stopTimer');
  }

  snapshot(now: number): WorkerStats {
    const busy = this.#busyTime + (this.#busySince > 0 ? now - this.#busySince : 0);
    const ready = this.#readyTime + (this.state === 'ready' ? now - this.#readySince : 0);
    return {
      id: this.id,
      threadId: this.worker === null ? -1 : this.threadId,
      state: this.state === 'ready' ? (this.tasks.length > 0 ? 'busy' : 'idle') : this.state,
      tasks: this.done,
      busyTime: busy,
      idleTime: Math.max(0, ready - busy),
      restarts: this.restarts,
    };
  }
}
