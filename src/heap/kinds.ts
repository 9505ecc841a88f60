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
  close(): void;
}

export interface SharedKind {
  name: string;
  attach(handle: Handle): Shareable;
}

const kinds = new Map<string, SharedKind>();

export function registerKind(kind: SharedKind): void {
  kinds.set(kind.name, kind);
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
