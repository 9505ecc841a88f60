/**
 * shmframe's own HDF5 writer for uncompressed files: contiguous datasets in a tree of compact
 * groups. Each dataset's data goes at a 4 KiB-aligned address as soon as it is added, written
 * straight from the frames and arrays through two 8 MiB buffers (the next slice filled while
 * the previous one is written); the object headers follow the data, the superblock comes last.
 *
 * Why not h5wasm here: its writes pass through its 2 GiB wasm memory and Emscripten's file layer,
 * and it cannot place data where direct I/O needs it. This writer uses no wasm at all, so a
 * compound dataset of any size writes at the speed of the interleave and the disk. h5wasm still
 * writes chunked and compressed datasets and the `columns` layout (`write-hdf5.ts`).
 *
 * With `direct`, data goes through a second descriptor opened with O_DIRECT (Linux): the pages
 * never enter the page cache, so the kernel spends almost no CPU on them, and the write overlaps
 * whatever else the machine does. Where O_DIRECT is refused (tmpfs, other systems, an unaligned
 * buffer), the writer falls back to ordinary writes, silently and completely.
 */
import { closeSync, constants, ftruncateSync, openSync, write, writeSync } from 'node:fs';
import { InvalidArgumentError } from '../../errors.js';
import { writeAll } from '../atomic.js';
import { ioError } from '../text/file.js';
import {
  Msg,
  checkMessageSize,
  contiguousLayout,
  dataspace,
  fillValue,
  groupInfo,
  hardLink,
  kConstant,
  kUndefined,
  linkInfo,
  objectHeader,
  objectHeaderSize,
  stringAttribute,
  superblock,
  type Message,
} from './format.js';

/** One dataset: its type and shape, and a source of its rows in file order. */
export interface NativeDataset {
  /** Absolute path, e.g. '/data1' or '/runs/a'. */
  path: string;
  /** The datatype message (`format.ts`: intType, floatType, stringType, compoundType). */
  type: Uint8Array;
  dims: number[];
  /** Rows and bytes per row of the data in file order (the data is rows x rowBytes bytes). */
  rows: number;
  rowBytes: number;
  /** Writes rows [r0, r0 + n) into `dst` (exactly n x rowBytes bytes from dst[0]). */
  fill(dst: Uint8Array, r0: number, n: number): void;
  attributes: Array<[string, string]>;
}

export interface NativeOptions {
  /** Data through O_DIRECT where the system allows it. */
  direct: boolean;
}

const kAlign = 4096;
const kSlice = 8 << 20;
/** Below this much data, direct I/O is not worth its set-up. */
const kDirectMin = 4 << 20;

interface Node {
  name: string;
  children: Map<string, Node>;
  dataset?: NativeDataset;
  attributes: Array<[string, string]>;
  address: bigint;
  dataAddress: number;
}

const roundUp = (n: number, a: number): number => Math.ceil(n / a) * a;

function buildTree(datasets: readonly NativeDataset[]): Node {
  const node = (name: string): Node => ({
    name,
    children: new Map(),
    attributes: [],
    address: 0n,
    dataAddress: -1,
  });
  const root = node('');
  for (const d of datasets) {
    const parts = d.path.split('/').filter((p) => p !== '');
    let at = root;
    parts.forEach((p, i) => {
      let next = at.children.get(p);
      const where = `/${parts.slice(0, i + 1).join('/')}`;
      if (i === parts.length - 1) {
        if (next !== undefined) throw new InvalidArgumentError(`${where} is written twice`);
        next = node(p);
        next.dataset = d;
        next.attributes = d.attributes;
        at.children.set(p, next);
      } else {
        if (next === undefined) {
          next = node(p);
          at.children.set(p, next);
        } else if (next.dataset !== undefined)
          throw new InvalidArgumentError(`${where} is a dataset, not a group`);
      }
      at = next;
    });
  }
  return root;
}

function walk(n: Node, visit: (n: Node) => void): void {
  visit(n);
  for (const c of n.children.values()) walk(c, visit);
}

/** Messages of a node (with the addresses assigned so far: their size never changes). */
function messagesOf(n: Node): Message[] {
  const attrs = n.attributes.map(([k, v]): Message => ({
    type: Msg.Attribute,
    body: stringAttribute(k, v),
  }));
  const d = n.dataset;
  if (d === undefined)
    return [
      { type: Msg.LinkInfo, body: linkInfo() },
      { type: Msg.GroupInfo, flags: kConstant, body: groupInfo(n.children.size) },
      ...[...n.children.values()].map((c): Message => ({
        type: Msg.Link,
        body: hardLink(c.name, c.address),
      })),
      ...attrs,
    ];
  const bytes = d.rows * d.rowBytes;
  return [
    { type: Msg.Dataspace, body: dataspace(d.dims) },
    { type: Msg.Datatype, flags: kConstant, body: d.type },
    { type: Msg.FillValue, flags: kConstant, body: fillValue() },
    {
      type: Msg.Layout,
      body: contiguousLayout(bytes === 0 ? kUndefined : BigInt(n.dataAddress), bytes),
    },
    ...attrs,
  ];
}

/** Refuses a dataset whose type or attributes do not fit an HDF5 header message. */
export function checkDataset(d: NativeDataset): void {
  checkMessageSize(d.type, `The type of dataset ${d.path}`);
  for (const [k, v] of d.attributes)
    checkMessageSize(stringAttribute(k, v), `Attribute ${k} of dataset ${d.path}`);
}

/**
 * Object header addresses from `at` on (every node; a header's size does not depend on the
 * addresses it holds), and the end of the last one.
 */
function placeHeaders(root: Node, at: number): { nodes: Node[]; end: number } {
  const nodes: Node[] = [];
  walk(root, (n) => nodes.push(n));
  for (const n of nodes) {
    n.address = BigInt(at);
    at += objectHeaderSize(messagesOf(n));
  }
  return { nodes, end: at };
}

/** The object headers, back to back from the first one's address. */
function headers(nodes: readonly Node[], start: number, end: number): Uint8Array {
  const out = new Uint8Array(end - start);
  for (const n of nodes) out.set(objectHeader(messagesOf(n)), Number(n.address) - start);
  return out;
}

function writeAsync(fd: number, buf: Uint8Array, position: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (done: number): void => {
      if (done === buf.length) {
        resolve();
        return;
      }
      write(fd, buf, done, buf.length - done, position + done, (err, n) => {
        if (err) reject(err);
        else step(done + n);
      });
    };
    step(0);
  });
}

/** An ArrayBuffer with a window whose address suits O_DIRECT, found by trying (offsets 0-4080). */
function alignedWindow(fd: number, bytes: number): Uint8Array | null {
  const raw = new Uint8Array(bytes + kAlign);
  for (let off = 0; off < kAlign; off += 16) {
    try {
      writeSync(fd, raw, off, kAlign, 0);
      return raw.subarray(off, off + bytes);
    } catch {
      // EINVAL: not aligned (or no direct I/O at all); try the next offset.
    }
  }
  return null;
}

/** The data descriptor: O_DIRECT when asked and allowed, else the ordinary one. */
class DataSink {
  readonly fd: number;
  #direct = -1;
  readonly buffers: [Uint8Array, Uint8Array];
  #big: [Uint8Array, Uint8Array] | undefined;

  constructor(fd: number, temp: string, direct: boolean) {
    this.fd = fd;
    let window: Uint8Array | null = null;
    if (direct && constants.O_DIRECT !== undefined) {
      try {
        this.#direct = openSync(temp, constants.O_WRONLY | constants.O_DIRECT);
        window = alignedWindow(this.#direct, 2 * (kSlice + kAlign));
      } catch {
        window = null;
      }
      if (window === null) this.#closeDirect();
    }
    const w = window ?? new Uint8Array(2 * (kSlice + kAlign));
    this.buffers = [w.subarray(0, kSlice + kAlign), w.subarray(kSlice + kAlign)];
  }

  #closeDirect(): void {
    if (this.#direct >= 0) closeSync(this.#direct);
    this.#direct = -1;
  }

  /**
   * Two buffers that each hold a carry (< 4 KiB) and a slice of whole rows: the aligned 8 MiB
   * pair, or for rows longer than a slice (a frame with a very long text value) a pair of plain
   * buffers of one row, written through the ordinary descriptor.
   */
  buffersFor(rowBytes: number): { pair: [Uint8Array, Uint8Array]; direct: boolean } {
    if (rowBytes <= kSlice) return { pair: this.buffers, direct: true };
    const n = rowBytes + kAlign;
    if (this.#big === undefined || this.#big[0].length < n)
      this.#big = [new Uint8Array(n), new Uint8Array(n)];
    return { pair: this.#big, direct: false };
  }

  /**
   * Writes `buf` at `position` (direct I/O when `direct` and allowed); on a direct-I/O refusal,
   * again through the ordinary descriptor.
   */
  async write(buf: Uint8Array, position: number, direct = true): Promise<void> {
    if (direct && this.#direct >= 0) {
      try {
        await writeAsync(this.#direct, buf, position);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
        this.#closeDirect();
      }
    }
    await writeAsync(this.fd, buf, position);
  }

  close(): void {
    this.#closeDirect();
  }
}

/**
 * Writes one dataset's rows from `address`: slices of whole rows are filled into one buffer
 * while the other is being written; each write covers whole 4 KiB blocks (the bytes past the
 * last block move to the head of the other buffer), the last one is zero-padded.
 */
async function writeData(sink: DataSink, d: NativeDataset, address: number): Promise<void> {
  const rowsPerSlice = Math.max(1, Math.floor(kSlice / d.rowBytes));
  const { pair, direct } = sink.buffersFor(d.rowBytes);
  let pending: Promise<void> = Promise.resolve();
  let carry = 0;
  let position = address;
  let k = 0;
  for (let r = 0; r < d.rows; r += rowsPerSlice, k++) {
    const n = Math.min(rowsPerSlice, d.rows - r);
    const buf = pair[k & 1] as Uint8Array;
    const other = pair[(k + 1) & 1] as Uint8Array;
    d.fill(buf.subarray(carry, carry + n * d.rowBytes), r, n);
    const end = carry + n * d.rowBytes;
    const last = r + n >= d.rows;
    const len = last ? roundUp(end, kAlign) : Math.floor(end / kAlign) * kAlign;
    await pending; // `other` is free again
    if (last) buf.fill(0, end, len);
    else other.set(buf.subarray(len, end), 0);
    carry = last ? 0 : end - len;
    const at = position;
    position += len;
    pending = len > 0 ? sink.write(buf.subarray(0, len), at, direct) : Promise.resolve();
  }
  await pending;
}

/**
 * A new HDF5 file written dataset by dataset: each `add` writes that dataset's data at once
 * (from byte 4096 on, each at a 4 KiB boundary), `finish` appends the object headers after the
 * data and writes the superblock at byte 0. So a caller can write a frame as soon as it exists
 * while others are still being made. Nothing here renames: callers write to a temporary path
 * (`writeAtomically`) and `abort` on failure.
 */
export class NativeHDF5File {
  readonly #path: string;
  /** Each dataset added, with the address of its data (-1 when it has none). */
  readonly #datasets = new Map<NativeDataset, number>();
  #fd = -1;
  #sink: DataSink | undefined;
  #cursor = kAlign;

  /** Opens `temp` for writing (`path` is the name errors show). */
  constructor(temp: string, path: string, options: NativeOptions & { expectedBytes: number }) {
    this.#path = path;
    try {
      this.#fd = openSync(temp, 'w');
      this.#sink = new DataSink(
        this.#fd,
        temp,
        options.direct && options.expectedBytes >= kDirectMin,
      );
    } catch (err) {
      this.abort();
      throw ioError(path, 'write', err);
    }
  }

  /** Writes one dataset's data now; its header is written by `finish`. */
  async add(d: NativeDataset): Promise<void> {
    checkDataset(d);
    const bytes = d.rows * d.rowBytes;
    const address = bytes > 0 ? this.#cursor : -1;
    this.#datasets.set(d, address);
    if (address < 0) return;
    this.#cursor = roundUp(address + bytes, kAlign);
    try {
      await writeData(this.#sink as DataSink, d, address);
    } catch (err) {
      // A system call's failure names the file; anything else (a bug, a bad frame) as it is.
      throw (err as NodeJS.ErrnoException).syscall !== undefined
        ? ioError(this.#path, 'write', err)
        : err;
    }
  }

  /** Writes the groups' and datasets' headers after the data, then the superblock. */
  finish(): void {
    const root = buildTree([...this.#datasets.keys()]);
    walk(root, (n) => {
      if (n.dataset !== undefined) n.dataAddress = this.#datasets.get(n.dataset) ?? -1;
    });
    const start = this.#cursor;
    const { nodes, end } = placeHeaders(root, start);
    this.#sink?.close();
    writeAll(this.#fd, this.#path, headers(nodes, start, end), start);
    writeAll(this.#fd, this.#path, superblock(end, root.address), 0);
    try {
      ftruncateSync(this.#fd, end);
    } catch (err) {
      throw ioError(this.#path, 'write', err);
    }
  }

  /** Closes the descriptors (after `finish`, or to give up). */
  abort(): void {
    this.#sink?.close();
    this.#sink = undefined;
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
  }
}

/** Writes `datasets` as a new HDF5 file at `temp` (`path`: the name errors show). */
export async function writeNativeHDF5(
  temp: string,
  path: string,
  datasets: readonly NativeDataset[],
  options: NativeOptions,
): Promise<void> {
  buildTree(datasets); // name clashes, before anything is written
  datasets.forEach(checkDataset);
  const file = new NativeHDF5File(temp, path, {
    ...options,
    expectedBytes: datasets.reduce((s, d) => s + d.rows * d.rowBytes, 0),
  });
  try {
    for (const d of datasets) await file.add(d);
    file.finish();
  } finally {
    file.abort();
  }
}
