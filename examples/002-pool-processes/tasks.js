// Task functions of example 002-pool-processes. They run in Pool worker *processes*: each is a
// separate `node` process attached to the pool's heap in OS shared memory. Shared objects in
// their arguments arrive attached (not copied); shared objects they return are moved to the caller.
import { SharedArray } from 'shmframe';

export { transform } from '../002-pool-and-pipeline/tasks.js';

/**
 * A task whose process dies as one killed by the kernel's OOM killer would: SIGKILL, no
 * exception, no goodbye. Before dying it takes references (its argument, a new array), which the
 * pool must release. Python's mp.Pool waits for such a task's result for ever.
 */
export function killedMidTask({ values }) {
  const scratch = SharedArray.zeros(values.shape, 'f8'); // held when the process dies
  scratch.data[0] = values.data[0];
  process.kill(process.pid, 'SIGKILL');
  return scratch; // never reached
}

/** Which process ran a task. */
export function whoAmI(_args, ctx) {
  return ctx.pid;
}
