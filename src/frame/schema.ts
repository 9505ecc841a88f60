/**
 * Frame schemas: ordered `[name, dtype]` columns. A column dtype is any SharedArray dtype
 * (`<f8`, `<i4`, `|b1`, `<M8[ms]`, `|S10`, aliases such as `f8` or `bool`) or one of the two
 * frame-only logical types, `utf8` (variable-length strings) and `category` (int32 codes into a
 * dictionary of strings).
 */
import { DtypeError, InvalidArgumentError, ShapeError, describe } from '../errors.js';
import { dtypeOf, kSupportedDtypes, type DType } from '../array/dtype.js';

/** How a column stores its values. */
export type ColumnKind = 'fixed' | 'utf8' | 'category';

/** A resolved column type. */
export interface ColumnType {
  readonly kind: ColumnKind;
  /** The element dtype: the value dtype for `fixed`, `<i4` offsets/codes otherwise. */
  readonly dt: DType;
  /** The name shown in `schema`: numpy typestr, `utf8` or `category`. */
  readonly dtype: string;
}

/** A schema as accepted by the factories: `{ name: dtype }` or `[name, dtype][]`. */
export type SchemaInput =
  Readonly<Record<string, string>> | ReadonlyArray<readonly [string, string]>;

/** The schema a frame reports: ordered, frozen `[name, dtype]` pairs. */
export type Schema = ReadonlyArray<readonly [string, string]>;

/** Most columns a frame may have (the column table is a fixed 128 bytes per column). */
export const kMaxColumns = 65536;
/** Most rows: lengths are int32 words (Atomics) and utf8 offsets are int32 (Arrow `Utf8`). */
export const kMaxRows = 2 ** 31 - 1;

const kUtf8 = new Set(['utf8', 'utf-8', 'string', 'str']);
const kCategory = new Set(['category', 'categorical', 'dictionary']);
const kI4 = dtypeOf('<i4');

export const kFrameDtypes = `${kSupportedDtypes}, plus 'utf8' (variable-length strings) and 'category'`;

/** Resolves a column dtype name. */
export function columnType(spec: unknown, column: string): ColumnType {
  if (typeof spec === 'string') {
    const s = spec.trim();
    const lower = s.toLowerCase();
    if (kUtf8.has(lower)) return { kind: 'utf8', dt: kI4, dtype: 'utf8' };
    if (kCategory.has(lower)) return { kind: 'category', dt: kI4, dtype: 'category' };
  }
  let dt: DType;
  try {
    dt = dtypeOf(spec);
  } catch (err) {
    throw new DtypeError(
      `Column ${JSON.stringify(column)}: ${(err as Error).message.replace(/Supported: .*$/, '')}Supported: ${kFrameDtypes}`,
      { cause: err },
    );
  }
  return { kind: 'fixed', dt, dtype: dt.str };
}

/** Checks a schema and returns its columns in order; `what` names it in messages. */
export function parseSchema(
  schema: unknown,
  what = 'schema',
): Array<{ name: string; type: ColumnType }> {
  let pairs: Array<[unknown, unknown]>;
  if (Array.isArray(schema)) {
    pairs = schema.map((p, i) => {
      if (!Array.isArray(p) || p.length !== 2) {
        throw new InvalidArgumentError(
          `Expected \`${what}\` entry ${i} to be a [name, dtype] pair, got ${describe(p)}`,
        );
      }
      return [p[0], p[1]];
    });
  } else if (typeof schema === 'object' && schema !== null && !ArrayBuffer.isView(schema)) {
    pairs = Object.entries(schema);
  } else {
    throw new InvalidArgumentError(
      `Expected \`${what}\` to be { name: dtype } or [name, dtype][], got ${describe(schema)}`,
    );
  }
  if (pairs.length > kMaxColumns) {
    throw new ShapeError(
      `Expected at most ${kMaxColumns} columns in \`${what}\`, got ${pairs.length}`,
    );
  }
  const seen = new Set<string>();
  return pairs.map(([name, dtype]) => {
    if (typeof name !== 'string') {
      throw new InvalidArgumentError(
        `Expected column names in \`${what}\` to be strings, got ${describe(name)}`,
      );
    }
    if (seen.has(name)) {
      throw new InvalidArgumentError(
        `Duplicate column name ${JSON.stringify(name)} in \`${what}\`: column names must be unique`,
      );
    }
    seen.add(name);
    return { name, type: columnType(dtype, name) };
  });
}

/** Checks a row count option (`capacity`, `length`). */
export function checkRows(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > kMaxRows) {
    throw new InvalidArgumentError(
      `Expected \`${what}\` to be an integer in [0, ${kMaxRows}], got ${describe(value)}`,
    );
  }
  return value;
}

/**
 * The dtype inferred for a JS array's values: number f8, bigint i8, boolean bool, string utf8,
 * Date M8[ms]; null and undefined are nulls (an all-null column is f8). Mixed kinds are an
 * error that names the column.
 */
export function inferColumnType(values: ArrayLike<unknown>, column: string): ColumnType {
  let kind = '';
  let first: unknown;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) continue;
    const k =
      typeof v === 'number'
        ? 'number'
        : typeof v === 'bigint'
          ? 'bigint'
          : typeof v === 'boolean'
            ? 'boolean'
            : typeof v === 'string'
              ? 'string'
              : v instanceof Date
                ? 'Date'
                : '';
    if (k === '') {
      throw new DtypeError(
        `Cannot infer a dtype for column ${JSON.stringify(column)}: row ${i} is ${describe(v)}. ` +
          `Values must be numbers, bigints, booleans, strings, Dates or null; pass \`schema\` to convert.`,
      );
    }
    if (kind === '') {
      kind = k;
      first = v;
    } else if (k !== kind) {
      throw new DtypeError(
        `Column ${JSON.stringify(column)} mixes ${kind}s (${describe(first)}) and ${k}s (row ${i}: ${describe(v)}): ` +
          `pass \`schema\` with its dtype (e.g. { ${JSON.stringify(column)}: 'utf8' })`,
      );
    }
  }
  const name =
    kind === 'bigint'
      ? '<i8'
      : kind === 'boolean'
        ? '|b1'
        : kind === 'string'
          ? 'utf8'
          : kind === 'Date'
            ? '<M8[ms]'
            : '<f8';
  return columnType(name, column);
}
