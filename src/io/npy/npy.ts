/**
 * `readNpy` / `writeNpy`: numpy's `.npy` format, byte-compatible with `np.save` / `np.load`.
 * A SharedArray is one plain array; a SharedFrame is one structured array (one record per row,
 * one field per column), the way `np.loadtxt` returns seed 004's data.
 */
import { InvalidArgumentError, describe } from '../../errors.js';
import { SharedArray } from '../../array/shared-array.js';
import { dtypeOfTypedArray, type TypedArray } from '../../array/dtype.js';
import type { Heap } from '../../heap/heap.js';
import { closeWrite, openWrite, writeAll, writeAtomically } from '../atomic.js';
import { closeQuietly, fileSize, openRead, readAt } from '../text/file.js';
import { decodeHeader, encodeHeader, type NpyHeader } from './header.js';
import { readNpyArray, writeArrayData } from './npy-array.js';
import { SharedFrame } from '../../frame/shared-frame.js';
import { fileSource, readStructured, writeStructured } from './npy-frame.js';

/** What `writeNpy` accepts. */
export type NpySource = SharedArray | SharedFrame | TypedArray;

/** Options of {@link readNpy}. */
export interface ReadNpyOptions {
  /** Heap to allocate in. @default Heap.default() */
  heap?: Heap;
}

/** Reads the header of an open `.npy` file (growing the read for long structured headers). */
export function readHeader(fd: number, path: string, offset = 0): NpyHeader {
  let n = 4096;
  for (;;) {
    const buf = Buffer.allocUnsafe(n);
    const got = readAt(fd, path, buf, 0, n, offset);
    const b = buf.subarray(0, got);
    if (got >= 12) {
      const major = b[6];
      const need = (major === 1 ? 10 + b.readUInt16LE(8) : 12 + b.readUInt32LE(8)) + 0;
      if (need > got && got === n && need < 1 << 30) {
        n = need;
        continue;
      }
    }
    const h = decodeHeader(b, JSON.stringify(path));
    return { ...h, dataOffset: h.dataOffset + offset };
  }
}

/**
 * Reads a `.npy` file into the heap: a plain array as a SharedArray, a structured array as a
 * SharedFrame (fields become columns; `<U<n>` text fields become utf8 columns). Big-endian data
 * is byte-swapped; Fortran-ordered arrays are returned in C order.
 * @example
 * const a = await readNpy('matrix.npy');           // SharedArray
 * const f = await readNpy('records.npy');          // SharedFrame for a structured dtype
 */
export async function readNpy(
  path: string,
  options: ReadNpyOptions = {},
): Promise<SharedArray | SharedFrame> {
  const fd = openRead(path);
  try {
    const size = fileSize(fd, path);
    const header = readHeader(fd, path);
    if (typeof header.descr !== 'string')
      return await readStructured(
        fileSource(fd, path, header.dataOffset),
        path,
        header,
        options.heap,
      );
    return readNpyArray(fd, path, header, size, options.heap);
  } finally {
    closeQuietly(fd);
  }
}

/**
 * Writes a SharedArray (or a TypedArray, as 1-d) or a SharedFrame to a `.npy` file that
 * `np.load` reads back exactly. A frame becomes a structured array with one field per column
 * (utf8 and category columns as `<U<n>` with n the longest value; nulls have no numpy
 * equivalent and are written as NaN / NaT / 0 / empty). The file appears complete or not at all.
 * @example
 * await writeNpy('combined.npy', frame);   // np.load('combined.npy') -> structured array
 */
export async function writeNpy(path: string, source: NpySource): Promise<void> {
  if (typeof path !== 'string' || path === '')
    throw new InvalidArgumentError(`Expected \`path\` to be a file path, got ${describe(path)}`);
  if (SharedFrame.isSharedFrame(source)) {
    await writeAtomically(path, (temp) => {
      const fd = openWrite(temp, path);
      try {
        writeStructured(fd, path, source, 0);
      } finally {
        closeWrite(fd, path);
      }
    });
    return;
  }
  let array: SharedArray;
  let owned = false;
  if (SharedArray.isSharedArray(source)) array = source;
  else if (ArrayBuffer.isView(source) && dtypeOfTypedArray(source) !== undefined) {
    array = SharedArray.from(source as TypedArray);
    owned = true;
  } else
    throw new InvalidArgumentError(
      `Expected a SharedArray, a SharedFrame or a TypedArray to write, got ${describe(source)}`,
    );
  try {
    await writeAtomically(path, (temp) => {
      const fd = openWrite(temp, path);
      try {
        writeNpyArrayTo(fd, path, array, 0);
      } finally {
        closeWrite(fd, path);
      }
    });
  } finally {
    if (owned) array.close();
  }
}

/** Writes header and data of an array at `position`; returns the end position. */
export function writeNpyArrayTo(
  fd: number,
  path: string,
  array: SharedArray,
  position: number,
): number {
  const header = encodeHeader(array.dtype, array.shape);
  writeAll(fd, path, header, position);
  return writeArrayData(fd, path, array, position + header.length);
}

/** Bytes `writeNpyArrayTo` writes. */
export function npyArrayBytes(array: SharedArray): number {
  return encodeHeader(array.dtype, array.shape).length + array.byteLength;
}
