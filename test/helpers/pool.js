// The pool tests' task module, and a pool that is always closed.
import { Pool } from 'shmframe';

export const kTasks = new URL('../fixtures/pool-tasks.js', import.meta.url);

/** A 2-worker pool over the test task module on `heap`, closed when fn settles. */
export async function withPool(heap, fn, options = {}) {
  const pool = new Pool({ module: kTasks, workers: 2, heap, ...options });
  try {
    await fn(pool);
  } finally {
    await pool.close();
  }
}
