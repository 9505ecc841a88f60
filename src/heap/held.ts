/**
 * Held tickets: the handles a queue put makes for the shared objects in its item. They are made
 * (each with a reference and a ticket) before the put waits for room, so a producer terminated
 * while blocked on a full queue used to leak them for good (issue 15): nothing recorded them but
 * the item in the dead thread's memory.
 *
 * Now a put with shared objects first takes a small internal block in the queue's heap, named in
 * its thread-table entry (T_HELD). While the item is encoded, every handle made is appended to it
 * from inside `HeapCore.share`, in the same uninterruptible step that ends the share's recorded
 * operation (a plain store of the count right before the plain store that clears the operation,
 * no call in between), so a handle is either still the share's (the dead thread's recorded
 * operation releases it) or listed here, never both, never neither. The put publishes its item
 * with a plain store that disarms the item's group next to the store that moves the queue's tail.
 * `releaseThread` releases the handles of every group still armed, then frees the block.
 *
 * Payload, Int32 words: [0] records, [1] record capacity, [2] groups, [3] reserved,
 * [4 .. 4 + groups) armed flags (1 until that item is published), then records of 8 words:
 * group, heap id lo, heap id hi, unit, generation, ticket slot, ticket serial, reserved.
 */
const H_RECORDS = 0;
const H_CAP = 1;
const H_GROUPS = 2;
const kHeader = 4;
const kRecordWords = 8;

/** Payload bytes of a held block for `groups` items and `records` handles. */
export function heldBytes(groups: number, records: number): number {
  return (kHeader + groups + records * kRecordWords) * 4;
}

/** Formats a zeroed held block: every group armed. */
export function formatHeld(i32: Int32Array, groups: number, records: number): void {
  i32[H_CAP] = records;
  i32[H_GROUPS] = groups;
  for (let g = 0; g < groups; g++) i32[kHeader + g] = 1;
}

/** Where a put's publication disarms group `group`: a plain store of 0 at `i32[index]`. */
export interface HeldCommit {
  readonly i32: Int32Array;
  readonly index: number;
}

/** The block handles are appended to while an item is encoded (one per thread at a time). */
interface Sink {
  i32: Int32Array;
  group: number;
}
let sink: Sink | undefined;

/**
 * Appends a handle just made by `HeapCore.share` and ends that share's recorded operation:
 * `opWords[opWord] = 0` is the store right after the count's, with no call in between (V8
 * delivers a termination only at calls and loop back-edges). Returns false when no put is
 * collecting (the caller ends its operation itself).
 */
export function appendHeld(
  heapId: number,
  unit: number,
  generation: number,
  slot: number,
  serial: number,
  opWords: Int32Array,
  opWord: number,
): boolean {
  const s = sink;
  if (s === undefined) return false;
  const i32 = s.i32;
  const n = i32[H_RECORDS] as number;
  if (n >= (i32[H_CAP] as number)) return false;
  const at = kHeader + (i32[H_GROUPS] as number) + n * kRecordWords;
  i32[at] = s.group;
  i32[at + 1] = (heapId % 2 ** 32) | 0; // read back with >>> 0
  i32[at + 2] = Math.floor(heapId / 2 ** 32);
  i32[at + 3] = unit;
  i32[at + 4] = generation;
  i32[at + 5] = slot;
  i32[at + 6] = serial;
  // The commit: listed here, and the share's operation over, in one step.
  i32[H_RECORDS] = n + 1;
  if (opWord >= 0) opWords[opWord] = 0;
  return true;
}

/** One record of a held block. */
export interface HeldRecord {
  heapId: number;
  unit: number;
  generation: number;
  slot: number;
  serial: number;
}

/** The records of a held block whose group is still armed (their handles were never published). */
export function armedRecords(i32: Int32Array): HeldRecord[] {
  const groups = i32[H_GROUPS] as number;
  const n = Math.min(i32[H_RECORDS] as number, i32[H_CAP] as number);
  const out: HeldRecord[] = [];
  for (let r = 0; r < n; r++) {
    const at = kHeader + groups + r * kRecordWords;
    const g = i32[at] as number;
    if (g < 0 || g >= groups || i32[kHeader + g] !== 1) continue;
    out.push({
      heapId: ((i32[at + 1] as number) >>> 0) + 2 ** 32 * (i32[at + 2] as number),
      unit: (i32[at + 3] as number) >>> 0,
      generation: i32[at + 4] as number,
      slot: i32[at + 5] as number,
      serial: i32[at + 6] as number,
    });
  }
  return out;
}

/**
 * A put's hold on the handles of its items, from `HeapCore.beginHold` to {@link Hold.end}. Items
 * are encoded inside {@link Hold.collect}, item k's handles in group k.
 */
export class Hold {
  readonly #i32: Int32Array;
  readonly #end: () => void;
  #ended = false;

  constructor(i32: Int32Array, end: () => void) {
    this.#i32 = i32;
    this.#end = end;
  }

  /** Runs `encode` (which makes the handles of item `group`) with this hold collecting them. */
  collect<T>(group: number, encode: () => T): T {
    const before = sink;
    sink = { i32: this.#i32, group };
    try {
      return encode();
    } finally {
      sink = before;
    }
  }

  /** The store that marks item `group` published. */
  commit(group: number): HeldCommit {
    return { i32: this.#i32, index: kHeader + group };
  }

  /** Gives the block back (after the put published, or released the handles it did not). */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#end();
  }
}
