/**
 * From a resolved schema, the file's field order and the column buffers to write, the
 * FieldTargets a RecordParser fills.
 */
import type { DatetimeUnit, TypedArray } from '../../array/dtype.js';
import type { ColumnSpec } from '../schema-spec.js';
import type { ByteDict } from './byte-dict.js';
import {
  convert,
  K_BOOL,
  K_BYTES,
  K_CAT,
  K_DT,
  K_F4,
  K_F8,
  K_I1,
  K_I2,
  K_I4,
  K_I8,
  K_SKIP,
  K_U1,
  K_U2,
  K_U4,
  K_U8,
  K_UTF8,
  makeTarget,
  type FieldTarget,
} from './fields.js';

/** Where one column's values go. */
export interface ColumnBuffers {
  /** Values, category codes, or utf8 offsets (capacity + 1). Undefined when measuring. */
  data: TypedArray | undefined;
  validity: Uint8Array | undefined;
  /** utf8: the byte region, where this parser starts writing in it, and where it must stop. */
  bytes?: Uint8Array;
  bytesStart?: number;
  bytesEnd?: number;
  /** category: the dictionary (global, or growing while measuring). */
  dict?: ByteDict;
}

/** The field kind of a column. */
export function kindOf(c: ColumnSpec): number {
  if (c.kind === 'utf8') return K_UTF8;
  if (c.kind === 'category') return K_CAT;
  const dt = c.dt!;
  switch (dt.kind) {
    case 'b':
      return K_BOOL;
    case 'f':
      return dt.itemsize === 4 ? K_F4 : K_F8;
    case 'M':
      return K_DT;
    case 'S':
      return K_BYTES;
    case 'i':
      return dt.itemsize === 1 ? K_I1 : dt.itemsize === 2 ? K_I2 : dt.itemsize === 4 ? K_I4 : K_I8;
    default:
      return dt.itemsize === 1 ? K_U1 : dt.itemsize === 2 ? K_U2 : dt.itemsize === 4 ? K_U4 : K_U8;
  }
}

const kProbe = {
  [K_BOOL]: () => new Uint8Array(1),
  [K_F4]: () => new Float32Array(1),
  [K_F8]: () => new Float64Array(1),
  [K_DT]: () => new BigInt64Array(1),
  [K_I8]: () => new BigInt64Array(1),
  [K_U8]: () => new BigUint64Array(1),
} as Record<number, () => TypedArray>;

/** True when some null value is also a valid value of the column (so nulls are checked first). */
export function nullFirst(c: ColumnSpec, nullValues: readonly string[]): boolean {
  if (nullValues.length === 0) return false;
  const k = kindOf(c);
  if (k === K_UTF8 || k === K_CAT || k === K_BYTES) return true;
  const probe = makeTarget({
    kind: k,
    name: c.name,
    data: (kProbe[k] ?? (() => new Float64Array(1)))(),
    unit: (c.dt?.unit ?? 'ms') as DatetimeUnit,
  });
  if (k >= K_I1 && k <= K_U4) probe.data = new Float64Array(1);
  for (const v of nullValues) {
    const b = Buffer.from(v, 'utf8');
    if (convert(probe, b, 0, b.length, 0)) return true;
  }
  return false;
}

/**
 * The targets for one file: `fieldColumn[f]` is the schema column of the file's field `f`
 * (-1: skipped). `buffers[c]` are column `c`'s buffers.
 */
export function buildTargets(
  columns: readonly ColumnSpec[],
  fieldColumn: readonly number[],
  buffers: readonly ColumnBuffers[],
  nullValues: readonly string[],
  measure = false,
): FieldTarget[] {
  return fieldColumn.map((c, f) => {
    if (c < 0) return makeTarget({ kind: K_SKIP, name: `field ${f + 1}` });
    const col = columns[c] as ColumnSpec;
    const b = buffers[c] as ColumnBuffers;
    const kind = kindOf(col);
    if (measure && kind !== K_UTF8 && kind !== K_CAT)
      return makeTarget({ kind: K_SKIP, name: col.name });
    return makeTarget({
      kind,
      name: col.name,
      dtype: col.dtype,
      data: b.data,
      width: col.dt?.kind === 'S' ? col.dt.itemsize : 0,
      unit: (col.dt?.unit ?? 'ms') as DatetimeUnit,
      validity: b.validity,
      bytes: b.bytes,
      cursor: b.bytesStart ?? 0,
      bytesEnd: b.bytesEnd ?? 0,
      measure: measure && kind === K_UTF8,
      dict: b.dict,
      grow: measure && kind === K_CAT,
      nullFirst: nullFirst(col, nullValues),
    });
  });
}
