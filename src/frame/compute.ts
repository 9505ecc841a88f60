/**
 * The few computations every frame user needs in the first hour, over the typed columns: column
 * reductions (`sum mean min max count`) that skip nulls (and NaN when asked), `filter(mask)` and
 * `sortBy(names)` returning new frames, and `isna`. Anything more (group-by, joins, windows) goes
 * through a dataframe library over `toArrow()`: see docs/compute.md.
 *
 * Reductions first check, from the validity bitmap's clear bits only, that every null cell holds
 * its fill (NaN, 0: what shmframe stores); then one plain loop does the work, so a column costs
 * about what a hand-written loop over `col()` does (bench/cases/compute.js). A value written into
 * a null cell through `col()` sends them to the slower path that reads every validity bit.
 * `filter` and `sortBy` gather the chosen rows into plain memory and append them to a new frame
 * in the same heap through the same path as `append` (writing a SharedArrayBuffer element by
 * element is 2-4x slower than a plain buffer on Node 20, so it is written once per column).
 */
import { DtypeError, InvalidArgumentError, ShapeError, describe } from '../errors.js';
import { datetimeToDate, type TypedArray } from '../array/dtype.js';
import type { Heap } from '../heap/heap.js';
import { appendStaged } from './append.js';
import { allocate, type FrameParts } from './factory.js';
import type { ColumnRequest } from './layout.js';
import { kMaxRows } from './schema.js';
import type { Staged } from './stage.js';
import { isValid, readCell, type Col, type FrameStore } from './store.js';

/** Options of the column reductions (`sum`, `mean`, `min`, `max`, `count`). */
export interface ReduceOptions {
  /**
   * Also skip NaN values of float columns, as pandas' `skipna` does. Nulls are always skipped;
   * a NaN you wrote is a value (Arrow's semantics), so by default it propagates: the sum, mean,
   * min and max of a column holding one are NaN.
   * @default false
   */
  skipNaN?: boolean;
}

/** Options of {@link sortRows}. */
export interface SortOptions {
  /** Largest first. Nulls (and NaN) stay last either way, as in pandas. @default false */
  descending?: boolean;
}

/** A value a reduction returns: what `get` returns for that column's dtype, or null. */
export type ReduceValue = number | bigint | boolean | string | Date | null;

/** The rows of a frame (or view) a computation reads. */
export interface Rows {
  store: FrameStore;
  /** Shown column indices. */
  cols: readonly number[];
  start: number;
  length: number;
}

type Op = 'sum' | 'mean' | 'min' | 'max' | 'count';

function checkReduceOptions(options: unknown, op: string): boolean {
  if (options === undefined) return false;
  if (typeof options !== 'object' || options === null)
    throw new InvalidArgumentError(
      `Expected the options of ${op}() to be an object like { skipNaN: true }, got ${describe(options)}`,
    );
  const skip = (options as ReduceOptions).skipNaN;
  if (skip !== undefined && typeof skip !== 'boolean')
    throw new InvalidArgumentError(`Expected \`skipNaN\` to be a boolean, got ${describe(skip)}`);
  return skip === true;
}

/** Non-null values in rows [start, end): the validity bits, counted a word at a time. */
function countValid(c: Col, start: number, end: number): number {
  const v = c.valid32;
  let n = 0;
  let r = start;
  while (r < end && (r & 31) !== 0) n += isValid(c, r++) ? 1 : 0;
  for (; r + 32 <= end; r += 32) {
    let w = v[r >>> 5] as number;
    w -= (w >>> 1) & 0x55555555;
    w = (w & 0x33333333) + ((w >>> 2) & 0x33333333);
    n += (Math.imul((w + (w >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) as number;
  }
  for (; r < end; r++) n += isValid(c, r) ? 1 : 0;
  return n;
}

// The loops of the common cases, as small functions of their own: V8 optimizes a function with
// its loop whole. (Inside sumNumbers, the loop was compiled on its own (on-stack replacement),
// and the cached loop code left the function at a cold operation on every call, several times
// slower than a plain loop; seen with `node --trace-deopt`.)
let kernelCount = 0; // the second result of sumSkippingNaN

function sumAll(d: Float64Array, start: number, end: number): number {
  let sum = 0;
  for (let r = start; r < end; r++) sum += d[r] as number;
  return sum;
}

function sumSkippingNaN(d: Float64Array, start: number, end: number): number {
  let sum = 0;
  let count = 0;
  for (let r = start; r < end; r++) {
    const x = d[r] as number;
    if (x === x) {
      sum += x;
      count++;
    }
  }
  kernelCount = count;
  return sum;
}

/**
 * Null rows in [start, end) when every one of them holds its column's null fill (NaN for floats,
 * 0 for integers and booleans: what `setNull`, appends and the factories store), else -1. A
 * TypedArray write from `col()` into a null cell breaks that; then the callers read the bitmap.
 */
function cleanNulls(c: Col, start: number, end: number): number {
  const v = c.valid32;
  const d = c.data as Float64Array;
  const isFloat = c.dt.kind === 'f';
  let nulls = 0;
  if (end <= start) return 0;
  for (let wi = start >>> 5; wi <= (end - 1) >>> 5; wi++) {
    const w = v[wi] as number;
    if (w === -1) continue;
    // The clear bits of the word that fall in [start, end), one at a time.
    const base = wi << 5;
    let z = ~w;
    if (base < start) z &= -1 << (start - base);
    if (end - base < 32) z &= (1 << (end - base)) - 1;
    while (z !== 0) {
      const r = base + 31 - Math.clz32(z & -z);
      z &= z - 1;
      const x = d[r] as number;
      if (isFloat ? x === x : x !== 0) return -1;
      nulls++;
    }
  }
  return nulls;
}

/**
 * Sum and count of the non-null (and, with skipNaN, non-NaN) values of a number column, adding
 * in row order. When the null cells hold their fill (the usual case), one plain pass: floats skip
 * NaN (so nulls) and count the NaN values there were, integers add their nulls' zeros. Otherwise a
 * validity word at a time.
 */
function sumNumbers(c: Col, start: number, end: number, skipNaN: boolean): [number, number] {
  if (end <= start) return [0, 0];
  const d = c.data as Float64Array;
  const nulls = cleanNulls(c, start, end);
  if (nulls >= 0) {
    // Integers add their nulls' zeros; floats without nulls propagate a NaN by themselves.
    if (c.dt.kind !== 'f' || (nulls === 0 && !skipNaN))
      return [sumAll(d, start, end), end - start - nulls];
    const sum = sumSkippingNaN(d, start, end);
    const count = kernelCount;
    // NaN values that are not nulls make the sum NaN unless they are skipped.
    const nans = end - start - count - nulls;
    if (skipNaN || nans === 0) return [sum, count];
    return [NaN, count + nans];
  }
  const v = c.valid32;
  let sum = 0;
  let count = 0;
  // A validity word at a time: all valid, the plain loop; none valid, skipped; else bit by bit.
  for (let wi = start >>> 5; wi <= (end - 1) >>> 5; wi++) {
    const w = v[wi] as number;
    if (w === 0) continue;
    const lo = Math.max(start, wi << 5);
    const hi = Math.min(end, (wi << 5) + 32);
    for (let r = lo; r < hi; r++) {
      if (((w >>> (r & 31)) & 1) === 0) continue;
      const x = d[r] as number;
      if (!skipNaN || x === x) {
        sum += x;
        count++;
      }
    }
  }
  return [sum, count];
}

/** Least or greatest non-null value of a number column; NaN if one is NaN (unless skipped). */
function extremeNumber(
  c: Col,
  start: number,
  end: number,
  skipNaN: boolean,
  max: boolean,
): number | null {
  const d = c.data as Float64Array;
  let best = max ? -Infinity : Infinity;
  let seen = false;
  // Float nulls hold NaN: skipped anyway when NaN is, so the bitmap need not be read.
  const skipNulls = !(skipNaN && c.dt.kind === 'f' && cleanNulls(c, start, end) >= 0);
  for (let r = start; r < end; r++) {
    if (skipNulls && !isValid(c, r)) continue;
    const x = d[r] as number;
    if (x !== x) {
      if (skipNaN) continue;
      return NaN;
    }
    seen = true;
    if (max ? x > best : x < best) best = x;
  }
  return seen ? best : null;
}

function sumBigints(c: Col, start: number, end: number): [bigint, number] {
  const d = c.data as BigInt64Array;
  let sum = 0n;
  let count = 0;
  for (let r = start; r < end; r++) {
    if (!isValid(c, r)) continue;
    sum += d[r] as bigint;
    count++;
  }
  return [sum, count];
}

function extremeBigint(c: Col, start: number, end: number, max: boolean): bigint | null {
  const d = c.data as BigInt64Array;
  let best: bigint | null = null;
  for (let r = start; r < end; r++) {
    if (!isValid(c, r)) continue;
    const x = d[r] as bigint;
    if (best === null || (max ? x > best : x < best)) best = x;
  }
  return best;
}

/** Least or greatest string of a utf8, category or |S<n> column (JS string order). */
function extremeString(c: Col, start: number, end: number, max: boolean): string | null {
  let best: string | null = null;
  if (c.kind === 'category') {
    // Compare each label once, then find which codes occur.
    const labels = c.dict!.labels();
    const used = new Uint8Array(labels.length);
    const codes = c.data as Int32Array;
    for (let r = start; r < end; r++) if (isValid(c, r)) used[codes[r] as number] = 1;
    labels.forEach((l, k) => {
      if (used[k] === 1 && (best === null || (max ? l > best : l < best))) best = l;
    });
    return best;
  }
  for (let r = start; r < end; r++) {
    const s = readCell(c, r) as string | null;
    if (s !== null && (best === null || (max ? s > best : s < best))) best = s;
  }
  return best;
}

function kindName(c: Col): string {
  return c.kind === 'fixed' ? c.dtype : c.kind;
}

/**
 * `op` over rows [start, start + n) of column `c`: the non-null values (and non-NaN ones with
 * `skipNaN`). sum: 0 when there are none (0n for 64-bit integers, exact); mean, min and max:
 * null when there are none.
 */
export function reduceColumn(
  c: Col,
  start: number,
  n: number,
  op: Op,
  options: unknown,
): ReduceValue {
  const skipNaN = checkReduceOptions(options, op);
  const end = start + n;
  const dt = c.dt;
  const numeric = c.kind === 'fixed' && dt.kind !== 'S' && dt.kind !== 'M';
  const isFloat = c.kind === 'fixed' && dt.kind === 'f';
  if (op === 'count') {
    if (!(isFloat && skipNaN)) return countValid(c, start, end);
    return sumNumbers(c, start, end, true)[1];
  }
  if (op === 'sum' || op === 'mean') {
    if (!numeric)
      throw new DtypeError(
        `${op}() needs a number or bool column; ${JSON.stringify(c.name)} is ${kindName(c)}. ` +
          `min(), max() and count() work on every column.`,
      );
    if (dt.bigint) {
      const [sum, count] = sumBigints(c, start, end);
      if (op === 'sum') return sum;
      return count === 0 ? null : Number(sum) / count;
    }
    const [sum, count] = sumNumbers(c, start, end, skipNaN);
    if (op === 'sum') return sum;
    return count === 0 ? null : sum / count;
  }
  const max = op === 'max';
  if (c.kind !== 'fixed' || dt.kind === 'S') return extremeString(c, start, end, max);
  if (dt.bigint) {
    const best = extremeBigint(c, start, end, max);
    return best !== null && dt.kind === 'M' ? datetimeToDate(best, dt.unit ?? 'ms') : best;
  }
  const best = extremeNumber(c, start, end, skipNaN, max);
  return best !== null && dt.kind === 'b' ? best === 1 : best;
}

/** True when the cell is null or holds NaN (pandas' `isna`). */
export function isNA(c: Col, row: number): boolean {
  if (!isValid(c, row)) return true;
  if (c.kind !== 'fixed' || c.dt.kind !== 'f') return false;
  const x = c.data[row] as number;
  return x !== x;
}

// ------------------------------------------------------------------ filter and sort

/** The positions (relative to `rows.start`) a mask or predicate keeps. */
function maskRows(rows: Rows, mask: unknown): Int32Array {
  const n = rows.length;
  if (typeof mask === 'function') {
    const keep: number[] = [];
    const f = mask as (row: number) => unknown;
    for (let i = 0; i < n; i++) if (f(i)) keep.push(i);
    return Int32Array.from(keep);
  }
  const isArrayLike =
    Array.isArray(mask) || (ArrayBuffer.isView(mask) && !(mask instanceof DataView));
  if (!isArrayLike)
    throw new InvalidArgumentError(
      `Expected \`mask\` to be an array or TypedArray of ${n} booleans (one per row; a bool column's ` +
        `col() works) or a function (row) => boolean, got ${describe(mask)}`,
    );
  const m = mask as ArrayLike<unknown>;
  if (m.length !== n)
    throw new ShapeError(
      `Expected \`mask\` to have one value per row (${n}), got ${m.length}` +
        (m.length > n ? ' (rows appended since the mask was built? build it from a slice)' : ''),
    );
  return truthyPositions(m, n);
}

/** The positions of the truthy values among m[0, n). */
function truthyPositions(m: ArrayLike<unknown>, n: number): Int32Array {
  let kept = 0;
  for (let i = 0; i < n; i++) if (m[i]) kept++;
  const out = new Int32Array(kept);
  for (let i = 0, k = 0; i < n; i++) if (m[i]) out[k++] = i;
  return out;
}

/**
 * One column's sort key over rows [start, start + n): an unsigned 64-bit value per row (as hi and
 * lo words) whose order is the column's order, and the rows that are null or NaN. Numbers go
 * through their float64 bits (sign flipped; negatives inverted); 64-bit integers and datetimes
 * through their two words; strings through the rank of each distinct value.
 */
function sortKey(
  c: Col,
  start: number,
  n: number,
  descending: boolean,
): { hi: Uint32Array; lo: Uint32Array; na: Uint8Array } {
  const na = new Uint8Array(n);
  for (let i = 0; i < n; i++) if (isNA(c, start + i)) na[i] = 1;
  const hi = new Uint32Array(n);
  const lo = new Uint32Array(n);
  if (c.kind === 'fixed' && c.dt.bigint) {
    const w = new Uint32Array(c.data.buffer, c.data.byteOffset + 8 * start, 2 * n);
    const flip = c.dt.kind === 'u' ? 0 : 0x80000000;
    for (let i = 0; i < n; i++) {
      lo[i] = w[2 * i] as number;
      hi[i] = ((w[2 * i + 1] as number) ^ flip) >>> 0;
    }
  } else if (c.kind === 'fixed' && c.dt.kind !== 'S') {
    const d = c.data as Float64Array;
    const f = new Float64Array(1);
    const u = new Uint32Array(f.buffer);
    for (let i = 0; i < n; i++) {
      if (na[i] === 1) continue;
      const x = d[start + i] as number;
      f[0] = x === 0 ? 0 : x; // -0 and 0 tie, as they compare
      const h = u[1] as number;
      if (h >= 0x80000000) {
        hi[i] = ~h >>> 0;
        lo[i] = ~(u[0] as number) >>> 0;
      } else {
        hi[i] = (h | 0x80000000) >>> 0;
        lo[i] = u[0] as number;
      }
    }
  } else {
    // Strings: rank the distinct values (category: the labels) in JS string order.
    const rank = (distinct: string[]): Map<string, number> => {
      const sorted = [...new Set(distinct)].sort(cmpStr);
      return new Map(sorted.map((v, k) => [v, k]));
    };
    if (c.kind === 'category') {
      const labels = c.dict!.labels();
      const ranks = rank(labels);
      const byCode = Uint32Array.from(labels, (l) => ranks.get(l)!);
      const codes = c.data as Int32Array;
      for (let i = 0; i < n; i++) if (na[i] === 0) lo[i] = byCode[codes[start + i] as number]!;
    } else {
      const values = new Array<string>(n);
      for (let i = 0; i < n; i++) values[i] = na[i] === 1 ? '' : (readCell(c, start + i) as string);
      const ranks = rank(values);
      for (let i = 0; i < n; i++) if (na[i] === 0) lo[i] = ranks.get(values[i]!)!;
    }
  }
  if (descending)
    for (let i = 0; i < n; i++) {
      hi[i] = ~(hi[i] as number) >>> 0;
      lo[i] = ~(lo[i] as number) >>> 0;
    }
  return { hi, lo, na };
}

function cmpStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Reorders `order` (row positions) stably by one key: rows with a value by the key's four 16-bit
 * digits, least significant first (a counting sort each; a digit equal in every row is skipped),
 * then the null/NaN rows in their current order. Linear in the rows: an index sort with a
 * comparator is 1.1-1.8x slower for 1M rows (bench/cases/compute.js, row sort-vs-js).
 */
function radixByKey(
  order: Int32Array,
  key: { hi: Uint32Array; lo: Uint32Array; na: Uint8Array },
): Int32Array {
  const { hi, lo, na } = key;
  let cur = new Int32Array(order.length);
  let m = 0;
  for (const r of order) if (na[r] === 0) cur[m++] = r;
  let tmp = new Int32Array(order.length);
  const counts = new Int32Array(65537);
  for (let d = 0; d < 4; d++) {
    const words = d < 2 ? lo : hi;
    const shift = d % 2 === 0 ? 0 : 16;
    if (!countDigits(cur, m, words, shift, counts)) continue;
    scatterByDigit(cur, m, words, shift, counts, tmp);
    [cur, tmp] = [tmp, cur];
  }
  for (const r of order) if (na[r] === 1) cur[m++] = r;
  return cur;
}

// The radix passes' loops, as functions of their own (see sumAll).

/** Counts each 16-bit digit of rows cur[0, m); false when every row has the same digit. */
function countDigits(
  cur: Int32Array,
  m: number,
  words: Uint32Array,
  shift: number,
  counts: Int32Array,
): boolean {
  counts.fill(0);
  for (let k = 0; k < m; k++) counts[((words[cur[k]!]! >>> shift) & 0xffff) + 1]!++;
  if (m === 0 || counts[((words[cur[0]!]! >>> shift) & 0xffff) + 1] === m) return false;
  for (let b = 1; b < 65537; b++) counts[b]! += counts[b - 1]!;
  return true;
}

/** Moves rows cur[0, m) into `out` in the order of their digit, stably. */
function scatterByDigit(
  cur: Int32Array,
  m: number,
  words: Uint32Array,
  shift: number,
  counts: Int32Array,
  out: Int32Array,
): void {
  for (let k = 0; k < m; k++) {
    const r = cur[k]!;
    out[counts[(words[r]! >>> shift) & 0xffff]!++] = r;
  }
}

/** Row positions (relative to `rows.start`) in the order of `names`, stable, nulls last. */
function sortedRows(rows: Rows, names: readonly string[], descending: boolean): Int32Array {
  const n = rows.length;
  let order: Int32Array = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  // The last key first: each stable pass keeps the order of the keys after it among its ties.
  for (let k = names.length - 1; k >= 0; k--)
    order = radixByKey(
      order,
      sortKey(rows.store.col(names[k]!, rows.cols), rows.start, n, descending),
    );
  return order;
}

/** Checks `names` (one column name or several) for sortBy. */
function sortNames(names: unknown): string[] {
  const list = typeof names === 'string' ? [names] : names;
  if (
    !Array.isArray(list) ||
    list.length === 0 ||
    !list.every((n): n is string => typeof n === 'string')
  )
    throw new InvalidArgumentError(
      `Expected a column name or a non-empty array of them to sort by, got ${describe(names)}`,
    );
  return list;
}

function checkSortOptions(options: unknown): boolean {
  if (options === undefined) return false;
  if (typeof options !== 'object' || options === null)
    throw new InvalidArgumentError(
      `Expected the options of sortBy() to be an object like { descending: true }, got ${describe(options)}`,
    );
  const d = (options as SortOptions).descending;
  if (d !== undefined && typeof d !== 'boolean')
    throw new InvalidArgumentError(`Expected \`descending\` to be a boolean, got ${describe(d)}`);
  return d === true;
}

/**
 * out[k] = data[pick[k]], copying bits through an integer view of the element's width (one
 * monomorphic loop per width; 8-byte elements as two int32 words, so no bigint is made and no
 * float NaN is rewritten).
 */
function gatherWords(data: TypedArray, out: TypedArray, pick: Int32Array): void {
  const n = pick.length;
  const size = data.BYTES_PER_ELEMENT;
  if (size === 1) {
    const s = new Uint8Array(data.buffer, data.byteOffset, data.length);
    const d = new Uint8Array(out.buffer, out.byteOffset, n);
    for (let k = 0; k < n; k++) d[k] = s[pick[k]!]!;
  } else if (size === 2) {
    const s = new Uint16Array(data.buffer, data.byteOffset, data.length);
    const d = new Uint16Array(out.buffer, out.byteOffset, n);
    for (let k = 0; k < n; k++) d[k] = s[pick[k]!]!;
  } else if (size === 4) {
    const s = new Int32Array(data.buffer, data.byteOffset, data.length);
    const d = new Int32Array(out.buffer, out.byteOffset, n);
    for (let k = 0; k < n; k++) d[k] = s[pick[k]!]!;
  } else {
    const s = new Int32Array(data.buffer, data.byteOffset, 2 * data.length);
    const d = new Int32Array(out.buffer, out.byteOffset, 2 * n);
    for (let k = 0; k < n; k++) {
      const r = 2 * pick[k]!;
      d[2 * k] = s[r]!;
      d[2 * k + 1] = s[r + 1]!;
    }
  }
}

/** 1 (valid) or 0 (null) for each row of `pick`, which lie in [start, end). */
function pickedValidity(c: Col, pick: Int32Array, start: number, end: number): Uint8Array {
  const valid = new Uint8Array(end - start).fill(1);
  const v = c.valid32;
  for (let wi = start >>> 5; wi <= (end - 1) >>> 5; wi++) {
    const w = v[wi] as number;
    if (w === -1) continue;
    const base = wi << 5;
    let z = ~w;
    if (base < start) z &= -1 << (start - base);
    if (end - base < 32) z &= (1 << (end - base)) - 1;
    while (z !== 0) {
      valid[base + 31 - Math.clz32(z & -z) - start] = 0;
      z &= z - 1;
    }
  }
  const out = new Uint8Array(pick.length);
  for (let k = 0; k < pick.length; k++) out[k] = valid[pick[k]! - start]!;
  return out;
}

/** One column's rows `pick` (absolute rows), gathered into plain memory as an append stages it. */
function gather(
  c: Col,
  pick: Int32Array,
  span: { start: number; end: number },
): { staged: Staged; request: ColumnRequest } {
  const n = pick.length;
  let valid: Uint8Array | undefined;
  if (countValid(c, span.start, span.end) !== span.end - span.start)
    valid = pickedValidity(c, pick, span.start, span.end);
  const staged: Staged = {
    col: c,
    values: undefined,
    valid,
    bytes: undefined,
    ends: undefined,
    labels: undefined,
    local: undefined,
    codes: undefined,
  };
  const request: ColumnRequest = {
    name: c.name,
    type: c.layout.type,
    stringBytes: 0,
    categories: 0,
    categoryBytes: 0,
  };
  if (c.kind === 'utf8') {
    const offsets = c.data as Int32Array;
    const src = c.bytes as Buffer;
    let total = 0;
    for (let k = 0; k < n; k++) {
      const r = pick[k] as number;
      if (valid === undefined || valid[k] === 1)
        total += (offsets[r + 1] as number) - (offsets[r] as number);
    }
    if (total > kMaxRows)
      throw new ShapeError(
        `The chosen rows of utf8 column ${JSON.stringify(c.name)} hold ${total} bytes, more than a utf8 column's ${kMaxRows}`,
      );
    const bytes = Buffer.allocUnsafe(total);
    const ends = new Int32Array(n);
    let at = 0;
    for (let k = 0; k < n; k++) {
      const r = pick[k] as number;
      if (valid === undefined || valid[k] === 1)
        at += src.copy(bytes, at, offsets[r] as number, offsets[r + 1] as number);
      ends[k] = at;
    }
    staged.bytes = bytes;
    staged.ends = ends;
    request.stringBytes = total;
  } else if (c.kind === 'category') {
    // The whole dictionary, in code order: codes stay the same in the new frame.
    const labels = c.dict!.labels();
    const codes = c.data as Int32Array;
    const local = new Int32Array(n);
    gatherWords(codes, local, pick);
    if (valid !== undefined) for (let k = 0; k < n; k++) if (valid[k] === 0) local[k] = -1;
    let labelBytes = 0;
    for (const l of labels) labelBytes += Buffer.byteLength(l);
    staged.labels = labels;
    staged.local = local;
    request.categories = Math.max(16, labels.length);
    request.categoryBytes = Math.max(64, labelBytes);
  } else if (c.dt.kind === 'S') {
    const w = c.dt.itemsize;
    const src = c.data as Uint8Array;
    const out = new Uint8Array(n * w);
    for (let k = 0; k < n; k++) {
      const r = pick[k] as number;
      out.set(src.subarray(r * w, (r + 1) * w), k * w);
    }
    staged.values = out;
  } else {
    const out = new (c.dt.ctor as unknown as new (n: number) => TypedArray)(n);
    gatherWords(c.data, out, pick);
    staged.values = out;
  }
  return { staged, request };
}

/** A new frame (same heap) holding `positions` (relative to `rows.start`) of the shown columns. */
function takeRows(rows: Rows, positions: Int32Array, heap: Heap): FrameParts {
  const pick = new Int32Array(positions.length);
  for (let k = 0; k < pick.length; k++) pick[k] = rows.start + (positions[k] as number);
  const cols = rows.cols.map((i) => rows.store.column(i));
  const span = { start: rows.start, end: rows.start + rows.length };
  const parts = cols.map((c) => gather(c, pick, span));
  const index = rows.cols.indexOf(rows.store.layout.index);
  const n = pick.length;
  return allocate(
    parts.map((p) => p.request),
    n,
    rows.store.layout.index >= 0 ? index : -1,
    heap,
    (store) => {
      const staged = parts.map((p, k) => ({ ...p.staged, col: store.column(k) }));
      appendStaged(store, staged, n);
    },
  );
}

/** The rows a mask (or predicate) keeps, as a new frame in `heap`. */
export function filterRows(rows: Rows, mask: unknown, heap: Heap): FrameParts {
  return takeRows(rows, maskRows(rows, mask), heap);
}

/** The rows sorted by `names`, as a new frame in `heap`. */
export function sortRows(rows: Rows, names: unknown, options: unknown, heap: Heap): FrameParts {
  const list = sortNames(names);
  const descending = checkSortOptions(options);
  for (const name of list) rows.store.col(name, rows.cols);
  return takeRows(rows, sortedRows(rows, list, descending), heap);
}
