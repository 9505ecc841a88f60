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
  /**
   * An empty view of the heap's buffer that refuses Node's v8 serializer (`v8.serialize`,
   * `child.send` with `serialization: 'advanced'`), which cannot carry the buffer. Absent from
   * handles rebuilt by a receiver.
   */
  readonly guard?: Uint8Array;
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
  /** Whether the handle's heap is a process heap (its string form reaches other processes). */
  shared(h: Handle): boolean;
  /**
   * Drops the reference of a handle that will never be attached, when this thread knows its heap;
   * true if it was outstanding. (Through the codec, not an import of heap.ts: heap.ts imports this
   * module, and a cycle would leave `codec` uninitialized when a module that loads this one
   * first, such as array/shared-array.js, is the entry.)
   */
  release(h: Handle): boolean;
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
  /**
   * Declared before `buffer`: a v8 serializer (child.send with advanced serialization) meets the
   * guard first, which refuses with a coded error (see {@link HandleGuard}).
   */
  readonly guard: Uint8Array;
  readonly buffer: SharedArrayBuffer;
  readonly unit: number;
  readonly generation: number;
  readonly ticket: number;
  readonly serial: number;
  readonly view: View | undefined;

  constructor(h: Omit<Handle<View>, '$shmframe' | 'guard'>) {
    this.kind = h.kind;
    this.heap = h.heap;
    this.guard = new HandleGuard(h.buffer, this);
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
   * heap's handle cannot leave its process: a coded error, and its reference is released.
   */
  toJSON(): string {
    if (codec !== undefined && codec.shared(this)) return codec.format(this);
    throw leavingProcess(this, 'JSON: child.send, process.send or JSON.stringify');
  }
}

/** A handle object from a handle or its string form (anything else is returned as it is). */
export function resolveHandle(value: unknown): unknown {
  if (typeof value === 'string' && value.startsWith('shmframe:') && codec !== undefined) {
    return codec.parse(value);
  }
  return value;
}

/**
 * The string form of a handle that goes to another process (`how` names the way, for the error):
 * a thread heap's handle cannot, and gets the coded error of {@link leavingProcess}.
 */
export function handleText(h: Handle, how: string): string {
  if (codec !== undefined && codec.shared(h)) return codec.format(h);
  throw leavingProcess(h, how);
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

// ------------------------------------------------------------------ leaving the process

/**
 * A thread heap's handle that is about to leave the process: JSON (`child.send` and
 * `process.send` by default, `JSON.stringify`) would drop its buffer, so the receiver could never
 * attach it, and Node's v8 serializer (`serialization: 'advanced'`) throws an uncoded "could not
 * be cloned". Either way the reference it carries would stay outstanding for good. This releases
 * that reference (when this thread knows the heap and the handle was not attached yet) and
 * returns the coded error to throw instead.
 */
export function leavingProcess(h: Handle, how: string): InvalidArgumentError {
  let released = false;
  try {
    released = codec?.release(h) ?? false;
  } catch {
    // A damaged handle: nothing this thread can release.
  }
  const a = /^[aeiou]/.test(h.kind) ? 'an' : 'a';
  const was = released ? ' (the reference it carried was released)' : '';
  if (codec !== undefined && codec.shared(h)) {
    return new InvalidArgumentError(
      `A handle of ${a} ${h.kind} cannot go through ${how}: send its string form instead, ` +
        `String(obj.handle), which attach accepts in the other process${was}.`,
      { details: { kind: h.kind, released } },
    );
  }
  return new InvalidArgumentError(
    `A handle of ${a} ${h.kind} of a thread heap cannot be sent to another process (${how}): its heap is a ` +
      `SharedArrayBuffer that exists only in this process, so the receiver could never attach it${was}. ` +
      `Post handles to worker threads with postMessage; to share with other processes, create the ` +
      `object in a process heap, Heap.create({ size, shared: 'process' }) (or a name or file), and ` +
      `send String(obj.handle) (docs/threads-and-processes.md), or write the data to a file (docs/io.md).`,
    { details: { kind: h.kind, released } },
  );
}

/**
 * The guard's class. Node's v8 serializer (`v8.DefaultSerializer`, used by `v8.serialize` and by
 * `child.send` with advanced serialization) treats typed arrays as host objects and reads their
 * `constructor` first, before it meets the buffer it cannot clone; postMessage and
 * `structuredClone` copy typed arrays natively and never read it. So reading `constructor` of a
 * guard is where a handle is caught leaving the process. util.inspect reads property
 * descriptors, not this getter, so logging a handle still works.
 */
class HandleGuard extends Uint8Array {
  readonly #handle: Handle;
  constructor(buffer: SharedArrayBuffer, handle: Handle) {
    super(buffer as unknown as ArrayBuffer, 0, 0);
    this.#handle = handle;
  }
  static refuse(guard: HandleGuard): never {
    throw leavingProcess(
      guard.#handle,
      "v8.serialize, or child.send with serialization: 'advanced'",
    );
  }
}
Object.defineProperty(HandleGuard.prototype, 'constructor', {
  get(this: HandleGuard): never {
    HandleGuard.refuse(this);
  },
});
