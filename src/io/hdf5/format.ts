/**
 * The bytes of the HDF5 file format that shmframe's own writer emits (`native-writer.ts`):
 * superblock version 2, version 2 object headers with checksums, compact ("new style") groups,
 * contiguous datasets, and the datatype, dataspace, fill value, layout, link and attribute
 * messages. Everything here follows the HDF5 File Format Specification 3.0; the versions chosen
 * are the oldest that carry checksums, so HDF5 1.8 and later (h5py, h5wasm, h5dump) read the
 * files. Offsets and lengths are 8 bytes; all integers little-endian.
 */

import { InvalidArgumentError } from '../../errors.js';

/** An undefined address. */
export const kUndefined = 0xffffffffffffffffn;

/** Jenkins' lookup3 `hashlittle`, as HDF5 uses it for metadata checksums (initval 0). */
export function lookup3(data: Uint8Array, initval = 0): number {
  let length = data.length;
  let a = (0xdeadbeef + length + initval) >>> 0;
  let b = a;
  let c = a;
  let k = 0;
  const rot = (x: number, r: number): number => ((x << r) | (x >>> (32 - r))) >>> 0;
  const word = (bytes: Uint8Array, i: number): number =>
    ((bytes[i] as number) |
      ((bytes[i + 1] as number) << 8) |
      ((bytes[i + 2] as number) << 16) |
      ((bytes[i + 3] as number) << 24)) >>>
    0;
  while (length > 12) {
    a = (a + word(data, k)) >>> 0;
    b = (b + word(data, k + 4)) >>> 0;
    c = (c + word(data, k + 8)) >>> 0;
    a = (a - c) >>> 0;
    a = (a ^ rot(c, 4)) >>> 0;
    c = (c + b) >>> 0;
    b = (b - a) >>> 0;
    b = (b ^ rot(a, 6)) >>> 0;
    a = (a + c) >>> 0;
    c = (c - b) >>> 0;
    c = (c ^ rot(b, 8)) >>> 0;
    b = (b + a) >>> 0;
    a = (a - c) >>> 0;
    a = (a ^ rot(c, 16)) >>> 0;
    c = (c + b) >>> 0;
    b = (b - a) >>> 0;
    b = (b ^ rot(a, 19)) >>> 0;
    a = (a + c) >>> 0;
    c = (c - b) >>> 0;
    c = (c ^ rot(b, 4)) >>> 0;
    b = (b + a) >>> 0;
    length -= 12;
    k += 12;
  }
  if (length === 0) return c;
  // The last 1-12 bytes, zero-extended.
  const tail = new Uint8Array(12);
  tail.set(data.subarray(k, k + length));
  a = (a + word(tail, 0)) >>> 0;
  b = (b + word(tail, 4)) >>> 0;
  c = (c + word(tail, 8)) >>> 0;
  c = (c ^ b) >>> 0;
  c = (c - rot(b, 14)) >>> 0;
  a = (a ^ c) >>> 0;
  a = (a - rot(c, 11)) >>> 0;
  b = (b ^ a) >>> 0;
  b = (b - rot(a, 25)) >>> 0;
  c = (c ^ b) >>> 0;
  c = (c - rot(b, 16)) >>> 0;
  a = (a ^ c) >>> 0;
  a = (a - rot(c, 4)) >>> 0;
  b = (b ^ a) >>> 0;
  b = (b - rot(a, 14)) >>> 0;
  c = (c ^ b) >>> 0;
  c = (c - rot(b, 24)) >>> 0;
  return c;
}

/** A growable little-endian byte writer. */
export class Bytes {
  #buf = new Uint8Array(256);
  #view = new DataView(this.#buf.buffer);
  length = 0;

  #room(n: number): void {
    if (this.length + n <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.length + n));
    next.set(this.#buf.subarray(0, this.length));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }
  u8(v: number): this {
    this.#room(1);
    this.#buf[this.length++] = v;
    return this;
  }
  u16(v: number): this {
    this.#room(2);
    this.#view.setUint16(this.length, v, true);
    this.length += 2;
    return this;
  }
  u32(v: number): this {
    this.#room(4);
    this.#view.setUint32(this.length, v >>> 0, true);
    this.length += 4;
    return this;
  }
  u64(v: number | bigint): this {
    this.#room(8);
    this.#view.setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
    return this;
  }
  bytes(b: Uint8Array): this {
    this.#room(b.length);
    this.#buf.set(b, this.length);
    this.length += b.length;
    return this;
  }
  view(): Uint8Array {
    return this.#buf.subarray(0, this.length);
  }
}

const utf8 = new TextEncoder();

// ---- datatypes (message 0x0003). Each is the whole message body: class/version, bit field, size,
// properties.

function typeHeader(cls: number, bits: number, size: number): Bytes {
  return new Bytes()
    .u8((1 << 4) | cls)
    .u8(bits & 0xff)
    .u8((bits >>> 8) & 0xff)
    .u8((bits >>> 16) & 0xff)
    .u32(size);
}

/** A little-endian two's complement (signed) or unsigned integer of `size` bytes. */
export function intType(size: number, signed: boolean): Uint8Array {
  return typeHeader(0, signed ? 0x08 : 0, size)
    .u16(0)
    .u16(size * 8)
    .view();
}

/** A little-endian IEEE 754 float of 2, 4 or 8 bytes. */
export function floatType(size: 2 | 4 | 8): Uint8Array {
  const [expBits, mantBits, bias] =
    size === 2 ? [5, 10, 15] : size === 4 ? [8, 23, 127] : [11, 52, 1023];
  const sign = size * 8 - 1;
  // bits 4-5: mantissa normalization 2 (implied leading 1); bits 8-15: sign bit position
  return typeHeader(1, 0x20 | (sign << 8), size)
    .u16(0)
    .u16(size * 8)
    .u8(mantBits)
    .u8(expBits)
    .u8(0)
    .u8(mantBits)
    .u32(bias)
    .view();
}

/** A fixed-length string of `size` bytes, NUL-padded (numpy `S<n>`) or NUL-terminated; ASCII or UTF-8. */
export function stringType(size: number, cset: 0 | 1, pad: 'nullpad' | 'nullterm'): Uint8Array {
  return typeHeader(3, (pad === 'nullpad' ? 1 : 0) | (cset << 4), size).view();
}

/** A compound type (version 3 encoding: names unpadded, offsets in as few bytes as the size needs). */
export function compoundType(
  size: number,
  members: ReadonlyArray<{ name: string; offset: number; type: Uint8Array }>,
): Uint8Array {
  const b = new Bytes()
    .u8((3 << 4) | 6)
    .u8(members.length & 0xff)
    .u8((members.length >>> 8) & 0xff)
    .u8(0)
    .u32(size);
  const offsetBytes = size < 2 ** 8 ? 1 : size < 2 ** 16 ? 2 : size < 2 ** 24 ? 3 : 4;
  for (const m of members) {
    b.bytes(utf8.encode(m.name)).u8(0);
    for (let i = 0; i < offsetBytes; i++) b.u8(Math.floor(m.offset / 2 ** (8 * i)) & 0xff);
    b.bytes(m.type);
  }
  return b.view();
}

// ---- other messages

/** Dataspace (0x0001), version 2: simple with these dims (max = dims), or scalar for `null`. */
export function dataspace(dims: readonly number[] | null): Uint8Array {
  if (dims === null) return new Bytes().u8(2).u8(0).u8(0).u8(0).view();
  const b = new Bytes().u8(2).u8(dims.length).u8(1).u8(1);
  for (const d of dims) b.u64(d);
  for (const d of dims) b.u64(d);
  return b.view();
}

/** Fill value (0x0005), version 3: allocation late, fill written if set, no value (as h5py writes). */
export function fillValue(): Uint8Array {
  return new Bytes().u8(3).u8(0x0a).view();
}

/** Data layout (0x0008), version 3, contiguous. */
export function contiguousLayout(address: bigint, size: number): Uint8Array {
  return new Bytes().u8(3).u8(1).u64(address).u64(size).view();
}

/** Link info (0x0002), version 0: compact storage (no fractal heap, no name index). */
export function linkInfo(): Uint8Array {
  return new Bytes().u8(0).u8(0).u64(kUndefined).u64(kUndefined).view();
}

/** Group info (0x000A), version 0, with the compact/dense thresholds set so `links` stay compact. */
export function groupInfo(links: number): Uint8Array {
  return new Bytes()
    .u8(0)
    .u8(1)
    .u16(Math.max(8, Math.min(0xffff, links)))
    .u16(6)
    .view();
}

/** Link (0x0006), version 1: a hard link named `name` to the object header at `address`. */
export function hardLink(name: string, address: bigint): Uint8Array {
  const n = utf8.encode(name);
  const ascii = n.length === name.length;
  const wide = n.length > 0xff;
  const b = new Bytes().u8(1).u8((wide ? 1 : 0) | (ascii ? 0 : 0x10));
  if (!ascii) b.u8(1);
  if (wide) b.u16(n.length);
  else b.u8(n.length);
  return b.bytes(n).u64(address).view();
}

/** Attribute (0x000C), version 3: a scalar fixed-length UTF-8 string. */
export function stringAttribute(name: string, value: string): Uint8Array {
  const n = utf8.encode(name);
  const v = utf8.encode(value);
  const type = stringType(Math.max(1, v.length), 1, 'nullterm');
  const space = dataspace(null);
  const data = new Uint8Array(Math.max(1, v.length));
  data.set(v);
  return new Bytes()
    .u8(3)
    .u8(0)
    .u16(n.length + 1)
    .u16(type.length)
    .u16(space.length)
    .u8(1)
    .bytes(n)
    .u8(0)
    .bytes(type)
    .bytes(space)
    .bytes(data)
    .view();
}

export const enum Msg {
  Dataspace = 0x01,
  LinkInfo = 0x02,
  Datatype = 0x03,
  FillValue = 0x05,
  Link = 0x06,
  Layout = 0x08,
  GroupInfo = 0x0a,
  Attribute = 0x0c,
}

/** Flag of a message that never changes (datatype, fill value). */
export const kConstant = 0x01;

export interface Message {
  type: Msg;
  flags?: number;
  body: Uint8Array;
}

/** Throws when a header message is larger than the 65535 bytes its size field can say. */
export function checkMessageSize(body: Uint8Array, what: string): void {
  if (body.length > 0xffff)
    throw new InvalidArgumentError(
      `${what} needs ${body.length} bytes in its HDF5 header, more than a header message holds (65535): with that many columns, write layout: 'columns'`,
    );
}

/** Bytes of a version 2 object header holding `messages`. */
export function objectHeaderSize(messages: readonly Message[]): number {
  let n = 4 + 1 + 1 + 4; // OHDR, version, flags, size of chunk 0 (4 bytes)
  for (const m of messages) n += 4 + m.body.length;
  return n + 4; // checksum
}

/** A version 2 object header ("OHDR") with one chunk holding `messages`, and its checksum. */
export function objectHeader(messages: readonly Message[]): Uint8Array {
  let chunk = 0;
  for (const m of messages) chunk += 4 + m.body.length;
  const b = new Bytes().u8(0x4f).u8(0x48).u8(0x44).u8(0x52).u8(2).u8(0x02).u32(chunk);
  for (const m of messages) {
    checkMessageSize(m.body, `An HDF5 header message (type ${m.type})`);
    b.u8(m.type)
      .u16(m.body.length)
      .u8(m.flags ?? 0)
      .bytes(m.body);
  }
  b.u32(lookup3(b.view()));
  return b.view();
}

/** Superblock version 2 (48 bytes). */
export function superblock(eof: number, root: bigint): Uint8Array {
  const b = new Bytes()
    .bytes(Uint8Array.of(0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a))
    .u8(2)
    .u8(8)
    .u8(8)
    .u8(0)
    .u64(0)
    .u64(kUndefined)
    .u64(eof)
    .u64(root);
  b.u32(lookup3(b.view()));
  return b.view();
}
