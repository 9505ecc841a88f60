/**
 * Raw access to a SharedFrame's column regions for the loaders, through the frame layer's own
 * store (the same views `SharedFrame` uses in this thread): loaders write rows in place, then
 * commit the length once, instead of appending row by row.
 */
import { BlockRef } from '../../heap/block-ref.js';
import { KindCode, kShare } from '../../heap/kinds.js';
import type { SharedFrame } from '../../frame/shared-frame.js';
import { storeFor, writeValidity, type Col, type FrameStore } from '../../frame/store.js';
import { C_BYTES_USED, F_LENGTH, F_RESERVED } from '../../frame/layout.js';
import { kNaT } from '../../array/dtype.js';
import { notifyWord } from '../../heap/futex.js';

/** A store for `frame` and the reference that keeps its block alive while in use. */
export interface FrameAccess {
  store: FrameStore;
  /** The frame's view: columns shown (indices; all when absent), first row, end row. */
  view: { columns?: number[]; start: number; end?: number };
  /** Identifies the block (heap, unit, generation): changes whenever the memory is reused. */
  key: string;
  release(): void;
}

export function openFrame(frame: SharedFrame): FrameAccess {
  const handle = (frame as unknown as { [kShare](): unknown })[kShare]();
  const { ref, handle: h0 } = BlockRef.adopt(handle, 'frame', KindCode.frame, 'SharedFrame');
  const view = (h0.view ?? { start: 0 }) as FrameAccess['view'];
  try {
    const h = ref.heap;
    const store = storeFor(
      h.id,
      ref.unit,
      ref.generation,
      h.buffer,
      ref.byteOffset,
      ref.byteLength,
    );
    return {
      store,
      view,
      key: `${h.id}:${ref.unit}:${ref.generation}`,
      release: () => ref.release(),
    };
  } catch (err) {
    ref.release();
    throw err;
  }
}

/** Sets rows [start, start + n) valid (edge words atomically, as writers share them). */
export function setValidRange(c: Col, start: number, n: number): void {
  if (n <= 0) return;
  // Whole bytes with one fill (a 4M-row frame's bitmaps took 85 ms word by word); the partial
  // bytes at the ends atomically, as writers of neighbouring rows may share them.
  const end = start + n;
  const b0 = Math.ceil(start / 8);
  const b1 = Math.floor(end / 8);
  if (b1 <= b0) {
    writeValidity(c, start, n, undefined);
    return;
  }
  if (start < b0 * 8) writeValidity(c, start, b0 * 8 - start, undefined);
  c.valid8.fill(0xff, b0, b1);
  if (end > b1 * 8) writeValidity(c, b1 * 8, end - b1 * 8, undefined);
}

/** Clears the validity of rows [start, start + n). */
export function clearValidRange(c: Col, start: number, n: number): void {
  if (n <= 0) return;
  const v = c.valid32;
  const end = start + n;
  let row = start;
  while (row < end) {
    const w = row >>> 5;
    const hi = Math.min(end, w * 32 + 32);
    const a = row - w * 32;
    const b = hi - w * 32;
    const mask = b - a === 32 ? -1 : ((1 << (b - a)) - 1) << a;
    if (mask === -1) v[w] = 0;
    else Atomics.and(v, w, ~mask);
    row = hi;
  }
}

function bit(c: Col, row: number): number {
  return ((c.valid32[row >>> 5] as number) >>> (row & 31)) & 1;
}

function setBit(c: Col, row: number, on: number): void {
  const m = 1 << (row & 31);
  if (on) c.valid32[row >>> 5] = (c.valid32[row >>> 5] as number) | m;
  else c.valid32[row >>> 5] = (c.valid32[row >>> 5] as number) & ~m;
}

/**
 * Moves `n` rows of every column from `from` down to `to` (<= from) and their utf8 text down to
 * `byteCursor[c]` (the end of the text before them), then advances `byteCursor`: closes the gap
 * a part of a file left when it held fewer records than counted. Single-threaded (the workers
 * are done).
 */
export function moveRowsCompact(
  store: FrameStore,
  from: number,
  to: number,
  n: number,
  byteCursor: number[],
): void {
  for (let i = 0; i < store.ncols; i++) {
    const c = store.column(i);
    if (c.kind === 'utf8') {
      const o = c.data as Int32Array;
      const b0 = n > 0 ? (o[from] as number) : 0;
      const b1 = n > 0 ? (o[from + n] as number) : 0;
      const dest = byteCursor[i] as number;
      if (n > 0 && (b0 !== dest || from !== to)) {
        (c.bytes as Buffer).copyWithin(dest, b0, b1);
        const delta = b0 - dest;
        for (let r = 0; r < n; r++) o[to + r + 1] = (o[from + r + 1] as number) - delta;
      }
      o[to] = dest;
      byteCursor[i] = dest + (b1 - b0);
      o[to + n] = byteCursor[i] as number;
    }
    if (n <= 0 || from === to) continue;
    if (c.kind === 'fixed' && c.dt.kind === 'S') {
      const w = c.dt.itemsize;
      (c.data as Uint8Array).copyWithin(to * w, from * w, (from + n) * w);
    } else if (c.kind !== 'utf8') {
      (c.data as Int32Array).copyWithin(to, from, from + n);
    }
    for (let r = 0; r < n; r++) setBit(c, to + r, bit(c, from + r));
  }
}

/**
 * Rows [0, n) of a datetime column holding NaT become null (formats without nulls store NaT,
 * numpy's "not a time", where a frame has a null).
 */
export function natToNull(c: Col, n: number): void {
  if (c.kind !== 'fixed' || c.dt.kind !== 'M') return;
  const d = c.data as BigInt64Array;
  for (let r = 0; r < n; r++) if (d[r] === kNaT) Atomics.and(c.valid32, r >>> 5, ~(1 << (r & 31)));
}

/** Publishes `rows` committed rows and the utf8 bytes used; clears validity past the end. */
export function commitRows(store: FrameStore, rows: number): void {
  for (let i = 0; i < store.ncols; i++) {
    const c = store.column(i);
    clearValidRange(c, rows, store.capacity - rows);
    if (c.kind === 'utf8') c.words[C_BYTES_USED] = (c.data as Int32Array)[rows] as number;
  }
  store.header[F_RESERVED] = rows;
  Atomics.store(store.header, F_LENGTH, rows);
  notifyWord(store.header, F_LENGTH);
}
