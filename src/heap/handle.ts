/**
 * Handles: small plain objects that name a block and carry one reference to it. Posted with
 * `postMessage` they carry the heap's SharedArrayBuffer (shared, not copied), so the receiver
 * can attach even if it never saw that heap before.
 */
import { InvalidArgumentError, describe } from '../errors.js';

export interface Handle<View = unknown> {
  readonly $shmframe: 'handle';
  /** What the block holds: 'array', 'frame', 'queue', 'lock'. */
  readonly kind: string;
  /** Heap id. */
  readonly heap: number;
  /** The heap's buffer: shared, not copied, by postMessage. */
  readonly buffer: SharedArrayBuffer;
  readonly unit: number;
  readonly generation: number;
  /** Ticket slot and serial of the reference this handle carries. */
  readonly ticket: number;
  readonly serial: number;
  /** Kind-specific view parameters (an array view's offset, shape and strides...). */
  readonly view: View | undefined;
}

/** True when `value` looks like a shmframe handle (of any kind, or of `kind`). */
export function isHandle(value: unknown, kind?: string): value is Handle {
  if (typeof value !== 'object' || value === null) return false;
  const h = value as Partial<Handle>;
  return (
    h.$shmframe === 'handle' &&
    typeof h.kind === 'string' &&
    (kind === undefined || h.kind === kind)
  );
}

export function assertHandle(value: unknown, kind: string, className: string): Handle {
  if (!isHandle(value)) {
    throw new InvalidArgumentError(
      `Expected a ${className} handle (the \`handle\` of a ${className}, posted or cloned), got ${describe(value)}`,
    );
  }
  if (value.kind !== kind) {
    throw new InvalidArgumentError(
      `Expected a handle of a ${className}, got a handle of a ${value.kind}: use the matching attach`,
    );
  }
  return value;
}
