/**
 * SharedFrame <-> numpy structured arrays in `.npy` files: one record per row, one field per
 * column, packed (numpy's default for a dtype list such as seed 004's). Records are interleaved
 * and de-interleaved through a bounded buffer (4 MiB), so memory beyond the frame stays small.
 *
 * Column types: every fixed dtype maps to its own typestr; utf8 and category columns become
 * `<U<n>` (numpy's UTF-32 text, n = the longest value in code points) and read back as utf8.
 * numpy has no nulls: null floats are written as NaN, null datetimes as NaT, other nulls as 0 /
 * empty text (what the frame stores under them).
 */
import { CorruptError, DtypeError } from '../../errors.js';
import type { Heap } from '../../heap/heap.js';
import { SharedFrame } from '../../frame/shared-frame.js';
import type { Col } from '../../frame/store.js';
import { commitRows, natToNull, openFrame, setValidRange } from '../delimited/frame-access.js';
import { frameColumns } from '../frame-columns.js';
import { fillRecords, planRecords, scatterField, type RecordField } from '../records.js';
import { writeAll } from '../atomic.js';
import { readAt } from '../text/file.js';
import { encodeHeader, type NpyField, type NpyHeader } from './header.js';
import { npyDtype, swapBytes } from './npy-array.js';

const kChunkBytes = 1 << 22;

function npyFields(frame: SharedFrame): {
  fc: ReturnType<typeof frameColumns>;
  fields: RecordField[];
  itemsize: number;
  descr: NpyField[];
} {
  const fc = frameColumns(frame);
  try {
    const { fields, itemsize } = planRecords(fc.cols, fc.start, fc.length, 'utf32');
    const descr = fields.map((f) => ({
      name: f.col.name,
      descr: f.encode === 'raw' ? f.col.dt.str : `<U${f.size / 4}`,
    }));
    return { fc, fields, itemsize, descr };
  } catch (err) {
    fc.release();
    throw err;
  }
}

/** Writes a frame as a structured `.npy` at `position`; returns the end position. */
export function writeStructured(
  fd: number,
  path: string,
  frame: SharedFrame,
  position: number,
): number {
  const { fc, fields, itemsize, descr } = npyFields(frame);
  try {
    const header = encodeHeader(descr, [fc.length]);
    writeAll(fd, path, header, position);
    let pos = position + header.length;
    const per = Math.max(1, Math.floor(kChunkBytes / Math.max(1, itemsize)));
    const buf = Buffer.allocUnsafe(per * itemsize);
    for (let r = 0; r < fc.length; r += per) {
      const n = Math.min(per, fc.length - r);
      fillRecords(fields, itemsize, fc.start + r, fc.start + r + n, buf);
      writeAll(fd, path, buf.subarray(0, n * itemsize), pos);
      pos += n * itemsize;
    }
    return pos;
  } finally {
    fc.release();
  }
}

/** Bytes `writeStructured` writes (for zip entries). */
export function structuredBytes(frame: SharedFrame): number {
  const { fc, itemsize, descr } = npyFields(frame);
  fc.release();
  return encodeHeader(descr, [fc.length]).length + itemsize * fc.length;
}

interface ReadField {
  name: string;
  kind: 'fixed' | 'utf8';
  dtype: string;
  size: number;
  offset: number;
  swap: boolean;
  /** UTF-32 big-endian. */
  bigEndian: boolean;
}

/** Decodes UTF-32 (trailing NULs dropped, as numpy does) to a string. */
function fromUtf32(b: Uint8Array, at: number, size: number, be: boolean): string {
  let end = size;
  while (
    end >= 4 &&
    b[at + end - 1] === 0 &&
    b[at + end - 2] === 0 &&
    b[at + end - 3] === 0 &&
    b[at + end - 4] === 0
  )
    end -= 4;
  let s = '';
  for (let i = 0; i < end; i += 4) {
    const o = at + i;
    const cp = be
      ? (((b[o] as number) << 24) |
          ((b[o + 1] as number) << 16) |
          ((b[o + 2] as number) << 8) |
          (b[o + 3] as number)) >>>
        0
      : (((b[o + 3] as number) << 24) |
          ((b[o + 2] as number) << 16) |
          ((b[o + 1] as number) << 8) |
          (b[o] as number)) >>>
        0;
    s += cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ? '\ufffd' : String.fromCodePoint(cp);
  }
  return s;
}

/** Source of record bytes: a plain file region, or a decompressing stream (npz). */
export interface RecordSource {
  /** Fills `buf` with the next `n` bytes of the data region; returns the count. */
  read(buf: Uint8Array, n: number): Promise<number> | number;
  /** Back to the start of the data region (for a second pass). */
  rewind(): Promise<void> | void;
}

export function fileSource(fd: number, path: string, offset: number): RecordSource {
  let pos = offset;
  return {
    read: (buf, n) => {
      const got = readAt(fd, path, buf, 0, n, pos);
      pos += got;
      return got;
    },
    rewind: () => {
      pos = offset;
    },
  };
}

/** Reads a structured `.npy` (from `src`) into a new SharedFrame. */
export async function readStructured(
  src: RecordSource,
  path: string,
  header: NpyHeader,
  heap: Heap | undefined,
): Promise<SharedFrame> {
  const what = JSON.stringify(path);
  if (header.shape.length > 1)
    throw new DtypeError(
      `${what} holds a ${header.shape.length}-d structured array; only 1-d ones become frames (reshape it to 1-d in numpy)`,
    );
  const rows = header.shape.length === 0 ? 1 : (header.shape[0] as number);
  let offset = 0;
  const fields: ReadField[] = (header.descr as NpyField[]).map((f) => {
    const order = f.descr[0];
    const body = /^[<>|=]/.test(f.descr) ? f.descr.slice(1) : f.descr;
    const u = /^U(\d+)$/.exec(body);
    let r: ReadField;
    if (u !== null) {
      const size = 4 * Number(u[1]);
      r = {
        name: f.name,
        kind: 'utf8',
        dtype: 'utf8',
        size,
        offset,
        swap: false,
        bigEndian: order === '>',
      };
    } else {
      const { dt, swap } = npyDtype(f.descr, `field ${JSON.stringify(f.name)} of ${what}`);
      r = {
        name: f.name,
        kind: 'fixed',
        dtype: dt.str,
        size: dt.itemsize,
        offset,
        swap,
        bigEndian: false,
      };
    }
    offset += r.size;
    return r;
  });
  const itemsize = offset;
  const per = Math.max(1, Math.floor(kChunkBytes / Math.max(1, itemsize)));
  const buf = Buffer.allocUnsafe(per * itemsize);
  const readChunk = async (n: number): Promise<void> => {
    const want = n * itemsize;
    let got = 0;
    while (got < want) {
      const k = await src.read(buf.subarray(got), want - got);
      if (k === 0) break;
      got += k;
    }
    if (got !== want)
      throw new CorruptError(
        `${what} is truncated: ${rows} records of ${itemsize} bytes announced`,
      );
  };
  // utf8 columns: measure first (the frame's text regions are sized at creation).
  const stringBytes: Record<string, number> = {};
  const texts = fields.filter((f) => f.kind === 'utf8');
  if (texts.length > 0) {
    for (const f of texts) stringBytes[f.name] = 0;
    for (let r = 0; r < rows; r += per) {
      const n = Math.min(per, rows - r);
      await readChunk(n);
      for (const f of texts)
        for (let i = 0; i < n; i++)
          stringBytes[f.name] =
            (stringBytes[f.name] as number) +
            Buffer.byteLength(fromUtf32(buf, i * itemsize + f.offset, f.size, f.bigEndian));
    }
    await src.rewind();
    for (const f of texts) stringBytes[f.name] = Math.max(64, stringBytes[f.name] as number);
  }
  const frame = SharedFrame.create(
    fields.map((f) => [f.name, f.dtype] as [string, string]),
    { capacity: rows, heap, stringBytes },
  );
  try {
    const access = openFrame(frame);
    try {
      const store = access.store;
      const cols = fields.map((_, i) => store.column(i));
      const cursors = fields.map(() => 0);
      for (let r = 0; r < rows; r += per) {
        const n = Math.min(per, rows - r);
        await readChunk(n);
        fields.forEach((f, i) => {
          const c = cols[i] as Col;
          if (f.kind === 'fixed') {
            const data = c.data;
            const dst = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
            scatterField(buf, itemsize, f.offset, f.size, n, dst, r);
            if (f.swap) swapBytes(dst.subarray(r * f.size, (r + n) * f.size), f.size);
          } else {
            const o = c.data as Int32Array;
            const bytes = c.bytes as Buffer;
            for (let k = 0; k < n; k++) {
              const s = fromUtf32(buf, k * itemsize + f.offset, f.size, f.bigEndian);
              o[r + k] = cursors[i] as number;
              cursors[i] = (cursors[i] as number) + bytes.write(s, cursors[i] as number, 'utf8');
              o[r + k + 1] = cursors[i] as number;
            }
          }
        });
      }
      for (const c of cols) {
        setValidRange(c, 0, rows);
        natToNull(c, rows);
      }
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
