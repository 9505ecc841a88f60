/**
 * Arrow interop. `toArrow` builds an apache-arrow Table whose buffers are views of the frame's
 * shared memory (bool and M8[D] columns excepted: Arrow packs booleans into bits and stores days
 * as int32, so those two are copied). `fromArrow` reads any Arrow table structurally.
 *
 * apache-arrow is an optional peer dependency, loaded on the first `toArrow()` only, so
 * `import 'shmframe'` (which every pool worker does) never pays for it (it costs more than importing
 * shmframe itself: bench/cases/frame.js, rows import-*). `toArrow()` is synchronous, so the
 * module is loaded with `require`. The package
 * ships separate CommonJS and ESM builds, and Tables of one build break the other's functions
 * (`tableToIPC` of the ESM build fails on a Table of the CJS build: it tests `instanceof Table`).
 * So we require the ESM entry itself (Node >= 20.19 loads ESM with `require`, and shares the
 * instance with `import 'apache-arrow'`): the Tables we return work with the functions an ESM
 * program imports. On older Node we fall back to the CommonJS build; pass `{ arrow }` to use a
 * specific instance.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type * as ArrowNS from 'apache-arrow';
import { DtypeError, MissingDependencyError, ShmframeIOError } from '../errors.js';
import { kNaT, type TypedArray } from '../array/dtype.js';
import type { Col, FrameStore } from './store.js';

/** The apache-arrow module (its ESM namespace or CommonJS exports). */
export type ArrowModule = typeof ArrowNS;

let loaded: ArrowModule | undefined;

/** Loads apache-arrow synchronously (see the file comment), or explains what to install. */
export function loadArrow(what: string): ArrowModule {
  if (loaded !== undefined) return loaded;
  const require = createRequire(import.meta.url);
  let esmPath: string;
  try {
    esmPath = fileURLToPath(import.meta.resolve('apache-arrow'));
  } catch (err) {
    throw new MissingDependencyError(
      `${what} needs the optional peer dependency apache-arrow, which is not installed: ` +
        `run \`npm install apache-arrow\` (tested with 21.x).`,
      { cause: err, details: { package: 'apache-arrow' } },
    );
  }
  try {
    loaded = require(esmPath) as ArrowModule;
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_REQUIRE_ESM') {
      throw new ShmframeIOError(
        `${what} could not load apache-arrow from ${esmPath}: ${String(err)}`,
        {
          cause: err,
        },
      );
    }
    // Node < 20.19 cannot require ESM: use the CommonJS build (see the file comment).
    loaded = require('apache-arrow') as ArrowModule;
  }
  return loaded;
}

/** A plain Uint8Array over a Buffer's memory (Arrow keeps Buffers as they are; views compare equal). */
function plainBytes(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

/** The bytes of a validity bitmap starting at row `start`, and the bit offset inside them. */
function bitmapAt(col: Col, start: number): { nullBitmap: Uint8Array; offset: number } {
  return { nullBitmap: col.valid8.subarray(start >>> 3), offset: start & 7 };
}

function numericType(A: ArrowModule, dtype: string): ArrowNS.DataType {
  switch (dtype) {
    case '|i1':
      return new A.Int8();
    case '<i2':
      return new A.Int16();
    case '<i4':
      return new A.Int32();
    case '<i8':
      return new A.Int64();
    case '|u1':
      return new A.Uint8();
    case '<u2':
      return new A.Uint16();
    case '<u4':
      return new A.Uint32();
    case '<u8':
      return new A.Uint64();
    case '<f4':
      return new A.Float32();
    case '<f8':
      return new A.Float64();
    case '<M8[s]':
      return new A.TimestampSecond();
    case '<M8[ms]':
      return new A.TimestampMillisecond();
    case '<M8[us]':
      return new A.TimestampMicrosecond();
    case '<M8[ns]':
      return new A.TimestampNanosecond();
    default:
      throw new DtypeError(`No Arrow type for dtype ${dtype}`);
  }
}

/** One column of rows [start, start + n) as Arrow Data (Arrow slices values, offsets bitmaps). */
function exportColumn(A: ArrowModule, col: Col, start: number, n: number): ArrowNS.Data {
  const { nullBitmap, offset } = bitmapAt(col, start);
  const base = { offset, length: n, nullCount: -1, nullBitmap };
  const dt = col.dt;
  if (col.kind === 'utf8') {
    return A.makeData({
      ...base,
      type: new A.Utf8(),
      valueOffsets: (col.data as Int32Array).subarray(start, start + n + 1),
      data: plainBytes(col.bytes as Buffer),
    });
  }
  if (col.kind === 'category') {
    const dict = col.dict!;
    const count = dict.size;
    const labels = A.makeData({
      type: new A.Utf8(),
      length: count,
      nullCount: 0,
      valueOffsets: dict.offsets.subarray(0, count + 1),
      data: plainBytes(dict.bytes),
    });
    return A.makeData({
      ...base,
      type: new A.Dictionary(new A.Utf8(), new A.Int32()),
      data: (col.data as Int32Array).subarray(start, start + n),
      dictionary: new A.Vector([labels]),
    });
  }
  if (dt.kind === 'S') {
    const w = dt.itemsize;
    return A.makeData({
      ...base,
      type: new A.FixedSizeBinary(w),
      data: (col.data as Uint8Array).subarray(start * w, (start + n) * w),
    });
  }
  if (dt.kind === 'b') {
    // Arrow booleans are bits: pack a copy, aligned with the bitmap's bit offset.
    const src = col.data as Uint8Array;
    const bits = new Uint8Array(Math.ceil((offset + n) / 8));
    for (let i = 0; i < n; i++)
      if (src[start + i] !== 0) bits[(offset + i) >>> 3]! |= 1 << ((offset + i) & 7);
    return A.makeData({ ...base, type: new A.Bool(), data: bits });
  }
  if (dt.kind === 'M' && dt.unit === 'D') {
    // Arrow dates in days are int32: a copy (numpy's are int64).
    const src = col.data as BigInt64Array;
    const days = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const v = src[start + i] as bigint;
      days[i] = v === kNaT || v > 2147483647n || v < -2147483648n ? 0 : Number(v);
    }
    return A.makeData({ ...base, type: new A.DateDay(), data: days });
  }
  return A.makeData({
    ...base,
    type: numericType(A, dt.str),
    data: (col.data as TypedArray).subarray(start, start + n),
  } as never);
}

/** An Arrow Table over rows [start, start + n) of `columns` (zero-copy but bool and M8[D]). */
export function toArrowTable(
  A: ArrowModule,
  store: FrameStore,
  columns: readonly number[],
  start: number,
  n: number,
): ArrowNS.Table {
  const fields: ArrowNS.Field[] = [];
  const children: ArrowNS.Data[] = [];
  for (const c of columns) {
    const col = store.column(c);
    const data = exportColumn(A, col, start, n);
    fields.push(new A.Field(col.name, data.type, true));
    children.push(data);
  }
  const meta = new Map<string, string>();
  const index = store.layout.index;
  if (index >= 0 && columns.includes(index))
    meta.set('shmframe', JSON.stringify({ index: store.layout.columns[index]?.name }));
  const schema = new A.Schema(fields, meta);
  const struct = A.makeData({ type: new A.Struct(fields), length: n, nullCount: 0, children });
  return new A.Table(schema, [new A.RecordBatch(schema, struct)]);
}
