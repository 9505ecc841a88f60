/**
 * dtypes, named by numpy typestr (`<f8`, `|b1`, `<M8[ms]`, `|S10`) with the usual aliases
 * (`f8`, `float64`, `int32`, `bool`, numpy's one-letter codes...). Little-endian only.
 */
import { DtypeError, describe } from '../errors.js';

export type TypedArray =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

export type TypedArrayConstructor =
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

export type DatetimeUnit = 'D' | 's' | 'ms' | 'us' | 'ns';

/** A resolved dtype. */
export interface DType {
  /** numpy typestr: `<f8`, `|b1`, `<M8[ms]`, `|S10`. */
  readonly str: string;
  /** numpy kind letter: b, i, u, f, M, S. */
  readonly kind: 'b' | 'i' | 'u' | 'f' | 'M' | 'S';
  /** Bytes per element. */
  readonly itemsize: number;
  /** Stable code stored in blocks. */
  readonly code: number;
  /** Datetime unit for `M`. */
  readonly unit: DatetimeUnit | undefined;
  /** TypedArray class of `data` (Uint8Array for `|S<n>`, one element per byte). */
  readonly ctor: TypedArrayConstructor;
  /** Elements are bigint (i8, u8, M8). */
  readonly bigint: boolean;
}

const kUnits: readonly DatetimeUnit[] = ['D', 's', 'ms', 'us', 'ns'];
export const kUnitCodes: Readonly<Record<DatetimeUnit, number>> = {
  D: 1,
  s: 2,
  ms: 3,
  us: 4,
  ns: 5,
};

function make(
  str: string,
  kind: DType['kind'],
  itemsize: number,
  code: number,
  ctor: TypedArrayConstructor,
  unit?: DatetimeUnit,
): DType {
  return Object.freeze({
    str,
    kind,
    itemsize,
    code,
    unit,
    ctor,
    bigint: ctor === BigInt64Array || ctor === BigUint64Array,
  });
}

const kFixed: Record<string, DType> = {
  '|b1': make('|b1', 'b', 1, 1, Uint8Array),
  '|i1': make('|i1', 'i', 1, 2, Int8Array),
  '<i2': make('<i2', 'i', 2, 3, Int16Array),
  '<i4': make('<i4', 'i', 4, 4, Int32Array),
  '<i8': make('<i8', 'i', 8, 5, BigInt64Array),
  '|u1': make('|u1', 'u', 1, 6, Uint8Array),
  '<u2': make('<u2', 'u', 2, 7, Uint16Array),
  '<u4': make('<u4', 'u', 4, 8, Uint32Array),
  '<u8': make('<u8', 'u', 8, 9, BigUint64Array),
  '<f4': make('<f4', 'f', 4, 10, Float32Array),
  '<f8': make('<f8', 'f', 8, 11, Float64Array),
};
export const kCodeDatetime = 12;
export const kCodeBytes = 13;

// prettier-ignore
const kAliases: Record<string, string> = {
  bool: '|b1', bool_: '|b1', '?': '|b1', b1: '|b1', boolean: '|b1',
  int8: '|i1', i1: '|i1', byte: '|i1', b: '|i1',
  int16: '<i2', i2: '<i2', short: '<i2', h: '<i2',
  int32: '<i4', i4: '<i4', intc: '<i4', i: '<i4',
  int64: '<i8', i8: '<i8', int: '<i8', long: '<i8', longlong: '<i8', l: '<i8', q: '<i8', int_: '<i8',
  uint8: '|u1', u1: '|u1', ubyte: '|u1', B: '|u1',
  uint16: '<u2', u2: '<u2', ushort: '<u2', H: '<u2',
  uint32: '<u4', u4: '<u4', uintc: '<u4', I: '<u4',
  uint64: '<u8', u8: '<u8', ulonglong: '<u8', L: '<u8', Q: '<u8', uint: '<u8',
  float32: '<f4', f4: '<f4', single: '<f4', f: '<f4',
  float64: '<f8', f8: '<f8', double: '<f8', float: '<f8', d: '<f8', float_: '<f8',
};

export const kSupportedDtypes =
  '|b1 |i1 <i2 <i4 <i8 |u1 <u2 <u4 <u8 <f4 <f8 <M8[D|s|ms|us|ns] |S<n> (and aliases such as f8, float64, int32, bool)';

const cache = new Map<string, DType>();

/** Resolves a dtype name or DType; throws {@link DtypeError} naming what is supported. */
export function dtypeOf(spec: unknown): DType {
  if (
    typeof spec === 'object' &&
    spec !== null &&
    typeof (spec as DType).str === 'string' &&
    'ctor' in spec
  ) {
    return dtypeOf((spec as DType).str);
  }
  if (typeof spec !== 'string') {
    throw new DtypeError(
      `Expected a dtype name such as 'f8' or '<i4', got ${describe(spec)}. Supported: ${kSupportedDtypes}`,
    );
  }
  const hit = cache.get(spec);
  if (hit !== undefined) return hit;
  const dt = parse(spec.trim());
  cache.set(spec, dt);
  return dt;
}

function refuse(spec: string, why: string): never {
  throw new DtypeError(
    `Unsupported dtype ${JSON.stringify(spec)}: ${why}. Supported: ${kSupportedDtypes}`,
  );
}

function parse(spec: string): DType {
  const alias = kAliases[spec];
  if (alias !== undefined) return kFixed[alias] as DType;
  if (spec in kFixed) return kFixed[spec] as DType;
  let body = spec;
  const order = spec[0];
  if (order === '>' || order === '!')
    refuse(
      spec,
      'big-endian data is not supported; convert it to little-endian first (numpy: arr.astype(arr.dtype.newbyteorder("<")))',
    );
  if (order === '<' || order === '=' || order === '|') body = spec.slice(1);
  const fixed =
    kAliases[body] ??
    (kFixed['<' + body] ? '<' + body : kFixed['|' + body] ? '|' + body : undefined);
  if (fixed !== undefined) {
    const dt = kFixed[fixed] as DType;
    // '|' is only valid for one-byte types, '<' only for multi-byte ones (numpy's rule), but
    // numpy accepts either when reading; so do we.
    return dt;
  }
  const dt = /^(?:M8|datetime64)(?:\[(\w+)\])?$/.exec(body);
  if (dt !== null) {
    const unit = dt[1];
    if (unit === undefined) refuse(spec, "datetime64 needs a unit, e.g. '<M8[ms]'");
    if (!kUnits.includes(unit as DatetimeUnit))
      refuse(spec, `datetime unit '${unit}' is not one of D, s, ms, us, ns`);
    return make(`<M8[${unit}]`, 'M', 8, kCodeDatetime, BigInt64Array, unit as DatetimeUnit);
  }
  const bytes = /^(?:S|a|bytes)(\d*)$/.exec(body);
  if (bytes !== null) {
    const n = Number(bytes[1]);
    if (bytes[1] === '' || !Number.isInteger(n) || n < 1)
      refuse(spec, "fixed-width bytes need a positive width, e.g. '|S10'");
    if (n > 2 ** 20) refuse(spec, 'fixed-width bytes wider than 1 MiB are not supported');
    return make(`|S${n}`, 'S', n, kCodeBytes, Uint8Array);
  }
  if (/^(?:O|object)$/.test(body))
    refuse(spec, 'object arrays hold pointers, which cannot be shared between threads');
  if (/^(?:U\d*|str|unicode)$/.test(body))
    refuse(spec, "use '|S<n>' for fixed-width bytes (or a SharedFrame 'utf8' column for text)");
  if (/^(?:f2|e|float16|half)$/.test(body))
    refuse(spec, 'float16 has no TypedArray on Node 20; use f4');
  if (/^(?:c\d*|complex\d*)$/.test(body))
    refuse(
      spec,
      'complex numbers are not supported; store real and imaginary parts as two f8 arrays',
    );
  if (/^(?:m8|timedelta64)/.test(body))
    refuse(spec, 'timedelta64 is not supported; store it as <i8');
  refuse(spec, 'unknown dtype');
}

/** Rebuilds a dtype from its stored code, item size and datetime unit code; undefined if invalid. */
export function dtypeFromCode(code: number, itemsize: number, unitCode: number): DType | undefined {
  if (code === kCodeDatetime) {
    const unit = kUnits.find((u) => kUnitCodes[u] === unitCode);
    return unit === undefined || itemsize !== 8 ? undefined : dtypeOf(`<M8[${unit}]`);
  }
  if (code === kCodeBytes)
    return itemsize >= 1 && itemsize <= 2 ** 20 ? dtypeOf(`|S${itemsize}`) : undefined;
  for (const dt of Object.values(kFixed))
    if (dt.code === code) return dt.itemsize === itemsize ? dt : undefined;
  return undefined;
}

/** The dtype of a TypedArray's elements. */
export function dtypeOfTypedArray(a: ArrayBufferView): DType | undefined {
  if (a instanceof Float64Array) return kFixed['<f8'];
  if (a instanceof Float32Array) return kFixed['<f4'];
  if (a instanceof Int32Array) return kFixed['<i4'];
  if (a instanceof Uint32Array) return kFixed['<u4'];
  if (a instanceof Int16Array) return kFixed['<i2'];
  if (a instanceof Uint16Array) return kFixed['<u2'];
  if (a instanceof Int8Array) return kFixed['|i1'];
  if (a instanceof Uint8Array || a instanceof Uint8ClampedArray) return kFixed['|u1'];
  if (a instanceof BigInt64Array) return kFixed['<i8'];
  if (a instanceof BigUint64Array) return kFixed['<u8'];
  return undefined;
}

const kMsPer: Record<DatetimeUnit, number> = { D: 86400000, s: 1000, ms: 1, us: 1e-3, ns: 1e-6 };

/** A Date as a datetime64 count in `unit` (floor, as numpy does). */
export function dateToDatetime(date: Date, unit: DatetimeUnit): bigint {
  const ms = date.getTime();
  if (Number.isNaN(ms)) return kNaT;
  if (unit === 'us') return BigInt(ms) * 1000n;
  if (unit === 'ns') return BigInt(ms) * 1000000n;
  return BigInt(Math.floor(ms / kMsPer[unit]));
}

/** A datetime64 count in `unit` as a Date (sub-millisecond parts are dropped); NaT gives an invalid Date. */
export function datetimeToDate(value: bigint, unit: DatetimeUnit): Date {
  if (value === kNaT) return new Date(NaN);
  if (unit === 'us') return new Date(Number(value / 1000n) - (value % 1000n < 0n ? 1 : 0));
  if (unit === 'ns') return new Date(Number(value / 1000000n) - (value % 1000000n < 0n ? 1 : 0));
  return new Date(Number(value) * kMsPer[unit]);
}

/** A TypedArray of `ctor` over `buffer` (TypeScript cannot call a union of constructors). */
export function typedView(
  ctor: TypedArrayConstructor,
  buffer: ArrayBufferLike,
  byteOffset: number,
  length: number,
): TypedArray {
  return new (ctor as unknown as new (b: ArrayBufferLike, o: number, l: number) => TypedArray)(
    buffer,
    byteOffset,
    length,
  );
}

/** numpy's Not-a-Time: the smallest int64. */
export const kNaT = -(2n ** 63n);
