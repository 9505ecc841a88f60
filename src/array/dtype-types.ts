/**
 * dtypes at the type level: what TypeScript knows about an array (or column) from its dtype
 * literal. `SharedArray<'f8'>` has `data: Float64Array` and `get()` returning `number`;
 * `SharedArray<'i8'>` has a BigInt64Array and bigints. Every alias the runtime accepts (`float64`,
 * `<f8`, `int32`, `bool`, `M8[ms]`, `S10`...) maps to the same types. A dtype that is only known
 * at run time (a `string`) gives the untyped unions, and so does a literal TypeScript does not
 * recognise (the runtime then says what is wrong with it).
 */
import type { DatetimeUnit, TypedArray } from './dtype.js';
import type { Scalar } from './element.js';

/** The fixed-width dtype names and aliases (without a byte-order prefix), by numpy typestr. */
interface FixedAliases {
  b1: '|b1';
  bool: '|b1';
  bool_: '|b1';
  '?': '|b1';
  boolean: '|b1';
  i1: '|i1';
  int8: '|i1';
  byte: '|i1';
  b: '|i1';
  i2: '<i2';
  int16: '<i2';
  short: '<i2';
  h: '<i2';
  i4: '<i4';
  int32: '<i4';
  intc: '<i4';
  i: '<i4';
  i8: '<i8';
  int64: '<i8';
  int: '<i8';
  long: '<i8';
  longlong: '<i8';
  l: '<i8';
  q: '<i8';
  int_: '<i8';
  u1: '|u1';
  uint8: '|u1';
  ubyte: '|u1';
  B: '|u1';
  u2: '<u2';
  uint16: '<u2';
  ushort: '<u2';
  H: '<u2';
  u4: '<u4';
  uint32: '<u4';
  uintc: '<u4';
  I: '<u4';
  u8: '<u8';
  uint64: '<u8';
  ulonglong: '<u8';
  L: '<u8';
  Q: '<u8';
  uint: '<u8';
  f4: '<f4';
  float32: '<f4';
  single: '<f4';
  f: '<f4';
  f8: '<f8';
  float64: '<f8';
  double: '<f8';
  float: '<f8';
  d: '<f8';
  float_: '<f8';
}

/** What each numpy typestr holds: its TypedArray, one element, what `set` takes, its JSON. */
interface FixedTypes {
  '|b1': { data: Uint8Array; scalar: boolean; input: boolean | 0 | 1; json: boolean };
  '|i1': { data: Int8Array; scalar: number; input: number; json: number };
  '<i2': { data: Int16Array; scalar: number; input: number; json: number };
  '<i4': { data: Int32Array; scalar: number; input: number; json: number };
  '<i8': { data: BigInt64Array; scalar: bigint; input: bigint | number; json: string };
  '|u1': { data: Uint8Array; scalar: number; input: number; json: number };
  '<u2': { data: Uint16Array; scalar: number; input: number; json: number };
  '<u4': { data: Uint32Array; scalar: number; input: number; json: number };
  '<u8': { data: BigUint64Array; scalar: bigint; input: bigint | number; json: string };
  '<f4': { data: Float32Array; scalar: number; input: number; json: number };
  '<f8': { data: Float64Array; scalar: number; input: number; json: number };
}

interface DatetimeInfo {
  data: BigInt64Array;
  scalar: bigint;
  input: bigint | number | Date;
  json: string | null;
}
interface BytesInfo {
  data: Uint8Array;
  scalar: string;
  input: string | Uint8Array;
  json: string;
}
interface UntypedInfo {
  data: TypedArray;
  scalar: Scalar;
  input: unknown;
  json: number | string | boolean | null;
}

type Prefix = '<' | '|' | '=';
/** Fixed-width numeric and bool dtype names, with or without a byte-order prefix. */
export type FixedDtypeName = keyof FixedAliases | `${Prefix}${keyof FixedAliases}`;
/** datetime64 dtype names: `M8[ms]`, `<M8[s]`, `datetime64[D]`... */
export type DatetimeDtypeName = `${'' | Prefix}${'M8' | 'datetime64'}[${DatetimeUnit}]`;
/** Fixed-width bytes dtype names: `S10`, `|S4`, `a8`, `bytes16`. */
export type BytesDtypeName = `${'' | Prefix}${'S' | 'a' | 'bytes'}${number}`;

/**
 * The numpy typestr of a dtype literal: `'float64'` and `'f8'` give `'<f8'`, `'M8[ms]'` gives
 * `'<M8[ms]'`, `'S10'` gives `` `|S${number}` ``; `never` for a dtype only known at run time
 * (`string`) or a literal that is not a dtype.
 */
export type TypestrOf<D extends string> = D extends keyof FixedAliases
  ? FixedAliases[D]
  : D extends `${Prefix}${infer B extends keyof FixedAliases}`
    ? FixedAliases[B]
    : D extends `${'' | Prefix}${'M8' | 'datetime64'}[${infer U extends DatetimeUnit}]`
      ? `<M8[${U}]`
      : D extends BytesDtypeName
        ? `|S${number}`
        : never;

/** A dtype name TypeScript recognises (any other string is accepted too, untyped). */
export type DtypeName = FixedDtypeName | DatetimeDtypeName | BytesDtypeName;

// Every conditional type here and in the frame's types tests the dtype itself (`D extends ...`),
// never another conditional type or `string extends D`: TypeScript then relates
// `SharedArray<'f8'>` to `SharedArray<string>` member by member, so a typed array or frame is
// assignable to an untyped one. `string` and unknown literals fall through to the untyped case.
type InfoOf<D extends string> = D extends keyof FixedAliases
  ? FixedTypes[FixedAliases[D]]
  : D extends `${Prefix}${infer B extends keyof FixedAliases}`
    ? FixedTypes[FixedAliases[B]]
    : D extends DatetimeDtypeName
      ? DatetimeInfo
      : D extends BytesDtypeName
        ? BytesInfo
        : UntypedInfo;

/**
 * The TypedArray of `a.data` for dtype `D`: `Float64Array` for `'f8'`, `BigInt64Array` for
 * `'i8'` and datetimes, `Uint8Array` for `'bool'` and `|S<n>` (bytes); the union of them all
 * when `D` is not a known literal.
 */
export type DataOf<D extends string> = InfoOf<D>['data'];

/**
 * What `a.get(...)` returns for dtype `D`: `number`, `bigint` (64-bit integers and datetime
 * counts), `boolean` or `string` (`|S<n>`); the union of them when `D` is not a known literal.
 */
export type ScalarOf<D extends string> = InfoOf<D>['scalar'];

/** What `a.set(idx, value)` and `fill` accept for dtype `D` (anything when it is not known). */
export type InputOf<D extends string> = InfoOf<D>['input'];

/**
 * An element as `toJSON()` writes it: 64-bit integers as strings, datetimes as ISO strings
 * (NaT null), the rest as they read.
 */
export type JsonScalarOf<D extends string> = InfoOf<D>['json'];

/** The dtype literal of a TypedArray type: `Float64Array` gives `'<f8'`. */
export type DtypeOfTypedArray<T> = T extends Float64Array
  ? '<f8'
  : T extends Float32Array
    ? '<f4'
    : T extends Int32Array
      ? '<i4'
      : T extends Uint32Array
        ? '<u4'
        : T extends Int16Array
          ? '<i2'
          : T extends Uint16Array
            ? '<u2'
            : T extends Int8Array
              ? '|i1'
              : T extends Uint8Array | Uint8ClampedArray
                ? '|u1'
                : T extends BigInt64Array
                  ? '<i8'
                  : T extends BigUint64Array
                    ? '<u8'
                    : string;

/** The dtype literal `SharedArray.from` and `full` infer from JS values. */
export type DtypeOfValue<V> = [V] extends [never]
  ? '<f8'
  : [V] extends [number]
    ? '<f8'
    : [V] extends [bigint]
      ? '<i8'
      : [V] extends [boolean]
        ? '|b1'
        : [V] extends [Date]
          ? '<M8[ms]'
          : [V] extends [string]
            ? `|S${number}`
            : string;

/** The element type of nested JS arrays, and how deep they nest. */
export type NestedElement<T> = T extends ReadonlyArray<infer E> ? NestedElement<E> : T;

/** Nesting depth of a JS array type (`number[][]` gives 2); `number` when unknown. */
export type NestedDepth<T, Acc extends unknown[] = []> = Acc['length'] extends 32
  ? number
  : T extends ReadonlyArray<infer E>
    ? NestedDepth<E, [...Acc, unknown]>
    : Acc['length'];

/** The number of dimensions of a shape argument: `[2, 3]` gives 2, `7` gives 1. */
export type RankOf<S> = S extends number
  ? 1
  : S extends readonly number[]
    ? number extends S['length']
      ? number
      : S['length']
    : number;

// The rank `N` is only ever tested as `N extends <known ranks>` (never `number extends N`), for
// the reason given above InfoOf: an array of a known rank stays assignable to `SharedArray`.

/** Ranks TypeScript tracks, each with the rank below it. */
interface Below {
  1: 0;
  2: 1;
  3: 2;
  4: 3;
  5: 4;
  6: 5;
  7: 6;
  8: 7;
}
/** The ranks whose shapes and indices are tuples. */
export type KnownRank = 0 | keyof Below;

type TupleOf<N extends number, Acc extends number[] = []> = Acc['length'] extends N
  ? Acc
  : TupleOf<N, [...Acc, number]>;

/** `shape` and `strides`: `N` numbers (a readonly tuple), or a readonly array when `N` is not known. */
export type Lengths<N extends number> = N extends KnownRank
  ? Readonly<TupleOf<N>>
  : readonly number[];

/** `N` indices, or any number of them when `N` is not known. */
export type Indices<N extends number> = N extends KnownRank ? TupleOf<N> : number[];

/** `N - 1` for a known rank of at least 1 (the rank of one row), else `number`. */
export type RankBelow<N extends number> = N extends keyof Below ? Below[N] : number;

/** Nested JS arrays of `T`, `N` deep (`T` itself for 0). */
export type Nested<T, N extends number> = N extends 0
  ? T
  : N extends keyof Below
    ? Array<Nested<T, Below[N]>>
    : T | NestedAny<T>;

type NestedAny<T> = Array<T | NestedAny<T>>;
