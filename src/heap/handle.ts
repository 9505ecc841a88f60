/**
 * Handles: small plain objects that name a block and carry one reference to it. Posted with
 * `postMessage` they carry the heap's SharedArrayBuffer (shared, not copied), so the receiver
 * can attach even if it never saw that heap before.
 */
import { InvalidArgumentError, describe } from '../errors.js';
import { Heap } from './heap.js';

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

// ------------------------------------------------------------------ leaving the process

/**
 * A thread heap's handle that is about to leave the process: JSON (`child.send` and
 * `process.send` by default, `JSON.stringify`) would drop its buffer, so the receiver could never
 * attach it, and Node's v8 serializer (`serialization: 'advanced'`) throws an uncoded "could not
 * be cloned". Either way the reference it carries would stay outstanding for good. This releases
 * that reference (when this thread knows the heap and the handle was not attached yet) and
 * returns the coded error to throw instead.
 */
function leavingProcess(h: Handle, how: string): InvalidArgumentError {
  let released = false;
  try {
    released = Heap.byId(h.heap)?.releaseHandle(h) ?? false;
  } catch {
    // A damaged handle: nothing this thread can release.
  }
  return new InvalidArgumentError(
    `A handle of ${/^[aeiou]/.test(h.kind) ? 'an' : 'a'} ${h.kind} cannot be sent to another process (${how}): its heap is a ` +
      `SharedArrayBuffer that exists only in this process, so the receiver could never attach it` +
      `${released ? ' (the reference it carried was released)' : ''}. Post handles to worker ` +
      `threads with postMessage; to share with child processes, use a process heap, ` +
      `Heap.create({ size, shared: 'process' }), and send String(obj.handle) (the processes API ` +
      `being built, see docs/threads-and-processes.md), or write the data to a file (docs/io.md).`,
    { details: { kind: h.kind, released } },
  );
}

/** Handles are created with this prototype; structured clone (postMessage) copies own fields only. */
const kHandleProto = {
  /** JSON cannot carry the buffer: refuse, coded, instead of sending a handle that cannot attach. */
  toJSON(this: Handle): never {
    throw leavingProcess(this, 'JSON: child.send, process.send or JSON.stringify');
  },
};
Object.defineProperty(kHandleProto, 'toJSON', { enumerable: false });

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

/** A new handle object (the one place handles are made for sending). */
export function makeHandle<V>(fields: {
  kind: string;
  heap: number;
  buffer: SharedArrayBuffer;
  unit: number;
  generation: number;
  ticket: number;
  serial: number;
  view: V | undefined;
}): Handle<V> {
  const h = Object.create(kHandleProto) as { -readonly [K in keyof Handle<V>]: Handle<V>[K] };
  h.$shmframe = 'handle';
  h.kind = fields.kind;
  h.heap = fields.heap;
  // Before `buffer`: a serializer meets the guard first (properties go in insertion order).
  h.guard = new HandleGuard(fields.buffer, h);
  h.buffer = fields.buffer;
  h.unit = fields.unit;
  h.generation = fields.generation;
  h.ticket = fields.ticket;
  h.serial = fields.serial;
  h.view = fields.view;
  return h;
}
