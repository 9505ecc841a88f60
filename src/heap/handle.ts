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

/** How handles become strings and back: installed by heap.ts (which knows the heaps). */
interface HandleCodec {
  format(h: Handle): string;
  /** A handle (with its heap's buffer) from its string form. */
  parse(text: string): Handle;
  /** A handle is being serialised as JSON (child.send, JSON.stringify). */
  json(h: Handle): string;
}
let codec: HandleCodec | undefined;

/** @internal */
export function setHandleCodec(c: HandleCodec): void {
  codec = c;
}

/**
 * What `obj.handle` returns. Its fields are the handle (plain data: structured clone copies them
 * and drops the class, so a posted handle arrives as a plain object, which attach accepts too).
 * `String(handle)` is its string form: for a process heap, a short string that `attach` accepts
 * in any process, carrying the same single reference.
 */
export class HandleRecord<View = unknown> implements Handle<View> {
  readonly $shmframe = 'handle' as const;
  readonly kind: string;
  readonly heap: number;
  readonly buffer: SharedArrayBuffer;
  readonly unit: number;
  readonly generation: number;
  readonly ticket: number;
  readonly serial: number;
  readonly view: View | undefined;

  constructor(h: Omit<Handle<View>, '$shmframe'>) {
    this.kind = h.kind;
    this.heap = h.heap;
    this.buffer = h.buffer;
    this.unit = h.unit;
    this.generation = h.generation;
    this.ticket = h.ticket;
    this.serial = h.serial;
    this.view = h.view;
  }

  /** The string form: `attach(String(handle))` works in any process that can reach the heap. */
  toString(): string {
    return codec === undefined ? '[shmframe handle]' : codec.format(this);
  }

  /**
   * JSON (and so `child.send`) carries the string form of a process heap's handle; a thread
   * heap's handle cannot leave its process, which throws a coded error (see heap.ts).
   */
  toJSON(): string {
    return codec === undefined ? '[shmframe handle]' : codec.json(this);
  }
}

/** A handle object from a handle or its string form (anything else is returned as it is). */
export function resolveHandle(value: unknown): unknown {
  if (typeof value === 'string' && value.startsWith('shmframe:') && codec !== undefined) {
    return codec.parse(value);
  }
  return value;
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

export function assertHandle(input: unknown, kind: string, className: string): Handle {
  const value = resolveHandle(input);
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
