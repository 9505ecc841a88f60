/**
 * WorkerSlot: the thread transport of a pool slot. Its worker is a worker thread that gets the
 * pool heap's buffer, its result record and its claim ring in `workerData`, and messages by
 * `postMessage` (handles carry the heap's buffer, shared).
 */
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { knownHeaps } from '../heap/heap.js';
import { TaskClaims } from './claims.js';
import type { WorkerInit } from './protocol.js';
import { ResultRecord } from './record.js';
import { Slot, type SlotEvents, type SlotStart } from './slot.js';
import type { Heap } from '../heap/heap.js';

const kEntry = new URL('./worker-entry.js', import.meta.url);

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

export class WorkerSlot extends Slot {
  worker: Worker | null = null;
  readonly record = new ResultRecord();
  readonly claims = new TaskClaims();
  readonly #heap: Heap;

  constructor(id: number, heap: Heap) {
    super(id);
    this.#heap = heap;
  }

  get alive(): boolean {
    return this.worker !== null;
  }

  protected launch(opts: SlotStart, events: SlotEvents): void {
    const worker = startWorker(
      {
        heap: this.#heap.buffer,
        heapId: this.#heap.id,
        module: opts.module,
        workerId: this.id,
        record: this.record.buffer,
        claims: this.claims.buffer,
      },
      opts.resourceLimits,
    );
    this.worker = worker;
    // Noted now: `worker.threadId` reads -1 once the thread is gone.
    this.threadId = worker.threadId;
    this.pid = process.pid;
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

  post(msg: unknown[]): void {
    this.worker?.postMessage(msg);
  }

  protected terminate(): void {
    void this.worker?.terminate();
  }

  protected setWorkerRef(want: boolean): void {
    if (want) this.worker?.ref();
    else this.worker?.unref();
  }

  protected forget(): void {
    this.worker = null;
  }

  releaseExited(): void {
    // Whatever the thread still held goes back to the heaps it knew (any heap this thread knows).
    for (const heap of knownHeaps()) {
      try {
        heap.releaseThread(this.threadId);
      } catch {
        // a heap that cannot be repaired reports it in its own stats
      }
    }
  }
}
