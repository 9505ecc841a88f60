/**
 * `.npy` files of plain (non-structured) arrays: read straight into a SharedArray's memory,
 * written straight from it, in chunks of at most 1 GiB (one `read`/`write` call's limit), with no
 * intermediate copy for C-contiguous data.
 */
import { CorruptError, DtypeError } from '../../errors.js';
import { dtypeOf, type DType } from '../../array/dtype.js';
import { SharedArray } from '../../array/shared-array.js';
import type { Heap } from '../../heap/heap.js';
import { byteChunks, writeAll } from '../atomic.js';
import { readAt } from '../text/file.js';
import type { NpyHeader } from './header.js';

/** The SharedArray dtype of a numpy typestr, and whether its bytes must be swapped. */
export function npyDtype(descr: string, what: string): { dt: DType; swap: boolean } {
  const order = descr[0];
  const body =
    order === '<' || order === '>' || order === '|' || order === '=' ? descr.slice(1) : descr;
  const kind = body[0];
  if (kind === 'O')
    throw new DtypeError(
      `${what} holds Python objects (dtype ${descr}), which cannot be read outside Python; save them as a numeric or fixed-width dtype`,
    );
  if (kind === 'U')
    throw new DtypeError(
      `${what} has dtype ${descr} (UTF-32 text): a SharedArray holds |S<n> bytes; convert it in numpy with arr.astype('S') or save it as a field of a structured array (read as a utf8 frame column)`,
    );
  if (kind === 'V')
    throw new DtypeError(`${what} has a raw void dtype (${descr}), which is not supported`);
  const swap = order === '>' && !/^(?:b1|i1|u1|S\d+|a\d+)$/.test(body);
  const dt = dtypeOf(order === '>' ? '<' + body : descr);
  return { dt, swap };
}

/** Reverses the byte order of every `size`-byte element of `bytes`. */
export function swapBytes(bytes: Uint8Array, size: number): void {
  if (size <= 1) return;
  for (let i = 0; i + size <= bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a] as number;
      bytes[a] = bytes[b] as number;
      bytes[b] = t;
    }
  }
}

/** Reads the data of a plain `.npy` array into a new SharedArray. */
export function readNpyArray(
  fd: number,
  path: string,
  header: NpyHeader,
  fileSize: number,
  heap: Heap | undefined,
): SharedArray {
  const what = JSON.stringify(path);
  const { dt, swap } = npyDtype(header.descr as string, what);
  const shape = header.shape;
  let size = 1;
  for (const n of shape) size *= n;
  const nbytes = size * dt.itemsize;
  if (header.dataOffset + nbytes > fileSize)
    throw new CorruptError(
      `${what} is truncated: shape [${shape.join(', ')}] of ${dt.str} needs ${nbytes} data bytes, the file has ${Math.max(0, fileSize - header.dataOffset)}`,
    );
  const a = SharedArray.empty(shape, dt.str, heap === undefined ? undefined : { heap });
  try {
    const data = a.data;
    const base = data.byteOffset;
    if (!header.fortranOrder || shape.length < 2) {
      let pos = header.dataOffset;
      for (const view of byteChunks(data.buffer, base, nbytes)) {
        const n = readAt(fd, path, view, 0, view.length, pos);
        if (n !== view.length) throw new CorruptError(`${what} is truncated`);
        if (swap) swapBytes(view, dt.itemsize);
        pos += n;
      }
    } else {
      readFortran(
        fd,
        path,
        header.dataOffset,
        shape,
        dt.itemsize,
        swap,
        new Uint8Array(data.buffer, base, nbytes),
      );
    }
    return a;
  } catch (err) {
    a.close();
    throw err;
  }
}

/** Reads column-major data (file order: first axis fastest) into a row-major destination. */
function readFortran(
  fd: number,
  path: string,
  offset: number,
  shape: readonly number[],
  itemsize: number,
  swap: boolean,
  dst: Uint8Array,
): void {
  const nd = shape.length;
  // C-order strides, in elements.
  const cs = new Array<number>(nd);
  let s = 1;
  for (let k = nd - 1; k >= 0; k--) {
    cs[k] = s;
    s *= shape[k] as number;
  }
  const total = s;
  const idx = new Array<number>(nd).fill(0);
  let at = 0; // C index of the current element
  const per = Math.max(1, Math.floor((1 << 22) / itemsize));
  const buf = Buffer.allocUnsafe(per * itemsize);
  for (let done = 0; done < total;) {
    const n = Math.min(per, total - done);
    const got = readAt(fd, path, buf, 0, n * itemsize, offset + done * itemsize);
    if (got !== n * itemsize) throw new CorruptError(`${JSON.stringify(path)} is truncated`);
    if (swap) swapBytes(buf.subarray(0, got), itemsize);
    for (let i = 0; i < n; i++) {
      dst.set(buf.subarray(i * itemsize, i * itemsize + itemsize), at * itemsize);
      // Advance the Fortran-order odometer: axis 0 fastest.
      for (let k = 0; k < nd; k++) {
        idx[k] = (idx[k] as number) + 1;
        at += cs[k] as number;
        if ((idx[k] as number) < (shape[k] as number)) break;
        at -= (shape[k] as number) * (cs[k] as number);
        idx[k] = 0;
      }
    }
    done += n;
  }
}

/** Writes a SharedArray's elements in C order (straight from its memory when contiguous). */
export function writeArrayData(fd: number, path: string, a: SharedArray, position: number): number {
  const data = a.data;
  const itemsize = a.itemsize;
  if (a.isContiguous) {
    let pos = position;
    for (const view of byteChunks(data.buffer, data.byteOffset, a.byteLength)) {
      writeAll(fd, path, view, pos);
      pos += view.length;
    }
    return pos;
  }
  // A strided view: gather elements in C order into a bounded buffer.
  const shape = a.shape;
  const strides = a.strides;
  const nd = shape.length;
  const src = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const per = Math.max(1, Math.floor((1 << 22) / itemsize));
  const buf = Buffer.allocUnsafe(per * itemsize);
  const idx = new Array<number>(nd).fill(0);
  let at = 0;
  let fill = 0;
  let pos = position;
  const total = a.size;
  for (let i = 0; i < total; i++) {
    buf.set(src.subarray(at * itemsize, at * itemsize + itemsize), fill * itemsize);
    if (++fill === per) {
      writeAll(fd, path, buf, pos);
      pos += buf.length;
      fill = 0;
    }
    for (let k = nd - 1; k >= 0; k--) {
      idx[k] = (idx[k] as number) + 1;
      at += strides[k] as number;
      if ((idx[k] as number) < (shape[k] as number)) break;
      at -= (shape[k] as number) * (strides[k] as number);
      idx[k] = 0;
    }
  }
  if (fill > 0) {
    writeAll(fd, path, buf.subarray(0, fill * itemsize), pos);
    pos += fill * itemsize;
  }
  return pos;
}
