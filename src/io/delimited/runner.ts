/**
 * Where the passes of a load run: a Pool of worker threads, or this thread (`workers: 0`). Both
 * take the same plain task arguments (the frame travels by handle), so the paths cannot drift.
 */
import type { Heap } from '../../heap/heap.js';
import { Pool } from '../../pool/pool.js';
import { measureRangeTask, parseRangeTask, scanRangeTask } from './tasks.js';

export type TaskName = 'scan' | 'measure' | 'parse';

export interface Runner {
  map<A, R>(name: TaskName, items: A[]): Promise<R[]>;
  close(): Promise<void>;
}

const local: Record<TaskName, (a: never) => unknown> = {
  scan: scanRangeTask,
  measure: measureRangeTask,
  parse: parseRangeTask,
};

/** Runs every task on this thread, yielding to the event loop between them (progress, abort). */
class LocalRunner implements Runner {
  async map<A, R>(name: TaskName, items: A[]): Promise<R[]> {
    const out: R[] = [];
    for (const item of items) {
      out.push(local[name](item as never) as R);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return out;
  }
  async close(): Promise<void> {}
}

class PoolRunner implements Runner {
  readonly #pool: Pool;
  constructor(workers: number, heap: Heap | undefined) {
    this.#pool = new Pool({
      module: new URL('../entry/delimited-worker.js', import.meta.url),
      workers,
      ...(heap === undefined ? {} : { heap }),
    });
  }
  map<A, R>(name: TaskName, items: A[]): Promise<R[]> {
    return this.#pool.map(name as never, items as never) as Promise<R[]>;
  }
  close(): Promise<void> {
    return this.#pool.close();
  }
}

export function createRunner(workers: number, heap: Heap | undefined): Runner {
  return workers === 0 ? new LocalRunner() : new PoolRunner(workers, heap);
}
