import type * as ArrowNS from 'apache-arrow';
import { BlockRef } from '../heap/block-ref.js';
import type { Handle } from '../heap/handle.js';
import type { Heap } from '../heap/heap.js';
import { KindCode, kShare, registerKind } from '../heap/kinds.js';
import { InvalidArgumentError, ShapeError, describe } from '../errors.js';
import type { SharedArray } from '../array/shared-array.js';
import type { TypedArray } from '../array/dtype.js';
import { appendInput } from './append.js';
import { loadArrow, toArrowTable, type ArrowModule } from './arrow.js';
import type { FrameOptions, FromOptions } from './build.js';
import { BytesColumn, CategoryColumn, Utf8Column, checkRow, type RowSpace } from './columns.js';
import { formatTable, type DisplayOptions } from './display.js';
import {
  createParts,
  fromArrowParts,
  fromColumnsParts,
  fromRecordsParts,
  type FrameParts,
} from './factory.js';
import { findLabel } from './index-map.js';
import type { Schema, SchemaInput } from './schema.js';
import {
  isValid,
  readCell,
  storeFor,
  writeCell,
  writeNull,
  type Col,
  type FrameStore,
} from './store.js';
import { checkView, valuesArray, type FrameView } from './view.js';
import { hasBrand } from '../util/brand.js';

export type { FrameOptions, FromOptions, PerColumn } from './build.js';
export type { DisplayOptions } from './display.js';
export type { Schema, SchemaInput } from './schema.js';
export type { ArrowModule } from './arrow.js';

const kBrand = Symbol.for('shmframe.SharedFrame');
const kKind = 'frame';

/** What `col(name)` returns: a TypedArray for numeric, bool and datetime columns. */
export type FrameColumn = TypedArray | Utf8Column | CategoryColumn | BytesColumn;

/** A row as a plain object: numbers, bigints (64-bit integers), booleans, strings, Dates, null. */
export type FrameRow = Record<string, unknown>;

/**
 * A columnar data frame in shared memory: mixed dtypes (numbers, booleans, datetimes, utf8,
 * fixed-width bytes, categories), validity bitmaps, an atomic length for concurrent appends, and
 * Arrow-compatible buffers. Every thread that attaches its handle sees (and may write) the same
 * memory: nothing is copied, unlike a pandas frame built over shared numpy arrays.
 *
 * @example
 * const f = SharedFrame.from({ col1: new Float64Array(10), name: ['a', 'b', ...] });
 * worker.postMessage(f.handle);      // worker: const f = SharedFrame.attach(handle)
 * f.col('col1')[0] = 2;              // a Float64Array view: every thread sees the write
 * f.values();                        // same-dtype columns as a zero-copy 2-D SharedArray
 * f.close();
 */
export class SharedFrame {
  readonly #ref: BlockRef;
  readonly #store: FrameStore;
  readonly #view: FrameView;
  /** Shown column indices. */
  readonly #cols: readonly number[];
  readonly #space: RowSpace;

  private constructor(ref: BlockRef, store: FrameStore, view: FrameView = { start: 0 }) {
    this.#ref = ref;
    this.#store = store;
    if (!store.threadGoneBound) {
      // Once per store (a store is of one heap): a closure per attach would keep the last
      // BlockRef alive and cost an allocation each time.
      const core = ref.core;
      store.threadGone = (tid) => core.isThreadGone(tid);
      store.threadGoneBound = true;
    }
    this.#view = view;
    this.#cols = view.columns ?? store.allColumns;
    this.#space = { store, start: view.start, rows: () => this.length };
    ref.track(this);
  }

  // ------------------------------------------------------------------ factories

  static #wrap(parts: FrameParts): SharedFrame {
    return new SharedFrame(parts.ref, parts.store);
  }

  /**
   * An empty frame (or `length` zero-filled rows) with room for `capacity` rows. Frames never
   * grow: size `capacity` (and `stringBytes` for utf8 columns) for every row you will append.
   * @example
   * const f = SharedFrame.create({ id: 'i4', name: 'utf8', city: 'category' }, { capacity: 1000 });
   * f.append({ id: 1, name: 'Ada', city: 'London' });
   */
  static create(schema: SchemaInput, options: FrameOptions): SharedFrame {
    return SharedFrame.#wrap(createParts(schema, options));
  }

  /**
   * A frame holding a copy of `columns`. dtypes come from `schema`, else from TypedArrays (and
   * SharedArrays), else from the values: number f8, bigint i8, boolean bool, string utf8, Date
   * M8[ms]; null and undefined are nulls.
   * @example SharedFrame.from({ x: new Float64Array([1, 2]), s: ['a', null] }, { schema: { s: 'category' } })
   */
  static from(
    columns: Record<string, ArrayLike<unknown> | TypedArray | SharedArray>,
    options?: FromOptions,
  ): SharedFrame {
    return SharedFrame.#wrap(fromColumnsParts(columns, options));
  }

  /**
   * A frame from row objects (columns in order of first appearance; a missing key is null).
   * @example SharedFrame.fromRecords([{ a: 1, b: 'x' }, { a: 2 }])
   */
  static fromRecords(rows: readonly FrameRow[], options?: FromOptions): SharedFrame {
    return SharedFrame.#wrap(fromRecordsParts(rows, options));
  }

  /**
   * A frame holding a copy of an apache-arrow Table (one copy, into the heap). Tables of any
   * apache-arrow copy or build work: the table is read by its structure. Columns: Int, Float
   * (not 16-bit), Bool, Utf8, LargeUtf8, Dictionary of Utf8, Date, Timestamp (time zones dropped:
   * values stay UTC), FixedSizeBinary.
   * @example const f = SharedFrame.fromArrow(tableFromIPC(bytes))
   */
  static fromArrow(table: ArrowNS.Table, options?: Omit<FromOptions, 'schema'>): SharedFrame {
    return SharedFrame.#wrap(fromArrowParts(table, options));
  }

  /**
   * Attaches a handle posted from another thread (or this one), adopting its reference.
   * Throws SHMFRAME_ERR_CLOSED if the frame was freed meanwhile.
   * @example parentPort.on('message', (h) => { const f = SharedFrame.attach(h); ...; f.close(); });
   */
  static attach(handle: Handle): SharedFrame {
    const { ref, handle: h } = BlockRef.adopt(handle, kKind, KindCode.frame, 'SharedFrame');
    try {
      const heap = ref.heap;
      const store = storeFor(
        heap.id,
        ref.unit,
        ref.generation,
        heap.buffer,
        ref.byteOffset,
        ref.byteLength,
      );
      return new SharedFrame(ref, store, checkView(h.view, store));
    } catch (err) {
      ref.release();
      throw err;
    }
  }

  /**
   * True for a SharedFrame from any copy of this module (`instanceof` fails across realms).
   * @example if (SharedFrame.isSharedFrame(x)) x.close();
   */
  static isSharedFrame(value: unknown): value is SharedFrame {
    return hasBrand(value, kBrand);
  }

  get [kBrand](): boolean {
    return true;
  }

  // ------------------------------------------------------------------ properties

  #check(): void {
    this.#ref.check('This SharedFrame');
  }

  /** Rows: committed rows of the frame (they grow as any thread appends), or a slice's rows. */
  get length(): number {
    this.#check();
    const v = this.#view;
    return v.end === undefined ? this.#store.length() - v.start : v.end - v.start;
  }

  /** Rows the frame can hold (a slice: its length). */
  get capacity(): number {
    return this.#view.end === undefined ? this.#store.capacity - this.#view.start : this.length;
  }

  /** Column names, in order. */
  get columns(): string[] {
    return this.#cols.map((i) => this.#store.layout.columns[i]!.name);
  }

  /** `[name, dtype]` pairs: numpy typestrs, `utf8`, `category`. Pass it to `create` for a twin. */
  get schema(): Schema {
    return Object.freeze(
      this.#cols.map((i) => {
        const c = this.#store.layout.columns[i]!;
        return Object.freeze([c.name, c.type.dtype] as const);
      }),
    );
  }

  /** The index column's name (for `loc`), if any. */
  get index(): string | undefined {
    const i = this.#store.layout.index;
    return i >= 0 && this.#cols.includes(i) ? this.#store.layout.columns[i]!.name : undefined;
  }

  get heap(): Heap {
    return this.#ref.heap;
  }

  get closed(): boolean {
    return this.#ref.released;
  }

  // ------------------------------------------------------------------ cells

  #colOf(name: unknown): Col {
    this.#check();
    return this.#store.col(name, this.#view.columns);
  }

  #row(row: unknown): number {
    return this.#view.start + checkRow(row, this.length);
  }

  /**
   * The column `name`: a TypedArray view of its rows for numeric, bool (Uint8Array of 0/1) and
   * datetime (BigInt64Array of counts) columns, or a column object for utf8, category and |S<n>.
   * A TypedArray shows the rows that exist now; call `col` again after appends.
   * @example
   * const x = frame.col('x');           // Float64Array over the shared memory
   * for (let i = 0; i < x.length; i++) x[i] *= 2;
   */
  col(name: string): FrameColumn {
    const c = this.#colOf(name);
    if (c.kind === 'utf8') return new Utf8Column(this.#space, c);
    if (c.kind === 'category') return new CategoryColumn(this.#space, c);
    if (c.dt.kind === 'S') return new BytesColumn(this.#space, c);
    const start = this.#view.start;
    const view = c.data.subarray(start, start + this.length) as TypedArray;
    this.#ref.track(view);
    return view;
  }

  /**
   * One cell: number, bigint (64-bit integers), boolean, string, Date, or null.
   * @example frame.get(-1, 'name') // the last row's name
   */
  get(row: number, col: string): unknown {
    const c = this.#colOf(col);
    return readCell(c, this.#row(row));
  }

  /**
   * Writes one cell in place (null clears it). utf8 cells are immutable (use |S<n> or category);
   * a value that does not fit its dtype is refused and nothing changes.
   * @example frame.set(0, 'city', 'Paris'); frame.set(1, 'price', null);
   */
  set(row: number, col: string, value: unknown): void {
    const c = this.#colOf(col);
    const r = this.#row(row);
    writeCell(c, r, value, `row ${row} of column ${JSON.stringify(c.name)}`);
  }

  /**
   * True when the cell is null (its validity bit is clear).
   * @example frame.isNull(1, 'd2') // true for a null, false for a NaN value
   */
  isNull(row: number, col: string): boolean {
    const c = this.#colOf(col);
    return !isValid(c, this.#row(row));
  }

  /**
   * Marks a cell null (any column, utf8 included); floats also become NaN, datetimes NaT.
   * @example frame.setNull(3, 'price')
   */
  setNull(row: number, col: string): void {
    const c = this.#colOf(col);
    writeNull(c, this.#row(row));
  }

  /**
   * Row `i` (negative counts from the end) as a plain object.
   * @example frame.row(0) // { id: 1, name: 'Ada', when: 2024-01-02T00:00:00.000Z }
   */
  row(i: number): FrameRow {
    this.#check();
    return this.#rowAt(this.#row(i));
  }

  #rowAt(r: number): FrameRow {
    const out: FrameRow = {};
    for (const i of this.#cols) {
      const c = this.#store.column(i);
      out[c.name] = readCell(c, r);
    }
    return out;
  }

  /**
   * Iterates the rows that exist when iteration starts, as plain objects.
   * @example for (const { id, name } of frame.rows()) console.log(id, name);
   */
  *rows(): IterableIterator<FrameRow> {
    const n = this.length;
    for (let i = 0; i < n; i++) yield this.#rowAt(this.#view.start + i);
  }

  /**
   * The position of `label` in the index column, or -1. A duplicated label is
   * SHMFRAME_ERR_INVALID_ARG naming it.
   * @example if (frame.indexOf('Idx-7') >= 0) ...
   */
  indexOf(label: unknown): number {
    this.#check();
    const index = this.#store.layout.index;
    if (index < 0 || !this.#cols.includes(index))
      throw new InvalidArgumentError(
        'This frame has no index column: create it with { index: name } to look rows up by label',
      );
    const v = this.#view;
    const end = v.end ?? this.#store.length();
    const r = findLabel(this.#store, end, label);
    return r >= v.start && r < end ? r - v.start : -1;
  }

  /**
   * The row labelled `label` in the index column (pandas' `df.loc[label]`), as a plain object.
   * The label -> row table is built lazily in each thread. A missing or duplicated label is
   * SHMFRAME_ERR_INVALID_ARG.
   * @example const row = frame.loc('Idx-42');
   */
  loc(label: unknown): FrameRow {
    const r = this.indexOf(label);
    if (r < 0)
      throw new InvalidArgumentError(
        `Label ${describe(label)} is not in the index column ${JSON.stringify(this.index)}`,
      );
    return this.#rowAt(this.#view.start + r);
  }

  // ------------------------------------------------------------------ appending

  /**
   * Appends one row (`{ column: value }`), several rows (an array of them) or columns
   * (`{ column: array }`), atomically with respect to every other appender in any thread.
   * Missing columns are null. Returns the position of the first appended row. Past capacity:
   * SHMFRAME_ERR_HEAP_FULL; a bad value: an error, and the frame is unchanged.
   * @example
   * frame.append({ id: 7, name: 'Ada' });
   * frame.append({ id: new Int32Array([8, 9]), name: ['Bo', null] });
   */
  append(
    rowsOrColumns: FrameRow | readonly FrameRow[] | Record<string, ArrayLike<unknown>>,
  ): number {
    this.#check();
    const v = this.#view;
    if (v.columns !== undefined || v.end !== undefined || v.start !== 0)
      throw new InvalidArgumentError(
        'Cannot append through a view (select/slice): append to the whole frame',
      );
    return appendInput(this.#store, rowsOrColumns);
  }

  // ------------------------------------------------------------------ views

  #sub(view: FrameView): SharedFrame {
    this.#check();
    return new SharedFrame(this.#ref.dup(), this.#store, view);
  }

  /**
   * A view of some columns, in the given order, sharing memory (close it too).
   * @example using pair = frame.select(['col1', 'col2']);
   */
  select(names: readonly string[]): SharedFrame {
    this.#check();
    if (!Array.isArray(names) || names.length === 0)
      throw new InvalidArgumentError(
        `Expected \`names\` to be a non-empty array of column names, got ${describe(names)}`,
      );
    const cols = names.map((n) => this.#colOf(n).index);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup !== undefined)
      throw new InvalidArgumentError(`Column ${JSON.stringify(dup)} is selected twice`);
    const v = this.#view;
    return this.#sub({
      columns: cols,
      start: v.start,
      ...(v.end === undefined ? {} : { end: v.end }),
    });
  }

  /**
   * A view of rows [start, end) (negative counts from the end; clamped like Array.slice). Its
   * rows are fixed; close it too.
   * @param start @default 0
   * @param end @default the frame's length
   * @example using last10 = frame.slice(-10);
   */
  slice(start = 0, end?: number): SharedFrame {
    const n = this.length;
    const norm = (x: number, what: string): number => {
      if (!Number.isInteger(x))
        throw new ShapeError(`Expected \`${what}\` to be an integer, got ${describe(x)}`);
      return Math.min(n, Math.max(0, x < 0 ? x + n : x));
    };
    const s = norm(start, 'start');
    const e = Math.max(s, end === undefined ? n : norm(end, 'end'));
    const v = this.#view;
    return this.#sub({
      ...(v.columns === undefined ? {} : { columns: v.columns.slice() }),
      start: v.start + s,
      end: v.start + e,
    });
  }

  /**
   * The shown columns as one zero-copy 2-D SharedArray of shape [length, columns], column-major
   * (element strides [1, column stride]). The columns must share one fixed-width dtype and be
   * evenly spaced in schema order among that dtype's columns (any run in schema order is): no
   * silent copy. Nulls read as their stored value (NaN for floats, 0 for integers).
   * @example frame.select(['col1', 'col2']).values()  // shape [n, 2], writes reach the frame
   */
  values(): SharedArray {
    this.#check();
    return valuesArray(
      this.#ref,
      this.#store,
      this.columns,
      this.#cols,
      this.#view.start,
      this.length,
    );
  }

  // ------------------------------------------------------------------ Arrow

  /**
   * An apache-arrow Table over the shared memory (no copy, except bool and M8[D] columns, which
   * Arrow lays out differently). Keep this frame open while the table is in use. Needs the
   * optional peer dependency apache-arrow (SHMFRAME_ERR_IO names what to install otherwise).
   * @example frame.toArrow().getChild('x').data[0].values.buffer === frame.heap.buffer // true
   */
  toArrow(options: { arrow?: ArrowModule } = {}): ArrowNS.Table {
    this.#check();
    const A = options.arrow ?? loadArrow('SharedFrame.toArrow()');
    const table = toArrowTable(A, this.#store, this.#cols, this.#view.start, this.length);
    // Like col() views: the garbage collector will not free the block while the table lives.
    this.#ref.track(table);
    return table;
  }

  // ------------------------------------------------------------------ display

  /**
   * The first `n` rows as an aligned table (a string).
   * @param n @default 5
   * @example console.log(frame.head(3));
   */
  head(n = 5): string {
    if (!Number.isInteger(n) || n < 0)
      throw new InvalidArgumentError(
        `Expected \`n\` to be a non-negative integer, got ${describe(n)}`,
      );
    return this.#format(Math.min(n, this.length), { maxRows: Number.MAX_SAFE_INTEGER });
  }

  /**
   * An aligned table like pandas prints: names, dtypes, rows (long and wide frames truncated;
   * see {@link DisplayOptions}). `console.log(frame)` prints the same.
   * @example frame.toString({ width: 200 })
   */
  toString(options?: DisplayOptions): string {
    if (this.closed) return 'SharedFrame (closed)';
    return this.#format(this.length, options);
  }

  #format(rows: number, options?: DisplayOptions): string {
    const cols = this.#cols.map((i) => this.#store.column(i));
    const total = this.length;
    return formatTable(
      {
        names: cols.map((c) => c.name),
        dtypes: cols.map((c) => c.dtype),
        length: rows,
        cell: (r, c) => readCell(cols[c]!, this.#view.start + r),
        footer: `[SharedFrame: ${total} row${total === 1 ? '' : 's'} x ${cols.length} column${cols.length === 1 ? '' : 's'}${rows < total ? `, first ${rows} shown` : ''}; capacity ${this.capacity}]`,
      },
      options,
    );
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  // ------------------------------------------------------------------ sharing and lifetime

  /**
   * A handle to post to another thread: a small plain object carrying the heap's buffer and one
   * reference, adopted by `SharedFrame.attach`. Reading it again before it was attached returns
   * the same handle.
   * @example worker.postMessage(frame.handle);
   */
  get handle(): Handle<FrameView> {
    this.#check();
    return this.#ref.reuseHandle(() => this[kShare]());
  }

  /** @internal A handle with a new reference on every call (used by Pool and queues). */
  [kShare](): Handle<FrameView> {
    const v = this.#view;
    const whole = v.columns === undefined && v.end === undefined && v.start === 0;
    return this.#ref.share(
      kKind,
      whole ? undefined : { ...v, ...(v.columns ? { columns: v.columns.slice() } : {}) },
    );
  }

  /**
   * Drops this thread's reference; the last one (in any thread) frees the memory. Idempotent.
   * @example { using f = SharedFrame.attach(handle); ... } // closed at the end of the block
   */
  close(): void {
    this.#ref.release();
  }

  /**
   * The same as {@link close}: drops this thread's reference. Every shared class has
   * `detach()`, the counterpart of `attach()` (on a SharedQueue, where `close()` closes the
   * queue for everyone, it is the only way to drop a reference).
   */
  detach(): void {
    this.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

registerKind({ name: kKind, code: KindCode.frame, attach: (h) => SharedFrame.attach(h) });
