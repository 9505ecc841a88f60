/**
 * shmframe's own HDF5 writer for uncompressed files: contiguous datasets in a tree of compact
 * groups, metadata first (one block), then each dataset's data at a 4 KiB-aligned address,
 * written straight from the frames and arrays through two 8 MiB buffers, the next slice being
 * filled while the previous one is written.
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
import { ioError } from '../text/file.js';
import {
  Msg,
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
  messages: Message[];
}

const roundUp = (n: number, a: number): number => Math.ceil(n / a) * a;

function buildTree(datasets: readonly NativeDataset[]): Node {
  const node = (name: string): Node => ({
    name,
    children: new Map(),
    attributes: [],
    address: 0n,
    dataAddress: -1,
    messages: [],
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

/** Messages of a node, with every address a placeholder of the right size. */
function messagesOf(n: Node): Message[] {
  const attrs = n.attributes.map(
    ([k, v]): Message => ({ type: Msg.Attribute, body: stringAttribute(k, v) }),
  );
  const d = n.dataset;
  if (d === undefined)
    return [
      { type: Msg.LinkInfo, body: linkInfo() },
      { type: Msg.GroupInfo, flags: kConstant, body: groupInfo(n.children.size) },
      ...[...n.children.values()].map(
        (c): Message => ({ type: Msg.Link, body: hardLink(c.name, c.address) }),
      ),
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

/** Where everything goes: object headers after the superblock, then the data, aligned. */
function plan(root: Node): { nodes: Node[]; metaBytes: number; eof: number } {
  const nodes: Node[] = [];
  walk(root, (n) => nodes.push(n));
  let at = 48;
  for (const n of nodes) {
    n.address = BigInt(at);
    at += objectHeaderSize(messagesOf(n));
  }
  const metaBytes = at;
  let eof = metaBytes;
  let cursor = roundUp(metaBytes, kAlign);
  for (const n of nodes) {
    const d = n.dataset;
    if (d === undefined || d.rows * d.rowBytes === 0) continue;
    n.dataAddress = cursor;
    eof = cursor + d.rows * d.rowBytes;
    cursor = roundUp(eof, kAlign);
  }
  return { nodes, metaBytes, eof };
}

/** The metadata block: superblock and every object header, at the planned addresses. */
function metadata(nodes: readonly Node[], metaBytes: number, eof: number): Uint8Array {
  const out = new Uint8Array(metaBytes);
  out.set(superblock(eof, (nodes[0] as Node).address), 0);
  for (const n of nodes) {
    const h = objectHeader(messagesOf(n));
    out.set(h, Number(n.address));
  }
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

  /** Writes `buf` at `position`; on a direct-I/O refusal, again through the ordinary descriptor. */
  async write(buf: Uint8Array, position: number): Promise<void> {
    if (this.#direct >= 0) {
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
  let pending: Promise<void> = Promise.resolve();
  let carry = 0;
  let position = address;
  let k = 0;
  for (let r = 0; r < d.rows; r += rowsPerSlice, k++) {
    const n = Math.min(rowsPerSlice, d.rows - r);
    const buf = sink.buffers[k & 1] as Uint8Array;
    const other = sink.buffers[(k + 1) & 1] as Uint8Array;
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
    pending = len > 0 ? sink.write(buf.subarray(0, len), at) : Promise.resolve();
  }
  await pending;
}

/** Writes `datasets` (and attributes of the groups) as a new HDF5 file at `temp`. */
export async function writeNativeHDF5(
  temp: string,
  path: string,
  datasets: readonly NativeDataset[],
  groupAttributes: ReadonlyMap<string, Array<[string, string]>>,
  options: NativeOptions,
): Promise<void> {
  const root = buildTree(datasets);
  for (const [g, attrs] of groupAttributes) {
    let at: Node | undefined = root;
    for (const p of g.split('/').filter((s) => s !== '')) at = at?.children.get(p);
    if (at !== undefined) at.attributes = attrs;
  }
  const { nodes, metaBytes, eof } = plan(root);
  let fd = -1;
  let sink: DataSink | undefined;
  try {
    fd = openSync(temp, 'w');
    const dataBytes = datasets.reduce((s, d) => s + d.rows * d.rowBytes, 0);
    sink = new DataSink(fd, temp, options.direct && dataBytes >= kDirectMin);
    for (const n of nodes)
      if (n.dataset !== undefined && n.dataAddress >= 0)
        await writeData(sink, n.dataset, n.dataAddress);
    sink.close();
    const meta = metadata(nodes, metaBytes, eof);
    let done = 0;
    while (done < meta.length) done += writeSync(fd, meta, done, meta.length - done, done);
    ftruncateSync(fd, eof);
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw err;
    throw (err as NodeJS.ErrnoException).code !== undefined ? ioError(path, 'write', err) : err;
  } finally {
    sink?.close();
    if (fd >= 0) closeSync(fd);
  }
}
