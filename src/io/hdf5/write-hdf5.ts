/**
 * `writeHDF5`: SharedFrames and SharedArrays into one HDF5 file, through h5wasm.
 *
 * h5wasm's documented compound path builds every record in JS objects and then copies the whole
 * dataset into its wasm memory (about 14 MB/s, and impossible past 2 GiB). Instead, every dataset
 * is created empty and chunked, resized once, and written in slices of whole chunks (hyperslab
 * writes) from one bounded buffer in the wasm memory, into which rows are interleaved straight
 * from the frame's columns. A dataset of any size is written with a buffer of a few MiB.
 *
 * Layouts for frames: `compound` (default) is one dataset of records, as h5py writes a numpy
 * structured array (seed 004's `[('chr','S10'),('pos','<i4'),...]` reads back in h5py as exactly
 * that dtype); `columns` is a group with one dataset per column. SharedArrays become N-d datasets.
 *
 * HDF5 has no bool, datetime, null or dictionary types that h5py and h5wasm share: bool columns
 * are stored as uint8, datetimes as int64 counts, utf8 and category text as NUL-padded UTF-8
 * strings of the longest value's length (category as int32 codes plus a `categories` attribute in
 * the columns layout). An attribute `shmframe_schema` (JSON) records the frame's dtypes whenever
 * they differ from what the stored types say, so `readHDF5` restores them. Nulls: NaN for floats,
 * NaT for datetimes, otherwise what the frame stores under them.
 */
import { statSync } from 'node:fs';
import { InvalidArgumentError, ShmframeIOError, describe } from '../../errors.js';
import { SharedArray } from '../../array/shared-array.js';
import type { DType } from '../../array/dtype.js';
import { dtypeOf } from '../../array/dtype.js';
import { SharedFrame } from '../../frame/shared-frame.js';
import type { Col } from '../../frame/store.js';
import { closeWrite, openWrite, writeAtomically } from '../atomic.js';
import { frameColumns, isValidAt, type FrameColumns } from '../frame-columns.js';
import { fillRecords, planRecords, type RecordField } from '../records.js';
import {
  H5T_COMPOUND,
  H5T_FLOAT,
  H5T_INTEGER,
  H5T_STRING,
  h5WriteError,
  loadH5,
  watchWrites,
  WasmBuffer,
  type H5,
  type H5File,
} from './h5wasm.js';
import { patchStringPadding, type StringType } from './strpad.js';
import { compoundType, floatType, intType, stringType } from './format.js';
import { checkDataset, writeNativeHDF5, type NativeDataset } from './native-writer.js';

/** Options of {@link writeHDF5}. */
export interface WriteHDF5Options {
  /** How frames are stored: one compound dataset, or a group of column datasets. @default 'compound' */
  layout?: 'compound' | 'columns';
  /** Rows per HDF5 chunk. @default about 1 MiB of rows */
  chunkRows?: number;
  /** gzip compression: `'gzip'` (level 4) or a level 1-9. @default none */
  compression?: 'gzip' | number;
  /**
   * Write the data with direct I/O (O_DIRECT, Linux), bypassing the page cache: the kernel spends
   * almost no CPU on it, at the price of waiting for the disk (fast on SSDs, slow on spinning
   * disks, where the default lets the kernel write in the background). Ignored where the
   * filesystem refuses it (tmpfs) and for chunked or compressed datasets. @default false
   */
  direct?: boolean;
}

/** What `writeHDF5` stores: dataset (or group) name -> frame or array. */
export type HDF5Datasets = Readonly<Record<string, SharedFrame | SharedArray>>;

const kSliceBytes = 8 << 20;
const kChunkBytes = 1 << 20;

interface TypeMeta {
  type: number;
  size: number;
  signed: boolean;
  littleEndian: true;
  vlen: false;
  cset?: number;
  compound_type?: { nmembers: number; members: Array<TypeMeta & { name: string; offset: number }> };
}

function fixedMeta(dt: DType): TypeMeta {
  const base = { littleEndian: true as const, vlen: false as const };
  switch (dt.kind) {
    case 'f':
      return { type: H5T_FLOAT, size: dt.itemsize, signed: false, ...base };
    case 'S':
      return { type: H5T_STRING, size: dt.itemsize, signed: false, cset: 0, ...base };
    case 'b':
      return { type: H5T_INTEGER, size: 1, signed: false, ...base };
    case 'M':
      return { type: H5T_INTEGER, size: 8, signed: true, ...base };
    default:
      return { type: H5T_INTEGER, size: dt.itemsize, signed: dt.kind === 'i', ...base };
  }
}

function textMeta(size: number): TypeMeta {
  return { type: H5T_STRING, size, signed: false, cset: 1, littleEndian: true, vlen: false };
}

/** True when the stored type says less than the dtype (so `shmframe_schema` is needed). */
function needsSchema(dtype: string): boolean {
  return dtype === '|b1' || dtype.startsWith('<M8') || dtype === 'utf8' || dtype === 'category';
}

interface DatasetJob {
  path: string;
  rows: number;
  rowBytes: number;
  chunkRows: number;
  write(buf: WasmBuffer, r: number, n: number): void;
}

export function checkName(name: string): string {
  if (
    name === '' ||
    (name.startsWith('/') && name.length === 1) ||
    name.includes('//') ||
    name.endsWith('/')
  )
    throw new InvalidArgumentError(
      `Expected dataset names like 'data' or 'group/data', got ${describe(name)}`,
    );
  return name.startsWith('/') ? name : `/${name}`;
}

function compressionOf(c: WriteHDF5Options['compression']): {
  compression: number;
  compression_opts: number[];
} {
  if (c === undefined) return { compression: 0, compression_opts: [] };
  if (c === 'gzip') return { compression: 1, compression_opts: [4] };
  if (Number.isInteger(c) && c >= 1 && c <= 9) return { compression: 1, compression_opts: [c] };
  throw new InvalidArgumentError(
    `Expected \`compression\` to be 'gzip' or a gzip level 1-9, got ${describe(c)}`,
  );
}

class Writer {
  readonly h5: H5;
  readonly file: H5File;
  readonly options: WriteHDF5Options;
  readonly jobs: DatasetJob[] = [];
  readonly strings: StringType[] = [];
  readonly holds: FrameColumns[] = [];

  constructor(h5: H5, file: H5File, options: WriteHDF5Options) {
    this.h5 = h5;
    this.file = file;
    this.options = options;
  }

  #chunkRows(rows: number, rowBytes: number): number {
    const want =
      this.options.chunkRows ?? Math.max(1, Math.floor(kChunkBytes / Math.max(1, rowBytes)));
    return Math.max(1, Math.min(want, rows));
  }

  #ensureGroups(path: string): void {
    const parts = path.split('/').filter((p) => p !== '');
    let at = '';
    for (const p of parts.slice(0, -1)) {
      at += `/${p}`;
      const g = this.file.get(at);
      if (g === null) this.file.create_group(at.slice(1));
      else if (g.type !== 'Group')
        throw new InvalidArgumentError(`${at} is a dataset, not a group`);
    }
  }

  /** Creates an empty chunked dataset and sizes it (no data is written yet). */
  #create(path: string, meta: TypeMeta, shape: number[], chunkRows: number): void {
    const M = this.h5.Module;
    const rows = shape[0] as number;
    const rest = shape.slice(1).map(BigInt);
    const { compression, compression_opts } = compressionOf(this.options.compression);
    const empty = rows === 0 || shape.some((d) => d === 0);
    const ds = {
      ...meta,
      total_size: 1,
      shape: [0n, ...rest],
      maxshape: shape.map(BigInt),
      chunks: empty ? null : [BigInt(chunkRows), ...rest],
      compression: empty ? 0 : compression,
      compression_opts: empty ? [] : compression_opts,
      track_order: false,
    };
    const tmp = new WasmBuffer(M, 8);
    try {
      const status = M.create_dataset(this.file.file_id, path, BigInt(tmp.ptr), ds);
      if (status < 0)
        throw new ShmframeIOError(`h5wasm could not create dataset ${path} (status ${status})`);
    } finally {
      tmp.free();
    }
    if (!empty && M.resize_dataset(this.file.file_id, path, shape.map(BigInt)) < 0)
      throw new ShmframeIOError(`h5wasm could not size dataset ${path} to [${shape.join(', ')}]`);
  }

  #attr(path: string, name: string, value: string | string[]): void {
    const e = this.file.get(path);
    e?.create_attribute(name, value);
  }

  addArray(name: string, a: SharedArray): void {
    const path = checkName(name);
    const dt = dtypeOf(a.dtype);
    const shape = a.ndim === 0 ? [1] : a.shape.slice();
    const rows = shape[0] as number;
    const rowBytes = (a.ndim === 0 ? 1 : a.size / Math.max(1, rows)) * dt.itemsize;
    if (rowBytes > 2 ** 31)
      throw new InvalidArgumentError(
        `${name}: one row of ${rowBytes} bytes is too large for an HDF5 chunk; reshape it`,
      );
    const chunkRows = this.#chunkRows(rows, rowBytes);
    this.#ensureGroups(path);
    this.#create(path, fixedMeta(dt), shape, chunkRows);
    if (dt.kind === 'S') this.strings.push({ size: dt.itemsize, cset: 0 });
    if (needsSchema(dt.str)) this.#attr(path, 'shmframe_dtype', dt.str);
    const M = this.h5.Module;
    const fileId = this.file.file_id;
    this.jobs.push({
      path,
      rows,
      rowBytes,
      chunkRows,
      write: (buf, r, n) => {
        const rowsView = a.ndim === 0 ? a.reshape([1]) : a.rows(r, r + n);
        const part = rowsView.isContiguous ? rowsView : rowsView.copy();
        try {
          const d = part.data;
          buf.view(n * rowBytes).set(new Uint8Array(d.buffer, d.byteOffset, n * rowBytes));
        } finally {
          if (part !== rowsView) part.close();
          rowsView.close();
        }
        const count = [BigInt(n), ...shape.slice(1).map(BigInt)];
        const offset = [BigInt(r), ...shape.slice(1).map(() => 0n)];
        if (
          M.set_dataset_data(
            fileId,
            path,
            count,
            offset,
            count.map(() => 1n),
            BigInt(buf.ptr),
          ) < 0
        )
          throw new ShmframeIOError(`h5wasm could not write rows ${r}..${r + n} of ${path}`);
      },
    });
  }

  addCompound(name: string, frame: SharedFrame): void {
    const path = checkName(name);
    const fc = frameColumns(frame, `dataset ${JSON.stringify(name)}`);
    this.holds.push(fc);
    const { fields, itemsize } = planRecords(fc.cols, fc.start, fc.length, 'utf8');
    const members = fields.map((f) => {
      const meta = f.encode === 'raw' ? fixedMeta(f.col.dt) : textMeta(f.size);
      if (meta.type === H5T_STRING)
        this.strings.push({
          member: f.col.name,
          offset: f.offset,
          size: f.size,
          cset: meta.cset ?? 0,
        });
      return {
        ...meta,
        name: f.col.name,
        offset: f.offset,
        total_size: 1,
        shape: null,
        maxshape: null,
        chunks: null,
      };
    });
    const meta: TypeMeta = {
      type: H5T_COMPOUND,
      size: itemsize,
      signed: false,
      littleEndian: true,
      vlen: false,
      compound_type: { nmembers: members.length, members },
    };
    const rows = fc.length;
    const chunkRows = this.#chunkRows(rows, itemsize);
    this.#ensureGroups(path);
    this.#create(path, meta, [rows], chunkRows);
    const schema = fc.cols.map((c) => [c.name, c.dtype]);
    if (schema.some(([, d]) => needsSchema(d as string)))
      this.#attr(path, 'shmframe_schema', JSON.stringify(schema));
    const M = this.h5.Module;
    const fileId = this.file.file_id;
    this.jobs.push({
      path,
      rows,
      rowBytes: itemsize,
      chunkRows,
      write: (buf, r, n) => {
        fillRecords(fields, itemsize, fc.start + r, fc.start + r + n, buf.view(n * itemsize));
        if (M.set_dataset_data(fileId, path, [BigInt(n)], [BigInt(r)], [1n], BigInt(buf.ptr)) < 0)
          throw new ShmframeIOError(`h5wasm could not write rows ${r}..${r + n} of ${path}`);
      },
    });
  }

  addColumns(name: string, frame: SharedFrame): void {
    const path = checkName(name);
    const fc = frameColumns(frame, `dataset ${JSON.stringify(name)}`);
    this.holds.push(fc);
    this.#ensureGroups(path);
    if (this.file.get(path) !== null) throw new InvalidArgumentError(`${path} is written twice`);
    this.file.create_group(path.slice(1), true);
    this.#attr(path, 'shmframe_schema', JSON.stringify(fc.cols.map((c) => [c.name, c.dtype])));
    const M = this.h5.Module;
    const fileId = this.file.file_id;
    for (const c of fc.cols) {
      if (c.name.includes('/') || c.name === '.' || c.name === '')
        throw new InvalidArgumentError(
          `Column ${JSON.stringify(c.name)} cannot be an HDF5 dataset name (no '/'): use layout: 'compound'`,
        );
      const cpath = `${path}/${c.name}`;
      let field: RecordField;
      let meta: TypeMeta;
      if (c.kind === 'category') {
        field = { col: c, size: 4, offset: 0, encode: 'raw' };
        meta = { type: H5T_INTEGER, size: 4, signed: true, littleEndian: true, vlen: false };
      } else {
        field = planRecords([c], fc.start, fc.length, 'utf8').fields[0] as RecordField;
        meta = field.encode === 'raw' ? fixedMeta(c.dt) : textMeta(field.size);
      }
      if (meta.type === H5T_STRING) this.strings.push({ size: field.size, cset: meta.cset ?? 0 });
      const rows = fc.length;
      const chunkRows = this.#chunkRows(rows, field.size);
      this.#create(cpath, meta, [rows], chunkRows);
      if (c.kind === 'category') {
        const labels = c.dict?.labels() ?? [];
        if (labels.length > 0) this.#attr(cpath, 'categories', labels);
      }
      if (needsSchema(c.dtype)) this.#attr(cpath, 'shmframe_dtype', c.dtype);
      this.jobs.push({
        path: cpath,
        rows,
        rowBytes: field.size,
        chunkRows,
        write: (buf, r, n) => {
          writeColumnSlice(c, field, fc.start + r, n, buf);
          if (
            M.set_dataset_data(fileId, cpath, [BigInt(n)], [BigInt(r)], [1n], BigInt(buf.ptr)) < 0
          )
            throw new ShmframeIOError(`h5wasm could not write rows ${r}..${r + n} of ${cpath}`);
        },
      });
    }
  }

  /** Writes every dataset's rows, calling `check` after each slice (it throws to stop). */
  writeAll(check: () => void): void {
    for (const job of this.jobs) {
      if (job.rows === 0 || job.rowBytes === 0) continue;
      const per =
        job.chunkRows * Math.max(1, Math.floor(kSliceBytes / (job.chunkRows * job.rowBytes)));
      const buf = new WasmBuffer(this.h5.Module, Math.min(per, job.rows) * job.rowBytes);
      try {
        for (let r = 0; r < job.rows; r += per) {
          job.write(buf, r, Math.min(per, job.rows - r));
          check();
        }
      } finally {
        buf.free();
      }
    }
  }

  release(): void {
    for (const h of this.holds) h.release();
  }
}

/** Copies one column's rows [r0, r0 + n) (block rows) into the buffer, as stored in HDF5. */
function writeColumnSlice(
  c: Col,
  field: RecordField,
  r0: number,
  n: number,
  buf: WasmBuffer,
): void {
  const out = buf.view(n * field.size);
  if (field.encode !== 'raw') {
    fillRecords([field], field.size, r0, r0 + n, out);
    return;
  }
  const data = c.data;
  const size = field.size;
  out.set(new Uint8Array(data.buffer, data.byteOffset + r0 * size, n * size));
  if (c.kind === 'fixed' && (c.dt.kind === 'f' || c.dt.kind === 'M')) {
    const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
    for (let i = 0; i < n; i++) {
      if (isValidAt(c, r0 + i)) continue;
      if (c.dt.kind === 'M') dv.setBigInt64(i * 8, -(2n ** 63n), true);
      else if (size === 4) dv.setFloat32(i * 4, NaN, true);
      else dv.setFloat64(i * 8, NaN, true);
    }
  }
}

/** The HDF5 datatype (`format.ts` encoding) of a fixed dtype, as `fixedMeta` describes it. */
function nativeType(dt: DType): Uint8Array {
  switch (dt.kind) {
    case 'f':
      return floatType(dt.itemsize as 2 | 4 | 8);
    case 'S':
      return stringType(dt.itemsize, 0, 'nullpad');
    case 'b':
      return intType(1, false);
    case 'M':
      return intType(8, true);
    default:
      return intType(dt.itemsize, dt.kind === 'i');
  }
}

/**
 * Whether shmframe's own writer writes these options' files (uncompressed, unchunked, compound
 * layout); h5wasm writes the others.
 */
export function ownWriterWrites(options: WriteHDF5Options): boolean {
  return (
    (options.layout ?? 'compound') === 'compound' &&
    options.compression === undefined &&
    options.chunkRows === undefined
  );
}

/** The `shmframe_schema` attribute a frame with this schema needs, if any. */
function schemaAttributes(
  schema: ReadonlyArray<readonly [string, string]>,
): Array<[string, string]> {
  return schema.some(([, d]) => needsSchema(d))
    ? [['shmframe_schema', JSON.stringify(schema)]]
    : [];
}

/**
 * Refuses, before anything is read or written, a schema whose compound type (or schema
 * attribute) would not fit an HDF5 header message (thousands of columns): the sizes of text
 * fields are not known yet, so offsets are counted at their widest.
 */
export function checkCompoundSchema(name: string, schema: ReadonlyArray<[string, string]>): void {
  const type = compoundType(
    2 ** 24,
    schema.map(([n, d]) => ({
      name: n,
      offset: 0,
      type: d === 'utf8' || d === 'category' ? stringType(1, 1, 'nullpad') : nativeType(dtypeOf(d)),
    })),
  );
  const d: NativeDataset = {
    path: checkName(name),
    type,
    dims: [0],
    rows: 0,
    rowBytes: 1,
    fill: () => {},
    attributes: schemaAttributes(schema),
  };
  checkDataset(d);
}

/** A frame as one contiguous compound dataset, rows interleaved straight from its columns. */
export function nativeCompound(
  name: string,
  frame: SharedFrame,
  holds: FrameColumns[],
): NativeDataset {
  const fc = frameColumns(frame, `dataset ${JSON.stringify(name)}`);
  holds.push(fc);
  const { fields, itemsize } = planRecords(fc.cols, fc.start, fc.length, 'utf8');
  const type = compoundType(
    itemsize,
    fields.map((f) => ({
      name: f.col.name,
      offset: f.offset,
      type: f.encode === 'raw' ? nativeType(f.col.dt) : stringType(f.size, 1, 'nullpad'),
    })),
  );
  return {
    path: checkName(name),
    type,
    dims: [fc.length],
    rows: fc.length,
    rowBytes: itemsize,
    fill: (dst, r0, n) => fillRecords(fields, itemsize, fc.start + r0, fc.start + r0 + n, dst),
    attributes: schemaAttributes(fc.cols.map((c) => [c.name, c.dtype] as const)),
  };
}

/**
 * An array as one contiguous N-d dataset. A contiguous array is copied as flat bytes; a strided
 * view (a frame's `values()`) block of rows by block of rows.
 */
function nativeArray(name: string, a: SharedArray): NativeDataset {
  const dt = dtypeOf(a.dtype);
  const dims = a.ndim === 0 ? [1] : a.shape.slice();
  const attributes: Array<[string, string]> = needsSchema(dt.str)
    ? [['shmframe_dtype', dt.str]]
    : [];
  const base = { path: checkName(name), type: nativeType(dt), dims, attributes };
  const rows = dims[0] as number;
  const rowBytes = rows === 0 ? 0 : (a.size / rows) * dt.itemsize;
  if (a.isContiguous) {
    const d = a.data;
    const bytes = new Uint8Array(d.buffer, d.byteOffset, a.size * dt.itemsize);
    return {
      ...base,
      rows: a.size,
      rowBytes: dt.itemsize,
      fill: (dst, r0, n) => dst.set(bytes.subarray(r0 * dt.itemsize, (r0 + n) * dt.itemsize)),
    };
  }
  return {
    ...base,
    rows,
    rowBytes,
    fill: (dst, r0, n) => {
      const view = a.rows(r0, r0 + n);
      const part = view.copy();
      try {
        const d = part.data;
        dst.set(new Uint8Array(d.buffer, d.byteOffset, n * rowBytes));
      } finally {
        part.close();
        view.close();
      }
    },
  };
}

/**
 * Writes frames and arrays into a new HDF5 file (replacing `path` once complete; a failed write
 * leaves no file behind). Frames are compound datasets (as h5py writes numpy structured arrays)
 * or groups of column datasets; arrays are N-d datasets. Needs the optional peer dependency
 * `h5wasm`.
 * @example
 * await writeHDF5('combined.h5', { data: frame });                   // h5py: f['data'].dtype == seed's dtype
 * await writeHDF5('cols.h5', { run1: frame, weights: array }, { layout: 'columns', compression: 4 });
 */
export async function writeHDF5(
  path: string,
  datasets: HDF5Datasets,
  options: WriteHDF5Options = {},
): Promise<void> {
  if (typeof path !== 'string' || path === '')
    throw new InvalidArgumentError(`Expected \`path\` to be a file path, got ${describe(path)}`);
  if (typeof datasets !== 'object' || datasets === null || Object.keys(datasets).length === 0)
    throw new InvalidArgumentError(
      `Expected \`datasets\` to be { name: SharedFrame | SharedArray, ... } with at least one entry, got ${describe(datasets)}`,
    );
  const layout = options.layout ?? 'compound';
  if (layout !== 'compound' && layout !== 'columns')
    throw new InvalidArgumentError(
      `Expected \`layout\` to be 'compound' or 'columns', got ${describe(layout)}`,
    );
  if (
    options.chunkRows !== undefined &&
    !(Number.isSafeInteger(options.chunkRows) && options.chunkRows > 0)
  )
    throw new InvalidArgumentError(
      `Expected \`chunkRows\` to be a positive integer, got ${describe(options.chunkRows)}`,
    );
  compressionOf(options.compression);
  if (options.direct !== undefined && typeof options.direct !== 'boolean')
    throw new InvalidArgumentError(
      `Expected \`direct\` to be true or false, got ${describe(options.direct)}`,
    );
  for (const [name, v] of Object.entries(datasets)) {
    checkName(name);
    if (!SharedFrame.isSharedFrame(v) && !SharedArray.isSharedArray(v))
      throw new InvalidArgumentError(
        `Expected dataset ${JSON.stringify(name)} to be a SharedFrame or a SharedArray, got ${describe(v)}`,
      );
  }
  if (ownWriterWrites(options)) {
    await writeAtomically(path, async (temp) => {
      const holds: FrameColumns[] = [];
      try {
        const jobs = Object.entries(datasets).map(([name, v]) =>
          SharedArray.isSharedArray(v) ? nativeArray(name, v) : nativeCompound(name, v, holds),
        );
        await writeNativeHDF5(temp, path, jobs, { direct: options.direct === true });
      } finally {
        for (const h of holds) h.release();
      }
    });
    return;
  }
  const h5 = await loadH5('writeHDF5');
  await writeAtomically(path, (temp) => {
    // Create the file with fs first: a missing directory or a permission problem is then a clear
    // SHMFRAME_ERR_IO instead of an HDF5 error stack on stderr.
    closeWrite(openWrite(temp, path), path);
    // Every status h5wasm returns is checked, and so is every write it makes (it does not report
    // a failed chunk flush): the temporary file is renamed into place only when all succeeded.
    const watch = watchWrites(h5);
    let strings: StringType[];
    let metadataBytes = 0;
    try {
      const file = new h5.File(temp, 'w', { libver: ['earliest', 'latest'] });
      if (file.file_id < 0n)
        throw new ShmframeIOError(
          `Cannot write ${JSON.stringify(path)}: HDF5 could not create the file`,
        );
      const check = (what: string): void => {
        if (watch.failure !== undefined) throw h5WriteError(path, watch.failure, what);
      };
      const w = new Writer(h5, file, options);
      strings = w.strings;
      let closed = -1;
      try {
        for (const [name, v] of Object.entries(datasets)) {
          if (SharedArray.isSharedArray(v)) w.addArray(name, v);
          else if (layout === 'compound') w.addCompound(name, v);
          else w.addColumns(name, v);
        }
        const flushed = h5.Module.flush(file.file_id);
        check('HDF5 could not write its metadata');
        if (flushed < 0) throw h5WriteError(path, undefined, 'HDF5 could not write its metadata');
        metadataBytes = statSync(temp).size;
        w.writeAll(() => check('HDF5 could not write the data'));
      } finally {
        w.release();
        closed = file.close();
      }
      check('HDF5 could not finish the file');
      if (closed < 0) throw h5WriteError(path, undefined, 'HDF5 could not finish the file');
    } finally {
      watch.stop();
    }
    patchStringPadding(temp, path, metadataBytes, strings);
  });
}
