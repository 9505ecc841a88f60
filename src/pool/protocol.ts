/**
 * The messages between a pool and its workers. Messages are flat arrays (a tag, then fields),
 * because cloning one array of primitives is measurably cheaper than cloning an object per task,
 * and several tasks travel in one message (a batch) when many are waiting.
 *
 * Who runs a task that was posted is decided by its claim word (see claims.ts), not by messages:
 * a task the pool takes back is skipped by the worker without a reply.
 */
import type { Handle } from '../heap/handle.js';

// ---- parent -> worker ----
/** `[kRun, ...tasks]`: each task is {@link kTaskFields} consecutive fields, see {@link TaskField}. */
export const kRun = 1;
/** `[kCancel, id, EncodedError]`: abort the running task's `ctx.signal` (ignored once it is done). */
export const kCancel = 2;
/** `[kStop]`: finish nothing more, let the thread exit. */
export const kStop = 3;

// ---- worker -> parent ----
/** `[kReady, exportNames]`: the task module loaded. */
export const kReady = 10;
/** `[kInitError, EncodedError]`: the task module failed to load. */
export const kInitError = 11;
/** `[kOk, id, value, handles | null, typed | null]`. */
export const kOk = 12;
/**
 * `[kFail, id, EncodedError, itemOffset, kThrew | kRefused, carried | null, handles | null]`:
 * `carried` lists the shared objects found on the thrown error (see error-carry.ts), moved to the
 * caller by the handles in `handles` as a result's are.
 */
export const kFail = 13;
/**
 * `[kCrash, EncodedError]`: a worker process met an uncaught exception and exits (a worker
 * thread's is reported by its `error` event instead).
 */
export const kCrash = 14;

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
  /** The task's word in the worker's claim ring. */
  claim: 7,
} as const;
export const kTaskFields = 8;

/** Where a kOk and a kFail message keep their handle list. */
const kOkHandles = 3;
const kFailHandles = 6;

/**
 * The handles a worker's reply carries, each holding one reference: what must be released when
 * the reply reaches nobody (its task was cancelled, timed out or failed by destroy(), or it comes
 * from a worker the pool no longer knows). One place, so that every transport and every reply
 * kind is covered.
 */
export function replyHandles(m: readonly unknown[]): readonly Handle[] | null {
  const at = m[0] === kOk ? kOkHandles : m[0] === kFail ? kFailHandles : -1;
  return at < 0 ? null : ((m[at] as Handle[] | null | undefined) ?? null);
}

/**
 * The fields of a message that hold handle lists, for a transport that must carry handles as
 * their string forms (a worker process): `[index of the list, ...]` of `m`.
 */
export function handleFields(m: readonly unknown[]): number[] {
  switch (m[0]) {
    case kRun: {
      const out: number[] = [];
      for (let at = 1 + TaskField.handles; at < m.length; at += kTaskFields) out.push(at);
      return out;
    }
    case kOk:
      return [kOkHandles];
    case kFail:
      return [kFailHandles];
    default:
      return [];
  }
}

/** What a worker process gets (as JSON in its first argument). */
export interface ProcessInit {
  /** URL of the task module. */
  module: string;
  /** The worker's slot in the pool (ctx.workerId). */
  workerId: number;
  /**
   * String form of the handle of an int32 SharedArray in the pool's heap: the worker's result
   * record, then its claim ring. Attaching it opens the heap, which becomes the default heap.
   */
  words: string;
}

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
  /** The worker's claim ring (see TaskClaims). */
  claims: SharedArrayBuffer;
}
