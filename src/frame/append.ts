/**
 * Concurrent appends. An append (1) stages every column in plain memory, checking every value,
 * (2) resolves category labels to codes, (3) reserves its rows and, for each utf8 column, its byte
 * range, in one step under the frame's append lock, (4) writes the reserved rows and (5)
 * publishes them in reservation order: it waits until `length` equals its first row, then stores
 * its end. So any number of threads may append at once; rows never interleave and `length` only
 * counts rows whose writes are complete. Nothing in steps 4-5 can throw, so a reservation is
 * always published. A frame never grows: past its capacity (rows, string bytes or dictionary
 * labels) an append throws SHMFRAME_ERR_HEAP_FULL and changes no row.
 */
import { HeapFullError, InvalidArgumentError, ShapeError, describe } from '../errors.js';
import type { TypedArray } from '../array/dtype.js';
import { C_BYTES_CAP, C_BYTES_USED, F_LENGTH, F_LOCK, F_RESERVED } from './layout.js';
import { lockWord, unlockWord } from './mutex.js';
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

/**
 * Appends `n` staged rows (one Staged per column of the frame, in column order) and returns the
 * first row's position.
 */
export function appendStaged(store: FrameStore, staged: readonly Staged[], n: number): number {
  const h = store.header;
  if (n === 0) return Atomics.load(h, F_LENGTH);
  const cap = store.capacity;
  const early = Atomics.load(h, F_RESERVED);
  if (early + n > cap) throw capacityError(store, early, n);
  for (const s of staged) if (s.labels !== undefined) resolveCodes(s);
  // Reserve rows and string bytes together, so rows and bytes are in the same order.
  const byteStarts = new Array<number>(staged.length).fill(0);
  let start: number;
  lockWord(h, F_LOCK);
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
    for (let k = 0; k < staged.length; k++) {
      const s = staged[k] as Staged;
      if (s.bytes !== undefined)
        s.col.words[C_BYTES_USED] = (byteStarts[k] as number) + s.bytes.length;
    }
    h[F_RESERVED] = start + n;
  } finally {
    unlockWord(h, F_LOCK);
  }
  // From here on nothing throws: the reservation is always published.
  for (let k = 0; k < staged.length; k++)
    writeStaged(staged[k] as Staged, start, n, byteStarts[k] as number);
  publish(h, start, start + n);
  return start;
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

/** Publishes rows [start, end) once every earlier reservation is published. */
export function publish(h: Int32Array, start: number, end: number): void {
  for (;;) {
    const cur = Atomics.load(h, F_LENGTH);
    if (cur === start) break;
    Atomics.wait(h, F_LENGTH, cur);
  }
  Atomics.store(h, F_LENGTH, end);
  Atomics.notify(h, F_LENGTH);
}

const isArrayLike = (v: unknown): boolean =>
  Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));

/**
 * Appends what `append()` was given: one row (`{ column: value }`), rows (an array of them) or
 * columns (`{ column: array }`). Missing columns are null. Returns the first new row's position.
 */
export function appendInput(store: FrameStore, input: unknown): number {
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
  return appendStaged(store, staged, n);
}
