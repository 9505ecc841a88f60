/**
 * FrameStore: one thread's engine for one frame block. It turns the checked layout into
 * TypedArray views (one set per attach, shared by every view of the frame in this thread) and
 * implements cell reads and writes, validity bits and the committed length. The public
 * `SharedFrame` validates arguments and holds references; the store does the memory work.
 */
import { CorruptError, InvalidArgumentError, describe } from '../errors.js';
import { datetimeToDate, kNaT, typedView, type DType, type TypedArray } from '../array/dtype.js';
import { readFixedBytes, writeElement } from '../array/element.js';
import { Dictionary } from './dictionary.js';
import { checkUnicode } from './stage.js';
import {
  C_EDITS,
  F_LENGTH,
  columnWords,
  kHeaderWords,
  readLayout,
  type ColumnLayout,
  type FrameLayout,
} from './layout.js';
import type { ColumnKind } from './schema.js';

/** One column's views in this thread. */
export interface Col {
  readonly index: number;
  /** This is the frame's index column (edits bump its counter so `loc` tables rebuild). */
  readonly isIndex: boolean;
  readonly name: string;
  readonly kind: ColumnKind;
  /** Value dtype (fixed columns); `<i4` for the offsets of utf8 and the codes of category. */
  readonly dt: DType;
  readonly dtype: string;
  readonly layout: ColumnLayout;
  /** Values (`stride` elements; bytes for |S), utf8 offsets (capacity + 1) or category codes. */
  readonly data: TypedArray;
  /** Validity bits, as int32 words (for Atomics). */
  readonly valid32: Int32Array;
  /** The same bits as bytes (Arrow's view), made on first use. */
  readonly valid8: Uint8Array;
  /** utf8 bytes (whole region). */
  readonly bytes: Buffer | undefined;
  readonly dict: Dictionary | undefined;
  /**
   * The column record's words (counters and locks), made on first use. (A view of a
   * SharedArrayBuffer costs about 1 µs to make on Node 20, 20x one of a plain buffer, so a column
   * makes its views only when they are used: a frame may have thousands of columns.)
   */
  readonly words: Int32Array;
}

const r64 = (n: number): number => Math.ceil(n / 64) * 64;

export class FrameStore {
  readonly buffer: SharedArrayBuffer;
  readonly base: number;
  readonly layout: FrameLayout;
  readonly header: Int32Array;
  readonly byName: ReadonlyMap<string, number>;
  /** Per-thread label -> row map for `loc` (see index-map.ts). */
  indexCache: unknown;
  /**
   * Whether thread `tid` is provably dead (set by SharedFrame from its heap): lets appenders
   * take over locks and reservations a dead thread left. Never true without a heap to ask.
   */
  threadGone: (tid: number) => boolean = () => false;
  /** Whether `threadGone` asks a heap yet (set once, by the first SharedFrame over this store). */
  threadGoneBound = false;
  /**
   * Every column index, in order: what a frame showing all its columns uses, made once per store
   * rather than per attach. (A frame of 5000 columns that made its own list per attach spent
   * ~100 us per attach in the garbage collector: V8's scavenger keeps objects registered with a
   * FinalizationRegistry alive until a full collection, so the list was promoted every time.)
   */
  readonly allColumns: readonly number[];
  /** Column views, made on first use (a frame may have thousands of columns). */
  readonly #cols: Array<Col | undefined>;

  private constructor(buffer: SharedArrayBuffer, base: number, layout: FrameLayout) {
    this.buffer = buffer;
    this.base = base;
    this.layout = layout;
    this.header = new Int32Array(buffer, base, kHeaderWords);
    this.#cols = new Array<Col | undefined>(layout.columns.length);
    this.byName = new Map(layout.columns.map((c, i) => [c.name, i]));
    this.allColumns = Object.freeze(layout.columns.map((_, i) => i));
  }

  get ncols(): number {
    return this.layout.columns.length;
  }

  /** Column `i`'s views (`i` must be a valid column index). */
  column(i: number): Col {
    let c = this.#cols[i];
    if (c === undefined) {
      const l = this.layout.columns[i] as ColumnLayout;
      c = makeCol(
        this.buffer,
        this.base,
        this.layout.capacity,
        l,
        i,
        i === this.layout.index,
        (tid) => this.threadGone(tid),
      );
      this.#cols[i] = c;
    }
    return c;
  }

  /** Opens a block (checked first: a damaged block is refused, never read out of bounds). */
  static open(buffer: SharedArrayBuffer, base: number, byteLength: number): FrameStore {
    return new FrameStore(buffer, base, readLayout(buffer, base, byteLength));
  }

  get capacity(): number {
    return this.layout.capacity;
  }

  /** Committed rows. */
  length(): number {
    return Atomics.load(this.header, F_LENGTH);
  }

  /** The column named `name`, or a clear error listing the columns. */
  col(name: unknown, shown?: readonly number[]): Col {
    const i = typeof name === 'string' ? this.byName.get(name) : undefined;
    if (i === undefined || (shown !== undefined && !shown.includes(i))) {
      const all = this.layout.columns;
      const names = shown === undefined ? all.map((c) => c.name) : shown.map((k) => all[k]?.name);
      const list = names.length > 20 ? [...names.slice(0, 20), '...'] : names;
      throw new InvalidArgumentError(
        `Unknown column ${describe(name)}: the frame's columns are ${JSON.stringify(list)}`,
      );
    }
    return this.column(i);
  }
}

function makeCol(
  buffer: SharedArrayBuffer,
  base: number,
  capacity: number,
  l: ColumnLayout,
  index: number,
  isIndex: boolean,
  gone: (tid: number) => boolean,
): Col {
  const dt = l.type.dt;
  const validBytes = r64(Math.ceil(capacity / 8));
  let data: TypedArray;
  let bytes: Buffer | undefined;
  let dict: Dictionary | undefined;
  let words: Int32Array | undefined;
  let valid8: Uint8Array | undefined;
  const wordsOf = (): Int32Array => (words ??= columnWords(buffer, base, index));
  if (l.type.kind === 'fixed') {
    data =
      dt.kind === 'S'
        ? new Uint8Array(buffer, base + l.data, l.stride * dt.itemsize)
        : typedView(dt.ctor, buffer, base + l.data, l.stride);
  } else if (l.type.kind === 'utf8') {
    data = new Int32Array(buffer, base + l.data, capacity + 1);
    bytes = Buffer.from(buffer, base + l.bytes, l.bytesCap);
  } else {
    data = new Int32Array(buffer, base + l.data, capacity);
    dict = new Dictionary(
      wordsOf(),
      new Int32Array(buffer, base + l.dictOffsets, l.dictCap + 1),
      Buffer.from(buffer, base + l.bytes, l.bytesCap),
      l.name,
      gone,
    );
  }
  return {
    index,
    isIndex,
    name: l.name,
    kind: l.type.kind,
    dt,
    dtype: l.type.dtype,
    layout: l,
    data,
    valid32: new Int32Array(buffer, base + l.validity, validBytes / 4),
    get valid8(): Uint8Array {
      return (valid8 ??= new Uint8Array(buffer, base + l.validity, validBytes));
    },
    bytes,
    dict,
    get words(): Int32Array {
      return wordsOf();
    },
  };
}

// ------------------------------------------------------------------ validity bits

export function isValid(c: Col, row: number): boolean {
  return (((c.valid32[row >>> 5] as number) >>> (row & 31)) & 1) === 1;
}

/** Sets or clears one bit atomically, so writers of neighbouring rows never lose each other's bits. */
export function setValid(c: Col, row: number, valid: boolean): void {
  const bit = 1 << (row & 31);
  if (valid) Atomics.or(c.valid32, row >>> 5, bit);
  else Atomics.and(c.valid32, row >>> 5, ~bit);
}

function bitRange(a: number, b: number): number {
  return b - a === 32 ? -1 : ((1 << (b - a)) - 1) << a;
}

/**
 * Writes the validity of rows [start, start + n) from `flags` (1 valid, 0 null; undefined: all
 * valid). Words wholly inside the range belong to this writer (the rows are not yet committed)
 * and are stored plainly; the two edge words are shared with neighbours and changed atomically.
 */
export function writeValidity(
  c: Col,
  start: number,
  n: number,
  flags: Uint8Array | undefined,
): void {
  const v = c.valid32;
  const end = start + n;
  let row = start;
  while (row < end) {
    const w = row >>> 5;
    const wStart = w * 32;
    const hi = Math.min(end, wStart + 32);
    const mask = bitRange(row - wStart, hi - wStart);
    let bits = 0;
    if (flags === undefined) bits = mask;
    else for (let r = row; r < hi; r++) if (flags[r - start] === 1) bits |= 1 << (r & 31);
    if (mask === -1) v[w] = bits;
    else {
      Atomics.and(v, w, ~mask | bits);
      Atomics.or(v, w, bits);
    }
    row = hi;
  }
}

// ------------------------------------------------------------------ cells

/** The value of one cell: null when null; Date for datetimes; bigint for 64-bit integers. */
export function readCell(c: Col, row: number): unknown {
  if (!isValid(c, row)) return null;
  switch (c.kind) {
    case 'fixed': {
      const dt = c.dt;
      if (dt.kind === 'S')
        return readFixedBytes(c.data as Uint8Array, row * dt.itemsize, dt.itemsize);
      const v = c.data[row] as number | bigint;
      if (dt.kind === 'b') return v !== 0;
      if (dt.kind === 'M') return datetimeToDate(v as bigint, dt.unit ?? 'ms');
      return v;
    }
    case 'utf8': {
      const o = c.data as Int32Array;
      return (c.bytes as Buffer).toString('utf8', o[row] as number, o[row + 1] as number);
    }
    default: {
      const code = c.data[row] as number;
      const label = (c.dict as Dictionary).label(code);
      if (label === undefined) {
        throw new CorruptError(
          `Row ${row} of category column ${JSON.stringify(c.name)} holds code ${code}, ` +
            `outside its dictionary of ${(c.dict as Dictionary).size} labels (codes written directly?)`,
        );
      }
      return label;
    }
  }
}

/** Why utf8 cells cannot be rewritten, and what to use instead. */
export function immutableUtf8(c: Col, where: string): InvalidArgumentError {
  return new InvalidArgumentError(
    `Cannot set ${where}: utf8 column ${JSON.stringify(c.name)} is immutable once written ` +
      `(its strings are packed end to end). Use a '|S<n>' column (fixed width) or a 'category' ` +
      `column for values you change in place; appending new rows is allowed.`,
  );
}

/**
 * Writes one committed cell in place (numbers, booleans, datetimes, |S<n>, category labels) or
 * null. The value is checked before anything is written, so a bad value changes nothing.
 */
export function writeCell(c: Col, row: number, value: unknown, where: string): void {
  if (value === null || value === undefined) {
    writeNull(c, row);
    return;
  }
  if (c.kind === 'utf8') throw immutableUtf8(c, where);
  if (c.kind === 'category') {
    const code = (c.dict as Dictionary).codeOf(value, where);
    (c.data as Int32Array)[row] = code;
    setValid(c, row, true);
  } else {
    if (typeof value === 'string') checkUnicode(value, where);
    writeElement(c.dt, c.data, row, value, where);
    // An invalid Date is NaT, which is null (as in pandas).
    setValid(c, row, !(c.dt.kind === 'M' && c.data[row] === kNaT));
  }
  if (c.isIndex) Atomics.add(c.words, C_EDITS, 1);
}

/**
 * Marks a cell null; its stored value becomes NaN, NaT, code -1, or zero (a utf8 cell keeps its
 * bytes, which nothing reads any more).
 */
export function writeNull(c: Col, row: number): void {
  setValid(c, row, false);
  if (c.isIndex) Atomics.add(c.words, C_EDITS, 1);
  if (c.kind === 'utf8') return;
  const dt = c.dt;
  if (c.kind === 'category') (c.data as Int32Array)[row] = -1;
  else if (dt.kind === 'S')
    (c.data as Uint8Array).fill(0, row * dt.itemsize, (row + 1) * dt.itemsize);
  else if (dt.kind === 'f') c.data[row] = NaN;
  else if (dt.kind === 'M') c.data[row] = kNaT;
  else c.data[row] = dt.bigint ? 0n : 0;
}

// ------------------------------------------------------------------ per-thread store cache

const stores = new Map<string, WeakRef<FrameStore>>();
const forget = new FinalizationRegistry<string>((key) => {
  if (stores.get(key)?.deref() === undefined) stores.delete(key);
});
/**
 * The stores used last, held strongly: a pool worker attaches the same frame for every task and
 * closes it after, and a store held only by its WeakRef went with the next full collection, so a
 * 5000-column frame rebuilt its layout (about a millisecond) every few tasks.
 */
const kRecentStores = 8;
const recent: FrameStore[] = [];

function keep(store: FrameStore): void {
  if (recent[0] === store) return;
  const at = recent.indexOf(store);
  if (at > 0) recent.splice(at, 1);
  else if (recent.length >= kRecentStores) recent.pop();
  recent.unshift(store);
}

/**
 * The store of block (heap, unit, generation) in this thread: attaching the same frame again
 * (a pool task per item, say) reuses its checked layout and views instead of rebuilding them.
 * A (unit, generation) pair names one allocation, so a cached store never outlives its block's
 * identity; the caller holds a reference, so the block is alive.
 */
export function storeFor(
  heapId: number,
  unit: number,
  generation: number,
  buffer: SharedArrayBuffer,
  byteOffset: number,
  byteLength: number,
): FrameStore {
  const key = `${heapId}:${unit}:${generation}`;
  const hit = stores.get(key)?.deref();
  if (hit !== undefined) {
    keep(hit);
    return hit;
  }
  const store = FrameStore.open(buffer, byteOffset, byteLength);
  stores.set(key, new WeakRef(store));
  forget.register(store, key);
  keep(store);
  return store;
}
