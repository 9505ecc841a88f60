/**
 * Staging: checks and converts the values of one column for an append, in plain (unshared)
 * memory, before anything in the frame changes. A bad value is reported here, so a failed
 * append leaves the frame exactly as it was; the shared memory is then written with one
 * `TypedArray.set` per column (filling a SharedArrayBuffer element by element is 2-4x slower
 * than a plain buffer on Node 20, so converting in plain memory and copying once is faster too).
 */
import { InvalidArgumentError, describe } from '../errors.js';
import { dtypeOfTypedArray, kNaT, type DType, type TypedArray } from '../array/dtype.js';
import { toStored, writeFixedBytes } from '../array/element.js';
import type { Col } from './store.js';

/** One column's values, checked and converted, ready to be copied into reserved rows. */
export interface Staged {
  /** The column written (set by the caller when staging happens before the frame exists). */
  col: Col;
  /** fixed: the values in the column's element type (bytes for |S<n>). */
  values: TypedArray | undefined;
  /** 1 valid, 0 null; undefined when every value is valid. */
  valid: Uint8Array | undefined;
  /** utf8: the non-null values' UTF-8 bytes back to back, and each row's end within them. */
  bytes: Uint8Array | undefined;
  ends: Int32Array | undefined;
  /**
   * category: the distinct labels, and each row's index into them (-1 for null); resolved to
   * dictionary `codes` just before reserving.
   */
  labels: string[] | undefined;
  local: Int32Array | undefined;
  codes: Int32Array | undefined;
}

type Where = (i: number) => string;

function isTyped(v: unknown): v is TypedArray {
  return ArrayBuffer.isView(v) && !(v instanceof DataView);
}

function nullFlags(valid: Uint8Array | undefined, n: number, i: number): Uint8Array {
  const flags = valid ?? new Uint8Array(n).fill(1);
  flags[i] = 0;
  return flags;
}

/** What staging needs to know of a column. */
export type ColSpec = Pick<Col, 'kind' | 'dt' | 'name'>;

/** Checks and converts `n` values of column `col` (`src` undefined: all null). */
export function stage(
  col: ColSpec,
  src: ArrayLike<unknown> | undefined,
  n: number,
  where: Where,
): Staged {
  const out: Staged = {
    col: col as Col,
    values: undefined,
    valid: undefined,
    bytes: undefined,
    ends: undefined,
    labels: undefined,
    local: undefined,
    codes: undefined,
  };
  const values = src ?? (new Array(n) as unknown[]);
  if (col.kind === 'utf8') stageUtf8(out, values, n, where);
  else if (col.kind === 'category') stageLabels(out, values, n, where);
  else stageFixed(out, values, n, where);
  return out;
}

function stageFixed(out: Staged, src: ArrayLike<unknown>, n: number, where: Where): void {
  const dt = out.col.dt;
  if (dt.kind === 'S') {
    const w = dt.itemsize;
    const bytes = Buffer.alloc(n * w);
    for (let i = 0; i < n; i++) {
      const v = src[i];
      if (v === null || v === undefined) out.valid = nullFlags(out.valid, n, i);
      else if (typeof v === 'string' && v.length <= w && Buffer.byteLength(v) <= w) {
        checkUnicode(v, where, i);
        bytes.write(v, i * w, 'utf8');
      } else writeFixedBytes(bytes, i * w, w, v, where(i));
    }
    out.values = bytes;
    return;
  }
  if (isTyped(src) && dt.kind !== 'b') {
    const own = dtypeOfTypedArray(src);
    const srcBig = src instanceof BigInt64Array || src instanceof BigUint64Array;
    // Same element type, or any non-bigint numbers into a float column: one native copy later.
    if (own === dt || (dt.kind === 'f' && !srcBig)) {
      out.values = src.length === n ? src : src.subarray(0, n);
      return;
    }
  }
  const values = new (dt.ctor as unknown as new (n: number) => TypedArray)(n);
  const v32 = dt.itemsize === 8 ? new Int32Array(values.buffer, 0, 2 * n) : undefined;
  const msDates = dt.kind === 'M' && dt.unit === 'ms';
  const range = dt.kind === 'b' || dt.kind === 'f' || dt.bigint ? undefined : kIntRange[dt.str];
  for (let i = 0; i < n; i++) {
    const v = src[i];
    if (v === null || v === undefined) {
      out.valid = nullFlags(out.valid, n, i);
      values[i] = dt.kind === 'f' ? NaN : dt.kind === 'M' ? kNaT : dt.bigint ? 0n : 0;
    } else if (typeof v === 'number' && dt.kind === 'f') {
      values[i] = v;
    } else if (typeof v === 'boolean' && dt.kind === 'b') {
      values[i] = v ? 1 : 0;
    } else if (typeof v === 'number' && range !== undefined) {
      if (Number.isInteger(v) && v >= range[0] && v <= range[1]) values[i] = v;
      else values[i] = stored(dt, v, where, i);
    } else if (v32 !== undefined && typeof v === 'number' && dt.kind !== 'f') {
      // Safe integers (and Date millis) into int64 words without making a BigInt each.
      if (!Number.isSafeInteger(v) || (dt.kind === 'u' && v < 0))
        values[i] = stored(dt, v, where, i);
      else setInt64(v32, i, v);
    } else if (msDates && v instanceof Date) {
      const ms = v.getTime();
      if (Number.isNaN(ms)) {
        out.valid = nullFlags(out.valid, n, i);
        values[i] = kNaT;
      } else setInt64(v32 as Int32Array, i, ms);
    } else {
      const s = stored(dt, v, where, i);
      if (s === kNaT && dt.kind === 'M') out.valid = nullFlags(out.valid, n, i);
      values[i] = s;
    }
  }
  out.values = values;
}

const kIntRange: Record<string, readonly [number, number]> = {
  '|i1': [-128, 127],
  '<i2': [-32768, 32767],
  '<i4': [-2147483648, 2147483647],
  '|u1': [0, 255],
  '<u2': [0, 65535],
  '<u4': [0, 4294967295],
};

/** toStored, naming the value's position only when it fails (building it per value is costly). */
function stored(dt: DType, v: unknown, where: Where, i: number): number | bigint {
  try {
    return toStored(dt, v, 'value');
  } catch {
    return toStored(dt, v, where(i));
  }
}

function setInt64(v32: Int32Array, i: number, v: number): void {
  const hi = Math.floor(v / 4294967296);
  v32[2 * i] = (v - hi * 4294967296) | 0;
  v32[2 * i + 1] = hi;
}

/**
 * Refuses strings with lone surrogates: UTF-8 cannot hold them, and encoding would silently
 * replace them with U+FFFD.
 */
export function checkUnicode(v: string, where: Where | string, i = 0): void {
  if ((v as unknown as { isWellFormed(): boolean }).isWellFormed()) return;
  throw new InvalidArgumentError(
    `The string for ${typeof where === 'string' ? where : where(i)} holds a lone surrogate (${describe(v)}): ` +
      `it is not valid Unicode and cannot be stored as UTF-8 without changing it. Fix the string (e.g. s.toWellFormed()).`,
  );
}

const kChunk = 4096;
const kMaxBytes = 2 ** 31 - 1;

/**
 * Encodes a utf8 column. Strings are joined in chunks and written with one call per chunk: when
 * the bytes written equal the characters, the chunk was ASCII and every row's end follows from
 * string lengths (measured: 1M short strings in ~20 ms, against ~85 ms for a byteLength and a
 * write per string). Other chunks are checked for lone surrogates and written string by string.
 */
function stageUtf8(out: Staged, src: ArrayLike<unknown>, n: number, where: Where): void {
  const ends = new Int32Array(n);
  let bytes = Buffer.allocUnsafe(Math.min(kMaxBytes, 16 * n + 64));
  let at = 0;
  const chunk: string[] = [];
  for (let s = 0; s < n; s += kChunk) {
    const e = Math.min(n, s + kChunk);
    let chars = 0;
    chunk.length = 0;
    for (let i = s; i < e; i++) {
      const v = src[i];
      if (typeof v === 'string') {
        chunk.push(v);
        chars += v.length;
      } else if (v === null || v === undefined) out.valid = nullFlags(out.valid, n, i);
      else
        throw new InvalidArgumentError(
          `Expected a string (or null) for ${where(i)} (utf8), got ${describe(v)}`,
        );
    }
    const need = at + 3 * chars;
    if (need > bytes.length) {
      if (at + chars > kMaxBytes)
        throw new InvalidArgumentError(
          `The strings for column ${JSON.stringify(out.col.name)} exceed 2 GiB (utf8 offsets are int32): split the rows into several frames`,
        );
      const grown = Buffer.allocUnsafe(Math.min(kMaxBytes, Math.max(need, 2 * bytes.length)));
      bytes.copy(grown, 0, 0, at);
      bytes = grown;
    }
    const joined = chunk.join('');
    const written = bytes.write(joined, at, 'utf8');
    if (written === chars) {
      // ASCII: each string's bytes are its characters.
      let p = at;
      for (let i = s; i < e; i++) {
        const v = src[i];
        if (typeof v === 'string') p += v.length;
        ends[i] = p;
      }
      at += written;
      continue;
    }
    if (!(joined as unknown as { isWellFormed(): boolean }).isWellFormed())
      for (let i = s; i < e; i++)
        if (typeof src[i] === 'string') checkUnicode(src[i] as string, where, i);
    for (let i = s; i < e; i++) {
      const v = src[i];
      if (typeof v === 'string') {
        if (at + 3 * v.length > bytes.length || at + Buffer.byteLength(v) > kMaxBytes) {
          // Cannot happen within the room reserved above, except past 2 GiB.
          throw new InvalidArgumentError(
            `The strings for column ${JSON.stringify(out.col.name)} exceed 2 GiB (utf8 offsets are int32): split the rows into several frames`,
          );
        }
        at += bytes.write(v, at, 'utf8');
      }
      ends[i] = at;
    }
  }
  out.bytes = bytes.subarray(0, at);
  out.ends = ends;
}

function stageLabels(out: Staged, src: ArrayLike<unknown>, n: number, where: Where): void {
  const labels: string[] = [];
  const seen = new Map<string, number>();
  const local = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = src[i];
    if (typeof v === 'string') {
      let k = seen.get(v);
      if (k === undefined) {
        checkUnicode(v, where, i);
        k = labels.length;
        labels.push(v);
        seen.set(v, k);
      }
      local[i] = k;
    } else if (v === null || v === undefined) {
      local[i] = -1;
      out.valid = nullFlags(out.valid, n, i);
    } else
      throw new InvalidArgumentError(
        `Expected a string label (or null) for ${where(i)} (category), got ${describe(v)}`,
      );
  }
  out.labels = labels;
  out.local = local;
}
