/**
 * The payload of a frame block. It is self-describing, so attaching needs only the handle, and
 * every region is 64-byte aligned (Arrow's recommendation, and enough for any TypedArray).
 *
 *   0      header: 16 int32 words (magic, version, columns, capacity, length, ...)
 *   64     append reservations: 64 slots of 4 int32 words (owner, first row, end, state)
 *   1088   column table: 128 bytes per column (16 int32 words, 4 float64 offsets, 8 int32 words)
 *   ...    column names (UTF-8)
 *   ...    fixed-width columns, grouped by dtype: the columns of one dtype are adjacent, each
 *          `stride` elements long, so any evenly spaced run of them is a column-major 2-D array
 *   ...    utf8 columns: int32 offsets (capacity + 1) and a byte region of fixed size
 *   ...    category columns: int32 codes, then a dictionary (int32 offsets and bytes)
 *   ...    validity bitmaps, one per column (LSB first, 1 = valid: Arrow's layout)
 *
 * Offsets in the column table are relative to the payload start. {@link readLayout} checks every
 * region against the block's length before any view is made, so a damaged block or a forged
 * handle is refused instead of reading outside the block.
 */
import { CorruptError } from '../errors.js';
import { dtypeFromCode, kUnitCodes, type DType } from '../array/dtype.js';
import { columnType, kMaxColumns, kMaxRows, type ColumnType } from './schema.js';

export const kFrameMagic = 0x4d524653; // "SFRM"
export const kFrameVersion = 1;

// Header words.
export const F_MAGIC = 0;
export const F_VERSION = 1;
export const F_NCOLS = 2;
export const F_CAPACITY = 3;
/** Committed rows: every row below it is completely written. Atomics; waited on by appenders. */
export const F_LENGTH = 4;
/** Reserved rows (>= length): the next append starts here. Changed under F_LOCK. */
export const F_RESERVED = 5;
/** Append lock: 0 free, else the owner's thread id + 1 (see heap/owned-mutex.ts). */
export const F_LOCK = 6;
/** Index column, or -1. */
export const F_INDEX = 7;
export const F_NAMES_BYTES = 8;
/** Threads sleeping on F_LOCK. */
export const F_LOCK_WAITERS = 9;
/**
 * In-flight appends: each reservation records its owner, rows and state until it is published,
 * so that when an appender dies between reserving and publishing, the next appender can tell
 * and publish those rows as nulls instead of waiting forever (see append.ts).
 */
export const F_RESERVATIONS = 16;
export const kReserveSlots = 64;
export const kReserveWords = 4;
/** Owner thread id + 1; 0 = free slot. */
export const R_OWNER = 0;
export const R_START = 1;
export const R_END = 2;
/** 1 once the utf8 byte counters were snapshotted (their old values are in C_BYTES_PREV). */
export const R_STATE = 3;
export const kHeaderWords = F_RESERVATIONS + kReserveSlots * kReserveWords;
const kHeaderBytes = kHeaderWords * 4;
const kColumnBytes = 128;

// Column record int32 words.
export const C_TYPE = 0;
export const C_DTYPE = 1;
export const C_ITEMSIZE = 2;
export const C_UNIT = 3;
export const C_NAME_AT = 4;
export const C_NAME_LEN = 5;
/** Schema index of the first column of this column's dtype group. */
export const C_GROUP = 6;
/** Position of this column within its group. */
export const C_POS = 7;
export const C_GROUP_SIZE = 8;
/** Elements per column in the group: capacity rounded up so a column fills whole 64-byte lines. */
export const C_STRIDE = 9;
/** utf8: byte capacity; category: dictionary byte capacity. */
export const C_BYTES_CAP = 10;
/** utf8: bytes reserved (under F_LOCK); category: dictionary bytes used (under C_DICT_LOCK). */
export const C_BYTES_USED = 11;
export const C_DICT_CAP = 12;
/** Dictionary entries published (Atomics). */
export const C_DICT_COUNT = 13;
/** Dictionary lock: 0 free, else the owner's thread id + 1. */
export const C_DICT_LOCK = 14;
/** Bumped by every in-place write through the frame API, so per-thread `loc` tables notice. */
export const C_EDITS = 15;
// (int32 words 16-23 hold the float64 offsets below)
/** utf8: C_BYTES_USED before the reservation in progress (restored if it never took effect). */
export const C_BYTES_PREV = 24;
/** category: threads sleeping on C_DICT_LOCK. */
export const C_DICT_WAITERS = 25;
// Column record float64 slots (after the 16 int32 words).
const D_DATA = 8;
const D_VALIDITY = 9;
const D_BYTES = 10;
const D_DICT_OFFSETS = 11;

const kTypeCodes: Record<ColumnType['kind'], number> = { fixed: 1, utf8: 2, category: 3 };

/** Where one column lives; byte offsets are relative to the payload start. */
export interface ColumnLayout {
  name: string;
  type: ColumnType;
  group: number;
  pos: number;
  groupSize: number;
  stride: number;
  /** Values (fixed), int32 offsets (utf8) or int32 codes (category). */
  data: number;
  validity: number;
  /** utf8 bytes, or the category dictionary's bytes. */
  bytes: number;
  bytesCap: number;
  dictOffsets: number;
  dictCap: number;
}

export interface FrameLayout {
  capacity: number;
  index: number;
  columns: ColumnLayout[];
  payloadBytes: number;
}

/** What the planner needs per column. */
export interface ColumnRequest {
  name: string;
  type: ColumnType;
  /** utf8 byte capacity. */
  stringBytes: number;
  /** category dictionary capacity, in labels and in bytes. */
  categories: number;
  categoryBytes: number;
}

const r64 = (n: number): number => Math.ceil(n / 64) * 64;
const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** Elements per column of `dt` so that each column of a group starts on a 64-byte line. */
export function strideFor(capacity: number, itemsize: number): number {
  const q = 64 / gcd(itemsize, 64);
  return Math.ceil(capacity / q) * q;
}

/** Places every region; pure arithmetic, nothing is written. */
export function planLayout(
  requests: readonly ColumnRequest[],
  capacity: number,
  index: number,
): FrameLayout {
  const n = requests.length;
  let at = r64(kHeaderBytes + kColumnBytes * n);
  let namesBytes = 0;
  for (const r of requests) namesBytes += Buffer.byteLength(r.name);
  at = r64(at + namesBytes);
  const columns: ColumnLayout[] = requests.map((r) => ({
    name: r.name,
    type: r.type,
    group: -1,
    pos: 0,
    groupSize: 1,
    stride: capacity,
    data: 0,
    validity: 0,
    bytes: 0,
    bytesCap: 0,
    dictOffsets: 0,
    dictCap: 0,
  }));
  // Fixed-width columns, grouped by dtype in order of first appearance.
  const groups = new Map<string, number[]>();
  requests.forEach((r, i) => {
    if (r.type.kind !== 'fixed') return;
    const g = groups.get(r.type.dtype);
    if (g === undefined) groups.set(r.type.dtype, [i]);
    else g.push(i);
  });
  for (const members of groups.values()) {
    const head = members[0] as number;
    const itemsize = (requests[head] as ColumnRequest).type.dt.itemsize;
    const stride = strideFor(capacity, itemsize);
    members.forEach((c, pos) => {
      const col = columns[c] as ColumnLayout;
      Object.assign(col, { group: head, pos, groupSize: members.length, stride, data: at });
      at += stride * itemsize;
    });
  }
  requests.forEach((r, i) => {
    const col = columns[i] as ColumnLayout;
    if (r.type.kind === 'utf8') {
      col.group = i;
      col.data = at;
      at = r64(at + (capacity + 1) * 4);
      col.bytes = at;
      col.bytesCap = r.stringBytes;
      at = r64(at + r.stringBytes);
    } else if (r.type.kind === 'category') {
      col.group = i;
      col.data = at;
      at = r64(at + capacity * 4);
      col.dictOffsets = at;
      col.dictCap = r.categories;
      at = r64(at + (r.categories + 1) * 4);
      col.bytes = at;
      col.bytesCap = r.categoryBytes;
      at = r64(at + r.categoryBytes);
    }
  });
  for (const col of columns) {
    col.validity = at;
    at = r64(at + Math.ceil(capacity / 8));
  }
  return { capacity, index, columns, payloadBytes: Math.max(at, 64) };
}

/**
 * Writes the header, column table and names of a planned layout, and zeroes the words that
 * must start at zero (validity bitmaps, first offsets). Column values are left as they are.
 */
export function writeLayout(buffer: SharedArrayBuffer, base: number, layout: FrameLayout): void {
  const n = layout.columns.length;
  const tableEnd = kHeaderBytes + kColumnBytes * n;
  new Uint8Array(buffer, base, tableEnd).fill(0);
  const h = new Int32Array(buffer, base, 16);
  h[F_VERSION] = kFrameVersion;
  h[F_NCOLS] = n;
  h[F_CAPACITY] = layout.capacity;
  h[F_INDEX] = layout.index;
  // Only the names' bytes: Buffer.write writes nothing into a Buffer of 2^31 bytes or more (Node
  // 20), so a view reaching to the end of a payload over 2 GiB lost every column name.
  let namesLength = 0;
  for (const col of layout.columns) namesLength += Buffer.byteLength(col.name);
  const names = Buffer.from(buffer, base + tableEnd, namesLength);
  // One view over the whole column table (a view of a SharedArrayBuffer costs ~1 µs).
  const t32 = new Int32Array(buffer, base + kHeaderBytes, (kColumnBytes / 4) * n);
  const t64 = new Float64Array(buffer, base + kHeaderBytes, (kColumnBytes / 8) * n);
  let nameAt = 0;
  layout.columns.forEach((col, c) => {
    const w0 = (kColumnBytes / 4) * c;
    const d0 = (kColumnBytes / 8) * c;
    const dt = col.type.dt;
    t32[w0 + C_TYPE] = kTypeCodes[col.type.kind];
    t32[w0 + C_DTYPE] = dt.code;
    t32[w0 + C_ITEMSIZE] = dt.itemsize;
    t32[w0 + C_UNIT] = dt.unit === undefined ? 0 : kUnitCodes[dt.unit];
    const len = names.write(col.name, nameAt, 'utf8');
    t32[w0 + C_NAME_AT] = nameAt;
    t32[w0 + C_NAME_LEN] = len;
    nameAt += len;
    t32[w0 + C_GROUP] = col.group;
    t32[w0 + C_POS] = col.pos;
    t32[w0 + C_GROUP_SIZE] = col.groupSize;
    t32[w0 + C_STRIDE] = col.stride;
    t32[w0 + C_BYTES_CAP] = col.bytesCap;
    t32[w0 + C_DICT_CAP] = col.dictCap;
    t64[d0 + D_DATA] = col.data;
    t64[d0 + D_VALIDITY] = col.validity;
    t64[d0 + D_BYTES] = col.bytes;
    t64[d0 + D_DICT_OFFSETS] = col.dictOffsets;
    if (col.type.kind === 'utf8') new Int32Array(buffer, base + col.data, 1)[0] = 0;
    if (col.type.kind === 'category') new Int32Array(buffer, base + col.dictOffsets, 1)[0] = 0;
  });
  // The validity bitmaps are the last regions, one after the other: zero them at once.
  const first = layout.columns[0];
  if (first !== undefined)
    new Uint8Array(buffer, base + first.validity, layout.payloadBytes - first.validity).fill(0);
  h[F_NAMES_BYTES] = nameAt;
  Atomics.store(h, F_MAGIC, kFrameMagic);
}

/** The int32 words of column `c`'s record (for Atomics on its counters and locks). */
export function columnWords(buffer: SharedArrayBuffer, base: number, c: number): Int32Array {
  return new Int32Array(buffer, base + kHeaderBytes + kColumnBytes * c, kColumnBytes / 4);
}

function corrupt(why: string): never {
  throw new CorruptError(`Frame block is inconsistent: ${why}`);
}

/** Reads and checks a frame block's layout; never reads past `byteLength`. */
export function readLayout(
  buffer: SharedArrayBuffer,
  base: number,
  byteLength: number,
): FrameLayout {
  if (byteLength < kHeaderBytes) corrupt(`payload of ${byteLength} bytes has no room for a header`);
  const h = new Int32Array(buffer, base, 16);
  if (Atomics.load(h, F_MAGIC) !== kFrameMagic) corrupt('bad magic');
  if (h[F_VERSION] !== kFrameVersion)
    corrupt(`layout version ${h[F_VERSION]}, this shmframe reads ${kFrameVersion}`);
  const n = h[F_NCOLS] as number;
  const capacity = h[F_CAPACITY] as number;
  const index = h[F_INDEX] as number;
  const namesBytes = h[F_NAMES_BYTES] as number;
  const tableEnd = kHeaderBytes + kColumnBytes * n;
  if (!(n >= 0 && n <= kMaxColumns) || tableEnd + namesBytes > byteLength)
    corrupt(`${n} columns do not fit in ${byteLength} bytes`);
  if (!(capacity >= 0 && capacity <= kMaxRows)) corrupt(`capacity ${capacity}`);
  if (!(index >= -1 && index < n)) corrupt(`index column ${index}`);
  const length = Atomics.load(h, F_LENGTH);
  if (!(length >= 0 && length <= capacity)) corrupt(`length ${length} of capacity ${capacity}`);
  const names = Buffer.from(buffer, base + tableEnd, namesBytes);
  const region = (at: number, bytes: number, what: string): void => {
    if (!(Number.isSafeInteger(at) && at % 64 === 0 && at >= tableEnd && at + bytes <= byteLength))
      corrupt(`${what} region [${at}, +${bytes}) is outside the ${byteLength}-byte payload`);
  };
  const columns: ColumnLayout[] = [];
  const t32 = new Int32Array(buffer, base + kHeaderBytes, (kColumnBytes / 4) * n);
  const t64 = new Float64Array(buffer, base + kHeaderBytes, (kColumnBytes / 8) * n);
  for (let c = 0; c < n; c++) {
    const w0 = (kColumnBytes / 4) * c;
    const d0 = (kColumnBytes / 8) * c;
    const nameAt = t32[w0 + C_NAME_AT] as number;
    const nameLen = t32[w0 + C_NAME_LEN] as number;
    if (!(nameAt >= 0 && nameLen >= 0 && nameAt + nameLen <= namesBytes))
      corrupt(`column ${c} name`);
    const name = names.toString('utf8', nameAt, nameAt + nameLen);
    const kind = (['fixed', 'utf8', 'category'] as const)[(t32[w0 + C_TYPE] as number) - 1];
    if (kind === undefined) corrupt(`column ${c} has type code ${t32[w0 + C_TYPE]}`);
    let type: ColumnType;
    if (kind === 'fixed') {
      const dt: DType | undefined = dtypeFromCode(
        t32[w0 + C_DTYPE] as number,
        t32[w0 + C_ITEMSIZE] as number,
        t32[w0 + C_UNIT] as number,
      );
      if (dt === undefined) corrupt(`column ${c} has dtype code ${t32[w0 + C_DTYPE]}`);
      type = columnType(dt.str, name);
    } else {
      type = columnType(kind, name);
    }
    const col: ColumnLayout = {
      name,
      type,
      group: t32[w0 + C_GROUP] as number,
      pos: t32[w0 + C_POS] as number,
      groupSize: t32[w0 + C_GROUP_SIZE] as number,
      stride: t32[w0 + C_STRIDE] as number,
      data: t64[d0 + D_DATA] as number,
      validity: t64[d0 + D_VALIDITY] as number,
      bytes: t64[d0 + D_BYTES] as number,
      bytesCap: t32[w0 + C_BYTES_CAP] as number,
      dictOffsets: t64[d0 + D_DICT_OFFSETS] as number,
      dictCap: t32[w0 + C_DICT_CAP] as number,
    };
    region(col.validity, Math.ceil(capacity / 8), `column ${c} validity`);
    if (kind === 'fixed') {
      const itemsize = type.dt.itemsize;
      if (!(col.stride >= capacity && col.stride <= kMaxRows + 64)) corrupt(`column ${c} stride`);
      if (!(col.pos >= 0 && col.pos < col.groupSize && col.groupSize <= n))
        corrupt(`column ${c} group position`);
      region(col.data, col.stride * itemsize, `column ${c} data`);
    } else if (kind === 'utf8') {
      if (!(col.bytesCap >= 0 && col.bytesCap <= kMaxRows)) corrupt(`column ${c} byte capacity`);
      region(col.data, (capacity + 1) * 4, `column ${c} offsets`);
      region(col.bytes, col.bytesCap, `column ${c} bytes`);
    } else {
      if (!(
        col.bytesCap >= 0 &&
        col.bytesCap <= kMaxRows &&
        col.dictCap >= 0 &&
        col.dictCap <= kMaxRows
      ))
        corrupt(`column ${c} dictionary capacity`);
      region(col.data, capacity * 4, `column ${c} codes`);
      region(col.dictOffsets, (col.dictCap + 1) * 4, `column ${c} dictionary offsets`);
      region(col.bytes, col.bytesCap, `column ${c} dictionary bytes`);
    }
    columns.push(col);
  }
  // Group heads must agree with their members, so a group region is exactly its columns.
  for (let c = 0; c < n; c++) {
    const col = columns[c] as ColumnLayout;
    if (col.type.kind !== 'fixed') continue;
    const head = columns[col.group];
    if (
      head === undefined ||
      head.type.dtype !== col.type.dtype ||
      head.pos !== 0 ||
      head.stride !== col.stride ||
      head.groupSize !== col.groupSize ||
      col.data !== head.data + col.pos * col.stride * col.type.dt.itemsize
    )
      corrupt(`column ${c} does not sit in its dtype group`);
  }
  return { capacity, index, columns, payloadBytes: byteLength };
}

/**
 * The element region of the dtype group whose first column is `head`: used to check the view
 * of a SharedArray over frame columns (see `values()`), attached from a handle.
 */
export function groupRegion(
  layout: FrameLayout,
  head: unknown,
): { dt: DType; data: number; size: number } {
  const col = typeof head === 'number' ? layout.columns[head] : undefined;
  if (col === undefined || col.type.kind !== 'fixed' || col.group !== head)
    throw new CorruptError(`Handle names frame column ${String(head)}, which heads no dtype group`);
  const size = col.groupSize * col.stride;
  if (col.data + size * col.type.dt.itemsize > layout.payloadBytes)
    throw new CorruptError(`Frame column group ${head} reaches past its block`);
  return { dt: col.type.dt, data: col.data, size };
}
