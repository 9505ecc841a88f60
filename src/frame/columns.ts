/**
 * Column objects returned by `frame.col(name)` for columns that are not a plain TypedArray:
 * utf8 (read-only strings), category (labels over int32 codes) and |S<n> (fixed-width strings).
 * They are views: reads and writes go to the shared memory, and `length` follows the frame.
 */
import { ShapeError, describe } from '../errors.js';
import type { Dictionary } from './dictionary.js';
import { immutableUtf8, isValid, readCell, writeCell, type Col, type FrameStore } from './store.js';

/** The rows a frame (or view of one) shows; `rows()` throws if it was closed. */
export interface RowSpace {
  readonly store: FrameStore;
  readonly start: number;
  rows(): number;
}

/** Normalizes a row position (negative counts from the end) or throws SHMFRAME_ERR_SHAPE. */
export function checkRow(i: unknown, length: number, what = 'row'): number {
  if (typeof i !== 'number' || !Number.isInteger(i))
    throw new ShapeError(`Expected \`${what}\` to be an integer, got ${describe(i)}`);
  const r = i < 0 ? i + length : i;
  if (r < 0 || r >= length)
    throw new ShapeError(
      `Row ${i} is out of range for a frame of ${length} row${length === 1 ? '' : 's'}` +
        (length === 0
          ? ' (append rows first)'
          : ` (valid: 0..${length - 1}, or negative from the end)`),
    );
  return r;
}

abstract class ColumnBase {
  protected readonly space: RowSpace;
  protected readonly c: Col;

  constructor(space: RowSpace, c: Col) {
    this.space = space;
    this.c = c;
  }

  get name(): string {
    return this.c.name;
  }
  get dtype(): string {
    return this.c.dtype;
  }
  /** Rows in the frame now. */
  get length(): number {
    return this.space.rows();
  }

  protected at(i: number): number {
    return this.space.start + checkRow(i, this.space.rows());
  }

  /** The value at row `i` (negative counts from the end), or null. */
  get(i: number): unknown {
    return readCell(this.c, this.at(i));
  }

  isNull(i: number): boolean {
    return !isValid(this.c, this.at(i));
  }

  /** The values as a JS array (a copy). */
  toArray(): unknown[] {
    const n = this.space.rows();
    const out = new Array<unknown>(n);
    for (let i = 0; i < n; i++) out[i] = readCell(this.c, this.space.start + i);
    return out;
  }

  *[Symbol.iterator](): IterableIterator<unknown> {
    const n = this.space.rows();
    for (let i = 0; i < n; i++) yield readCell(this.c, this.space.start + i);
  }

  toString(): string {
    return `${this.constructor.name}(${JSON.stringify(this.name)}, ${this.dtype}, ${this.length} rows)`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

/**
 * A utf8 column: strings stored end to end (int32 offsets + UTF-8 bytes, Arrow's layout).
 * Read-only: a string cannot change length in place; use `|S<n>` or `category` for values you
 * rewrite. Appending rows is allowed.
 *
 * @example
 * for (const name of frame.col('name')) console.log(name);
 */
export class Utf8Column extends ColumnBase {
  /** Always throws SHMFRAME_ERR_INVALID_ARG: utf8 values are immutable once written. */
  set(i: number, _value: unknown): never {
    throw immutableUtf8(this.c, `row ${i} of column ${JSON.stringify(this.name)}`);
  }
}

/**
 * A category column: int32 `codes` into a shared `categories` dictionary (pandas Categorical,
 * Arrow Dictionary). `set` writes a label's code in place, adding the label if it is new.
 *
 * @example
 * frame.col('city').set(0, 'Paris');
 * frame.col('city').codes;      // Int32Array view of the codes (-1 = null)
 */
export class CategoryColumn extends ColumnBase {
  /** Sets row `i` to `label` (a string, or null). */
  set(i: number, label: string | null): void {
    writeCell(this.c, this.at(i), label, `row ${i} of column ${JSON.stringify(this.name)}`);
  }

  /** The codes of this frame's rows: an Int32Array view of the shared memory (-1 for null). */
  get codes(): Int32Array {
    return (this.c.data as Int32Array).subarray(
      this.space.start,
      this.space.start + this.space.rows(),
    );
  }

  /** The labels, in code order (a snapshot: other threads may add more). */
  get dictionary(): string[] {
    this.space.rows();
    return (this.c.dict as Dictionary).labels();
  }

  /** The same as {@link dictionary} (pandas' name: `Series.cat.categories`). */
  get categories(): string[] {
    return this.dictionary;
  }
}

/**
 * A fixed-width bytes column (`|S<n>`, numpy's layout: NUL-padded, never truncated).
 *
 * @example
 * frame.col('code').set(0, 'AB12');
 */
export class BytesColumn extends ColumnBase {
  /** Sets row `i`; a value longer than the width is refused (SHMFRAME_ERR_INVALID_ARG). */
  set(i: number, value: string | Uint8Array | null): void {
    writeCell(this.c, this.at(i), value, `row ${i} of column ${JSON.stringify(this.name)}`);
  }

  /** Width in bytes. */
  get itemsize(): number {
    return this.c.dt.itemsize;
  }

  /** The raw bytes of this frame's rows (`length * itemsize`), a view of the shared memory. */
  get data(): Uint8Array {
    const w = this.c.dt.itemsize;
    return (this.c.data as Uint8Array).subarray(
      this.space.start * w,
      (this.space.start + this.space.rows()) * w,
    );
  }
}
