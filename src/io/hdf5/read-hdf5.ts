/**
 * `readHDF5`: one dataset (or a group written with the `columns` layout) of an HDF5 file into
 * the heap, read in slices through a bounded wasm buffer (h5wasm's memory stops at 2 GiB):
 * a compound dataset or a group of 1-d datasets becomes a SharedFrame, any other dataset a
 * SharedArray. dtypes recorded by `writeHDF5` (`shmframe_schema`, `shmframe_dtype`) are restored;
 * files from h5py read as numpy would (h5py's bool enum as bool, fixed strings as |S<n>).
 */
import { closeSync, readSync } from 'node:fs';
import {
  CorruptError,
  DtypeError,
  InvalidArgumentError,
  ShmframeIOError,
  describe,
} from '../../errors.js';
import { SharedArray } from '../../array/shared-array.js';
import type { Heap } from '../../heap/heap.js';
import { SharedFrame } from '../../frame/shared-frame.js';
import type { Col } from '../../frame/store.js';
import { ByteDict } from '../text/byte-dict.js';
import { openRead } from '../text/file.js';
import { commitRows, natToNull, openFrame, setValidRange } from '../delimited/frame-access.js';
import { scatterField } from '../records.js';
import {
  H5T_COMPOUND,
  H5T_ENUM,
  H5T_FLOAT,
  H5T_INTEGER,
  H5T_STRING,
  loadH5,
  WasmBuffer,
  type H5,
  type H5Entity,
  type H5File,
  type H5Meta,
} from './h5wasm.js';

/** Options of {@link readHDF5}. */
export interface ReadHDF5Options {
  /** Heap to allocate in. @default Heap.default() */
  heap?: Heap;
}

const kSliceBytes = 8 << 20;
const kSignature = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The dtype numpy / h5py would give an HDF5 type. */
function dtypeOfMeta(m: H5Meta, what: string): string {
  switch (m.type) {
    case H5T_INTEGER:
      return m.size === 1 ? `|${m.signed ? 'i' : 'u'}1` : `<${m.signed ? 'i' : 'u'}${m.size}`;
    case H5T_FLOAT:
      if (m.size === 4 || m.size === 8) return `<f${m.size}`;
      throw new DtypeError(
        `${what} is a ${m.size * 8}-bit float, which has no TypedArray; convert it to f4 or f8`,
      );
    case H5T_STRING:
      if (m.vlen) return 'utf8';
      return `|S${m.size}`;
    case H5T_ENUM: {
      const members = m.enum_type?.members ?? {};
      if (Object.keys(members).length === 2 && members['FALSE'] === 0 && members['TRUE'] === 1)
        return '|b1';
      throw new DtypeError(
        `${what} is an HDF5 enum other than h5py's bool, which is not supported`,
      );
    }
    default:
      throw new DtypeError(
        `${what} has HDF5 type class ${m.type}, which is not supported (numbers, fixed strings, bool, compound)`,
      );
  }
}

function parseSchemaAttr(e: H5Entity, what: string): Array<[string, string]> | undefined {
  const a = e.attrs['shmframe_schema'];
  if (a === undefined) return undefined;
  try {
    const v = JSON.parse(String(a.value)) as unknown;
    if (
      Array.isArray(v) &&
      v.every(
        (p) =>
          Array.isArray(p) &&
          p.length === 2 &&
          typeof p[0] === 'string' &&
          typeof p[1] === 'string',
      )
    )
      return v as Array<[string, string]>;
  } catch {
    // fall through
  }
  throw new CorruptError(
    `${what} has an unreadable shmframe_schema attribute: ${describe(a.value)}`,
  );
}

/** How one frame column is filled from a field of a dataset's records. */
interface FieldRead {
  name: string;
  dtype: string;
  /** Dataset path, its record size and row count. */
  path: string;
  itemsize: number;
  /** Offset and size of the field in a record. */
  offset: number;
  size: number;
  /** raw bytes; text: fixed string -> utf8/category; codes: int32 category codes. */
  mode: 'raw' | 'text' | 'codes';
  /** category: labels (from the `categories` attribute, or collected while measuring). */
  dict?: ByteDict;
  bytes: number;
  /** vlen strings (read whole through h5wasm). */
  vlen?: string[];
}

class Reader {
  readonly h5: H5;
  readonly file: H5File;
  constructor(h5: H5, file: H5File) {
    this.h5 = h5;
    this.file = file;
  }

  /** Calls `fn(bytes, r, n)` for slices of rows of a 1-d dataset. */
  slices(
    path: string,
    rows: number,
    itemsize: number,
    fn: (b: Uint8Array, r: number, n: number) => void,
  ): void {
    if (rows === 0) return;
    const per = Math.max(1, Math.floor(kSliceBytes / Math.max(1, itemsize)));
    const buf = new WasmBuffer(this.h5.Module, Math.min(per, rows) * itemsize);
    try {
      for (let r = 0; r < rows; r += per) {
        const n = Math.min(per, rows - r);
        const status = this.h5.Module.get_dataset_data(
          this.file.file_id,
          path,
          [BigInt(n)],
          [BigInt(r)],
          [1n],
          BigInt(buf.ptr),
        );
        if (status < 0)
          throw new ShmframeIOError(`h5wasm could not read rows ${r}..${r + n} of ${path}`);
        fn(buf.view(n * itemsize), r, n);
      }
    } finally {
      buf.free();
    }
  }
}

function textEnd(b: Uint8Array, s: number, size: number): number {
  let e = s + size;
  while (e > s && b[e - 1] === 0) e--;
  return e;
}

async function readFrame(
  rd: Reader,
  fields: FieldRead[],
  rows: number,
  heap: Heap | undefined,
  what: string,
): Promise<SharedFrame> {
  // Measure text columns (the frame's regions are sized at creation).
  const stringBytes: Record<string, number> = {};
  const categories: Record<string, number> = {};
  const categoryBytes: Record<string, number> = {};
  for (const f of fields) {
    if (f.vlen !== undefined) {
      if (f.dtype === 'category') {
        f.dict = new ByteDict();
        for (const s of f.vlen) {
          const b = Buffer.from(s, 'utf8');
          f.dict.intern(b, 0, b.length);
        }
      } else f.bytes = f.vlen.reduce((n, s) => n + Buffer.byteLength(s), 0);
    } else if (f.mode === 'text') {
      if (f.dtype === 'category') f.dict = new ByteDict();
      rd.slices(f.path, rows, f.itemsize, (b, _r, n) => {
        for (let i = 0; i < n; i++) {
          const s = i * f.itemsize + f.offset;
          const e = textEnd(b, s, f.size);
          if (f.dict !== undefined) f.dict.intern(b, s, e);
          else f.bytes += e - s;
        }
      });
    }
    if (f.dtype === 'utf8') stringBytes[f.name] = Math.max(64, f.bytes);
    if (f.dtype === 'category') {
      categories[f.name] = Math.max(1, f.dict?.size ?? 0);
      categoryBytes[f.name] = Math.max(64, f.dict?.byteLength ?? 0);
    }
  }
  const frame = SharedFrame.create(
    fields.map((f) => [f.name, f.dtype] as [string, string]),
    { capacity: rows, heap, stringBytes, categories, categoryBytes },
  );
  try {
    const access = openFrame(frame);
    try {
      const store = access.store;
      fields.forEach((f, i) => {
        const c = store.column(i);
        if (f.dict !== undefined)
          for (const label of f.dict.values()) c.dict?.codeOf(label, `column ${f.name}`);
        fillColumn(rd, f, c, rows, what);
        setValidRange(c, 0, rows);
        natToNull(c, rows);
      });
      commitRows(store, rows);
    } finally {
      access.release();
    }
    return frame;
  } catch (err) {
    frame.close();
    throw err;
  }
}

function fillColumn(rd: Reader, f: FieldRead, c: Col, rows: number, what: string): void {
  if (f.vlen !== undefined) {
    if (c.kind === 'utf8') {
      const o = c.data as Int32Array;
      const bytes = c.bytes as Buffer;
      let at = 0;
      f.vlen.forEach((s, r) => {
        o[r] = at;
        at += bytes.write(s, at, 'utf8');
        o[r + 1] = at;
      });
    } else {
      const codes = c.data as Int32Array;
      f.vlen.forEach((s, r) => {
        const b = Buffer.from(s, 'utf8');
        codes[r] = (f.dict as ByteDict).find(b, 0, b.length);
      });
    }
    return;
  }
  if (f.mode === 'raw' || f.mode === 'codes') {
    const data = c.data;
    const dst = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    rd.slices(f.path, rows, f.itemsize, (b, r, n) =>
      scatterField(b, f.itemsize, f.offset, f.size, n, dst, r),
    );
    if (f.mode === 'codes') {
      const size = c.dict?.size ?? 0;
      const codes = c.data as Int32Array;
      for (let r = 0; r < rows; r++) {
        const code = codes[r] as number;
        if (code < -1 || code >= size)
          throw new CorruptError(
            `${what}: row ${r} of category column ${JSON.stringify(f.name)} has code ${code}, outside its ${size} categories`,
          );
      }
    }
    return;
  }
  if (c.kind === 'utf8') {
    const o = c.data as Int32Array;
    const bytes = c.bytes as Buffer;
    let at = 0;
    o[0] = 0;
    rd.slices(f.path, rows, f.itemsize, (b, r, n) => {
      for (let i = 0; i < n; i++) {
        const s = i * f.itemsize + f.offset;
        const e = textEnd(b, s, f.size);
        bytes.set(b.subarray(s, e), at);
        at += e - s;
        o[r + i + 1] = at;
      }
    });
  } else {
    const codes = c.data as Int32Array;
    const dict = f.dict as ByteDict;
    rd.slices(f.path, rows, f.itemsize, (b, r, n) => {
      for (let i = 0; i < n; i++) {
        const s = i * f.itemsize + f.offset;
        codes[r + i] = dict.find(b, s, textEnd(b, s, f.size));
      }
    });
  }
}

function fixedOrText(dtype: string, stored: string): 'raw' | 'text' {
  return (dtype === 'utf8' || dtype === 'category') && stored.startsWith('|S') ? 'text' : 'raw';
}

async function readCompound(
  rd: Reader,
  e: H5Entity,
  heap: Heap | undefined,
  what: string,
): Promise<SharedFrame> {
  const m = e.metadata;
  if ((m.shape ?? []).length !== 1)
    throw new DtypeError(
      `${what} is a ${(m.shape ?? []).length}-d compound dataset; only 1-d ones become frames`,
    );
  const rows = (m.shape as number[])[0] as number;
  const schema = parseSchemaAttr(e, what);
  const members = m.compound_type?.members ?? [];
  const fields: FieldRead[] = members.map((mem) => {
    const stored = dtypeOfMeta(mem, `member ${JSON.stringify(mem.name)} of ${what}`);
    if (stored === 'utf8')
      throw new DtypeError(
        `member ${JSON.stringify(mem.name)} of ${what} is a variable-length string, which h5wasm cannot read inside a compound type`,
      );
    const dtype = schema?.find(([n]) => n === mem.name)?.[1] ?? stored;
    return {
      name: mem.name,
      dtype,
      path: e.path,
      itemsize: m.size,
      offset: mem.offset,
      size: mem.size,
      mode: fixedOrText(dtype, stored),
      bytes: 0,
    };
  });
  return readFrame(rd, fields, rows, heap, what);
}

async function readGroup(
  rd: Reader,
  g: H5Entity,
  heap: Heap | undefined,
  what: string,
): Promise<SharedFrame> {
  const schema = parseSchemaAttr(g, what);
  const names = schema?.map(([n]) => n) ?? g.keys();
  let rows = -1;
  const fields: FieldRead[] = names.map((name) => {
    const d = g.get(name);
    if (d === null || d.type !== 'Dataset')
      throw new CorruptError(
        `${what} has no dataset ${JSON.stringify(name)} for its column ${JSON.stringify(name)}`,
      );
    const m = d.metadata;
    const shape = m.shape ?? [];
    const cw = `dataset ${d.path}`;
    if (shape.length !== 1)
      throw new DtypeError(
        `${cw} is ${shape.length}-d; a group reads as a frame only when all its datasets are 1-d columns`,
      );
    if (rows >= 0 && shape[0] !== rows)
      throw new CorruptError(`${cw} has ${shape[0]} rows, the group's other columns ${rows}`);
    rows = shape[0] as number;
    const stored = dtypeOfMeta(m, cw);
    const dtypeAttr = d.attrs['shmframe_dtype']?.value;
    const dtype =
      schema?.find(([n]) => n === name)?.[1] ??
      (typeof dtypeAttr === 'string' ? dtypeAttr : stored);
    const f: FieldRead = {
      name,
      dtype,
      path: d.path,
      itemsize: m.size,
      offset: 0,
      size: m.size,
      mode: 'raw',
      bytes: 0,
    };
    if (stored === 'utf8') {
      const v = (d as unknown as { value: unknown }).value;
      f.vlen = Array.isArray(v) ? (v as string[]) : [];
    } else if (dtype === 'category' && stored === '<i4') {
      f.mode = 'codes';
      const labels = d.attrs['categories']?.value;
      f.dict = ByteDict.from(Array.isArray(labels) ? labels.map(String) : []);
    } else f.mode = fixedOrText(dtype, stored);
    return f;
  });
  return readFrame(rd, fields, Math.max(0, rows), heap, what);
}

async function readArray(
  rd: Reader,
  e: H5Entity,
  heap: Heap | undefined,
  what: string,
): Promise<SharedArray> {
  const m = e.metadata;
  const stored = dtypeOfMeta(m, what);
  if (stored === 'utf8')
    throw new DtypeError(
      `${what} holds variable-length strings, which a SharedArray cannot hold; write it as |S<n>`,
    );
  const attr = e.attrs['shmframe_dtype']?.value;
  const dtype = typeof attr === 'string' && attr !== 'category' && attr !== 'utf8' ? attr : stored;
  const shape = m.shape ?? [];
  const a = SharedArray.empty(shape, dtype, heap === undefined ? undefined : { heap });
  try {
    const rows = shape.length === 0 ? 1 : (shape[0] as number);
    const rowBytes =
      shape.length === 0 ? m.size : shape.slice(1).reduce((p, d) => p * d, 1) * m.size;
    const d = a.data;
    const dst = new Uint8Array(d.buffer, d.byteOffset, a.byteLength);
    if (rows > 0 && rowBytes > 0) {
      const per = Math.max(1, Math.floor(kSliceBytes / rowBytes));
      const buf = new WasmBuffer(rd.h5.Module, Math.min(per, rows) * rowBytes);
      try {
        for (let r = 0; r < rows; r += per) {
          const n = Math.min(per, rows - r);
          const count = shape.length === 0 ? [] : [BigInt(n), ...shape.slice(1).map(BigInt)];
          const offset = shape.length === 0 ? [] : [BigInt(r), ...shape.slice(1).map(() => 0n)];
          const status = rd.h5.Module.get_dataset_data(
            rd.file.file_id,
            e.path,
            count,
            offset,
            count.map(() => 1n),
            BigInt(buf.ptr),
          );
          if (status < 0) throw new ShmframeIOError(`h5wasm could not read ${what}`);
          dst.set(buf.view(n * rowBytes), r * rowBytes);
        }
      } finally {
        buf.free();
      }
    }
    return a;
  } catch (err) {
    a.close();
    throw err;
  }
}

function checkSignature(path: string): void {
  const fd = openRead(path); // a regular file, or SHMFRAME_ERR_IO without blocking
  try {
    const b = Buffer.alloc(8);
    // The superblock is at 0, or after a user block of 512, 1024, 2048... bytes.
    for (let at = 0; at <= 1 << 20; at = at === 0 ? 512 : at * 2) {
      if (readSync(fd, b, 0, 8, at) < 8) break;
      if (b.equals(kSignature)) return;
    }
  } finally {
    closeSync(fd);
  }
  throw new CorruptError(`${JSON.stringify(path)} is not an HDF5 file (no HDF5 signature)`);
}

/**
 * Reads dataset (or group) `name` of an HDF5 file into the heap: compound datasets and groups of
 * columns (`writeHDF5`'s `columns` layout) as a SharedFrame, other datasets as a SharedArray.
 * Needs the optional peer dependency `h5wasm`.
 * @example
 * const frame = await readHDF5('combined.h5', 'data');     // seed 004's records
 */
export async function readHDF5(
  path: string,
  name: string,
  options: ReadHDF5Options = {},
): Promise<SharedFrame | SharedArray> {
  if (typeof path !== 'string' || path === '')
    throw new InvalidArgumentError(`Expected \`path\` to be a file path, got ${describe(path)}`);
  if (typeof name !== 'string' || name === '')
    throw new InvalidArgumentError(
      `Expected \`name\`, the dataset or group to read, got ${describe(name)}`,
    );
  checkSignature(path);
  const h5 = await loadH5('readHDF5');
  const file = new h5.File(path, 'r');
  if (file.file_id < 0n)
    throw new ShmframeIOError(`Cannot read ${JSON.stringify(path)}: HDF5 could not open it`);
  try {
    const full = name.startsWith('/') ? name : `/${name}`;
    const e = full === '/' ? file : file.get(full);
    const what = `${JSON.stringify(path)}:${full}`;
    if (e === null) {
      const keys = file.keys();
      throw new InvalidArgumentError(
        `${JSON.stringify(path)} has no dataset or group ${JSON.stringify(full)}; its top level holds ${JSON.stringify(keys.slice(0, 30))}`,
      );
    }
    const rd = new Reader(h5, file);
    if (e.type === 'Group') return await readGroup(rd, e, options.heap, what);
    if (e.type !== 'Dataset')
      throw new DtypeError(`${what} is a ${e.type}, not a dataset or group`);
    if (e.metadata.type === H5T_COMPOUND) return await readCompound(rd, e, options.heap, what);
    return await readArray(rd, e, options.heap, what);
  } finally {
    file.close();
  }
}
