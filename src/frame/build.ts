/**
 * Factory plumbing shared by `create`, `from`, `fromRecords` and `fromArrow`: option checks,
 * default sizes of string and dictionary regions, and staging of `from`'s input columns (done
 * before the block is allocated, so that sizes can be measured and bad input allocates nothing).
 */
import { InvalidArgumentError, ShapeError, describe } from '../errors.js';
import { Heap } from '../heap/heap.js';
import { dtypeOfTypedArray } from '../array/dtype.js';
import { SharedArray } from '../array/shared-array.js';
import type { ColumnRequest } from './layout.js';
import {
  checkRows,
  columnType,
  inferColumnType,
  kMaxRows,
  parseSchema,
  type ColumnType,
  type SchemaInput,
} from './schema.js';
import { stage, type Staged } from './stage.js';

/** A per-column size: one number for every column of that kind, or `{ column: size }`. */
export type PerColumn = number | Readonly<Record<string, number>>;

/** Options of {@link SharedFrame.create}. */
export interface FrameOptions {
  /** Rows the frame can hold; it never grows. Required unless `length` is given. */
  capacity?: number;
  /**
   * Rows that exist from the start, zero-filled (numbers 0, booleans false, datetimes at the epoch,
   * `|S<n>` empty; utf8 and category cells null), for frames you fill with `set`.
   * @default 0
   */
  length?: number;
  /** A column whose values label the rows, for `loc(label)`. */
  index?: string;
  /** Heap to allocate in. @default Heap.default() */
  heap?: Heap;
  /**
   * Bytes of UTF-8 text each utf8 column can hold, in total over its rows (fixed at creation).
   * @default 16 bytes per row of capacity (at least 64); `from` measures its strings instead
   */
  stringBytes?: PerColumn;
  /** Distinct labels each category column can hold. @default capacity, between 16 and 65536 */
  categories?: PerColumn;
  /** Bytes of label text each category dictionary can hold. @default 16 per label of `categories` */
  categoryBytes?: PerColumn;
}

/** Options of {@link SharedFrame.from} and {@link SharedFrame.fromRecords}. */
export interface FromOptions extends Omit<FrameOptions, 'length' | 'capacity'> {
  /** dtypes for some or all columns (the others are inferred). */
  schema?: SchemaInput;
  /** Rows the frame can hold, for later appends. @default the number of rows given */
  capacity?: number;
}

export function checkOptions<T extends object>(options: unknown, what: string): T {
  if (options === undefined) return {} as T;
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new InvalidArgumentError(
      `Expected the options of ${what} to be an object, got ${describe(options)}`,
    );
  return options as T;
}

export function heapOf(options: { heap?: unknown }): Heap {
  if (options.heap === undefined) return Heap.default();
  if (!Heap.isHeap(options.heap))
    throw new InvalidArgumentError(`Expected \`heap\` to be a Heap, got ${describe(options.heap)}`);
  return options.heap;
}

function sizeFor(
  option: PerColumn | undefined,
  name: string,
  what: string,
  fallback: number,
): number {
  if (option === undefined) return fallback;
  const v = typeof option === 'number' ? option : option[name];
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || v < 0 || v > kMaxRows)
    throw new InvalidArgumentError(
      `Expected \`${what}\` to be an integer in [0, ${kMaxRows}], got ${describe(v)}`,
    );
  return v;
}

function checkPerColumnNames(options: FrameOptions, names: ReadonlySet<string>): void {
  for (const key of ['stringBytes', 'categories', 'categoryBytes'] as const) {
    const o = options[key];
    if (o === undefined || typeof o === 'number') continue;
    if (typeof o !== 'object' || o === null)
      throw new InvalidArgumentError(
        `Expected \`${key}\` to be a number or { column: number }, got ${describe(o)}`,
      );
    for (const name of Object.keys(o))
      if (!names.has(name))
        throw new InvalidArgumentError(
          `\`${key}\` names the unknown column ${JSON.stringify(name)}`,
        );
  }
}

/** Measured needs of one column (from staged values), used as defaults with headroom. */
export interface Measured {
  stringBytes?: number;
  labels?: number;
  labelBytes?: number;
}

/** Column requests with their region sizes: options first, then measured needs, then defaults. */
export function requestsFor(
  cols: ReadonlyArray<{ name: string; type: ColumnType }>,
  options: FrameOptions,
  capacity: number,
  rows: number,
  measured: readonly Measured[] = [],
): ColumnRequest[] {
  checkPerColumnNames(options, new Set(cols.map((c) => c.name)));
  const extra = capacity - rows;
  return cols.map((c, i) => {
    const m = measured[i] ?? {};
    const avg = rows > 0 && m.stringBytes !== undefined ? Math.ceil(m.stringBytes / rows) : 16;
    const strings =
      m.stringBytes === undefined ? Math.max(64, 16 * capacity) : m.stringBytes + avg * extra;
    const labels =
      m.labels === undefined
        ? Math.min(65536, Math.max(16, capacity))
        : Math.max(2 * m.labels, m.labels + 16);
    const labelBytes =
      m.labelBytes === undefined ? 16 * labels : Math.max(2 * m.labelBytes, m.labelBytes + 256);
    const categories = sizeFor(options.categories, c.name, 'categories', labels);
    return {
      name: c.name,
      type: c.type,
      stringBytes:
        c.type.kind === 'utf8'
          ? sizeFor(options.stringBytes, c.name, 'stringBytes', Math.min(kMaxRows, strings))
          : 0,
      categories: c.type.kind === 'category' ? categories : 0,
      categoryBytes:
        c.type.kind === 'category'
          ? sizeFor(
              options.categoryBytes,
              c.name,
              'categoryBytes',
              Math.min(kMaxRows, Math.max(labelBytes, 16 * categories)),
            )
          : 0,
    };
  });
}

/** Position of the `index` column, or -1. */
export function indexOf(index: unknown, names: readonly string[]): number {
  if (index === undefined) return -1;
  const i = typeof index === 'string' ? names.indexOf(index) : -1;
  if (i < 0)
    throw new InvalidArgumentError(
      `Expected \`index\` to name one of the columns ${JSON.stringify(names.slice(0, 20))}, got ${describe(index)}`,
    );
  return i;
}

/** `from`'s input, checked, typed and staged (nothing allocated yet). */
export interface Prepared {
  cols: Array<{ name: string; type: ColumnType }>;
  staged: Staged[];
  rows: number;
  measured: Measured[];
}

function isColumnSource(v: unknown): boolean {
  return (
    Array.isArray(v) ||
    (ArrayBuffer.isView(v) && !(v instanceof DataView)) ||
    SharedArray.isSharedArray(v)
  );
}

/** Checks, types and stages the columns given to `from`. */
export function prepareColumns(columns: unknown, options: FromOptions): Prepared {
  if (
    typeof columns !== 'object' ||
    columns === null ||
    Array.isArray(columns) ||
    ArrayBuffer.isView(columns)
  )
    throw new InvalidArgumentError(
      `Expected \`columns\` to be an object of { name: array or TypedArray }, got ${describe(columns)} ` +
        `(for an array of row objects, use SharedFrame.fromRecords)`,
    );
  return prepareEntries(Object.entries(columns as Record<string, unknown>), options);
}

/** Same as {@link prepareColumns}, from `[name, values]` pairs (keeps any key order). */
export function prepareEntries(entries: Array<[string, unknown]>, options: FromOptions): Prepared {
  const given = options.schema === undefined ? [] : parseSchema(options.schema);
  const schemaTypes = new Map(given.map((c) => [c.name, c.type]));
  const names = new Set(entries.map(([k]) => k));
  for (const c of given)
    if (!names.has(c.name))
      throw new InvalidArgumentError(
        `\`schema\` names the column ${JSON.stringify(c.name)}, which is not in \`columns\` ${JSON.stringify(entries.map(([k]) => k).slice(0, 20))}`,
      );
  // A schema listing every column sets the order; otherwise the columns' own order is kept.
  if (given.length === entries.length && given.length > 0) {
    const byName = new Map(entries);
    entries.splice(
      0,
      entries.length,
      ...given.map((c) => [c.name, byName.get(c.name)] as [string, unknown]),
    );
  }
  let rows = -1;
  let first = '';
  const sources = entries.map(([name, v]) => {
    if (!isColumnSource(v))
      throw new InvalidArgumentError(
        `Expected column ${JSON.stringify(name)} to be an array, a TypedArray or a 1-D SharedArray, got ${describe(v)}`,
      );
    let src = v as ArrayLike<unknown>;
    let dtype: string | undefined;
    if (SharedArray.isSharedArray(v)) {
      if (v.ndim !== 1)
        throw new ShapeError(
          `Column ${JSON.stringify(name)} is a SharedArray of shape [${v.shape.join(',')}]: expected 1-D`,
        );
      dtype = v.dtype;
      // Its TypedArray when that is exactly its elements; otherwise its values, one by one.
      const plain =
        v.isContiguous && !dtype.startsWith('|S') && dtype !== '|b1' && !dtype.startsWith('<M8');
      src = plain ? (v.data as ArrayLike<unknown>) : (v.toArray() as unknown[]);
    }
    if (rows < 0) {
      rows = src.length;
      first = name;
    } else if (src.length !== rows)
      throw new ShapeError(
        `Columns differ in length: ${JSON.stringify(first)} has ${rows} values, ${JSON.stringify(name)} has ${src.length}`,
      );
    return { name, src, dtype };
  });
  rows = Math.max(rows, 0);
  checkRows(rows, 'number of rows');
  const cols = sources.map(({ name, src, dtype }) => {
    const typed =
      dtype ??
      (ArrayBuffer.isView(src) ? dtypeOfTypedArray(src as ArrayBufferView)?.str : undefined);
    const type =
      schemaTypes.get(name) ??
      (typed !== undefined ? columnType(typed, name) : inferColumnType(src, name));
    return { name, type };
  });
  const staged = cols.map((c, k) => {
    const where = (i: number): string => `row ${i} of column ${JSON.stringify(c.name)}`;
    return stage(
      { kind: c.type.kind, dt: c.type.dt, name: c.name },
      (sources[k] as { src: ArrayLike<unknown> }).src,
      rows,
      where,
    );
  });
  const measured = staged.map((s): Measured => {
    if (s.bytes !== undefined) return { stringBytes: s.bytes.length };
    if (s.labels === undefined) return {};
    let labelBytes = 0;
    for (const l of s.labels) labelBytes += Buffer.byteLength(l);
    return { labels: s.labels.length, labelBytes };
  });
  return { cols, staged, rows, measured };
}

/** Turns row objects into columns (keys in order of first appearance; missing keys are null). */
export function recordsToColumns(
  rows: unknown,
  schema: SchemaInput | undefined,
): Array<[string, unknown[]]> {
  if (!Array.isArray(rows))
    throw new InvalidArgumentError(
      `Expected \`rows\` to be an array of objects, got ${describe(rows)}`,
    );
  const columns = new Map<string, unknown[]>();
  const order: string[] = [];
  const seen = new Set<string>();
  rows.forEach((r, i) => {
    if (typeof r !== 'object' || r === null || Array.isArray(r))
      throw new InvalidArgumentError(
        `Expected row ${i} to be an object of { column: value }, got ${describe(r)}`,
      );
    for (const k of Object.keys(r))
      if (!seen.has(k)) {
        seen.add(k);
        order.push(k);
      }
  });
  // Schema columns that no row has are all null.
  if (schema !== undefined)
    for (const c of parseSchema(schema))
      if (!seen.has(c.name)) {
        seen.add(c.name);
        order.push(c.name);
      }
  for (const name of order) columns.set(name, new Array<unknown>(rows.length));
  rows.forEach((r: Record<string, unknown>, i) => {
    for (const k of Object.keys(r)) (columns.get(k) as unknown[])[i] = r[k];
  });
  return order.map((name) => [name, columns.get(name) as unknown[]]);
}
