/**
 * The little of the ZIP format `.npz` needs (PKWARE APPNOTE 6.3): stored or deflated entries,
 * ZIP64 when a size or offset passes 4 GiB or there are more than 65535 entries, UTF-8 names.
 * Entries are written in place and their local header patched afterwards (CRC, sizes), so no
 * data descriptors are needed; every reader, Python's zipfile (numpy's np.load) included,
 * accepts this.
 */
import { readSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { CorruptError } from '../../errors.js';
import { writeAll } from '../atomic.js';
import { readAt } from '../text/file.js';

const kLocal = 0x04034b50;
const kCentral = 0x02014b50;
const kEnd = 0x06054b50;
const kEnd64 = 0x06064b50;
const kLocator64 = 0x07064b50;
const kMax32 = 0xffffffff;

export interface ZipEntry {
  name: string;
  method: 0 | 8;
  crc: number;
  compressedSize: number;
  size: number;
  /** Offset of the local header. */
  offset: number;
  /** Offset of the data (after the local header). */
  dataOffset: number;
  zip64: boolean;
}

/** DOS date and time of `d`. */
function dosTime(d: Date): { time: number; date: number } {
  return {
    time: (d.getHours() << 11) | (d.getMinutes() << 5) | Math.floor(d.getSeconds() / 2),
    date: ((Math.max(1980, d.getFullYear()) - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate(),
  };
}

function u64(b: Buffer, v: number, at: number): void {
  b.writeUInt32LE(v % 2 ** 32, at);
  b.writeUInt32LE(Math.floor(v / 2 ** 32), at + 4);
}

export class ZipWriter {
  readonly #fd: number;
  readonly #path: string;
  readonly entries: ZipEntry[] = [];
  #pos = 0;
  readonly #when = dosTime(new Date());

  constructor(fd: number, path: string) {
    this.#fd = fd;
    this.#path = path;
  }

  get position(): number {
    return this.#pos;
  }

  #localHeader(e: ZipEntry): Buffer {
    const name = Buffer.from(e.name, 'utf8');
    const extra = e.zip64 ? 20 : 0;
    const b = Buffer.alloc(30 + name.length + extra);
    b.writeUInt32LE(kLocal, 0);
    b.writeUInt16LE(e.zip64 ? 45 : 20, 4);
    b.writeUInt16LE(/[^\x20-\x7e]/.test(e.name) ? 0x0800 : 0, 6);
    b.writeUInt16LE(e.method, 8);
    b.writeUInt16LE(this.#when.time, 10);
    b.writeUInt16LE(this.#when.date, 12);
    b.writeUInt32LE(e.crc >>> 0, 14);
    b.writeUInt32LE(e.zip64 ? kMax32 : e.compressedSize, 18);
    b.writeUInt32LE(e.zip64 ? kMax32 : e.size, 22);
    b.writeUInt16LE(name.length, 26);
    b.writeUInt16LE(extra, 28);
    name.copy(b, 30);
    if (e.zip64) {
      const x = 30 + name.length;
      b.writeUInt16LE(0x0001, x);
      b.writeUInt16LE(16, x + 2);
      u64(b, e.size, x + 4);
      u64(b, e.compressedSize, x + 12);
    }
    return b;
  }

  /**
   * Starts an entry: writes a provisional local header and returns where its data goes.
   * `sizeHint` (uncompressed bytes) decides whether the entry needs ZIP64.
   */
  begin(name: string, method: 0 | 8, sizeHint: number): ZipEntry {
    const zip64 = sizeHint >= kMax32 - (1 << 24) || this.#pos >= kMax32;
    const e: ZipEntry = {
      name,
      method,
      crc: 0,
      compressedSize: 0,
      size: 0,
      offset: this.#pos,
      dataOffset: 0,
      zip64,
    };
    const h = this.#localHeader(e);
    writeAll(this.#fd, this.#path, h, this.#pos);
    e.dataOffset = this.#pos + h.length;
    this.#pos = e.dataOffset;
    return e;
  }

  /** Completes an entry whose data now ends at `end`: patches CRC and sizes. */
  end(e: ZipEntry, end: number, crc: number, size: number): void {
    e.compressedSize = end - e.dataOffset;
    e.size = size;
    e.crc = crc;
    if (!e.zip64 && (e.size >= kMax32 || e.compressedSize >= kMax32))
      throw new CorruptError(`zip entry ${e.name} grew past 4 GiB without ZIP64`);
    writeAll(this.#fd, this.#path, this.#localHeader(e), e.offset);
    this.#pos = end;
    this.entries.push(e);
  }

  /** CRC-32 of bytes [start, end) already written. */
  crcOf(start: number, end: number): number {
    return crcOfRange(this.#fd, this.#path, start, end);
  }

  /** Writes the central directory and the end records. */
  finish(): void {
    const cdStart = this.#pos;
    const parts: Buffer[] = [];
    for (const e of this.entries) {
      const name = Buffer.from(e.name, 'utf8');
      const big = [e.size >= kMax32, e.compressedSize >= kMax32, e.offset >= kMax32];
      const extraLen = big.some(Boolean) ? 4 + 8 * big.filter(Boolean).length : 0;
      const b = Buffer.alloc(46 + name.length + extraLen);
      b.writeUInt32LE(kCentral, 0);
      b.writeUInt16LE((3 << 8) | 45, 4);
      b.writeUInt16LE(e.zip64 || extraLen > 0 ? 45 : 20, 6);
      b.writeUInt16LE(/[^\x20-\x7e]/.test(e.name) ? 0x0800 : 0, 8);
      b.writeUInt16LE(e.method, 10);
      b.writeUInt16LE(this.#when.time, 12);
      b.writeUInt16LE(this.#when.date, 14);
      b.writeUInt32LE(e.crc >>> 0, 16);
      b.writeUInt32LE(big[1] ? kMax32 : e.compressedSize, 20);
      b.writeUInt32LE(big[0] ? kMax32 : e.size, 24);
      b.writeUInt16LE(name.length, 28);
      b.writeUInt16LE(extraLen, 30);
      b.writeUInt32LE(0o100644 * 0x10000, 38);
      b.writeUInt32LE(big[2] ? kMax32 : e.offset, 42);
      name.copy(b, 46);
      if (extraLen > 0) {
        let x = 46 + name.length;
        b.writeUInt16LE(0x0001, x);
        b.writeUInt16LE(extraLen - 4, x + 2);
        x += 4;
        if (big[0]) {
          u64(b, e.size, x);
          x += 8;
        }
        if (big[1]) {
          u64(b, e.compressedSize, x);
          x += 8;
        }
        if (big[2]) u64(b, e.offset, x);
      }
      parts.push(b);
    }
    const cd = Buffer.concat(parts);
    writeAll(this.#fd, this.#path, cd, cdStart);
    let at = cdStart + cd.length;
    const n = this.entries.length;
    const need64 = n >= 0xffff || cdStart >= kMax32 || cd.length >= kMax32;
    if (need64) {
      const z = Buffer.alloc(56 + 20);
      z.writeUInt32LE(kEnd64, 0);
      u64(z, 44, 4);
      z.writeUInt16LE((3 << 8) | 45, 12);
      z.writeUInt16LE(45, 14);
      u64(z, n, 24);
      u64(z, n, 32);
      u64(z, cd.length, 40);
      u64(z, cdStart, 48);
      z.writeUInt32LE(kLocator64, 56);
      u64(z, at, 64);
      z.writeUInt32LE(1, 72);
      writeAll(this.#fd, this.#path, z, at);
      at += z.length;
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(kEnd, 0);
    end.writeUInt16LE(Math.min(n, 0xffff), 8);
    end.writeUInt16LE(Math.min(n, 0xffff), 10);
    end.writeUInt32LE(Math.min(cd.length, kMax32), 12);
    end.writeUInt32LE(Math.min(cdStart, kMax32), 16);
    writeAll(this.#fd, this.#path, end, at);
    this.#pos = at + 22;
  }
}

/** CRC-32 of the file's bytes [start, end). */
export function crcOfRange(fd: number, path: string, start: number, end: number): number {
  const buf = Buffer.allocUnsafe(Math.min(4 << 20, Math.max(1, end - start)));
  let c = 0;
  for (let at = start; at < end;) {
    const n = readAt(fd, path, buf, 0, Math.min(buf.length, end - at), at);
    if (n === 0) throw new CorruptError(`zip entry data ends early at ${at}`);
    c = crc32(buf.subarray(0, n), c);
    at += n;
  }
  return c;
}

/** SHMFRAME_ERR_CORRUPT unless an entry's bytes have the CRC-32 and size its directory entry says. */
export function checkEntry(e: ZipEntry, what: string, crc: number, size: number): void {
  if (size !== e.size)
    throw new CorruptError(
      `${what}: the zip entry holds ${size} bytes where its directory entry says ${e.size}: the file is damaged`,
    );
  if (crc >>> 0 !== e.crc >>> 0)
    throw new CorruptError(
      `${what}: bad CRC-32 (the data gives ${hex(crc)}, the zip directory says ${hex(e.crc)}): the entry is damaged. ` +
        `Nothing was read from it; restore the file from a good copy.`,
      { details: { expected: e.crc >>> 0, actual: crc >>> 0 } },
    );
}

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}

function read64(b: Buffer, at: number): number {
  return b.readUInt32LE(at) + b.readUInt32LE(at + 4) * 2 ** 32;
}

/** The entries of a zip file (central directory), with their data offsets. */
export function readZipDirectory(fd: number, path: string, size: number): ZipEntry[] {
  const what = JSON.stringify(path);
  const tail = Buffer.alloc(Math.min(size, 65536 + 22));
  readSync(fd, tail, 0, tail.length, size - tail.length);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === kEnd) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0)
    throw new CorruptError(`${what} is not a zip (.npz) file: no end of central directory`);
  let count = tail.readUInt16LE(eocd + 10);
  let cdSize = tail.readUInt32LE(eocd + 12);
  let cdStart = tail.readUInt32LE(eocd + 16);
  if (eocd >= 20 && tail.readUInt32LE(eocd - 20) === kLocator64) {
    const at = read64(tail, eocd - 20 + 8);
    const z = Buffer.alloc(56);
    readSync(fd, z, 0, 56, at);
    if (z.readUInt32LE(0) !== kEnd64) throw new CorruptError(`${what}: bad ZIP64 end record`);
    count = read64(z, 32);
    cdSize = read64(z, 40);
    cdStart = read64(z, 48);
  }
  if (cdStart + cdSize > size)
    throw new CorruptError(`${what}: the zip directory lies outside the file`);
  const cd = Buffer.alloc(cdSize);
  readSync(fd, cd, 0, cdSize, cdStart);
  const out: ZipEntry[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || cd.readUInt32LE(p) !== kCentral)
      throw new CorruptError(`${what}: bad zip directory entry ${i}`);
    const method = cd.readUInt16LE(p + 10);
    const crc = cd.readUInt32LE(p + 16);
    let csize = cd.readUInt32LE(p + 20);
    let usize = cd.readUInt32LE(p + 24);
    const nlen = cd.readUInt16LE(p + 28);
    const xlen = cd.readUInt16LE(p + 30);
    const clen = cd.readUInt16LE(p + 32);
    let offset = cd.readUInt32LE(p + 42);
    const name = cd.toString('utf8', p + 46, p + 46 + nlen);
    let x = p + 46 + nlen;
    const xend = x + xlen;
    while (x + 4 <= xend) {
      const id = cd.readUInt16LE(x);
      const len = cd.readUInt16LE(x + 2);
      if (id === 0x0001) {
        let y = x + 4;
        if (usize === kMax32) {
          usize = read64(cd, y);
          y += 8;
        }
        if (csize === kMax32) {
          csize = read64(cd, y);
          y += 8;
        }
        if (offset === kMax32) offset = read64(cd, y);
      }
      x += 4 + len;
    }
    if (method !== 0 && method !== 8)
      throw new CorruptError(
        `${what}: entry ${JSON.stringify(name)} uses zip method ${method}; only stored and deflated are supported`,
      );
    const lh = Buffer.alloc(30);
    readSync(fd, lh, 0, 30, offset);
    if (lh.readUInt32LE(0) !== kLocal)
      throw new CorruptError(`${what}: bad local header for ${JSON.stringify(name)}`);
    const dataOffset = offset + 30 + lh.readUInt16LE(26) + lh.readUInt16LE(28);
    if (dataOffset + csize > size)
      throw new CorruptError(`${what}: entry ${JSON.stringify(name)} is truncated`);
    out.push({
      name,
      method: method as 0 | 8,
      crc,
      compressedSize: csize,
      size: usize,
      offset,
      dataOffset,
      zip64: false,
    });
    p += 46 + nlen + xlen + clen;
  }
  return out;
}
