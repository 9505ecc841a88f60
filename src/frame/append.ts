/**
 * Concurrent appends. An append (1) stages every column in plain memory, checking every value,
 * (2) resolves category labels to codes, (3) reserves its rows and, for each utf8 column, its byte
 * range, in one step under the frame's append lock, (4) writes the reserved rows and (5)
 * publishes them in reservation order: it waits until `length` equals its first row, then stores
 * its end. So any number of threads may append at once; rows never interleave and `length` only
 * counts rows whose writes are complete. Nothing in steps 4-5 can throw, so a reservation is
 * always published, unless its thread is terminated in between: then the next appender, once
 * the heap has released the dead thread, publishes those rows as nulls (recoverDeadRows), and a
 * lock left held by a dead thread is taken over (lockAppend). A frame never grows: past its capacity (rows, string bytes or dictionary
 * labels) an append throws SHMFRAME_ERR_HEAP_FULL and changes no row.
 */
import { HeapFullError, InvalidArgumentError, ShapeError, describe } from '../errors.js';
import type { TypedArray } from '../array/dtype.js';
import { notifyWord, selfIn, waitWord } from '../heap/futex.js';
import {
  C_BYTES_CAP,
  C_BYTES_PREV,
  C_BYTES_USED,
  F_LENGTH,
  F_LOCK,
  F_LOCK_WAITERS,
  F_RESERVATIONS,
  F_RESERVED,
  R_END,
  R_OWNER,
  R_START,
  R_STATE,
  kReserveSlots,
  kReserveWords,
} from './layout.js';
import { kOwnerCheckMs, lockOwned, unlockOwned } from '../heap/owned-mutex.js';
import type { Dictionary } from './dictionary.js';
import { writeValidity, type FrameStore } from './store.js';
import { recordsToColumns } from './build.js';
import { stage, type Staged } from './stage.js';

function capacityError(store: FrameStore, reserved: number, n: number): HeapFullError {
  const cap = store.capacity;
  return new HeapFullError(
    `Cannot append ${n} row${n === 1 ? '' : 's'}: the frame holds ${reserved} of its ${cap} rows. ` +
      `Frames do not grow (growing would move memory other threads are reading): create it with a ` +
      `larger \`capacity\` (SharedFrame.create(schema, { capacity }), or the \`capacity\` option of from/fromRecords).`,
    { details: { requested: n, length: reserved, capacity: cap } },
  );
}

/** Resolves category labels to codes, adding new labels to the shared dictionaries. */
function resolveCodes(s: Staged): void {
  const labels = s.labels as string[];
  const local = s.local as Int32Array;
  const dict = s.col.dict as Dictionary;
  dict.checkRoom(labels);
  const where = `column ${JSON.stringify(s.col.name)}`;
  const codeOf = Int32Array.from(labels, (l) => dict.codeOf(l, where));
  const codes = new Int32Array(local.length);
  for (let i = 0; i < local.length; i++) {
    const k = local[i] as number;
    codes[i] = k < 0 ? -1 : (codeOf[k] as number);
  }
  s.codes = codes;
}

/** A free reservation slot (word index), or -1 when all are taken. Called under F_LOCK. */
function claimSlot(h: Int32Array): number {
  for (let k = 0; k < kReserveSlots; k++) {
    const at = F_RESERVATIONS + k * kReserveWords;
    if (h[at + R_OWNER] === 0) return at;
  }
  return -1;
}

/**
 * Takes the append lock. If its owner died holding it, the reservation it was making either
 * took effect (F_RESERVED moved past it: it stays, to be published as nulls) or did not: then
 * the utf8 byte counters it may have advanced are restored and its slot is freed.
 */
function lockAppend(store: FrameStore, mine = -1): void {
  const h = store.header;
  if (!lockOwned(h, F_LOCK, F_LOCK_WAITERS, store.threadGone)) return;
  const reserved = h[F_RESERVED] as number;
  for (let k = 0; k < kReserveSlots; k++) {
    const at = F_RESERVATIONS + k * kReserveWords;
    const owner = h[at + R_OWNER] as number;
    if (owner === 0 || h[at + R_START] !== reserved || !deadOwner(store, owner, at, mine)) continue;
    if (h[at + R_STATE] === 1) {
      for (let c = 0; c < store.ncols; c++) {
        const col = store.column(c);
        if (col.kind === 'utf8') col.words[C_BYTES_USED] = col.words[C_BYTES_PREV] as number;
      }
    }
    h[at + R_OWNER] = 0;
  }
}

/**
 * Whether the reservation in slot `at`, recorded by `owner` (thread id + 1), will never be
 * published: its thread is gone, or it names this thread but is not the reservation this thread
 * is publishing (`mine`): appends are synchronous, so this thread has no other in flight and
 * the slot is stale.
 */
function deadOwner(store: FrameStore, owner: number, at: number, mine: number): boolean {
  if (owner === selfIn(store.header.buffer)) return at !== mine;
  return store.threadGone(owner - 1);
}

/** Rows reserved by this thread and not yet published. */
export interface Reservation {
  start: number;
  end: number;
  /** Word index of its reservation slot. */
  slot: number;
  /** Where each column's new utf8 bytes start. */
  byteStarts: number[];
  staged: readonly Staged[];
}

/**
 * Appends `n` staged rows (one Staged per column of the frame, in column order) and returns the
 * first row's position.
 */
export function appendStaged(store: FrameStore, staged: readonly Staged[], n: number): number {
  if (n === 0) return Atomics.load(store.header, F_LENGTH);
  const r = reserveStaged(store, staged, n);
  finishAppend(store, r);
  return r.start;
}

/** Steps 1-3: checks, resolves labels and reserves rows (n > 0); nothing is visible yet. */
export function reserveStaged(
  store: FrameStore,
  staged: readonly Staged[],
  n: number,
): Reservation {
  const h = store.header;
  const cap = store.capacity;
  const early = Atomics.load(h, F_RESERVED);
  if (early + n > cap) throw capacityError(store, early, n);
  for (const s of staged) if (s.labels !== undefined) resolveCodes(s);
  // Reserve rows and string bytes together, so rows and bytes are in the same order. The
  // reservation is recorded (owner, rows) so its rows can be recovered if this thread dies
  // before publishing; F_RESERVED is written last, so a reservation takes effect in one store.
  const byteStarts = new Array<number>(staged.length).fill(0);
  let start = 0;
  let slot = -1;
  while (slot < 0) {
    lockAppend(store);
    try {
      start = h[F_RESERVED] as number;
      if (start + n > cap) throw capacityError(store, start, n);
      for (let k = 0; k < staged.length; k++) {
        const s = staged[k] as Staged;
        if (s.bytes === undefined) continue;
        const w = s.col.words;
        const used = w[C_BYTES_USED] as number;
        const bytesCap = w[C_BYTES_CAP] as number;
        if (used + s.bytes.length > bytesCap) {
          throw new HeapFullError(
            `Cannot append ${n} row${n === 1 ? '' : 's'}: utf8 column ${JSON.stringify(s.col.name)} has ` +
              `${bytesCap - used} of its ${bytesCap} string bytes left and the new strings need ${s.bytes.length}. ` +
              `Create the frame with a larger \`stringBytes\` option.`,
            {
              details: { column: s.col.name, requested: s.bytes.length, used, capacity: bytesCap },
            },
          );
        }
        byteStarts[k] = used;
      }
      slot = claimSlot(h);
      if (slot >= 0) {
        h[slot + R_START] = start;
        h[slot + R_END] = start + n;
        h[slot + R_STATE] = 0;
        h[slot + R_OWNER] = selfIn(h.buffer);
        for (const s of staged) {
          if (s.bytes !== undefined)
            s.col.words[C_BYTES_PREV] = s.col.words[C_BYTES_USED] as number;
        }
        h[slot + R_STATE] = 1;
        for (let k = 0; k < staged.length; k++) {
          const s = staged[k] as Staged;
          if (s.bytes !== undefined)
            s.col.words[C_BYTES_USED] = (byteStarts[k] as number) + s.bytes.length;
        }
        h[F_RESERVED] = start + n;
      }
    } finally {
      unlockOwned(h, F_LOCK, F_LOCK_WAITERS);
    }
    // Every slot holds an append in flight: wait for one to publish, then try again.
    if (slot < 0) waitWord(h, F_LENGTH, Atomics.load(h, F_LENGTH), kOwnerCheckMs);
  }
  return { start, end: start + n, slot, byteStarts, staged };
}

/** Steps 4-5: writes the reserved rows and publishes them. Nothing here throws. */
export function finishAppend(store: FrameStore, r: Reservation): void {
  const n = r.end - r.start;
  for (let k = 0; k < r.staged.length; k++)
    writeStaged(r.staged[k] as Staged, r.start, n, r.byteStarts[k] as number);
  publish(store, r.start, r.end, r.slot, r.byteStarts, r.staged);
}

function writeStaged(s: Staged, start: number, n: number, byteStart: number): void {
  const c = s.col;
  if (c.kind === 'utf8') {
    const ends = s.ends as Int32Array;
    const offsets = c.data as Int32Array;
    (c.bytes as Buffer).set(s.bytes as Uint8Array, byteStart);
    for (let i = 0; i < n; i++) offsets[start + 1 + i] = byteStart + (ends[i] as number);
  } else if (c.kind === 'category') {
    (c.data as Int32Array).set(s.codes as Int32Array, start);
  } else {
    const at = c.dt.kind === 'S' ? start * c.dt.itemsize : start;
    (c.data as unknown as { set(a: TypedArray, at: number): void }).set(s.values as TypedArray, at);
  }
  writeValidity(c, start, n, s.valid);
}

/**
 * Publishes rows [start, end) once every earlier reservation is published. While it waits it
 * checks, every {@link kOwnerCheckMs} ms, whether all the reservations before it belong to
 * threads that died (released by their heap): then it publishes those rows as nulls itself.
 */
function publish(
  store: FrameStore,
  start: number,
  end: number,
  slot: number,
  byteStarts: readonly number[],
  staged: readonly Staged[],
): void {
  const h = store.header;
  for (;;) {
    const cur = Atomics.load(h, F_LENGTH);
    if (cur === start) break;
    if (waitWord(h, F_LENGTH, cur, kOwnerCheckMs) === 'timed-out') {
      recoverDeadRows(store, cur, start, slot, byteStarts, staged);
    }
  }
  Atomics.store(h, F_LENGTH, end);
  h[slot + R_OWNER] = 0;
  notifyWord(h, F_LENGTH);
}

/**
 * If rows [from, to) are reserved only by dead threads, makes them null rows and publishes
 * them. utf8 offsets stay consistent: the dead rows are empty except the last, which spans up
 * to where this appender's bytes start (its value is null, so those bytes are never read).
 */
function recoverDeadRows(
  store: FrameStore,
  from: number,
  to: number,
  mine: number,
  byteStarts: readonly number[],
  staged: readonly Staged[],
): void {
  const h = store.header;
  lockAppend(store, mine);
  try {
    if (Atomics.load(h, F_LENGTH) !== from) return;
    const dead: number[] = [];
    for (let covered = from; covered < to;) {
      let next = -1;
      for (let k = 0; k < kReserveSlots && next < 0; k++) {
        const at = F_RESERVATIONS + k * kReserveWords;
        if (h[at + R_OWNER] !== 0 && h[at + R_START] === covered) next = at;
      }
      if (next < 0 || !deadOwner(store, h[next + R_OWNER] as number, next, mine)) return;
      dead.push(next);
      covered = h[next + R_END] as number;
      if (covered > to) return;
    }
    const n = to - from;
    const nulls = new Uint8Array(n);
    staged.forEach((s, k) => {
      const c = s.col;
      if (c.kind === 'utf8') {
        const offsets = c.data as Int32Array;
        offsets.fill(offsets[from] as number, from + 1, to);
        offsets[to] = byteStarts[k] as number;
      } else if (c.kind === 'category') {
        (c.data as Int32Array).fill(-1, from, to);
      } else if (c.dt.kind === 'S') {
        (c.data as Uint8Array).fill(0, from * c.dt.itemsize, to * c.dt.itemsize);
      } else if (c.dt.bigint) {
        (c.data as BigInt64Array).fill(0n, from, to);
      } else {
        (c.data as Float64Array).fill(0, from, to);
      }
      writeValidity(c, from, n, nulls);
    });
    for (const at of dead) h[at + R_OWNER] = 0;
    Atomics.store(h, F_LENGTH, to);
    notifyWord(h, F_LENGTH);
  } finally {
    unlockOwned(h, F_LOCK, F_LOCK_WAITERS);
  }
}

const isArrayLike = (v: unknown): boolean =>
  Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));

/**
 * Appends what `append()` was given: one row (`{ column: value }`), rows (an array of them) or
 * columns (`{ column: array }`). Missing columns are null. Returns the first new row's position.
 */
export function appendInput(store: FrameStore, input: unknown): number {
  const { staged, n } = stageInput(store, input);
  return appendStaged(store, staged, n);
}

/** Checks and stages what `append()` was given, one Staged per column of the frame. */
export function stageInput(store: FrameStore, input: unknown): { staged: Staged[]; n: number } {
  let entries: Array<[string, unknown]>;
  let n: number;
  let asColumns = true;
  if (Array.isArray(input)) {
    entries = recordsToColumns(input, undefined);
    n = input.length;
  } else if (typeof input === 'object' && input !== null && !isArrayLike(input)) {
    entries = Object.entries(input);
    const arrays = entries.filter(([, v]) => isArrayLike(v)).length;
    asColumns = arrays > 0;
    if (asColumns && arrays !== entries.length)
      throw new InvalidArgumentError(
        'Expected either one row ({ column: value }) or columns ({ column: array }), got a mix of arrays and values',
      );
    n = asColumns ? (entries[0]![1] as ArrayLike<unknown>).length : 1;
    for (const [k, v] of entries)
      if (asColumns && (v as ArrayLike<unknown>).length !== n)
        throw new ShapeError(
          `Columns differ in length: ${JSON.stringify(entries[0]![0])} has ${n} values, ${JSON.stringify(k)} has ${(v as ArrayLike<unknown>).length}`,
        );
  } else {
    throw new InvalidArgumentError(
      `Expected a row object, an array of rows or { column: array }, got ${describe(input)}`,
    );
  }
  const given = new Map(entries);
  for (const [k] of entries) store.col(k);
  const staged: Staged[] = [];
  for (let i = 0; i < store.ncols; i++) {
    const c = store.column(i);
    const v = given.get(c.name);
    const src = v === undefined ? undefined : asColumns ? (v as ArrayLike<unknown>) : [v];
    const where = asColumns
      ? (k: number): string => `value ${k} of column ${JSON.stringify(c.name)}`
      : (): string => `column ${JSON.stringify(c.name)}`;
    staged.push(stage(c, src, n, where));
  }
  return { staged, n };
}
