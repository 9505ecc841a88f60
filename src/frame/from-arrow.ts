/**
 * Reading an Arrow Table (from any copy or build of apache-arrow: it is read structurally, by its
 * schema and its batches' buffers, so this needs no `import` of apache-arrow at all). Each batch
 * is staged column by column, mostly without copying, and then copied once into the heap.
 */
import { DtypeError, InvalidArgumentError, describe } from '../errors.js';
import type { TypedArray } from '../array/dtype.js';
import { columnType, type ColumnType } from './schema.js';
import type { Col } from './store.js';
import type { Staged } from './stage.js';

interface ArrowType {
  typeId: number;
  bitWidth?: number;
  isSigned?: boolean;
  precision?: number;
  unit?: number;
  byteWidth?: number;
  timezone?: string | null;
  dictionary?: ArrowType;
  toString(): string;
}
interface ArrowData {
  type: ArrowType;
  offset: number;
  length: number;
  nullCount: number;
  nullBitmap?: Uint8Array;
  values: TypedArray;
  valueOffsets?: Int32Array | BigInt64Array;
  dictionary?: { toArray(): ArrayLike<unknown> };
}
interface ArrowField {
  name: string;
  type: ArrowType;
}
interface ArrowTableLike {
  schema: { fields: ArrowField[]; metadata?: Map<string, string> };
  batches: Array<{ numRows: number; data: { children: ArrowData[] } }>;
  numRows: number;
}

// Arrow's Type ids (fixed by the Arrow format).
const T = {
  Int: 2,
  Float: 3,
  Utf8: 5,
  Bool: 6,
  Date: 8,
  Timestamp: 10,
  FixedSizeBinary: 15,
  LargeUtf8: 20,
  Dictionary: -1,
};
const kUnits = ['s', 'ms', 'us', 'ns'];

export interface ArrowSource {
  names: string[];
  types: ColumnType[];
  numRows: number;
  batches: Array<{ length: number; columns: ArrowData[] }>;
  index: string | undefined;
  /** Per column: string bytes (utf8), distinct labels and their bytes (category). */
  stringBytes: number[];
  categories: number[];
  categoryBytes: number[];
}

function frameType(field: ArrowField): ColumnType {
  const t = field.type;
  const unsupported = (why = ''): never => {
    throw new DtypeError(
      `Arrow column ${JSON.stringify(field.name)} has type ${String(t)}, which a SharedFrame cannot hold${why}. ` +
        `Cast it first (e.g. to Float64, Utf8 or Dictionary<Int32, Utf8>).`,
    );
  };
  switch (t.typeId) {
    case T.Int:
      return columnType(`${t.isSigned ? 'int' : 'uint'}${t.bitWidth}`, field.name);
    case T.Float:
      if (t.precision === 0) unsupported(' (float16 has no TypedArray on Node 20)');
      return columnType(t.precision === 1 ? '<f4' : '<f8', field.name);
    case T.Bool:
      return columnType('|b1', field.name);
    case T.Utf8:
    case T.LargeUtf8:
      return columnType('utf8', field.name);
    case T.Date:
      return columnType(t.unit === 0 ? '<M8[D]' : '<M8[ms]', field.name);
    case T.Timestamp:
      return columnType(`<M8[${kUnits[t.unit ?? 1]}]`, field.name);
    case T.FixedSizeBinary:
      return columnType(`|S${t.byteWidth}`, field.name);
    case T.Dictionary:
      if (t.dictionary?.typeId !== T.Utf8)
        unsupported(' (only dictionaries of strings are categories)');
      return columnType('category', field.name);
    default:
      return unsupported();
  }
}

/** Checks `table` and measures what the frame needs to hold it. */
export function readArrowSource(table: unknown): ArrowSource {
  const t = table as ArrowTableLike;
  // apache-arrow brands its Tables with Symbol.for (any copy of the module); older releases
  // did not, so a Table-shaped object (schema fields and record batches) is accepted too.
  const isTable =
    typeof table === 'object' &&
    table !== null &&
    ((table as Record<symbol, unknown>)[Symbol.for('apache-arrow/Table')] === true ||
      (Array.isArray(t.schema?.fields) &&
        Array.isArray(t.batches) &&
        typeof t.numRows === 'number'));
  if (!isTable)
    throw new InvalidArgumentError(
      `Expected an apache-arrow Table (from tableFromIPC, tableFromArrays, frame.toArrow()...), got ${describe(table)}`,
    );
  const fields = t.schema.fields;
  const types = fields.map(frameType);
  const batches = t.batches.map((b) => ({ length: b.numRows, columns: b.data.children }));
  const stringBytes = types.map(() => 0);
  const categories = types.map(() => 0);
  const categoryBytes = types.map(() => 0);
  const labelSets = types.map(() => new Set<string>());
  for (const b of batches) {
    b.columns.forEach((d, c) => {
      const kind = (types[c] as ColumnType).kind;
      if (kind === 'utf8') {
        const o = d.valueOffsets as Int32Array | BigInt64Array;
        stringBytes[c]! += Number(o[d.length]) - Number(o[0]);
      } else if (kind === 'category') {
        for (const l of Array.from(d.dictionary?.toArray() ?? [])) {
          const set = labelSets[c] as Set<string>;
          if (typeof l === 'string' && !set.has(l)) {
            set.add(l);
            categoryBytes[c]! += Buffer.byteLength(l);
          }
        }
        categories[c] = (labelSets[c] as Set<string>).size;
      }
    });
  }
  let index: string | undefined;
  try {
    const meta = t.schema.metadata?.get('shmframe');
    const name = meta === undefined ? undefined : (JSON.parse(meta) as { index?: unknown }).index;
    if (typeof name === 'string' && fields.some((f) => f.name === name)) index = name;
  } catch {
    // Metadata from elsewhere: ignore it.
  }
  return {
    names: fields.map((f) => f.name),
    types,
    numRows: t.numRows,
    batches,
    index,
    stringBytes,
    categories,
    categoryBytes,
  };
}

/** Validity flags (1 valid) of an Arrow Data, or undefined when it has no nulls. */
function flagsOf(d: ArrowData): Uint8Array | undefined {
  if (d.nullCount === 0 || d.nullBitmap === undefined || d.nullBitmap.length === 0)
    return undefined;
  const flags = new Uint8Array(d.length);
  const bm = d.nullBitmap;
  for (let i = 0; i < d.length; i++) {
    const b = d.offset + i;
    flags[i] = ((bm[b >>> 3] as number) >>> (b & 7)) & 1;
  }
  return flags;
}

/** Stages one Arrow Data as the rows of column `col`. */
export function stageArrow(col: Col, d: ArrowData): Staged {
  const n = d.length;
  const valid = flagsOf(d);
  const out: Staged = {
    col,
    values: undefined,
    valid,
    bytes: undefined,
    ends: undefined,
    labels: undefined,
    local: undefined,
    codes: undefined,
  };
  const typeId = d.type.typeId;
  if (col.kind === 'utf8') {
    const o = d.valueOffsets as Int32Array | BigInt64Array;
    const first = Number(o[0]);
    out.bytes = d.values.subarray(first, Number(o[n])) as Uint8Array;
    const ends = new Int32Array(n);
    for (let i = 0; i < n; i++) ends[i] = Number(o[i + 1]) - first;
    out.ends = ends;
    return out;
  }
  if (col.kind === 'category') {
    const labels = Array.from(d.dictionary?.toArray() ?? []);
    const map = new Int32Array(labels.length);
    labels.forEach(
      (l, k) =>
        (map[k] =
          typeof l === 'string' ? col.dict!.codeOf(l, `column ${JSON.stringify(col.name)}`) : -1),
    );
    const codes = new Int32Array(n);
    const src = d.values;
    for (let i = 0; i < n; i++) {
      codes[i] = valid !== undefined && valid[i] === 0 ? -1 : (map[Number(src[i])] ?? -1);
    }
    out.codes = codes;
    return out;
  }
  const dt = col.dt;
  let values: TypedArray;
  if (typeId === T.Bool) {
    values = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const b = d.offset + i;
      values[i] = ((d.values[b >>> 3] as number) >>> (b & 7)) & 1;
    }
  } else if (typeId === T.Date && dt.unit === 'D') {
    values = new BigInt64Array(n);
    for (let i = 0; i < n; i++) values[i] = BigInt(d.values[i] as number);
  } else if (dt.kind === 'S') {
    values = d.values.subarray(0, n * dt.itemsize);
  } else {
    values = d.values.subarray(0, n);
  }
  if (valid !== undefined && dt.kind !== 'b') {
    // Null slots hold anything in Arrow: store NaN / NaT / zero as `set(null)` does.
    values = values.slice() as TypedArray;
    const fill = dt.kind === 'f' ? NaN : dt.kind === 'M' ? -(2n ** 63n) : dt.bigint ? 0n : 0;
    for (let i = 0; i < n; i++) {
      if (valid[i] !== 0) continue;
      if (dt.kind === 'S') (values as Uint8Array).fill(0, i * dt.itemsize, (i + 1) * dt.itemsize);
      else (values as unknown as unknown[])[i] = fill;
    }
  }
  out.values = values;
  return out;
}
