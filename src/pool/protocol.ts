/**
 * The messages between a pool and its workers. Messages are flat arrays (a tag, then fields),
 * because cloning one array of primitives is measurably cheaper than cloning an object per task,
 * and several tasks travel in one message (a batch) when many are waiting.
 */

// ---- parent -> worker ----
/** `[kRun, ...tasks]`: each task is {@link kTaskFields} consecutive fields, see {@link TaskField}. */
export const kRun = 1;
/** `[kCancel, id, EncodedError]`: abort the task's `ctx.signal`, or skip it if not started. */
export const kCancel = 2;
/** `[kStop]`: finish nothing more, let the thread exit. */
export const kStop = 3;
/** `[kSteal, ...ids]`: give back these tasks if they have not started (for an idle worker). */
export const kSteal = 4;

// ---- worker -> parent ----
/** `[kReady, exportNames]`: the task module loaded. */
export const kReady = 10;
/** `[kInitError, EncodedError]`: the task module failed to load. */
export const kInitError = 11;
/** `[kOk, id, value, handles | null, typed | null]`. */
export const kOk = 12;
/** `[kFail, id, EncodedError, itemOffset, kThrew | kRefused]`. */
export const kFail = 13;
/** `[kSkipped, id]`: a cancelled task that never started. */
export const kSkipped = 14;
/** `[kReturned, ...ids]`: tasks given back after a kSteal, not started, handles untouched. */
export const kReturned = 15;

/** The task function threw (or rejected): the caller gets a TaskError wrapping it. */
export const kThrew = 0;
/** The pool refused the task in the worker (unknown export, unsendable result): passed as is. */
export const kRefused = 1;

/** Fields of one task in a kRun message, in order. */
export const TaskField = {
  id: 0,
  name: 1,
  value: 2,
  handles: 3,
  typed: 4,
  index: 5,
  /** 0: one call with `value` as args; n > 0: `value` is an array of n items, one call each. */
  chunk: 6,
} as const;
export const kTaskFields = 7;

/** What a worker gets as `workerData`. */
export interface WorkerInit {
  /** The pool heap's buffer: the worker makes it its default heap before loading the module. */
  heap: SharedArrayBuffer;
  heapId: number;
  /** URL of the task module. */
  module: string;
  /** The worker's slot in the pool (ctx.workerId). */
  workerId: number;
  /** Shared words where the worker records result handles in transit (see ResultRecord). */
  record: SharedArrayBuffer;
}
