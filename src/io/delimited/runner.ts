/**
 * Where the passes of a load run: a Pool of worker threads, or this thread (`workers: 0`). Both
 * take the same plain task arguments (the frame travels by handle), so the paths cannot drift.
 */
import { Heap } from '../../heap/heap.js';
import { Pool } from '../../pool/pool.js';
import { measureRangeTask, parseRangeTask, scanRangeTask } from './tasks.js';

export type TaskName = 'scan' | 'measure' | 'parse';

export interface Runner {
  /** One task. */
  run<A, R>(name: TaskName, item: A): Promise<R>;
  /** True when every worker is already running (so work sent now starts at once). */
  warm(): boolean;
  close(): Promise<void>;
}

const local: Record<TaskName, (a: never) => unknown> = {
  scan: scanRangeTask,
  measure: measureRangeTask,
  parse: parseRangeTask,
};

/** Runs every task on this thread, yielding to the event loop between them (progress, abort). */
class LocalRunner implements Runner {
  async run<A, R>(name: TaskName, item: A): Promise<R> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    return local[name](item as never) as R;
  }
  warm(): boolean {
    return true;
  }
  async close(): Promise<void> {}
}

/**
 * Pools shared by the loads of this process, per worker count and heap. Starting a worker and
 * loading shmframe in it costs about 60 ms of CPU (measured: a 2-worker pool's first task 160 ms,
 * two bare workers 46 ms), so back-to-back loads reuse warm workers; idle workers stop after
 * `kIdleMs` (and never keep the process alive), so a process that loads once exits as usual.
 */
const kIdleMs = 5000;
const pools = new Map<string, { pool: Pool; active: number }>();

class PoolRunner implements Runner {
  readonly #entry: { pool: Pool; active: number };
  #closed = false;
  constructor(workers: number, heap: Heap) {
    const key = `${workers}:${heap.id}`;
    let entry = pools.get(key);
    if (entry === undefined || entry.pool.closed) {
      // One warm pool is enough: pools of other sizes or heaps that no load is using go.
      for (const [k, e] of pools) {
        if (e.active === 0) {
          void e.pool.close();
          pools.delete(k);
        }
      }
      entry = {
        pool: new Pool({
          module: new URL('../entry/delimited-worker.js', import.meta.url),
          workers,
          heap,
          idleTimeout: kIdleMs,
        }),
        active: 0,
      };
      pools.set(key, entry);
    }
    entry.active++;
    this.#entry = entry;
  }
  run<A, R>(name: TaskName, item: A): Promise<R> {
    return this.#entry.pool.run(name as never, item as never) as Promise<R>;
  }
  warm(): boolean {
    return this.#entry.pool.stats().workers.every((w) => w.state === 'idle' || w.state === 'busy');
  }
  async close(): Promise<void> {
    // The pool stays for the next load; its workers stop when idle.
    if (this.#closed) return;
    this.#closed = true;
    this.#entry.active--;
  }
}

export function createRunner(workers: number, heap: Heap | undefined): Runner {
  return workers === 0 ? new LocalRunner() : new PoolRunner(workers, heap ?? Heap.default());
}
