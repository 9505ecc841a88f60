/**
 * Reading and writing one element of a dtype in a TypedArray, with the checks numpy users expect
 * and none of numpy's silent wrap-around: a value that does not fit is an error.
 */
import { InvalidArgumentError, describe } from '../errors.js';
import { dateToDatetime, type DType, type TypedArray } from './dtype.js';

export type Scalar = number | bigint | boolean | string;

const decoder = new TextDecoder('utf-8');
const encoder = new TextEncoder();

const kIntRange: Record<string, [number, number]> = {
  '|i1': [-128, 127],
  '<i2': [-32768, 32767],
  '<i4': [-2147483648, 2147483647],
  '|u1': [0, 255],
  '<u2': [0, 65535],
  '<u4': [0, 4294967295],
};

/** Decodes fixed-width bytes, dropping trailing NULs as numpy does. */
export function readFixedBytes(bytes: Uint8Array, start: number, width: number): string {
  let end = start + width;
  while (end > start && bytes[end - 1] === 0) end--;
  if (end === start) return '';
  // Short ASCII values (the common case for |S<n>) decode faster by hand than through TextDecoder.
  let ascii = true;
  for (let i = start; i < end; i++) {
    if ((bytes[i] as number) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    let s = '';
    for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i] as number);
    return s;
  }
  return decoder.decode(bytes.subarray(start, end));
}

/** Encodes `value` into fixed-width bytes, NUL-padded; refuses (never truncates) longer values. */
export function writeFixedBytes(
  bytes: Uint8Array,
  start: number,
  width: number,
  value: unknown,
  where: string,
): void {
  let src: Uint8Array;
  if (typeof value === 'string') src = encoder.encode(value);
  else if (value instanceof Uint8Array) src = value;
  else
    throw new InvalidArgumentError(
      `Expected a string or Uint8Array for ${where} (|S${width}), got ${describe(value)}`,
    );
  if (src.length > width) {
    throw new InvalidArgumentError(
      `Value for ${where} is ${src.length} bytes long, wider than its dtype |S${width}: ${describe(value)}. ` +
        `Use a wider |S<n> (or a 'utf8' frame column); values are never truncated.`,
    );
  }
  bytes.set(src, start);
  bytes.fill(0, start + src.length, start + width);
}

/** Converts a JS value for storage in `dt`; throws for anything that would not round-trip. */
export function toStored(dt: DType, value: unknown, where: string): number | bigint {
  switch (dt.kind) {
    case 'f':
      if (typeof value === 'number') return value;
      if (typeof value === 'bigint') return Number(value);
      if (value === null) return NaN;
      break;
    case 'b':
      if (typeof value === 'boolean') return value ? 1 : 0;
      if (value === 0 || value === 1) return value;
      break;
    case 'i':
    case 'u':
      if (dt.bigint) {
        if (typeof value === 'bigint') {
          if (
            dt.kind === 'u'
              ? value < 0n || value >= 2n ** 64n
              : value < -(2n ** 63n) || value >= 2n ** 63n
          ) {
            throw new InvalidArgumentError(
              `Value ${value}n is out of range for ${where} (${dt.str})`,
            );
          }
          return value;
        }
        if (
          typeof value === 'number' &&
          Number.isSafeInteger(value) &&
          (dt.kind === 'i' || value >= 0)
        )
          return BigInt(value);
        break;
      }
      if (typeof value === 'number' && Number.isInteger(value)) {
        const [lo, hi] = kIntRange[dt.str] as [number, number];
        if (value < lo || value > hi) {
          throw new InvalidArgumentError(
            `Value ${value} is out of range [${lo}, ${hi}] for ${where} (${dt.str})`,
          );
        }
        return value;
      }
      if (typeof value === 'boolean') return value ? 1 : 0;
      break;
    case 'M':
      if (value instanceof Date) return dateToDatetime(value, dt.unit ?? 'ms');
      if (typeof value === 'bigint') return value;
      if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
      break;
    default:
      break;
  }
  throw new InvalidArgumentError(
    `Expected ${expected(dt)} for ${where} (${dt.str}), got ${describe(value)}`,
  );
}

function expected(dt: DType): string {
  switch (dt.kind) {
    case 'f':
      return 'a number';
    case 'b':
      return 'a boolean';
    case 'M':
      return 'a Date or a bigint count of ' + (dt.unit ?? 'ms');
    case 'S':
      return 'a string';
    default:
      return dt.bigint ? 'a bigint or a safe integer' : 'an integer';
  }
}

/** Reads element `i` (for |S<n>, `i` is the element index, not the byte index). */
export function readElement(dt: DType, data: TypedArray, i: number): Scalar {
  if (dt.kind === 'S') return readFixedBytes(data as Uint8Array, i * dt.itemsize, dt.itemsize);
  const v = data[i] as number | bigint;
  return dt.kind === 'b' ? v !== 0 : v;
}

/** Writes element `i` after checking the value. */
export function writeElement(
  dt: DType,
  data: TypedArray,
  i: number,
  value: unknown,
  where: string,
): void {
  if (dt.kind === 'S') {
    writeFixedBytes(data as Uint8Array, i * dt.itemsize, dt.itemsize, value, where);
    return;
  }
  (data as unknown as Array<number | bigint>)[i] = toStored(dt, value, where);
}
