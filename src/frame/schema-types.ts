/**
 * Frame schemas at the type level: `SharedFrame<{ x: 'f8', s: 'utf8' }>` knows that `col('x')`
 * is a Float64Array and `get(r, 's')` a `string | null`. A schema TypeScript cannot read (a
 * `string` dtype, a schema built at run time) gives the untyped unions, as before.
 */
import type {
  BytesDtypeName,
  DataOf,
  DatetimeDtypeName,
  DtypeOfTypedArray,
  FixedDtypeName,
  InputOf,
  JsonScalarOf,
  ScalarOf,
} from '../array/dtype-types.js';
import type { TypedArray } from '../array/dtype.js';
import type { SharedArray } from '../array/shared-array.js';
import type { BytesColumn, CategoryColumn, Utf8Column } from './columns.js';

/**
 * A frame's column names and dtypes as a type: `{ x: 'f8'; n: 'i4'; s: 'utf8' }`. The default,
 * `Record<string, string>`, is the untyped frame.
 */
export type FrameSchema = Readonly<Record<string, string>>;

/** What `col(name)` returns when the column's dtype is not known: any of the column kinds. */
export type FrameColumn = TypedArray | Utf8Column | CategoryColumn | BytesColumn;

/** One cell of an untyped frame: number, bigint (64-bit integers), boolean, string, Date or null. */
export type FrameCell = number | bigint | boolean | string | Date | null;

/** A row as a plain object: numbers, bigints (64-bit integers), booleans, strings, Dates, null. */
export type FrameRow = Record<string, FrameCell>;

type Utf8Names = 'utf8' | 'utf-8' | 'string' | 'str';
type CategoryNames = 'category' | 'categorical' | 'dictionary';

/** What a column of each kind holds; see {@link InfoOf} in dtype-types.ts for why it is a table. */
interface StringColumnInfo<C> {
  column: C;
  cell: string | null;
  input: string | null;
  json: string | null;
}
interface Utf8Info extends StringColumnInfo<Utf8Column> {
  /** utf8 cells are immutable: `set` takes only null. */
  set: null;
}
interface CategoryInfo extends StringColumnInfo<CategoryColumn> {
  set: string | null;
}
interface BytesColumnInfo {
  column: BytesColumn;
  cell: string | null;
  input: string | Uint8Array | null;
  set: string | Uint8Array | null;
  json: string | null;
}
interface DatetimeColumnInfo {
  column: BigInt64Array;
  cell: Date | null;
  input: Date | bigint | number | null;
  set: Date | bigint | number | null;
  json: string | null;
}
interface FixedColumnInfo<D extends string> {
  column: DataOf<D>;
  cell: ScalarOf<D> | null;
  input: InputOf<D> | null;
  set: InputOf<D> | null;
  json: JsonScalarOf<D> | null;
}
interface UntypedColumnInfo {
  column: FrameColumn;
  cell: FrameCell;
  input: unknown;
  set: unknown;
  json: number | string | boolean | null;
}

type ColumnInfoOf<D extends string> = D extends Utf8Names
  ? Utf8Info
  : D extends CategoryNames
    ? CategoryInfo
    : D extends BytesDtypeName
      ? BytesColumnInfo
      : D extends DatetimeDtypeName
        ? DatetimeColumnInfo
        : D extends FixedDtypeName
          ? FixedColumnInfo<D>
          : UntypedColumnInfo;

/**
 * What `frame.col(name)` returns for a column of dtype `D`: the TypedArray of a numeric, bool
 * (Uint8Array of 0/1) or datetime (BigInt64Array of counts) column, a {@link Utf8Column},
 * {@link CategoryColumn} or {@link BytesColumn}; {@link FrameColumn} when `D` is not known.
 */
export type FrameColumnOf<D extends string> = ColumnInfoOf<D>['column'];

/**
 * What `frame.get(row, name)` returns for a column of dtype `D`: `number`, `bigint` (64-bit
 * integers), `boolean`, `Date` (datetimes) or `string`, or `null` for a null cell (every column
 * can hold nulls: a null float cell reads `null`, its TypedArray element NaN).
 */
export type FrameCellOf<D extends string> = ColumnInfoOf<D>['cell'];

/** What `append` accepts for a column of dtype `D`. */
export type FrameInputOf<D extends string> = ColumnInfoOf<D>['input'];

/** What `frame.set` accepts: as `append`, except that a utf8 cell can only be set to null. */
export type FrameSetOf<D extends string> = ColumnInfoOf<D>['set'];

/** A cell as `toJSON()` writes it: bigints as strings, Dates as ISO strings (NaT as null). */
export type JsonCellOf<D extends string> = ColumnInfoOf<D>['json'];

/** A row of a frame with schema `S`, as `row(i)`, `loc` and iteration return it. */
export type FrameRowOf<S extends FrameSchema> = { -readonly [K in keyof S]: FrameCellOf<S[K]> };

/** `frame.toJSON()`: each column as a JS array of JSON values. */
export type FrameJSONOf<S extends FrameSchema> = {
  -readonly [K in keyof S]: Array<JsonCellOf<S[K]>>;
};

/** The column names of a frame with schema `S` (`string` when untyped). */
export type ColumnName<S extends FrameSchema> = keyof S & string;

/**
 * The dtype of column `K`. Written as an intersection rather than a conditional so that a typed
 * frame stays assignable to an untyped one (TypeScript compares their methods with K = string).
 */
export type DtypeAt<S extends FrameSchema, K extends keyof S> = S[K] & string;

/** One row for `append`: any subset of the columns (missing ones are null). */
export type AppendRowOf<S extends FrameSchema> = { -readonly [K in keyof S]?: FrameInputOf<S[K]> };

/** Columns for `append`: one array (or TypedArray) per column, all of one length. */
export type AppendColumnsOf<S extends FrameSchema> = {
  -readonly [K in keyof S]?: ArrayLike<FrameInputOf<S[K]>>;
};

/** The dtype of `values()`: the columns' dtypes (one at run time: `values()` refuses mixed dtypes). */
export type ValuesDtypeOf<S extends FrameSchema> = S[keyof S] & string;

type Simplify<T> = { [K in keyof T]: T[K] } & {};

// ------------------------------------------------------------------ schema inputs

/** A schema given as `[name, dtype]` pairs, as a type. */
type PairsSchema<P extends ReadonlyArray<readonly [string, string]>> = string extends P[number][0]
  ? FrameSchema
  : Simplify<{ readonly [E in P[number] as E[0]]: E[1] }>;

type Trim<S extends string> = S extends ` ${infer R}` | `\n${infer R}` | `\t${infer R}`
  ? Trim<R>
  : S extends `${infer R} ` | `${infer R}\n` | `${infer R}\t`
    ? Trim<R>
    : S;

type Unquote<S extends string> = Trim<S> extends `'${infer V}'` | `"${infer V}"` ? V : never;

/** `('chr', 'S10'), ('pos', '<i4')` (numpy's list of tuples, inside its brackets). */
type NumpyTuples<S extends string, Acc> =
  Trim<S> extends ''
    ? Acc
    : Trim<S> extends `(${infer Pair})${infer Rest}`
      ? Pair extends `${infer N},${infer D}`
        ? [Unquote<N>, Unquote<D>] extends [infer Name extends string, infer Dt extends string]
          ? NumpyTuples<
              Trim<Rest> extends `,${infer R}` ? R : Rest,
              Acc & { readonly [K in Name]: Dt }
            >
          : never
        : never
      : never;

/** `chr:S10,pos:i4` (the command line's form). */
type ColonPairs<S extends string, Acc> =
  Trim<S> extends ''
    ? Acc
    : Trim<S> extends `${infer Head},${infer Rest}`
      ? ColonPairs<Rest, ColonPair<Head, Acc>>
      : ColonPair<Trim<S>, Acc>;

type ColonPair<P extends string, Acc> = P extends `${infer N}:${infer D}`
  ? Acc & { readonly [K in Trim<N>]: Trim<D> }
  : never;

type TextSchema<S extends string> = string extends S
  ? FrameSchema
  : Trim<S> extends `[${infer Body}]`
    ? Finish<NumpyTuples<Body, unknown>>
    : Finish<ColonPairs<S, unknown>>;

type Finish<T> = [T] extends [never] ? FrameSchema : Simplify<T & {}>;

/**
 * The schema type of a schema argument, in every form the factories and loaders accept:
 * `{ x: 'f8' }`, `[['x', 'f8']]`, numpy's `"[('x', '<f8')]"` and `'x:f8'`. A form TypeScript
 * cannot read gives the untyped {@link FrameSchema}.
 */
export type SchemaOf<Spec> = Spec extends string
  ? TextSchema<Spec>
  : Spec extends ReadonlyArray<readonly [string, string]>
    ? PairsSchema<Spec>
    : Spec extends FrameSchema
      ? string extends keyof Spec
        ? FrameSchema
        : Simplify<{ readonly [K in keyof Spec]: Spec[K] }>
      : FrameSchema;

// ------------------------------------------------------------------ SharedFrame.from

type ElementOf<C> =
  C extends ReadonlyArray<infer E> ? E : C extends ArrayLike<infer E> ? E : unknown;

/** The dtype `SharedFrame.from` infers for a column source (without `schema`). */
export type DtypeOfColumn<C> =
  C extends SharedArray<infer D, number>
    ? D
    : C extends TypedArray
      ? DtypeOfTypedArray<C>
      : [NonNullable<ElementOf<C>>] extends [never]
        ? '<f8'
        : [NonNullable<ElementOf<C>>] extends [number]
          ? '<f8'
          : [NonNullable<ElementOf<C>>] extends [bigint]
            ? '<i8'
            : [NonNullable<ElementOf<C>>] extends [boolean]
              ? '|b1'
              : [NonNullable<ElementOf<C>>] extends [string]
                ? 'utf8'
                : [NonNullable<ElementOf<C>>] extends [Date]
                  ? '<M8[ms]'
                  : string;

/** The schema of `SharedFrame.from(columns, { schema })`: `schema`'s dtypes, else inferred. */
export type FromSchemaOf<C, Spec> = string extends keyof C
  ? FrameSchema
  : Simplify<{
      readonly [K in keyof C & string]: K extends keyof GivenSchema<Spec>
        ? GivenSchema<Spec>[K] & string
        : DtypeOfColumn<C[K]>;
    }>;

type GivenSchema<Spec> = [Spec] extends [undefined] ? object : SchemaOf<Exclude<Spec, undefined>>;
