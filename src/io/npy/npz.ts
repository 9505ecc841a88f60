/**
 * `.npz`: a zip of `.npy` files, as `np.savez` (stored) and `np.savez_compressed` (deflated)
 * write them. Stored entries are written and read in place, straight between the heap and the
 * file; deflated ones stream through zlib in bounded chunks.
 */
import { createReadStream, unlinkSync } from 'node:fs';
import { createDeflateRaw, createInflateRaw, crc32 } from 'node:zlib';
import { CorruptError, DtypeError, InvalidArgumentError, describe } from '../../errors.js';
import { SharedArray } from '../../array/shared-array.js';
import { dtypeOfTypedArray, type TypedArray } from '../../array/dtype.js';
import type { Heap } from '../../heap/heap.js';
import { SharedFrame } from '../../frame/shared-frame.js';
import {
  byteChunks,
  closeWrite,
  openWrite,
  tempPathFor,
  writeAll,
  writeAtomically,
} from '../atomic.js';
import { closeQuietly, fileSize, openRead } from '../text/file.js';
import { decodeHeader, type NpyHeader } from './header.js';
import { npyArrayBytes, readHeader, writeNpyArrayTo } from './npy.js';
import { npyDtype, readNpyArray, swapBytes } from './npy-array.js';
import {
  fileSource,
  readStructured,
  structuredBytes,
  writeStructured,
  type RecordSource,
} from './npy-frame.js';
import { checkEntry, crcOfRange, readZipDirectory, ZipWriter, type ZipEntry } from './zip.js';

/** Options of {@link writeNpz}. */
export interface WriteNpzOptions {
  /** Deflate every entry (`np.savez_compressed`). @default false */
  compress?: boolean;
}

/** What {@link writeNpz} stores: name -> array or frame (saved as `<name>.npy`). */
export type NpzEntries = Readonly<Record<string, SharedArray | SharedFrame | TypedArray>>;

/**
 * Writes arrays and frames into one `.npz` (what `np.savez` / `np.savez_compressed` write;
 * `np.load(path)[name]` reads each back). Frames are structured arrays, as with `writeNpy`.
 * @example
 * await writeNpz('run.npz', { data: frame, weights: array }, { compress: true });
 */
export async function writeNpz(
  path: string,
  entries: NpzEntries,
  options: WriteNpzOptions = {},
): Promise<void> {
  if (typeof path !== 'string' || path === '')
    throw new InvalidArgumentError(`Expected \`path\` to be a file path, got ${describe(path)}`);
  if (typeof entries !== 'object' || entries === null || Object.keys(entries).length === 0)
    throw new InvalidArgumentError(
      `Expected \`entries\` to be { name: array or frame, ... }, got ${describe(entries)}`,
    );
  const list: Array<[string, SharedArray | SharedFrame, boolean]> = [];
  try {
    for (const [name, v] of Object.entries(entries)) {
      if (name === '' || name.includes('\0'))
        throw new InvalidArgumentError(
          `Expected entry names to be non-empty, got ${describe(name)}`,
        );
      if (SharedArray.isSharedArray(v) || SharedFrame.isSharedFrame(v)) list.push([name, v, false]);
      else if (ArrayBuffer.isView(v) && dtypeOfTypedArray(v) !== undefined)
        list.push([name, SharedArray.from(v), true]);
      else
        throw new InvalidArgumentError(
          `Expected entry ${JSON.stringify(name)} to be a SharedArray, a SharedFrame or a TypedArray, got ${describe(v)}`,
        );
    }
    await writeAtomically(path, async (temp) => {
      const fd = openWrite(temp, path, 'w+');
      try {
        const zip = new ZipWriter(fd, path);
        for (const [name, v] of list) {
          const entry = name.endsWith('.npy') ? name : `${name}.npy`;
          const size = SharedFrame.isSharedFrame(v) ? structuredBytes(v) : npyArrayBytes(v);
          const write = (wfd: number, wpath: string, at: number): number =>
            SharedFrame.isSharedFrame(v)
              ? writeStructured(wfd, wpath, v, at)
              : writeNpyArrayTo(wfd, wpath, v, at);
          if (options.compress !== true) {
            const e = zip.begin(entry, 0, size);
            const end = write(fd, path, e.dataOffset);
            zip.end(e, end, zip.crcOf(e.dataOffset, end), end - e.dataOffset);
          } else {
            // The .npy goes to a scratch file first, then streams through deflate into the zip.
            const scratch = tempPathFor(path);
            try {
              const sfd = openWrite(scratch, path);
              try {
                write(sfd, path, 0);
              } finally {
                closeWrite(sfd, path);
              }
              const e = zip.begin(entry, 8, size);
              let pos = e.dataOffset;
              let crc = 0;
              let total = 0;
              const input = createReadStream(scratch, { highWaterMark: 1 << 20 });
              input.on('data', (chunk) => {
                const b = chunk as Buffer;
                crc = crc32(b, crc);
                total += b.length;
              });
              for await (const chunk of input.pipe(createDeflateRaw({ level: 6 }))) {
                writeAll(fd, path, chunk as Buffer, pos);
                pos += (chunk as Buffer).length;
              }
              zip.end(e, pos, crc, total);
            } finally {
              try {
                unlinkSync(scratch);
              } catch {
                // already gone
              }
            }
          }
        }
        zip.finish();
      } finally {
        closeWrite(fd, path);
      }
    });
  } finally {
    for (const [, v, owned] of list) if (owned) v.close();
  }
}

/** Options of {@link readNpz}. */
export interface ReadNpzOptions {
  /** Heap to allocate in. @default Heap.default() */
  heap?: Heap;
}

/** A pull source over a deflated zip entry. */
class InflateSource implements RecordSource {
  readonly #path: string;
  readonly #start: number;
  readonly #length: number;
  #it: AsyncIterator<Buffer> | undefined;
  #pending: Buffer | undefined;
  #destroy: (() => void) | undefined;
  /** CRC-32 and count of the inflated bytes handed out since the start (or the last rewind). */
  #crc = 0;
  #total = 0;

  constructor(path: string, start: number, length: number) {
    this.#path = path;
    this.#start = start;
    this.#length = length;
  }

  #open(): AsyncIterator<Buffer> {
    const raw = createReadStream(this.#path, {
      start: this.#start,
      end: this.#start + this.#length - 1,
      highWaterMark: 1 << 20,
    });
    const inflate = createInflateRaw();
    const out = raw.pipe(inflate);
    this.#destroy = () => {
      raw.destroy();
      inflate.destroy();
    };
    return out[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  async read(buf: Uint8Array, n: number): Promise<number> {
    this.#it ??= this.#open();
    let got = 0;
    while (got < n) {
      if (this.#pending === undefined || this.#pending.length === 0) {
        let r: IteratorResult<Buffer>;
        try {
          r = await this.#it.next();
        } catch (err) {
          throw new CorruptError(
            `${JSON.stringify(this.#path)}: a deflated entry does not inflate: ${(err as Error).message}`,
            {
              cause: err,
            },
          );
        }
        if (r.done === true) break;
        this.#pending = r.value;
      }
      const take = Math.min(n - got, this.#pending.length);
      const part = this.#pending.subarray(0, take);
      buf.set(part, got);
      this.#crc = crc32(part, this.#crc);
      this.#total += take;
      this.#pending = this.#pending.subarray(take);
      got += take;
    }
    return got;
  }

  rewind(): void {
    this.close();
    this.#crc = 0;
    this.#total = 0;
  }

  /**
   * Inflates whatever was not read yet and checks the whole entry's CRC-32 and size against its
   * directory entry (as numpy's zipfile does at the end of an entry).
   */
  async verify(e: ZipEntry, what: string): Promise<void> {
    const rest = Buffer.allocUnsafe(1 << 16);
    while ((await this.read(rest, rest.length)) > 0);
    checkEntry(e, what, this.#crc, this.#total);
  }

  close(): void {
    this.#destroy?.();
    this.#it = undefined;
    this.#pending = undefined;
    this.#destroy = undefined;
  }
}

async function readExactly(src: RecordSource, buf: Uint8Array, what: string): Promise<void> {
  let got = 0;
  while (got < buf.length) {
    const k = await src.read(buf.subarray(got), buf.length - got);
    if (k === 0) throw new CorruptError(`${what} is truncated`);
    got += k;
  }
}

async function readDeflated(
  path: string,
  e: ZipEntry,
  what: string,
  heap: Heap | undefined,
): Promise<SharedArray | SharedFrame> {
  const src = new InflateSource(path, e.dataOffset, e.compressedSize);
  let out: SharedArray | SharedFrame | undefined;
  try {
    out = await readDeflatedEntry(src, what, heap);
    await src.verify(e, what);
    return out;
  } catch (err) {
    out?.close();
    throw err;
  } finally {
    src.close();
  }
}

/** The entry's array or frame, read from the inflating source (the caller checks the CRC). */
async function readDeflatedEntry(
  src: InflateSource,
  what: string,
  heap: Heap | undefined,
): Promise<SharedArray | SharedFrame> {
  const pre = Buffer.alloc(12);
  await readExactly(src, pre, what);
  const hlen = pre[6] === 1 ? pre.readUInt16LE(8) + 10 : pre.readUInt32LE(8) + 12;
  const head = Buffer.alloc(hlen);
  pre.copy(head, 0, 0, 12);
  await readExactly(src, head.subarray(12), what);
  const header: NpyHeader = decodeHeader(head, what);
  if (typeof header.descr !== 'string') {
    // readStructured rewinds for a second pass: give it a source positioned after the header.
    const body: RecordSource = {
      read: (b, n) => src.read(b, n),
      rewind: async () => {
        src.rewind();
        const skip = Buffer.alloc(hlen);
        await readExactly(src, skip, what);
      },
    };
    return await readStructured(body, what, header, heap);
  }
  if (header.fortranOrder && header.shape.length > 1)
    throw new DtypeError(
      `${what} is a Fortran-ordered array inside a compressed .npz, which is not supported; save np.ascontiguousarray(a)`,
    );
  const { dt, swap } = npyDtype(header.descr, what);
  const a = SharedArray.empty(header.shape, dt.str, heap === undefined ? undefined : { heap });
  try {
    const d = a.data;
    for (const view of byteChunks(d.buffer, d.byteOffset, a.byteLength, 1 << 24)) {
      await readExactly(src, view, what);
      if (swap) swapBytes(view, dt.itemsize);
    }
    return a;
  } catch (err) {
    a.close();
    throw err;
  }
}

/**
 * Reads every `.npy` entry of an `.npz` (stored or deflated) into the heap: `{ name: SharedArray
 * | SharedFrame }`, names without `.npy`. Close each result when done.
 * @example
 * const { data, weights } = await readNpz('run.npz');
 */
export async function readNpz(
  path: string,
  options: ReadNpzOptions = {},
): Promise<Record<string, SharedArray | SharedFrame>> {
  if (typeof path !== 'string' || path === '')
    throw new InvalidArgumentError(`Expected \`path\` to be a file path, got ${describe(path)}`);
  const fd = openRead(path);
  const out: Record<string, SharedArray | SharedFrame> = {};
  try {
    const size = fileSize(fd, path);
    for (const e of readZipDirectory(fd, path, size)) {
      if (!e.name.endsWith('.npy')) continue;
      const key = e.name.slice(0, -4);
      const what = `${JSON.stringify(path)}[${JSON.stringify(key)}]`;
      if (e.method === 0) {
        // Checked before reading, as numpy's zipfile would refuse it: a flipped data byte must
        // not come back as a plausible number.
        checkEntry(
          e,
          what,
          crcOfRange(fd, path, e.dataOffset, e.dataOffset + e.compressedSize),
          e.compressedSize,
        );
        const header = readHeader(fd, path, e.dataOffset);
        out[key] =
          typeof header.descr === 'string'
            ? readNpyArray(fd, path, header, e.dataOffset + e.size, options.heap)
            : await readStructured(
                fileSource(fd, path, header.dataOffset),
                what,
                header,
                options.heap,
              );
      } else {
        out[key] = await readDeflated(path, e, what, options.heap);
      }
    }
    return out;
  } catch (err) {
    for (const v of Object.values(out)) v.close();
    throw err;
  } finally {
    closeQuietly(fd);
  }
}
