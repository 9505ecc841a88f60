import type * as ArrowNS from 'apache-arrow';
import { BlockRef } from '../heap/block-ref.js';
import type { Handle } from '../heap/handle.js';
import type { Heap } from '../heap/heap.js';
import { KindCode, kShare, registerKind } from '../heap/kinds.js';
import { InvalidArgumentError, ShapeError, describe } from '../errors.js';
import type { SharedArray } from '../array/shared-array.js';
import type { TypedArray } from '../array/dtype.js';
import { DtypeError } from '../errors.js';
import { appendInput } from './append.js';
import {
  filterRows,
  isNA,
  reduceColumn,
  sortRows,
  type ReduceOptions,
  type ReduceValue,
  type Rows,
  type SortOptions,
} from './compute.js';
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
import { parseSchema, type Schema, type SchemaInput } from './schema.js';
import type {
  AppendColumnsOf,
  AppendRowOf,
  ColumnName,
  DtypeAt,
  FrameCell,
  FrameCellOf,
  FrameColumn,
  FrameColumnOf,
  FrameJSONOf,
  FrameRow,
  FrameRowOf,
  FrameSchema,
  FrameSetOf,
  FromSchemaOf,
  SchemaOf,
  ValuesDtypeOf,
} from './schema-types.js';
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
export type {
  FrameCell,
  FrameCellOf,
  FrameColumn,
  FrameColumnOf,
  FrameInputOf,
  FrameJSONOf,
  FrameRow,
  FrameRowOf,
  FrameSchema,
  SchemaOf,
} from './schema-types.js';
export type { ReduceOptions, ReduceValue, SortOptions } from './compute.js';

const kBrand = Symbol.for('shmframe.SharedFrame');
const kKind = 'frame';

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
 *
 * @typeParam S - the schema, `{ name: dtype }` (`{ x: 'f8'; s: 'utf8' }`): it types `col`, `get`,
 *   `set`, rows and `append`, and a name that is not a column does not compile. Inferred by the
 *   factories and `readDelimited` from literal dtypes; the default is the untyped frame.
 */
export class SharedFrame<S extends FrameSchema = FrameSchema> {
  readonly #ref: BlockRef;
  readonly #store: FrameStore;
  readonly #view: FrameView;
  /** Shown column indices. */
  readonly #cols: readonly number[];
  readonly #space: RowSpace;
  /** A view that shares its parent's reference (`head`, `tail`): `close()` does nothing. */
  readonly #borrowed: boolean;
  #borrowedHandle: Handle<FrameView> | undefined;

  private constructor(
    ref: BlockRef,
    store: FrameStore,
    view: FrameView = { start: 0 },
    borrowed = false,
  ) {
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
    this.#borrowed = borrowed;
    ref.track(this);
  }

  // ------------------------------------------------------------------ factories

  static #wrap<T extends FrameSchema>(parts: FrameParts): SharedFrame<T> {
    return new SharedFrame<T>(parts.ref, parts.store);
  }

  /**
   * An empty frame (or `length` zero-filled rows) with room for `capacity` rows. Frames never
   * grow: size `capacity` (and `stringBytes` for utf8 columns) for every row you will append.
   * A schema written as a literal types the frame: `col('id')` is an Int32Array below.
   * @example
   * const f = SharedFrame.create({ id: 'i4', name: 'utf8', city: 'category' }, { capacity: 1000 });
   * f.append({ id: 1, name: 'Ada', city: 'London' });
   */
  static create<const Spec extends SchemaInput>(
    schema: Spec,
    options: FrameOptions,
  ): SharedFrame<SchemaOf<Spec>> {
    return SharedFrame.#wrap(createParts(schema, options));
  }

  /**
   * A frame holding a copy of `columns`. dtypes come from `schema`, else from TypedArrays (and
   * SharedArrays), else from the values: number f8, bigint i8, boolean bool, string utf8, Date
   * M8[ms]; null and undefined are nulls. TypeScript infers the same dtypes.
   * @example SharedFrame.from({ x: new Float64Array([1, 2]), s: ['a', null] }, { schema: { s: 'category' } })
   */
  static from<
    C extends Record<string, ArrayLike<unknown> | TypedArray | SharedArray>,
    const Spec extends SchemaInput | undefined = undefined,
  >(columns: C, options?: FromOptions & { schema?: Spec }): SharedFrame<FromSchemaOf<C, Spec>> {
    return SharedFrame.#wrap(fromColumnsParts(columns, options));
  }

  /**
   * A frame from row objects (columns in order of first appearance; a missing key is null).
   * @example SharedFrame.fromRecords([{ a: 1, b: 'x' }, { a: 2 }])
   */
  static fromRecords(rows: readonly Record<string, unknown>[], options?: FromOptions): SharedFrame {
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
   * Throws SHMFRAME_ERR_CLOSED if the frame was freed meanwhile. The frame's schema is not in
   * the handle's type: give it as a type argument (`attach<{ x: 'f8' }>(h)`, unchecked) or as
   * `schema`, which types the frame and is checked (SHMFRAME_ERR_DTYPE if a column is missing
   * or of another dtype; the frame may have more columns).
   * @example parentPort.on('message', (h) => { const f = SharedFrame.attach(h); ...; f.close(); });
   * @example const f = SharedFrame.attach(h, { schema: { x: 'f8', name: 'utf8' } }); // col('x'): Float64Array
   */
  static attach<const Spec extends SchemaInput = FrameSchema>(
    handle: Handle | string,
    options?: { schema?: Spec },
  ): SharedFrame<SchemaOf<Spec>> {
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
      const view = checkView(h.view, store);
      if (options?.schema !== undefined) checkSchema(store, view, options.schema);
      return new SharedFrame(ref, store, view);
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
   * In a typed frame the type follows the dtype (`'f8'`: Float64Array). A TypedArray shows the
   * rows that exist now; call `col` again after appends.
   * @example
   * const x = frame.col('x');           // Float64Array over the shared memory
   * x.forEach((v, i) => (x[i] = v * 2));
   */
  col<K extends ColumnName<S>>(name: K): FrameColumnOf<DtypeAt<S, K>> {
    const c = this.#colOf(name);
    let out: FrameColumn;
    if (c.kind === 'utf8') out = new Utf8Column(this.#space, c);
    else if (c.kind === 'category') out = new CategoryColumn(this.#space, c);
    else if (c.dt.kind === 'S') out = new BytesColumn(this.#space, c);
    else {
      const start = this.#view.start;
      out = c.data.subarray(start, start + this.length) as TypedArray;
      this.#ref.track(out);
    }
    return out as FrameColumnOf<DtypeAt<S, K>>;
  }

  /**
   * One cell: number, bigint (64-bit integers), boolean, string, Date, or null for a null cell
   * (in a typed frame: `number | null` for an f8 column, `string | null` for utf8...).
   * @example frame.get(-1, 'name') // the last row's name
   */
  get<K extends ColumnName<S>>(row: number, col: K): FrameCellOf<DtypeAt<S, K>> {
    const c = this.#colOf(col);
    return readCell(c, this.#row(row)) as FrameCellOf<DtypeAt<S, K>>;
  }

  /**
   * Writes one cell in place (null clears it). utf8 cells are immutable (use |S<n> or category;
   * a typed frame accepts only null for them); a value that does not fit its dtype is refused and
   * nothing changes.
   * @example frame.set(0, 'city', 'Paris'); frame.set(1, 'price', null);
   */
  set<K extends ColumnName<S>>(row: number, col: K, value: FrameSetOf<DtypeAt<S, K>>): void {
    const c = this.#colOf(col);
    const r = this.#row(row);
    writeCell(c, r, value, `row ${row} of column ${JSON.stringify(c.name)}`);
  }

  /**
   * True when the cell is null (its validity bit is clear).
   * @example frame.isNull(1, 'd2') // true for a null, false for a NaN value
   */
  isNull(row: number, col: ColumnName<S>): boolean {
    const c = this.#colOf(col);
    return !isValid(c, this.#row(row));
  }

  /**
   * Marks a cell null (any column, utf8 included); floats also become NaN, datetimes NaT.
   * @example frame.setNull(3, 'price')
   */
  setNull(row: number, col: ColumnName<S>): void {
    const c = this.#colOf(col);
    writeNull(c, this.#row(row));
  }

  /**
   * Row `i` (negative counts from the end) as a plain object.
   * @example frame.row(0) // { id: 1, name: 'Ada', when: 2024-01-02T00:00:00.000Z }
   */
  row(i: number): FrameRowOf<S> {
    this.#check();
    return this.#rowAt(this.#row(i));
  }

  #rowAt(r: number): FrameRowOf<S> {
    const out: FrameRow = {};
    for (const i of this.#cols) {
      const c = this.#store.column(i);
      out[c.name] = readCell(c, r) as FrameCell;
    }
    return out as FrameRowOf<S>;
  }

  /**
   * Iterates the rows that exist when iteration starts, as plain objects.
   * @example for (const { id, name } of frame.rows()) console.log(id, name);
   */
  *rows(): IterableIterator<FrameRowOf<S>> {
    const n = this.length;
    for (let i = 0; i < n; i++) yield this.#rowAt(this.#view.start + i);
  }

  /**
   * The same as {@link rows}: a frame is iterable, row by row, as plain objects (the rows that
   * exist when iteration starts).
   * @example const all = [...frame]; // [{ x: 1, s: 'a' }, ...]
   */
  [Symbol.iterator](): IterableIterator<FrameRowOf<S>> {
    return this.rows();
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
  loc(label: unknown): FrameRowOf<S> {
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
  append(rowsOrColumns: AppendRowOf<S> | readonly AppendRowOf<S>[] | AppendColumnsOf<S>): number {
    this.#check();
    const v = this.#view;
    if (v.columns !== undefined || v.end !== undefined || v.start !== 0)
      throw new InvalidArgumentError(
        'Cannot append through a view (select/slice/head/tail): append to the whole frame',
      );
    return appendInput(this.#store, rowsOrColumns);
  }

  // ------------------------------------------------------------------ views

  #sub<T extends FrameSchema>(view: FrameView, borrowed = false): SharedFrame<T> {
    this.#check();
    return new SharedFrame<T>(borrowed ? this.#ref : this.#ref.dup(), this.#store, view, borrowed);
  }

  /**
   * A view of some columns, in the given order, sharing memory (close it too).
   * @example using pair = frame.select(['col1', 'col2']);
   */
  select<K extends ColumnName<S>>(names: readonly K[]): SharedFrame<Pick<S, K>> {
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

  #rowsView(start: number, end: number | undefined, borrowed: boolean): SharedFrame<S> {
    const n = this.length;
    const norm = (x: number, what: string): number => {
      if (!Number.isInteger(x))
        throw new ShapeError(`Expected \`${what}\` to be an integer, got ${describe(x)}`);
      return Math.min(n, Math.max(0, x < 0 ? x + n : x));
    };
    const s = norm(start, 'start');
    const e = Math.max(s, end === undefined ? n : norm(end, 'end'));
    const v = this.#view;
    return this.#sub(
      {
        ...(v.columns === undefined ? {} : { columns: v.columns.slice() }),
        start: v.start + s,
        end: v.start + e,
      },
      borrowed,
    );
  }

  /**
   * A view of rows [start, end) (negative counts from the end; clamped like Array.slice). Its
   * rows are fixed; it holds its own reference: close it too. It prints with the rows' positions
   * in this frame.
   * @param start @default 0
   * @param end @default the frame's length
   * @example using last10 = frame.slice(-10);
   */
  slice(start = 0, end?: number): SharedFrame<S> {
    return this.#rowsView(start, end, false);
  }

  #count(n: unknown): number {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0)
      throw new InvalidArgumentError(
        `Expected \`n\` to be a non-negative integer, got ${describe(n)}`,
      );
    return n;
  }

  /**
   * The first `n` rows as a frame view (pandas' `df.head()`): `console.log(frame.head())` prints
   * them. The view borrows this frame's reference: it needs no `close()` (calling it does
   * nothing) and reports closed once this frame is; `slice(0, n)` is the view that holds its own.
   * @param n @default 5
   * @example console.log(frame.head(3));
   */
  head(n = 5): SharedFrame<S> {
    return this.#rowsView(0, this.#count(n), true);
  }

  /**
   * The last `n` rows as a frame view (pandas' `df.tail()`), printed with their positions in
   * this frame. Like {@link head}, it borrows this frame's reference (no `close()` needed).
   * @param n @default 5
   * @example console.log(frame.tail(3)); // rows n-3, n-2, n-1
   */
  tail(n = 5): SharedFrame<S> {
    const len = this.length;
    return this.#rowsView(Math.max(0, len - this.#count(n)), len, true);
  }

  /**
   * The shown columns as one zero-copy 2-D SharedArray of shape [length, columns], column-major
   * (element strides [1, column stride]). The columns must share one fixed-width dtype and be
   * evenly spaced in schema order among that dtype's columns (any run in schema order is): no
   * silent copy. Nulls read as their stored value (NaN for floats, 0 for integers).
   * @example frame.select(['col1', 'col2']).values()  // shape [n, 2], writes reach the frame
   */
  values(): SharedArray<ValuesDtypeOf<S>, 2> {
    this.#check();
    return valuesArray(
      this.#ref,
      this.#store,
      this.columns,
      this.#cols,
      this.#view.start,
      this.length,
    ) as SharedArray<ValuesDtypeOf<S>, 2>;
  }

  // ------------------------------------------------------------------ computing (compute.ts)

  #rows(): Rows {
    this.#check();
    return { store: this.#store, cols: this.#cols, start: this.#view.start, length: this.length };
  }

  #reduce(
    op: 'sum' | 'mean' | 'min' | 'max' | 'count',
    name: string,
    options?: ReduceOptions,
  ): ReduceValue {
    const c = this.#colOf(name);
    return reduceColumn(c, this.#view.start, this.length, op, options);
  }

  /**
   * The sum of a number or bool column's non-null values (0 when there are none): a number, or
   * an exact bigint for 64-bit integer columns. A NaN value makes it NaN unless `skipNaN`.
   * @example frame.sum('price', { skipNaN: true })
   */
  sum(name: ColumnName<S>, options?: ReduceOptions): number | bigint {
    return this.#reduce('sum', name, options) as number | bigint;
  }

  /**
   * The mean of a number or bool column's non-null values, or null when there are none.
   * @example frame.mean('pct')
   */
  mean(name: ColumnName<S>, options?: ReduceOptions): number | null {
    return this.#reduce('mean', name, options) as number | null;
  }

  /**
   * The least non-null value of any column (as `get` returns it: number, bigint, boolean,
   * Date, string), or null when there is none. NaN if a value is NaN, unless `skipNaN`. In a
   * typed frame its type is the column's `get` type (`Date | null` for a datetime column).
   * @example frame.min('when') // a Date
   */
  min<K extends ColumnName<S>>(name: K, options?: ReduceOptions): FrameCellOf<DtypeAt<S, K>> {
    return this.#reduce('min', name, options) as FrameCellOf<DtypeAt<S, K>>;
  }

  /**
   * The greatest non-null value of any column, or null when there is none (see {@link min}).
   * @example frame.max('pos')
   */
  max<K extends ColumnName<S>>(name: K, options?: ReduceOptions): FrameCellOf<DtypeAt<S, K>> {
    return this.#reduce('max', name, options) as FrameCellOf<DtypeAt<S, K>>;
  }

  /**
   * The number of non-null values of a column (NaN values excluded too with `skipNaN`).
   * @example frame.count('d2') // pandas' df['d2'].count() is frame.count('d2', { skipNaN: true })
   */
  count(name: ColumnName<S>, options?: ReduceOptions): number {
    return this.#reduce('count', name, options) as number;
  }

  /**
   * True when the cell is null or holds NaN (pandas' `isna`); {@link isNull} is null only.
   * @example frame.isna(1, 'd2')
   */
  isna(row: number, col: ColumnName<S>): boolean {
    const c = this.#colOf(col);
    return isNA(c, this.#row(row));
  }

  /**
   * A new frame (a new block in the same heap, capacity = its rows) of the rows whose `mask`
   * value is truthy: a mask is one value per row (an array, a TypedArray such as a bool
   * column's `col()`), or a function of the row position. Every column kind is copied, nulls
   * kept; the index column stays the index. It has this frame's (or view's) columns and type.
   * Close it too.
   * @example
   * const x = frame.col('x');
   * using big = frame.filter((i) => x[i] > 0.4);
   */
  filter(mask: ArrayLike<unknown> | ((row: number) => unknown)): SharedFrame<S> {
    return SharedFrame.#wrap<S>(filterRows(this.#rows(), mask, this.#ref.heap));
  }

  /**
   * A new frame (a new block in the same heap) of the rows sorted by one column or several:
   * stable, nulls and NaN last (pandas' `sort_values`), strings in JS order (category columns
   * by label). It has this frame's (or view's) columns and type. Close it too.
   * @example using byPct = frame.sortBy('pct', { descending: true }); // byPct.head(10)
   */
  sortBy(names: ColumnName<S> | readonly ColumnName<S>[], options?: SortOptions): SharedFrame<S> {
    return SharedFrame.#wrap<S>(sortRows(this.#rows(), names, options, this.#ref.heap));
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

  // ------------------------------------------------------------------ display and JSON

  /**
   * The columns as JS arrays, for `JSON.stringify(frame)`: `{ x: [1, 2], s: ['a', null] }`.
   * Nulls are null; 64-bit integers are strings (JSON has no bigint, and a number would lose
   * digits past 2^53); datetimes are ISO strings (NaT null); NaN and infinities are numbers here,
   * which `JSON.stringify` writes as null.
   * @example JSON.stringify(SharedFrame.from({ x: [1, 2] })) // '{"x":[1,2]}'
   */
  toJSON(): FrameJSONOf<S> {
    this.#check();
    const out: Record<string, unknown[]> = {};
    const n = this.length;
    for (const i of this.#cols) {
      const c = this.#store.column(i);
      const values = new Array<unknown>(n);
      for (let r = 0; r < n; r++) values[r] = jsonCell(readCell(c, this.#view.start + r));
      out[c.name] = values;
    }
    return out as FrameJSONOf<S>;
  }

  /**
   * An aligned table like pandas prints: names, dtypes, rows labelled by their position in the
   * frame (a slice or tail shows the frame's row numbers), long and wide frames truncated (see
   * {@link DisplayOptions}). `console.log(frame)` prints the same.
   * @example frame.toString({ width: 200 })
   */
  toString(options?: DisplayOptions): string {
    if (this.closed) return 'SharedFrame (closed)';
    const cols = this.#cols.map((i) => this.#store.column(i));
    const v = this.#view;
    const n = this.length;
    const total = this.#store.length();
    const s = (k: number, what: string): string => `${k} ${what}${k === 1 ? '' : 's'}`;
    const rowsPart =
      v.start === 0 && v.end === undefined
        ? s(n, 'row')
        : `${s(n, 'row')}${n > 0 ? ` (${v.start}-${v.start + n - 1} of ${total})` : ''}`;
    const all = this.#store.layout.columns.length;
    const colsPart =
      v.columns === undefined ? s(cols.length, 'column') : `${cols.length} of ${s(all, 'column')}`;
    const whole = v.start === 0 && v.end === undefined && v.columns === undefined;
    return formatTable(
      {
        names: cols.map((c) => c.name),
        dtypes: cols.map((c) => c.dtype),
        length: n,
        firstLabel: v.start,
        cell: (r, c) => readCell(cols[c]!, v.start + r),
        footer: whole
          ? `[SharedFrame: ${rowsPart} x ${colsPart}; capacity ${this.capacity}]`
          : `[SharedFrame view: ${rowsPart} x ${colsPart}]`,
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
    if (!this.#borrowed) return this.#ref.reuseHandle(() => this[kShare]());
    // A borrowed view shares its parent's reference, and so its handle cache: keep its own.
    const h = this.#borrowedHandle;
    if (h !== undefined && isOutstanding(this.#ref, h)) return h;
    return (this.#borrowedHandle = this[kShare]());
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
   * On a view from `head` or `tail`, which borrows its frame's reference, it does nothing.
   * @example { using f = SharedFrame.attach(handle); ... } // closed at the end of the block
   */
  close(): void {
    if (!this.#borrowed) this.#ref.release();
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

/** True while a handle made earlier has not been attached yet. */
function isOutstanding(ref: BlockRef, h: Handle<unknown>): boolean {
  return ref.core.tickets.isOutstanding({ slot: h.ticket, serial: h.serial }, h.unit);
}

/** A cell as JSON has it: bigint as a string, a Date as an ISO string (NaT: null). */
function jsonCell(v: unknown): unknown {
  if (typeof v === 'bigint') return String(v);
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  return v;
}

/** `attach`'s `schema`: every named column is shown by the view and has that dtype. */
function checkSchema(store: FrameStore, view: FrameView, schema: unknown): void {
  const shown = (view.columns ?? store.layout.columns.map((_, i) => i)).map(
    (i) => store.layout.columns[i]!,
  );
  for (const { name, type } of parseSchema(schema, 'schema')) {
    const c = shown.find((col) => col.name === name);
    if (c === undefined || c.type.dtype !== type.dtype)
      throw new DtypeError(
        `Expected the attached frame to have a column ${JSON.stringify(name)} of dtype ${type.dtype} ` +
          `(attach's \`schema\`), got ${c === undefined ? 'no such column' : c.type.dtype}: its columns are ` +
          shown.map((col) => `${col.name} ${col.type.dtype}`).join(', '),
      );
  }
}

registerKind({ name: kKind, code: KindCode.frame, attach: (h) => SharedFrame.attach(h) });
