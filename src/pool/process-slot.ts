/**
 * ProcessSlot: the process transport of a pool slot (`isolation: 'process'`). Its worker is a
 * child process (`child_process.fork` of process-entry.js) that attaches the pool's heap, a heap in
 * OS shared memory, and runs the same task loop as a worker thread (worker-core.ts).
 *
 * - Messages go over the IPC channel with Node's advanced serialization (the structured clone
 *   algorithm, as postMessage). Handles cannot carry a buffer between processes: they travel
 *   without it, with their string form, which opens the heap in a process that has not opened it
 *   yet; each carries its one reference as before (see wireHandles).
 * - The worker's result record and claim ring (record.ts, claims.ts) are words of an int32 array in
 *   the pool's heap, which both processes map; a replacement worker inherits them.
 * - When the worker exits in any way (SIGKILL and the kernel's OOM killer included), the pool
 *   releases what it held through the heap's process table (`heap.releaseDead()`): its references,
 *   the allocator lock if it died holding it, its queue operations and locks.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { SharedArray } from '../array/shared-array.js';
import { decodeError, type EncodedError } from '../errors.js';
import { handleText, type Handle } from '../heap/handle.js';
import type { Heap } from '../heap/heap.js';
import { TaskClaims, kClaimSlots } from './claims.js';
import { kCrash, type ProcessInit } from './protocol.js';
import { ResultRecord, kRecordWords } from './record.js';
import { Slot, type SlotEvents, type SlotStart } from './slot.js';
import { unwireHandles, wireHandles } from './wire.js';

const kEntry = new URL('./process-entry.js', import.meta.url);

/**
 * The parent's Node options for a worker process: without those that name what the parent runs
 * (`-e`, `-p`, `--input-type`, `--test`...) or that cannot be shared (an inspector port), plus
 * `--max-old-space-size` for `resourceLimits.maxOldGenerationSizeMb`.
 */
export function processExecArgv(limits: SlotStart['resourceLimits']): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  const withValue = new Set(['-e', '--eval', '-p', '--print', '--input-type', '-r', '--require']);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (withValue.has(a)) {
      if (a === '-r' || a === '--require') out.push(a, argv[i + 1] as string);
      i++;
      continue;
    }
    if (
      /^--(eval|print|input-type)=/.test(a) ||
      /^--test(-|=|$)/.test(a) ||
      /^--watch/.test(a) ||
      /^--inspect/.test(a) ||
      /^--max-old-space-size/.test(a)
    )
      continue;
    out.push(a);
  }
  const old = limits?.maxOldGenerationSizeMb;
  if (typeof old === 'number' && old > 0) out.push(`--max-old-space-size=${Math.ceil(old)}`);
  return out;
}

export class ProcessSlot extends Slot {
  child: ChildProcess | null = null;
  readonly record: ResultRecord;
  readonly claims: TaskClaims;
  readonly #heap: Heap;
  readonly #words: SharedArray<'i4'>;
  #initHandle: Handle | null = null;

  constructor(id: number, heap: Heap) {
    super(id);
    this.#heap = heap;
    this.#words = SharedArray.zeros([kRecordWords + kClaimSlots], 'i4', { heap });
    const w = this.#words.data;
    this.record = new ResultRecord(w.subarray(0, kRecordWords));
    this.claims = new TaskClaims(w.subarray(kRecordWords));
  }

  get alive(): boolean {
    return this.child !== null;
  }

  protected launch(opts: SlotStart, events: SlotEvents): void {
    const handle = this.#words.handle;
    this.#initHandle = handle;
    const init: ProcessInit = {
      module: opts.module,
      workerId: this.id,
      words: handleText(handle, 'a worker process of the pool'),
    };
    const child = fork(kEntry, [JSON.stringify(init)], {
      serialization: 'advanced',
      execArgv: processExecArgv(opts.resourceLimits),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child = child;
    this.pid = child.pid ?? -1;
    this.threadId = 0;
    let ended = false;
    const end = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (ended) return;
      ended = true;
      if (this.child !== child) return;
      if (signal !== null) this.crashSignal ??= signal;
      events.exit(this, code ?? -1);
    };
    child.on('message', (raw: unknown[]) => {
      if (!Array.isArray(raw)) return;
      if (raw[0] === kCrash) {
        if (this.child === child) this.crashCause ??= decodeError(raw[1] as EncodedError);
        return;
      }
      const m = raw;
      try {
        unwireHandles(m);
      } catch (err) {
        if (this.child === child) events.messageError(this, err as Error);
        return;
      }
      if (this.child === child) events.message(this, m);
      else events.orphan(m);
    });
    child.on('error', (err: Error) => {
      if (this.child !== child) return;
      this.crashCause ??= err;
      // A process that could not be started emits no exit.
      if (child.pid === undefined) end(-1, null);
    });
    // 'close', not 'exit': every message the worker sent has been delivered by then.
    child.on('close', end);
  }

  post(msg: unknown[]): void {
    const child = this.child;
    if (child === null || !child.connected) return;
    wireHandles(msg);
    child.send(msg);
  }

  protected terminate(): void {
    this.child?.kill('SIGKILL');
  }

  protected setWorkerRef(want: boolean): void {
    const child = this.child;
    if (child === null) return;
    // The IPC channel keeps the event loop alive by itself.
    const channel = child.channel as { ref?(): void; unref?(): void } | null | undefined;
    if (want) {
      child.ref();
      channel?.ref?.();
    } else {
      child.unref();
      channel?.unref?.();
    }
  }

  protected forget(): void {
    this.child = null;
  }

  releaseExited(): void {
    try {
      // The process table knows the worker is gone (its pid's start time no longer matches).
      this.#heap.releaseDead();
    } catch {
      // a heap that cannot be repaired reports it in its own stats
    }
    const h = this.#initHandle;
    this.#initHandle = null;
    if (h !== null) {
      try {
        this.#heap.releaseHandle(h); // never attached: it died while starting
      } catch {
        // already released
      }
    }
  }

  override dispose(): void {
    this.#words.close();
  }
}
