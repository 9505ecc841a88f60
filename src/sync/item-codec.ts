/**
 * How queue items are written into slots.
 *
 * Small primitives get a hand-written encoding (a tag and at most 8 bytes, or the UTF-8 bytes of
 * a string), because `v8.serialize` costs about a microsecond per call: as much as the whole
 * put/get budget of a queue that must move a million items a second. Everything else is
 * structured-cloned with `v8.serialize`.
 *
 * Shared objects (anything `isShareable`: SharedArray, SharedFrame, SharedQueue, SharedLock)
 * found at the top level or inside arrays, plain objects, Maps and Sets are not cloned: each gets
 * a handle (a new reference with a ticket), whose integers are written into the slot, and a
 * placeholder in the cloned value; the path to every placeholder goes along. The consumer attaches
 * the handles, adopting the references, and plugs the objects back in at their paths.
 *
 * Slot body, from byte 8 of the slot (after the sequence word and the byte length):
 *   [8] tag  [12] number of handles  [16...] payload (8-byte aligned)
 * Handle record (32 bytes): heap id f64, unit u32, generation i32, ticket u32, serial i32,
 * kind code u32, reserved u32. The payload of a `value` is the records, then the v8 bytes of
 * `[skeleton, paths, views]` (or of the item itself when it holds no shared object).
 */
import { deserialize, serialize } from 'node:v8';
import { CorruptError, InvalidArgumentError, UnknownHeapError, describe } from '../errors.js';
import type { Handle } from '../heap/handle.js';
import { Heap, kCore } from '../heap/heap.js';
import { H_LOCK } from '../heap/layout.js';
import { KindCode, attachHandle, isShareable, kShare, type Shareable } from '../heap/kinds.js';

export const Tag = {
  null: 1,
  false: 2,
  true: 3,
  number: 4,
  string: 5,
  bigint: 6,
  /** One shared object, the whole item. */
  shared: 7,
  /** A structured-cloned value, possibly holding shared objects. */
  value: 8,
} as const;

/** Bytes before the payload in a slot. */
export const kSlotHeader = 16;
const kRecord = 32;

/** An item ready to be copied into a slot. */
export interface Encoded {
  tag: number;
  /** Payload length in bytes. */
  length: number;
  num: number;
  str: string;
  big: bigint;
  /** Payload bytes of `shared` and `value` items. */
  bytes: Uint8Array | undefined;
  /** Handles created for the shared objects inside (released if the put fails). */
  handles: Handle[];
}

const kindNames = new Map<number, string>(Object.entries(KindCode).map(([n, c]) => [c, n]));

const kNoHandles: Handle[] = [];
/** Reused for primitives by the synchronous puts (never across an await): no allocation. */
const scratch: Encoded = {
  tag: 0,
  length: 0,
  num: 0,
  str: '',
  big: 0n,
  bytes: undefined,
  handles: kNoHandles,
};
let reuse = false;

function encoded(tag: number, length: number): Encoded {
  if (reuse) {
    scratch.tag = tag;
    scratch.length = length;
    scratch.str = '';
    return scratch;
  }
  return { tag, length, num: 0, str: '', big: 0n, bytes: undefined, handles: [] };
}

/** Drops the references carried by handles that will not be delivered. */
export function releaseHandles(handles: readonly Handle[]): void {
  for (const h of handles) {
    try {
      Heap.fromBuffer(h.buffer, h.heap).releaseHandle(h);
    } catch {
      // The heap is unreachable; nothing more can be done.
    }
  }
}

function tooBig(bytes: number, max: number): InvalidArgumentError {
  return new InvalidArgumentError(
    `Expected a queue item of at most maxItemBytes = ${max} bytes, got one that encodes to ${bytes} bytes. ` +
      `Create the queue with a larger maxItemBytes, or put the data in a SharedArray/SharedFrame (moved by handle, a few dozen bytes).`,
    { details: { itemBytes: bytes, maxItemBytes: max } },
  );
}

/**
 * Encodes `item` for a queue whose slots hold `max` payload bytes. Throws (with nothing left
 * behind) when it is too big or not structured-clonable.
 */
export function encodeItem(item: unknown, max: number, sync = false): Encoded {
  reuse = sync;
  switch (typeof item) {
    case 'number': {
      const e = encoded(Tag.number, 8);
      e.num = item;
      return check(e, max);
    }
    case 'string': {
      const bytes = item.length * 3 <= max ? -1 : Buffer.byteLength(item);
      if (bytes > max) throw tooBig(bytes, max);
      const e = encoded(Tag.string, bytes);
      e.str = item;
      return e;
    }
    case 'boolean':
      return encoded(item ? Tag.true : Tag.false, 0);
    case 'bigint':
      if (BigInt.asIntN(64, item) === item) {
        const e = encoded(Tag.bigint, 8);
        e.big = item;
        return check(e, max);
      }
      reuse = false;
      break;
    case 'undefined':
      throw new InvalidArgumentError(
        'Expected a queue item, got undefined: tryGet() returns undefined for an empty queue, so undefined cannot be an item. Put null instead.',
      );
    case 'object':
      if (item === null) return encoded(Tag.null, 0);
      reuse = false;
      if (isShareable(item)) return encodeShared(item, max);
      break;
    default:
      throw new InvalidArgumentError(
        `Expected a structured-clonable queue item, got ${describe(item)}`,
      );
  }
  return encodeValue(item, max);
}

/**
 * At most how many handles encoding `item` makes (0 for an item without shared objects): a put
 * reserves room to hold that many (heap/held.ts) before it encodes. A shared object with a view
 * is shared twice (its first handle is released when the view shows it must be cloned).
 */
export function shareCount(item: unknown): number {
  if (typeof item !== 'object' || item === null) return 0;
  if (isShareable(item)) return 2;
  return hasShareable(item, new Set()) ? extract(item).objects.length : 0;
}

function check(e: Encoded, max: number): Encoded {
  if (e.length > max) throw tooBig(e.length, max);
  return e;
}

function writeRecord(f64: Float64Array, i32: Int32Array, at: number, h: Handle): void {
  const code = KindCode[h.kind as keyof typeof KindCode];
  if (code === undefined) {
    throw new InvalidArgumentError(`Cannot queue a shared object of unknown kind '${h.kind}'`);
  }
  f64[at / 8] = h.heap;
  const w = at / 4;
  i32[w + 2] = h.unit;
  i32[w + 3] = h.generation;
  i32[w + 4] = h.ticket;
  i32[w + 5] = h.serial;
  i32[w + 6] = code;
  i32[w + 7] = 0;
}

function encodeShared(obj: Shareable, max: number): Encoded {
  if (kRecord > max) throw tooBig(kRecord, max);
  const h = obj[kShare]();
  if (h.view !== undefined) {
    releaseHandles([h]);
    return encodeValue(obj, max);
  }
  try {
    const buf = new ArrayBuffer(kRecord);
    writeRecord(new Float64Array(buf), new Int32Array(buf), 0, h);
    const e = encoded(Tag.shared, kRecord);
    e.bytes = new Uint8Array(buf);
    e.handles.push(h);
    return e;
  } catch (err) {
    releaseHandles([h]);
    throw err;
  }
}

function encodeValue(item: unknown, max: number): Encoded {
  const found = hasShareable(item, new Set());
  const handles: Handle[] = [];
  try {
    let blob: Buffer;
    if (!found) {
      blob = serializeItem(item);
    } else {
      const x = extract(item);
      for (const obj of x.objects) handles.push(obj[kShare]());
      const views = handles.map((h) => h.view);
      blob = serializeItem([x.skeleton, x.paths, views.some((v) => v !== undefined) ? views : 0]);
    }
    const length = handles.length * kRecord + blob.length;
    if (length > max) throw tooBig(length, max);
    const buf = new ArrayBuffer(Math.ceil(length / 8) * 8);
    const f64 = new Float64Array(buf);
    const i32 = new Int32Array(buf);
    handles.forEach((h, i) => writeRecord(f64, i32, i * kRecord, h));
    const bytes = new Uint8Array(buf, 0, length);
    bytes.set(blob, handles.length * kRecord);
    const e = encoded(Tag.value, length);
    e.bytes = bytes;
    e.handles = handles;
    return e;
  } catch (err) {
    releaseHandles(handles);
    throw err;
  }
}

function serializeItem(value: unknown): Buffer {
  try {
    return serialize(value);
  } catch (err) {
    throw new InvalidArgumentError(
      `Expected a structured-clonable queue item (no functions, symbols or class-specific state), got ${describe(value)}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/** Objects structured clone copies as a whole (nothing shared can hide inside). */
function isLeaf(v: object): boolean {
  return (
    ArrayBuffer.isView(v) ||
    v instanceof ArrayBuffer ||
    v instanceof SharedArrayBuffer ||
    v instanceof Date ||
    v instanceof RegExp ||
    v instanceof Error ||
    v instanceof Number ||
    v instanceof String ||
    v instanceof Boolean
  );
}

function hasShareable(v: unknown, seen: Set<object>): boolean {
  if (typeof v !== 'object' || v === null) return false;
  if (isShareable(v)) return true;
  if (seen.has(v) || isLeaf(v)) return false;
  seen.add(v);
  if (v instanceof Map) {
    for (const [k, x] of v) if (hasShareable(k, seen) || hasShareable(x, seen)) return true;
    return false;
  }
  if (v instanceof Set) {
    for (const x of v) if (hasShareable(x, seen)) return true;
    return false;
  }
  for (const k of Object.keys(v)) {
    if (hasShareable((v as Record<string, unknown>)[k], seen)) return true;
  }
  return false;
}

/** A step from a container to a child: a key, or [0|1|2, n] for the n-th Map key, Map value or Set element. */
type Step = string | number | [0 | 1 | 2, number];

interface Extracted {
  skeleton: unknown;
  objects: Shareable[];
  /** [object index, ...steps from the root] for every place a shared object appears. */
  paths: Array<[number, ...Step[]]>;
}

/** Copies the containers of `item`, replacing shared objects by placeholders. */
function extract(item: unknown): Extracted {
  const objects: Shareable[] = [];
  const index = new Map<object, number>();
  const paths: Array<[number, ...Step[]]> = [];
  const memo = new Map<object, unknown>();
  const path: Step[] = [];
  const walk = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null) return v;
    if (isShareable(v)) {
      let i = index.get(v);
      if (i === undefined) {
        i = objects.length;
        objects.push(v);
        index.set(v, i);
      }
      paths.push([i, ...path]);
      return {};
    }
    if (memo.has(v)) return memo.get(v);
    if (isLeaf(v)) return v;
    if (v instanceof Map) {
      const out = new Map<unknown, unknown>();
      memo.set(v, out);
      let n = 0;
      for (const [k, x] of v) {
        path.push([0, n]);
        const key = walk(k);
        path[path.length - 1] = [1, n];
        const value = walk(x);
        path.pop();
        out.set(key, value);
        n++;
      }
      return out;
    }
    if (v instanceof Set) {
      const out = new Set<unknown>();
      memo.set(v, out);
      let n = 0;
      for (const x of v) {
        path.push([2, n++]);
        out.add(walk(x));
        path.pop();
      }
      return out;
    }
    const isArray = Array.isArray(v);
    const out: Record<string, unknown> = isArray
      ? (new Array((v as unknown[]).length) as unknown as Record<string, unknown>)
      : {};
    memo.set(v, out);
    for (const k of Object.keys(v)) {
      path.push(isArray && /^\d+$/.test(k) ? Number(k) : k);
      out[k] = walk((v as Record<string, unknown>)[k]);
      path.pop();
    }
    return out;
  };
  const skeleton = walk(item);
  return { skeleton, objects, paths };
}

function nth<T>(it: Iterable<T>, n: number): T {
  let i = 0;
  for (const x of it) if (i++ === n) return x;
  throw new CorruptError(`Queue item path names entry ${n} of a collection that is shorter`);
}

function into(c: unknown, step: Step): unknown {
  if (Array.isArray(step)) {
    const [kind, n] = step;
    if (kind === 2 && c instanceof Set) return nth(c, n);
    if (c instanceof Map) return kind === 0 ? nth(c.keys(), n) : nth(c.values(), n);
  } else if (typeof c === 'object' && c !== null) {
    return (c as Record<string | number, unknown>)[step];
  }
  throw new CorruptError(`Queue item path step ${JSON.stringify(step)} does not fit the item`);
}

function plug(c: unknown, step: Step, obj: unknown): void {
  if (Array.isArray(step)) {
    const [kind, n] = step;
    if (kind === 2 && c instanceof Set) {
      const all = [...c];
      all[n] = obj;
      c.clear();
      for (const x of all) c.add(x);
      return;
    }
    if (c instanceof Map) {
      if (kind === 1) {
        c.set(nth(c.keys(), n), obj);
        return;
      }
      const all = [...c];
      const entry = all[n];
      if (entry === undefined) throw new CorruptError('Queue item path names a missing Map key');
      entry[0] = obj;
      c.clear();
      for (const [k, v] of all) c.set(k, v);
      return;
    }
  } else if (typeof c === 'object' && c !== null) {
    (c as Record<string | number, unknown>)[step] = obj;
    return;
  }
  throw new CorruptError(`Queue item path step ${JSON.stringify(step)} does not fit the item`);
}

/** A handle record read from a slot. */
export interface Record_ {
  heapId: number;
  unit: number;
  generation: number;
  ticket: number;
  serial: number;
  kind: number;
}

export function readRecord(f64: Float64Array, i32: Int32Array, at: number): Record_ {
  const w = at / 4;
  return {
    heapId: f64[at / 8] as number,
    unit: (i32[w + 2] as number) >>> 0,
    generation: i32[w + 3] as number,
    ticket: (i32[w + 4] as number) >>> 0,
    serial: i32[w + 5] as number,
    kind: i32[w + 6] as number,
  };
}

export function recordCount(tag: number, length: number, handles: number): number {
  if (tag === Tag.shared) return 1;
  if (tag === Tag.value) return Math.min(handles, Math.floor(length / kRecord));
  return 0;
}

/** Throws UnknownHeapError (changing nothing) if a record names a heap this thread cannot reach. */
export function checkHeaps(records: readonly Record_[]): void {
  for (const r of records) {
    if (Heap.byId(r.heapId) === undefined) {
      throw new UnknownHeapError(
        `The next queue item carries a shared object of heap ${r.heapId.toString(16)}, which this thread has never seen, ` +
          `so it cannot attach it; the item stays in the queue. Allocate queued objects in the queue's heap, or make that ` +
          `heap known here first (attach any object of it, or Heap.fromBuffer(heap.buffer)).`,
        { details: { heap: r.heapId } },
      );
    }
  }
}

/** Attaches the objects of `records`; on failure releases everything and rethrows. */
export function attachRecords(records: readonly Record_[], views: readonly unknown[]): Shareable[] {
  const out: Shareable[] = [];
  let i = 0;
  try {
    for (; i < records.length; i++) {
      const r = records[i] as Record_;
      const heap = Heap.byId(r.heapId) as Heap;
      const kind = kindNames.get(r.kind);
      if (kind === undefined)
        throw new CorruptError(`Queue slot names unknown kind code ${r.kind}`);
      out.push(
        attachHandle({
          $shmframe: 'handle',
          kind,
          heap: r.heapId,
          buffer: heap.buffer,
          unit: r.unit,
          generation: r.generation,
          ticket: r.ticket,
          serial: r.serial,
          view: views[i],
        }),
      );
    }
    return out;
  } catch (err) {
    for (const o of out) o[Symbol.dispose]();
    releaseRecords(records.slice(i + 1));
    throw err;
  }
}

/** Drops the references of records never attached. Returns how many named an unknown heap. */
export function releaseRecords(records: readonly Record_[]): number {
  let unknown = 0;
  for (const r of records) {
    const heap = Heap.byId(r.heapId);
    if (heap === undefined) {
      unknown++;
      continue;
    }
    try {
      heap[kCore].releaseTicket(r.unit, { slot: r.ticket, serial: r.serial });
    } catch {
      // A damaged record: refuse it rather than touch another block.
    }
  }
  return unknown;
}

/**
 * After a consumer died while attaching: records whose ticket it consumed get a fresh ticket
 * (and reference) if their block is still alive, so the item can be delivered again.
 */
export function rearmRecords(
  f64: Float64Array,
  i32: Int32Array,
  at: number,
  n: number,
  tid: number,
): void {
  for (let i = 0; i < n; i++) {
    const r = readRecord(f64, i32, at + i * kRecord);
    const heap = Heap.byId(r.heapId);
    if (heap === undefined) continue;
    const core = heap[kCore];
    // A new ticket may need an allocation: not while a dead thread still holds the allocator.
    if (core.w.load(H_LOCK) === tid + 1) continue;
    const ticket = { slot: r.ticket, serial: r.serial };
    try {
      if (core.tickets.isOutstanding(ticket, r.unit)) continue;
      const name = kindNames.get(r.kind) ?? 'object';
      core.inspect(r.unit, r.generation, r.kind, name);
      if (core.refCount(r.unit) <= 0) continue;
      const t = core.share(r.unit);
      const w = (at + i * kRecord) / 4;
      i32[w + 4] = t.slot;
      i32[w + 5] = t.serial;
    } catch {
      // The block is gone: the item will fail with SHMFRAME_ERR_CLOSED when taken.
    }
  }
}

/** The views carried with a `value` item's handles, from its v8 bytes. */
export function decodeValue(
  blob: Uint8Array,
  handles: number,
): { root: unknown; views: unknown[]; paths: unknown } {
  let decoded: unknown;
  try {
    decoded = deserialize(blob);
  } catch (err) {
    throw new CorruptError(`A queue item could not be decoded: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (handles === 0) return { root: decoded, views: [], paths: [] };
  if (!Array.isArray(decoded) || decoded.length !== 3)
    throw new CorruptError('A queue item holding shared objects has a damaged layout');
  const [root, paths, views] = decoded as [unknown, unknown, unknown];
  return { root, paths, views: Array.isArray(views) ? views : [] };
}

/** Puts attached objects back at their paths. */
export function plugObjects(root: unknown, paths: unknown, objects: readonly unknown[]): unknown {
  if (!Array.isArray(paths)) throw new CorruptError('A queue item has damaged object paths');
  for (const p of paths as unknown[]) {
    if (!Array.isArray(p) || p.length === 0)
      throw new CorruptError('A queue item has a damaged object path');
    const [i, ...steps] = p as [number, ...Step[]];
    if (!(i >= 0 && i < objects.length))
      throw new CorruptError(`A queue item path names object ${String(i)} of ${objects.length}`);
    const obj = objects[i];
    if (steps.length === 0) {
      root = obj;
      continue;
    }
    let c = root;
    for (let k = 0; k < steps.length - 1; k++) c = into(c, steps[k] as Step);
    plug(c, steps[steps.length - 1] as Step, obj);
  }
  return root;
}
