/**
 * The registry of shared object kinds. Every shared class (SharedArray, SharedFrame, SharedQueue,
 * SharedLock) registers its handle kind here, so that layers above (Pool marshalling, queue
 * items) can move any shared object by handle without knowing its class.
 */
import { InvalidArgumentError } from '../errors.js';
import type { Handle } from './handle.js';

/** Block kind codes stored in block headers. */
export const KindCode = { array: 1, frame: 2, queue: 3, lock: 4 } as const;

/**
 * Shared objects implement this method: it returns a handle carrying a new reference, every
 * call (unlike the cached `handle` getter).
 */
export const kShare = Symbol.for('shmframe.share');

export interface Shareable {
  [kShare](): Handle;
  /**
   * Drops this thread's reference. Generic code (pool marshalling, queue items) must use this,
   * not `close()`: `SharedQueue.close()` closes the queue for every thread.
   */
  [Symbol.dispose](): void;
}

/** Where a block being freed lives, for a kind's `dispose`. */
export interface FreedBlock {
  heapId: number;
  buffer: SharedArrayBuffer;
  unit: number;
  /** Absolute byte offset and length of the payload. */
  byteOffset: number;
  byteLength: number;
}

export interface SharedKind {
  name: string;
  /** Block kind code (see {@link KindCode}). */
  code: number;
  attach(handle: Handle): Shareable;
  /**
   * Called once, in whichever thread drops the last reference, just before the block is freed:
   * release what the payload itself holds (a queue's unconsumed items, say). Errors are reported
   * as warnings and never stop the free.
   */
  dispose?(block: FreedBlock): void;
  /**
   * Called by `heap.releaseThread(threadId)` for every block the released (dead) thread still
   * held, before its references are dropped: repair what that thread may have left half-done in
   * the block (a lock it held, a queue slot it was filling). Errors are reported as warnings.
   */
  threadReleased?(block: FreedBlock, threadId: number): void;
}

const kinds = new Map<string, SharedKind>();
const byCode = new Map<number, SharedKind>();

export function registerKind(kind: SharedKind): void {
  kinds.set(kind.name, kind);
  byCode.set(kind.code, kind);
}

/** The handle kind name of block kind `code` ('array', 'frame'...), or undefined. */
export function kindName(code: number): string | undefined {
  return byCode.get(code)?.name;
}

/** Runs the `dispose` of the kind with `code`, if any. */
export function disposeBlock(code: number, block: FreedBlock): void {
  const dispose = byCode.get(code)?.dispose;
  if (dispose === undefined) return;
  try {
    dispose(block);
  } catch (err) {
    process.emitWarning(
      `shmframe: releasing the contents of a freed block (kind ${code}) failed: ${String(err)}`,
      {
        code: 'SHMFRAME_DISPOSE_FAILED',
      },
    );
  }
}

/** Runs the `threadReleased` of the kind with `code`, if any. */
export function repairBlock(code: number, block: FreedBlock, threadId: number): void {
  const repair = byCode.get(code)?.threadReleased;
  if (repair === undefined) return;
  try {
    repair(block, threadId);
  } catch (err) {
    process.emitWarning(
      `shmframe: repairing a block (kind ${code}) after thread ${threadId} was released failed: ${String(err)}`,
      { code: 'SHMFRAME_REPAIR_FAILED' },
    );
  }
}

/** True for any shmframe shared object (from any copy of this module). */
export function isShareable(value: unknown): value is Shareable {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Record<symbol, unknown>)[kShare] === 'function'
  );
}

/** Attaches a handle of any registered kind. */
export function attachHandle(handle: Handle): Shareable {
  const kind = kinds.get(handle.kind);
  if (kind === undefined) {
    throw new InvalidArgumentError(
      `No shared class is registered for handles of kind '${handle.kind}' in this thread: import 'shmframe' (or the module defining it) first`,
    );
  }
  return kind.attach(handle);
}
