/**
 * The payload of an array block (self-describing, so attaching needs only the handle), and
 * shape/stride arithmetic shared by arrays and frames.
 *
 *   byte 0   i32 dtype code        byte 8   i32 ndim
 *   byte 4   i32 item size         byte 12  i32 datetime unit code
 *   byte 16  f64 shape[ndim]
 *   data at the next multiple of 64
 */
import { CorruptError, ShapeError, describe } from '../errors.js';
import { dtypeFromCode, kUnitCodes, type DType } from './dtype.js';

export const kMaxDims = 32;
/** Node 20: a TypedArray holds at most 2^32 elements (measured). */
export const kMaxElements = 2 ** 32;

export function metaBytes(ndim: number): number {
  return Math.ceil((16 + 8 * ndim) / 64) * 64;
}

export function writeMeta(
  buffer: SharedArrayBuffer,
  byteOffset: number,
  dt: DType,
  shape: readonly number[],
): void {
  const i32 = new Int32Array(buffer, byteOffset, 4);
  i32[0] = dt.code;
  i32[1] = dt.itemsize;
  i32[2] = shape.length;
  i32[3] = dt.unit === undefined ? 0 : kUnitCodes[dt.unit];
  new Float64Array(buffer, byteOffset + 16, shape.length).set(shape);
}

export interface ArrayMeta {
  dt: DType;
  shape: number[];
  /** Absolute byte offset of element 0. */
  dataOffset: number;
  size: number;
}

/** Reads and checks an array block's payload; never reads past `byteLength`. */
export function readMeta(
  buffer: SharedArrayBuffer,
  byteOffset: number,
  byteLength: number,
): ArrayMeta {
  if (byteLength < 16)
    throw new CorruptError(
      `Array block payload of ${byteLength} bytes is too small for its header`,
    );
  const i32 = new Int32Array(buffer, byteOffset, 4);
  const code = i32[0] as number;
  const itemsize = i32[1] as number;
  const ndim = i32[2] as number;
  const dt = dtypeFromCode(code, itemsize, i32[3] as number);
  if (dt === undefined)
    throw new CorruptError(
      `Array block has an invalid dtype (code ${code}, item size ${itemsize})`,
    );
  if (!(ndim >= 0 && ndim <= kMaxDims) || metaBytes(ndim) > byteLength) {
    throw new CorruptError(`Array block has an invalid number of dimensions (${ndim})`);
  }
  const shape = Array.from(new Float64Array(buffer, byteOffset + 16, ndim));
  let size = 1;
  for (const n of shape) {
    if (!Number.isInteger(n) || n < 0)
      throw new CorruptError(`Array block has an invalid shape [${shape.join(',')}]`);
    size *= n;
  }
  if (metaBytes(ndim) + size * itemsize > byteLength) {
    throw new CorruptError(
      `Array block of ${byteLength} bytes is too small for shape [${shape.join(',')}] of ${dt.str}`,
    );
  }
  return { dt, shape, dataOffset: byteOffset + metaBytes(ndim), size };
}

/** Checks a user-given shape and returns it as a plain array of integers. */
export function checkShape(shape: unknown, what = 'shape'): number[] {
  const dims = typeof shape === 'number' ? [shape] : shape;
  if (
    !Array.isArray(dims) ||
    dims.length > kMaxDims ||
    !dims.every((n) => Number.isSafeInteger(n) && n >= 0)
  ) {
    throw new ShapeError(
      `Expected \`${what}\` to be non-negative integers (at most ${kMaxDims} of them), got ${describe(shape)}`,
    );
  }
  return dims.slice() as number[];
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function checkElementCount(shape: readonly number[], dt: DType): void {
  const n = sizeOf(shape);
  const elements = dt.kind === 'S' ? n * dt.itemsize : n;
  if (elements > kMaxElements) {
    throw new ShapeError(
      `An array of shape [${shape.join(',')}] (${dt.str}) needs ${elements} ${dt.kind === 'S' ? 'bytes' : 'elements'} in one ` +
        `TypedArray, more than the 2^32 (4294967296) a TypedArray can address on Node 20. Split it into several arrays (e.g. by rows).`,
    );
  }
}

/** Row-major strides in elements. */
export function cStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i] as number;
  }
  return strides;
}

/** Elements between the first and last reachable element, plus one (0 when empty). */
export function spanOf(shape: readonly number[], strides: readonly number[]): number {
  let span = 1;
  for (let i = 0; i < shape.length; i++) {
    const n = shape[i] as number;
    if (n === 0) return 0;
    span += (n - 1) * (strides[i] as number);
  }
  return span;
}

export function isCContiguous(shape: readonly number[], strides: readonly number[]): boolean {
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const n = shape[i] as number;
    if (n === 0) return true;
    if (n !== 1 && strides[i] !== s) return false;
    s *= n;
  }
  return true;
}
