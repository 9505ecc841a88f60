/**
 * Field targets (where a parsed field goes) and the bounded converters that turn the bytes of
 * one field, `src[s, e)`, into a stored value. The record loop in `engine.ts` inlines the common
 * cases and calls these for everything else (quoted fields, nulls, trimming, errors).
 */
import { kNaT, type DatetimeUnit, type TypedArray } from '../../array/dtype.js';
import type { ByteDict } from './byte-dict.js';
import { datetimeError, parseDatetime } from './datetime.js';
import { floatEnd, parseF64, parseSpecialFloat, toF32 } from './float.js';
import { invalidUtf8At } from './utf8.js';

// Field kinds. Plain numbers (not a TS enum) so the record loop's switch compiles to constants.
export const K_SKIP = 0;
export const K_I1 = 1;
export const K_I2 = 2;
export const K_I4 = 3;
export const K_U1 = 4;
export const K_U2 = 5;
export const K_U4 = 6;
export const K_I8 = 7;
export const K_U8 = 8;
export const K_F4 = 9;
export const K_F8 = 10;
export const K_BOOL = 11;
export const K_BYTES = 12;
export const K_UTF8 = 13;
export const K_CAT = 14;
export const K_DT = 15;
/** Fast-path marker: this field always goes through the bounded converter (null-first columns). */
export const K_GENERIC = 16;

/** Integer ranges of the 1-4 byte kinds. */
export const kIntMin: readonly number[] = [0, -128, -32768, -2147483648, 0, 0, 0];
export const kIntMax: readonly number[] = [0, 127, 32767, 2147483647, 255, 65535, 4294967295];

/** What one field of a record is converted into. */
export interface FieldTarget {
  /** K_* kind. */
  kind: number;
  /** Column name (for messages). */
  name: string;
  /** dtype shown in messages: `<i4`, `|S10`, `utf8`... */
  dtype: string;
  /** Values, category codes, or utf8 offsets (Int32Array of capacity + 1). */
  data: TypedArray | undefined;
  /** `|S<n>` width. */
  width: number;
  unit: DatetimeUnit;
  /** Validity bitmap bytes (1 = valid, LSB first), or undefined when the column has none. */
  validity: Uint8Array | undefined;
  /** utf8: the byte region, the next write position in it, and its end. */
  bytes: Uint8Array | undefined;
  cursor: number;
  bytesEnd: number;
  /** utf8 in measuring mode: count bytes only. */
  measure: boolean;
  /**
   * utf8: a record needed more bytes than this range measured. Its text is not written; the
   * flag is cleared if the record turns out bad (and is skipped), else the load fails.
   */
  overflow: boolean;
  /** category: the dictionary; `grow` adds unseen values (measuring), else they are an error. */
  dict: ByteDict | undefined;
  grow: boolean;
  /** Check null values before converting (a null value could parse as a valid value). */
  nullFirst: boolean;
}

export function makeTarget(
  partial: Partial<FieldTarget> & { kind: number; name: string },
): FieldTarget {
  return {
    dtype: '',
    data: undefined,
    width: 0,
    unit: 'ms',
    validity: undefined,
    bytes: undefined,
    cursor: 0,
    bytesEnd: 0,
    measure: false,
    overflow: false,
    dict: undefined,
    grow: false,
    nullFirst: false,
    ...partial,
  };
}

/** Why the last conversion failed (a phrase after "expected <dtype>"). */
export let convertWhy = '';

const kPow2_32 = 4294967296;

/** Parses a 64-bit integer from `src[s, e)`; undefined when malformed or out of range. */
export function parseInt64(
  src: Uint8Array,
  s: number,
  e: number,
  signed: boolean,
): bigint | undefined {
  let p = s;
  let neg = false;
  if (src[p] === 45 || src[p] === 43) {
    neg = src[p] === 45;
    p++;
  }
  if (p === e) return undefined;
  if (e - p <= 15) {
    let v = 0;
    for (; p < e; p++) {
      const d = (src[p] as number) - 48;
      if (d < 0 || d > 9) return undefined;
      v = v * 10 + d;
    }
    if (neg && !signed && v !== 0) {
      convertWhy = 'negative, for an unsigned column';
      return undefined;
    }
    return BigInt(neg ? -v : v);
  }
  // Long: accumulate in uint32 halves (no string), then one BigInt.
  let hi = 0;
  let lo = 0;
  for (; p < e; p++) {
    const d = (src[p] as number) - 48;
    if (d < 0 || d > 9) return undefined;
    const l = lo * 10 + d;
    const carry = Math.floor(l / kPow2_32);
    lo = l - carry * kPow2_32;
    hi = hi * 10 + carry;
    if (hi >= kPow2_32) {
      convertWhy = 'out of range';
      return undefined;
    }
  }
  const v = (BigInt(hi) << 32n) | BigInt(lo);
  if (signed) {
    if (neg ? v > 9223372036854775808n : v > 9223372036854775807n) {
      convertWhy = 'out of range';
      return undefined;
    }
    return neg ? -v : v;
  }
  if (neg && v !== 0n) {
    convertWhy = 'negative, for an unsigned column';
    return undefined;
  }
  return v;
}

/** Parses a 1-4 byte integer of kind `k`; NaN when malformed or out of range. */
export function parseSmallInt(src: Uint8Array, s: number, e: number, k: number): number {
  let p = s;
  let neg = false;
  if (src[p] === 45 || src[p] === 43) {
    neg = src[p] === 45;
    p++;
  }
  if (p === e || e - p > 12) return NaN;
  let v = 0;
  for (; p < e; p++) {
    const d = (src[p] as number) - 48;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
  }
  if (neg) v = -v;
  if (v < (kIntMin[k] as number) || v > (kIntMax[k] as number)) {
    convertWhy = `out of range [${kIntMin[k]}, ${kIntMax[k]}]`;
    return NaN;
  }
  return v + 0; // -0 -> 0
}

/** A float from `src[s, e)` (src[e] must not be a digit, point or exponent letter). */
export function parseFloatField(src: Uint8Array, s: number, e: number): number {
  const c = src[s] as number;
  if (e > s && (c | 0x20) >= 97 && (c | 0x20) <= 122) return parseSpecialFloat(src, s, e) ?? NaN;
  if ((c === 45 || c === 43) && e > s + 1 && ((src[s + 1] as number) | 0x20) >= 97) {
    const v = parseSpecialFloat(src, s, e);
    return v === undefined ? NaN : v;
  }
  const v = parseF64(src, s);
  if (floatEnd !== e) return NaN;
  return v;
}

/** True when `src[s, e)` is a float (for telling NaN-the-value from a failure). */
export function isNanText(src: Uint8Array, s: number, e: number): boolean {
  const v = parseSpecialFloat(src, s, e);
  return v !== undefined && Number.isNaN(v);
}

/** 1, 0, true, false, t, f (any case). */
export function parseBool(src: Uint8Array, s: number, e: number): number {
  const n = e - s;
  const c = (src[s] as number) | 0x20;
  if (n === 1) {
    if (c === 49 || c === 116) return 1; // 1, t
    if (c === 48 || c === 102) return 0; // 0, f
    return -1;
  }
  if (
    n === 4 &&
    c === 116 &&
    (src[s + 1]! | 0x20) === 114 &&
    (src[s + 2]! | 0x20) === 117 &&
    (src[s + 3]! | 0x20) === 101
  )
    return 1;
  if (
    n === 5 &&
    c === 102 &&
    (src[s + 1]! | 0x20) === 97 &&
    (src[s + 2]! | 0x20) === 108 &&
    (src[s + 3]! | 0x20) === 115 &&
    (src[s + 4]! | 0x20) === 101
  )
    return 0;
  return -1;
}

/**
 * Converts `src[s, e)` into row `row` of target `t`; false on failure (`convertWhy` says why
 * when it is more than "not a valid <dtype>").
 */
export function convert(
  t: FieldTarget,
  src: Uint8Array,
  s: number,
  e: number,
  row: number,
): boolean {
  convertWhy = '';
  switch (t.kind) {
    case K_SKIP:
      return true;
    case K_I1:
    case K_I2:
    case K_I4:
    case K_U1:
    case K_U2:
    case K_U4: {
      const v = parseSmallInt(src, s, e, t.kind);
      if (v !== v) return false;
      (t.data as Int32Array)[row] = v;
      return true;
    }
    case K_I8:
    case K_U8: {
      const v = parseInt64(src, s, e, t.kind === K_I8);
      if (v === undefined) return false;
      (t.data as BigInt64Array)[row] = v;
      return true;
    }
    case K_F4:
    case K_F8: {
      const v = parseFloatField(src, s, e);
      if (v !== v && !isNanText(src, s, e)) return false;
      (t.data as Float64Array)[row] = t.kind === K_F4 && v === v ? toF32(v, src, s, e) : v;
      return true;
    }
    case K_BOOL: {
      const v = parseBool(src, s, e);
      if (v < 0) return false;
      (t.data as Uint8Array)[row] = v;
      return true;
    }
    case K_BYTES: {
      const n = e - s;
      const w = t.width;
      if (n > w) {
        convertWhy = `${n} bytes do not fit |S${w}; values are never truncated: widen the column (|S${n}) or use utf8`;
        return false;
      }
      const d = t.data as Uint8Array;
      const at = row * w;
      for (let i = 0; i < n; i++) d[at + i] = src[s + i] as number;
      for (let i = n; i < w; i++) d[at + i] = 0;
      return true;
    }
    case K_UTF8: {
      let hi = 0;
      for (let i = s; i < e; i++) hi |= src[i] as number;
      if (hi >= 0x80 && invalidUtf8At(src, s, e) >= 0) {
        convertWhy = 'invalid UTF-8';
        return false;
      }
      const n = e - s;
      if (t.measure) {
        t.cursor += n;
        return true;
      }
      if (t.cursor + n > t.bytesEnd) t.overflow = true;
      else (t.bytes as Uint8Array).set(src.subarray(s, e), t.cursor);
      t.cursor += n;
      // The row's end offset is written when the record is complete (see RecordParser): a bad
      // record may sit in the last row slot of its part, whose end offset is the first offset
      // of the next part, written by another thread.
      return true;
    }
    case K_CAT: {
      let hi = 0;
      for (let i = s; i < e; i++) hi |= src[i] as number;
      if (hi >= 0x80 && invalidUtf8At(src, s, e) >= 0) {
        convertWhy = 'invalid UTF-8';
        return false;
      }
      const dict = t.dict as ByteDict;
      const code = t.grow ? dict.intern(src, s, e) : dict.find(src, s, e);
      if (code < 0) {
        convertWhy =
          'a category missing from the measured dictionary (did the file change while loading?)';
        return false;
      }
      if (t.data !== undefined) (t.data as Int32Array)[row] = code;
      return true;
    }
    case K_DT: {
      const v = parseDatetime(src, s, e, t.unit);
      if (v === undefined) {
        convertWhy = datetimeError;
        return false;
      }
      (t.data as BigInt64Array)[row] = v;
      return true;
    }
    default:
      return false;
  }
}

/** Stores a null in row `row`: NaN / NaT / 0 / empty, and clears the validity bit. */
export function storeNull(t: FieldTarget, row: number): void {
  switch (t.kind) {
    case K_SKIP:
      return;
    case K_F4:
    case K_F8:
      (t.data as Float64Array)[row] = NaN;
      break;
    case K_I8:
    case K_U8:
      (t.data as BigInt64Array)[row] = 0n;
      break;
    case K_DT:
      (t.data as BigInt64Array)[row] = kNaT;
      break;
    case K_BYTES: {
      const d = t.data as Uint8Array;
      d.fill(0, row * t.width, row * t.width + t.width);
      break;
    }
    case K_UTF8:
      break;
    case K_CAT:
      if (t.data !== undefined) (t.data as Int32Array)[row] = -1;
      break;
    default:
      if (t.data !== undefined) (t.data as Int32Array)[row] = 0;
  }
  if (t.validity !== undefined) Atomics.and(t.validity, row >>> 3, ~(1 << (row & 7)));
}

/** Marks row `row` valid again (after a skipped bad line that stored nulls). */
export function restoreValid(t: FieldTarget, row: number): void {
  if (t.validity !== undefined) Atomics.or(t.validity, row >>> 3, 1 << (row & 7));
}
