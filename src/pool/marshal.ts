/**
 * Marshalling of task arguments and results. Shared objects (SharedArray, SharedFrame,
 * SharedQueue, SharedLock: anything with `[kShare]`) found at the top level or inside arrays,
 * plain objects, Maps and Sets travel as handles; everything else goes by structured clone.
 *
 * The sender never mutates the caller's value: containers on the path to a shared object are
 * copied (copy on write), the rest is posted as is, and a value with no shared object inside is
 * posted untouched with no allocation. The handles travel twice in the same message, inside the
 * value and in a side list; structured clone preserves identity within one message, so the
 * receiver finds exactly the handles the sender placed (a handle the caller put there on purpose
 * stays a handle).
 */
import { SharedArray } from '../array/shared-array.js';
import { dtypeOfTypedArray } from '../array/dtype.js';
import { InvalidArgumentError } from '../errors.js';
import type { Handle } from '../heap/handle.js';
import { Heap } from '../heap/heap.js';
import { observeShares } from '../heap/core.js';
import { attachHandle, isShareable, kShare, type Shareable } from '../heap/kinds.js';

/** What the sender posts. */
export interface Outgoing {
  /** The value to post: the original when it holds no shared object, else a copy with handles. */
  value: unknown;
  /** Handles placed in `value`, each carrying one reference; null when none. */
  handles: Handle[] | null;
  /** Per handle, the TypedArray class an auto-shared array is rebuilt as (else null). */
  typed: (string | null)[] | null;
  /** The shared objects found, in handle order (the worker closes them: results are moved). */
  sources: Shareable[] | null;
}

/** Moving large plain TypedArrays through the heap (the pool's `autoShare` option). */
export interface AutoShare {
  /** Arrays of more than this many bytes are copied into the heap once and shared. */
  bytes: number;
  heap: Heap;
  /** One heap copy per TypedArray for the whole operation (a map shares it across tasks). */
  copies: Map<ArrayBufferView, SharedArray>;
}

const kVisiting = Symbol('visiting');
const kScanDepth = 12;
const kScanBudget = 2000;
let budget = 0;

/** True when `v` is an object structured clone copies field by field (plain or class instance). */
function isRecord(v: object): boolean {
  return Object.prototype.toString.call(v) === '[object Object]';
}

function wantsAutoShare(v: ArrayBufferView, auto: AutoShare | null): boolean {
  return (
    auto !== null &&
    v.byteLength > auto.bytes &&
    !(v.buffer instanceof SharedArrayBuffer) &&
    !(v instanceof DataView) &&
    dtypeOfTypedArray(v) !== undefined
  );
}

/**
 * A cheap first look that allocates nothing: false when `v` certainly holds nothing to marshal,
 * true when it does or when the value is too deep or large to tell quickly.
 */
function scan(v: unknown, depth: number, auto: AutoShare | null): boolean {
  if (typeof v !== 'object' || v === null) return false;
  if (--budget < 0 || depth > kScanDepth) return true;
  if (isShareable(v)) return true;
  if (ArrayBuffer.isView(v)) return wantsAutoShare(v, auto);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (scan(v[i], depth + 1, auto)) return true;
    return false;
  }
  if (v instanceof Map) {
    for (const [k, x] of v) if (scan(k, depth + 1, auto) || scan(x, depth + 1, auto)) return true;
    return false;
  }
  if (v instanceof Set) {
    for (const x of v) if (scan(x, depth + 1, auto)) return true;
    return false;
  }
  if (!isRecord(v)) return false;
  for (const k in v) {
    if (Object.hasOwn(v, k) && scan((v as Record<string, unknown>)[k], depth + 1, auto))
      return true;
  }
  return false;
}

/** True when `value` holds (or may hold: too deep or large to tell quickly) a shared object. */
export function holdsShared(value: unknown): boolean {
  budget = kScanBudget;
  return scan(value, 0, null);
}

class Encoder {
  readonly handles: Handle[] = [];
  readonly sources: Shareable[] = [];
  typed: (string | null)[] | null = null;
  readonly #memo = new Map<object, unknown>();
  readonly #auto: AutoShare | null;
  readonly #note: ((h: Handle) => void) | null;
  #backEdges: Set<object> | null = null;

  constructor(auto: AutoShare | null, note: ((h: Handle) => void) | null) {
    this.#auto = auto;
    this.#note = note;
  }

  visit(v: unknown): unknown {
    if (typeof v !== 'object' || v === null) return v;
    const seen = this.#memo.get(v);
    if (seen !== undefined) {
      if (seen !== kVisiting) return seen;
      (this.#backEdges ??= new Set()).add(v);
      return v;
    }
    if (isShareable(v)) return this.#share(v, v, null);
    if (ArrayBuffer.isView(v)) {
      if (!wantsAutoShare(v, this.#auto)) return v;
      const auto = this.#auto as AutoShare;
      let copy = auto.copies.get(v);
      if (copy === undefined) {
        copy = SharedArray.from(v as unknown as Float64Array, { heap: auto.heap });
        auto.copies.set(v, copy);
      }
      return this.#share(v, copy, v.constructor.name);
    }
    this.#memo.set(v, kVisiting);
    let out: unknown = v;
    if (Array.isArray(v)) out = this.#array(v);
    else if (v instanceof Map) out = this.#map(v);
    else if (v instanceof Set) out = this.#set(v);
    else if (isRecord(v)) out = this.#record(v as Record<string, unknown>);
    this.#memo.set(v, out);
    if (out !== v && this.#backEdges?.has(v)) {
      throw new InvalidArgumentError(
        'A cyclic structure that contains shared objects cannot be passed to or from a task: ' +
          'pass the shared objects in a structure without cycles (for example next to it, in an array)',
      );
    }
    return out;
  }

  #share(key: object, obj: Shareable, typed: string | null): Handle {
    const note = this.#note;
    let h: Handle;
    if (note === null) h = obj[kShare]();
    else {
      // Noted as soon as its ticket exists, inside the heap's share (see observeShares), then
      // once more whole if the heap did not report it (a harmless repeat either way).
      let noted = false;
      h = observeShares(
        (heap, unit, ticket, serial) => {
          if (noted) return; // every kShare makes one handle: its own
          note({ heap, unit, ticket, serial } as Handle);
          noted = true;
        },
        () => obj[kShare](),
      );
      if (!noted) note(h);
    }
    this.handles.push(h);
    this.sources.push(obj);
    if (typed !== null || this.typed !== null) {
      this.typed ??= new Array<string | null>(this.handles.length - 1).fill(null);
      this.typed.push(typed);
    }
    this.#memo.set(key, h);
    return h;
  }

  #array(a: unknown[]): unknown[] {
    let copy: unknown[] | null = null;
    for (let i = 0; i < a.length; i++) {
      const x = a[i];
      const y = this.visit(x);
      if (y !== x) (copy ??= a.slice())[i] = y;
    }
    return copy ?? a;
  }

  #record(o: Record<string, unknown>): Record<string, unknown> {
    let copy: Record<string, unknown> | null = null;
    for (const k in o) {
      if (!Object.hasOwn(o, k)) continue;
      const x = o[k];
      const y = this.visit(x);
      if (y !== x) (copy ??= { ...o })[k] = y;
    }
    return copy ?? o;
  }

  #map(m: Map<unknown, unknown>): Map<unknown, unknown> {
    let changed = false;
    const entries: Array<[unknown, unknown]> = [];
    for (const [k, x] of m) {
      const k2 = this.visit(k);
      const x2 = this.visit(x);
      if (k2 !== k || x2 !== x) changed = true;
      entries.push([k2, x2]);
    }
    return changed ? new Map(entries) : m;
  }

  #set(s: Set<unknown>): Set<unknown> {
    let changed = false;
    const values: unknown[] = [];
    for (const x of s) {
      const y = this.visit(x);
      if (y !== x) changed = true;
      values.push(y);
    }
    return changed ? new Set(values) : s;
  }
}

/**
 * Prepares `value` for postMessage: every shared object inside gets a handle carrying a fresh
 * reference (the caller keeps its own). On error, handles already made are released. `note` sees
 * each handle as soon as it exists (a worker records it, so that the handle is released even if
 * the thread is terminated before the message is posted).
 */
export function encode(
  value: unknown,
  auto: AutoShare | null,
  note: ((h: Handle) => void) | null = null,
): Outgoing {
  if (typeof value !== 'object' || value === null) {
    return { value, handles: null, typed: null, sources: null };
  }
  budget = kScanBudget;
  if (!scan(value, 0, auto)) return { value, handles: null, typed: null, sources: null };
  const enc = new Encoder(auto, note);
  let out: unknown;
  try {
    out = enc.visit(value);
  } catch (err) {
    releaseHandles(enc.handles);
    throw err;
  }
  if (enc.handles.length === 0) return { value, handles: null, typed: null, sources: null };
  return { value: out, handles: enc.handles, typed: enc.typed, sources: enc.sources };
}

/** Drops the references carried by handles that will not be attached (no-op for attached ones). */
export function releaseHandles(handles: readonly Handle[] | null | undefined): void {
  if (handles === null || handles === undefined) return;
  for (const h of handles) releaseHandle(h);
}

export function releaseHandle(h: Handle): boolean {
  try {
    return Heap.fromBuffer(h.buffer, h.heap).releaseHandle(h);
  } catch {
    return false; // a damaged handle carries nothing we could release
  }
}

/**
 * Drops this thread's reference to each object (`[Symbol.dispose]`, not `close()`: closing a
 * SharedQueue would close it for every thread). Errors are ignored: dropping is idempotent.
 */
export function closeAll(objects: readonly Shareable[] | null | undefined): void {
  if (objects === null || objects === undefined) return;
  for (const o of objects) {
    try {
      o[Symbol.dispose]();
    } catch {
      // already released by its thread; nothing left to drop
    }
  }
}

/**
 * Rebuilds a received value: attaches every handle of the side list (adopting its reference,
 * listed in `attached`) and puts the objects where the handles were. The received value is this
 * thread's own clone, so it is updated in place.
 */
export function decode(
  value: unknown,
  handles: readonly Handle[] | null,
  typed: readonly (string | null)[] | null,
  attached: Shareable[],
): unknown {
  if (handles === null) return value;
  const objects = new Map<object, unknown>();
  let i = 0;
  try {
    for (; i < handles.length; i++) {
      const h = handles[i] as Handle;
      const obj = attachHandle(h);
      attached.push(obj);
      const cls = typed?.[i] ?? null;
      objects.set(h, cls === null ? obj : typedView((obj as SharedArray).data, cls));
    }
  } catch (err) {
    closeAll(attached);
    releaseHandles(handles.slice(i));
    throw err;
  }
  const direct = objects.get(value as object);
  if (direct !== undefined) return direct;
  replaceIn(value, objects, new Set());
  return value;
}

function typedView(data: ArrayBufferView, cls: string): unknown {
  if (data.constructor.name === cls) return data;
  const Ctor = (globalThis as unknown as Record<string, unknown>)[cls] as
    (new (b: ArrayBufferLike, o: number, n: number) => unknown) | undefined;
  const bytes = (data as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
  return Ctor === undefined
    ? data
    : new Ctor(data.buffer, data.byteOffset, data.byteLength / bytes);
}

function replaceIn(v: unknown, objects: Map<object, unknown>, seen: Set<object>): void {
  if (typeof v !== 'object' || v === null || seen.has(v) || ArrayBuffer.isView(v)) return;
  seen.add(v);
  const swap = (x: unknown): unknown => {
    if (typeof x !== 'object' || x === null) return x;
    const y = objects.get(x);
    if (y !== undefined) return y;
    replaceIn(x, objects, seen);
    return x;
  };
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = swap(v[i]);
  } else if (v instanceof Map) {
    const entries = [...v].map(([k, x]) => [swap(k), swap(x)] as [unknown, unknown]);
    v.clear();
    for (const [k, x] of entries) v.set(k, x);
  } else if (v instanceof Set) {
    const values = [...v].map(swap);
    v.clear();
    for (const x of values) v.add(x);
  } else if (isRecord(v)) {
    const o = v as Record<string, unknown>;
    for (const k in o) if (Object.hasOwn(o, k)) o[k] = swap(o[k]);
  }
}

/** Closes every shared object inside `value` (results nobody will receive). */
export function closeShareables(value: unknown, seen = new Set<object>()): void {
  if (typeof value !== 'object' || value === null || seen.has(value)) return;
  seen.add(value);
  if (isShareable(value)) {
    closeAll([value]);
    return;
  }
  if (ArrayBuffer.isView(value)) return;
  if (Array.isArray(value)) for (const x of value) closeShareables(x, seen);
  else if (value instanceof Map) {
    for (const [k, x] of value) {
      closeShareables(k, seen);
      closeShareables(x, seen);
    }
  } else if (value instanceof Set) for (const x of value) closeShareables(x, seen);
  else if (isRecord(value)) {
    for (const k in value)
      if (Object.hasOwn(value, k)) closeShareables((value as Record<string, unknown>)[k], seen);
  }
}
