/**
 * Slot: one place in the pool and the worker filling it (replaced when it dies). The base class
 * tracks the worker's state, timers and statistics; a transport subclass starts the worker, carries
 * messages to it, stops it and cleans up after it: WorkerSlot (a worker thread) or ProcessSlot (a
 * child process attached to the pool's heap). What to do with its tasks is the engine's business.
 */
import { performance } from 'node:perf_hooks';
import type { ResourceLimits } from 'node:worker_threads';
import type { TaskClaims } from './claims.js';
import { kStop } from './protocol.js';
import type { ResultRecord } from './record.js';
import type { Task } from './task.js';
import type { WorkerStats } from './types.js';

/** Longest a worker asked to stop may take before it is terminated. */
export const kStopGrace = 2000;

export interface SlotEvents {
  message(slot: Slot, m: unknown[]): void;
  /** A message from a worker this slot no longer holds: its contents reach nobody. */
  orphan(m: unknown[]): void;
  messageError(slot: Slot, err: Error): void;
  exit(slot: Slot, code: number): void;
}

/** What every transport needs to start a worker. */
export interface SlotStart {
  /** URL of the task module. */
  module: string;
  resourceLimits: ResourceLimits | undefined;
}

export type SlotState = 'starting' | 'ready' | 'stopping' | 'stopped';
type TimerKey = 'timeoutTimer' | 'graceTimer' | 'idleTimer' | 'stopTimer';

export abstract class Slot {
  readonly id: number;
  /** Thread id of the worker thread (a worker process: its pid's thread 0; -1 when none runs). */
  threadId = -1;
  /** Pid of the worker process (a worker thread: this process; -1 when none runs). */
  pid = -1;
  state: SlotState = 'stopped';
  /** Tasks posted to this worker, in order: the first one is running (or about to). */
  readonly tasks: Task[] = [];
  /** Where the worker notes result handles in transit (see record.ts). */
  abstract readonly record: ResultRecord;
  /** Claim words of the tasks posted to this slot's worker (a replacement inherits them). */
  abstract readonly claims: TaskClaims;
  refed = true;
  /** We asked it to stop or terminated it: its exit is not a crash. */
  planned = false;
  /** We terminated it (timeout, a cancelled task, destroy): it is replaced. */
  killed = false;
  /** It reported that the task module failed to load. */
  initFailed = false;
  /** What the worker died of, when known (uncaught exception, out of memory, a signal). */
  crashCause: Error | undefined;
  /** A worker process killed by a signal: its name ('SIGKILL'...). */
  crashSignal: string | null = null;
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

  /** A worker is running (starting, ready or stopping). */
  abstract get alive(): boolean;

  /** Starts a worker for this slot; its messages and exit go to `events`. */
  start(opts: SlotStart, events: SlotEvents): void {
    this.state = 'starting';
    this.planned = false;
    this.killed = false;
    this.initFailed = false;
    this.crashCause = undefined;
    this.crashSignal = null;
    this.refed = true;
    this.launch(opts, events);
  }

  protected abstract launch(opts: SlotStart, events: SlotEvents): void;

  /**
   * Posts a protocol message to the worker. Throws if the message cannot be carried (a value
   * that cannot be cloned or sent); a worker that is gone is not an error (its exit follows).
   */
  abstract post(msg: unknown[]): void;

  /** Terminates the worker now (its exit event follows). */
  protected abstract terminate(): void;

  protected abstract setWorkerRef(want: boolean): void;

  /**
   * After the worker exited: releases what it still held in the heaps (its references, its
   * allocator lock, its queue operations). Result handles it made and never posted are the
   * engine's (the record).
   */
  abstract releaseExited(): void;

  /** The pool is done with this slot (after its last worker exited). */
  dispose(): void {}

  /** Whether the worker keeps the process alive (only while it has work, or the pool closes). */
  setRef(want: boolean): void {
    if (!this.alive || want === this.refed) return;
    this.refed = want;
    this.setWorkerRef(want);
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
    if (!this.alive || this.tasks.length > 0 || this.planned) return;
    this.planned = true;
    const wasReady = this.state === 'ready';
    this.#leaveReady();
    this.state = 'stopping';
    if (!wasReady) {
      this.terminate();
      return;
    }
    try {
      this.post([kStop]);
    } catch {
      this.terminate();
      return;
    }
    this.stopTimer = setTimeout(() => this.terminate(), kStopGrace);
    this.stopTimer.unref();
  }

  /** Terminates the worker now. */
  kill(): void {
    if (!this.alive) return;
    this.planned = true;
    this.killed = true;
    this.#leaveReady();
    this.state = 'stopping';
    this.terminate();
  }

  /** The worker exited: forget it (the slot may start another). */
  exited(now: number): {
    wasStarting: boolean;
    planned: boolean;
    cause: Error | undefined;
    signal: string | null;
  } {
    const out = {
      wasStarting: this.state === 'starting',
      planned: this.planned,
      cause: this.crashCause,
      signal: this.crashSignal,
    };
    this.#leaveReady();
    this.clearTimers();
    this.endBusy(now);
    this.forget();
    this.state = 'stopped';
    return out;
  }

  /** Drops the transport's hold on the worker that exited. */
  protected abstract forget(): void;

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
    const alive = this.alive;
    return {
      id: this.id,
      threadId: alive ? this.threadId : -1,
      pid: alive ? this.pid : -1,
      state: this.state === 'ready' ? (this.tasks.length > 0 ? 'busy' : 'idle') : this.state,
      tasks: this.done,
      busyTime: busy,
      idleTime: Math.max(0, ready - busy),
      restarts: this.restarts,
    };
  }
}
