/**
 * Per-thread ledgers: which references each thread holds, kept in the heap itself so that after a
 * thread dies another thread can read its ledger and drop exactly those references.
 *
 * A ledger is an open-addressing table (unit -> count) in an internal heap block, written only by
 * its own thread. Deletion leaves a tombstone (count 0) instead of shifting entries, and every
 * entry change is a single store, so a ledger is readable at any instant. Growth builds a new
 * block and publishes it with one atomic store; the blocks in flight are recorded so a thread
 * dying mid-growth leaks neither.
 *
 * Besides the ledger, the thread's table entry records the reference operation in progress
 * (see layout.ts `T_PEND_*`); {@link resolvePending} turns that record into the exact count the
 * dead thread held for that block.
 *
 * Placement (issue 15): a ledger block is bookkeeping, so it is carved from the highest free
 * block that fits. When the top of the heap is taken by objects at the moment it grows, it lands
 * lower and splits the space objects use; it then moves up at the first drop that leaves room
 * above it, shrinks when a burst of references is over, and is freed when the thread holds no
 * reference at all (created again by the next one). So once every object is freed, no ledger is
 * left and the heap is one free block again, as fresh.
 */
import {
  B_CHECK,
  B_GEN,
  B_LEN_HI,
  B_LEN_LO,
  B_MAGIC,
  B_REFS,
  B_SIZE,
  B_VERKIND,
  H_THREAD_OVERFLOW,
  T_LEDGER,
  T_LEDGER_NEXT,
  T_LEDGER_OLD,
  T_HELD,
  T_PEND_AUX,
  T_PEND_CHECK,
  T_PEND_COUNT,
  T_PEND_GEN,
  T_PEND_OP,
  T_PEND_PHASE,
  T_PEND_UNIT,
  T_STATE,
  T_THREAD,
  headerCheck,
  kAllocMagic,
  kCorruptThreads,
  kKindLedger,
  kOpAlloc,
  kOpDrop,
  kOpNone,
  kOpShare,
  kThreadClaiming,
  kThreadFree,
  kThreadLive,
  kThreadWords,
  kUnit,
  kWordsPerUnit,
  pendingCheck,
} from './layout.js';
import { CorruptError } from '../errors.js';
import type { Allocator } from './allocator.js';
import type { Words } from './words.js';

const L_CAP = 0;
const L_USED = 1;
const L_LIVE = 2;
/** Owner stamp: thread id + 1 of the thread whose ledger this is. */
const L_OWNER = 3;
const kEntries = 4;
const kInitialCapacity = 256;

function hash(unit: number, cap: number): number {
  return (Math.imul(unit, 0x9e3779b1) >>> 0) & (cap - 1);
}

/** Where the thread table is, and the heap's block range: from the checked header. */
export interface ThreadTable {
  start: number;
  cap: number;
  dataStart: number;
  end: number;
}

/** Entries for a ledger holding `live` references with room to grow (at most 40% full). */
function capacityFor(live: number): number {
  let cap = kInitialCapacity;
  while ((live + 1) * 10 > cap * 4) cap *= 2;
  return cap;
}

/**
 * Capacity of the ledger block at `unit` if it is one (an allocated ledger block with an intact
 * header and a capacity that fits it) stamped with `owner` (thread id + 1), else -1. Nothing
 * outside the heap is read.
 */
export function ledgerCapacity(w: Words, unit: number, owner: number, t: ThreadTable): number {
  if (!(unit >= t.dataStart && unit < t.end)) return -1;
  const b = unit * kWordsPerUnit;
  const verkind = w.get(b + B_VERKIND);
  const size = w.getU(b + B_SIZE);
  const lenLo = w.getU(b + B_LEN_LO);
  const lenHi = w.getU(b + B_LEN_HI);
  if (
    w.get(b + B_MAGIC) !== kAllocMagic ||
    verkind >>> 16 !== kKindLedger ||
    size < 1 ||
    size > t.end - unit ||
    w.get(b + B_CHECK) !== headerCheck(verkind, w.get(b + B_GEN), size, lenLo, lenHi)
  )
    return -1;
  const base = (unit + 1) * kWordsPerUnit;
  const cap = w.get(base + L_CAP);
  if (w.get(base + L_OWNER) !== owner) return -1;
  if (!(cap >= 1 && (cap & (cap - 1)) === 0 && (kEntries + 2 * cap) * 4 <= lenHi * 2 ** 32 + lenLo))
    return -1;
  return cap;
}

/** Every (unit, count > 0) entry of the ledger block at `ledgerUnit`, of capacity `cap` (checked). */
export function ledgerEntries(w: Words, ledgerUnit: number, cap: number): Map<number, number> {
  const out = new Map<number, number>();
  if (ledgerUnit === 0 || cap <= 0) return out;
  const base = (ledgerUnit + 1) * kWordsPerUnit;
  for (let i = 0; i < cap; i++) {
    const key = w.getU(base + kEntries + 2 * i);
    const count = w.get(base + kEntries + 2 * i + 1);
    if (key !== 0 && count > 0) out.set(key, (out.get(key) ?? 0) + count);
  }
  return out;
}

/**
 * Sets a dead thread's ledger count for `unit` to `count` (absolute, so that doing it twice is
 * the same as once): the reaper folds the thread's pending operation into its ledger before it
 * drops anything. False when the ledger has no slot for it (the caller keeps the count itself).
 */
export function setLedgerCount(
  w: Words,
  ledgerUnit: number,
  cap: number,
  unit: number,
  count: number,
): boolean {
  if (ledgerUnit === 0 || cap <= 0) return false;
  const base = (ledgerUnit + 1) * kWordsPerUnit + kEntries;
  let free = -1;
  let found = false;
  for (let i = 0; i < cap; i++) {
    const key = w.getU(base + 2 * i);
    if (key === unit) {
      // The first slot of the unit gets the count; any other (a duplicate) is emptied.
      w.set(base + 2 * i + 1, found ? 0 : count);
      found = true;
    } else if (free < 0 && (key === 0 || w.get(base + 2 * i + 1) <= 0)) {
      free = i;
    }
  }
  if (found) return true;
  if (free < 0) return false;
  // The count first, then the key: a slot with key 0 counts for nothing if the reaper stops here.
  w.set(base + 2 * free + 1, count);
  w.set(base + 2 * free, unit);
  return true;
}

/**
 * Drains a dead thread's ledger: for every entry with a count, sets the count to 0 and then
 * calls `drop(unit, count)`. Zeroing first makes a reaper that dies in the middle leak at most
 * what it was dropping, never drop it twice (the next reaper finds it gone from the ledger).
 */
export function drainLedger(
  w: Words,
  ledgerUnit: number,
  cap: number,
  drop: (unit: number, count: number) => void,
): void {
  if (ledgerUnit === 0 || cap <= 0) return;
  const base = (ledgerUnit + 1) * kWordsPerUnit + kEntries;
  for (let i = 0; i < cap; i++) {
    const key = w.getU(base + 2 * i);
    const count = w.get(base + 2 * i + 1);
    if (key === 0 || count <= 0) continue;
    w.set(base + 2 * i + 1, 0);
    drop(key, count);
  }
}

/** What a dead thread's pending operation means for the block it was on. */
export interface Pending {
  unit: number;
  count: number;
  mustFree: boolean;
  orphanTicket: number;
}

/**
 * What a dead thread's pending operation means: how many references it held to that block (in
 * place of its ledger's count), whether it was about to free the block, and which orphaned
 * ticket (a handle it never returned) to clear. `null` when the record fails its check word (or
 * names a unit outside the heap): then the record is ignored and the ledger's counts stand,
 * which can leak a reference but never drop one too many.
 */
export function resolvePending(
  w: Words,
  entry: number,
  t: ThreadTable,
): Pending | undefined | null {
  const op = w.load(entry + T_PEND_OP);
  if (op === kOpNone) return undefined;
  const unit = w.load(entry + T_PEND_UNIT) >>> 0;
  const gen = w.load(entry + T_PEND_GEN);
  const before = w.load(entry + T_PEND_COUNT);
  // An allocation records its unit and generation later, inside the allocator: no check word,
  // and none needed (it counts only for the very block and generation it names).
  if (op !== kOpAlloc && w.load(entry + T_PEND_CHECK) !== pendingCheck(op, unit, gen, before))
    return null;
  if (unit === 0) return undefined;
  if (!(unit >= t.dataStart && unit < t.end) || before < 0) return null;
  const phase = w.load(entry + T_PEND_PHASE);
  if (phase < 0 || phase > 2) return null;
  const base = unit * kWordsPerUnit;
  const sameBlock = w.get(base + B_MAGIC) === kAllocMagic && w.get(base + B_GEN) === gen;
  if (op === kOpAlloc) return { unit, count: sameBlock ? 1 : 0, mustFree: false, orphanTicket: -1 };
  if (op === kOpDrop && phase === 2)
    return {
      unit,
      count: 0,
      mustFree: sameBlock && w.load(base + B_REFS) === 0,
      orphanTicket: -1,
    };
  // The thread held (or was adopting) a reference, so the block it recorded is alive unless the
  // handle it was adopting was stale: a record for another block says nothing about this one.
  if (!sameBlock) return undefined;
  if (op === kOpDrop)
    return { unit, count: phase === 1 ? before - 1 : before, mustFree: false, orphanTicket: -1 };
  if (op === kOpShare) {
    // The handle never left the thread: the reference taken for it is the thread's to drop.
    return {
      unit,
      count: phase >= 1 ? before + 1 : before,
      mustFree: false,
      orphanTicket: phase === 2 ? w.load(entry + T_PEND_AUX) : -1,
    };
  }
  // retain or adopt
  return { unit, count: phase === 1 ? before + 1 : before, mustFree: false, orphanTicket: -1 };
}

export class Ledger {
  readonly #w: Words;
  readonly #alloc: Allocator;
  readonly #threadId: number;
  #slot = -1;
  #entry = -1; // word index of this thread's table entry
  #base = 0; // word index of the ledger payload
  #unit = 0;
  #cap = 0;
  #disabled = false;
  readonly #table: ThreadTable;
  /** The ledger block lies below some object (it grew while the top was taken): move it up. */
  #misplaced = false;

  constructor(w: Words, alloc: Allocator, threadId: number, table: ThreadTable) {
    this.#w = w;
    this.#alloc = alloc;
    this.#threadId = threadId;
    this.#table = table;
  }

  /** Marks the heap corrupt and returns the error that says what failed. */
  #corrupt(what: string): CorruptError {
    this.#alloc.markCorrupt(kCorruptThreads);
    return new CorruptError(
      `Heap metadata is corrupt: ${what}. The heap is now marked corrupt: allocations and attaches ` +
        `fail in every thread. Objects already attached stay readable: copy out what you need and ` +
        `create a new heap.`,
      { details: { reason: kCorruptThreads } },
    );
  }

  /** Word index of the pending phase (set atomically with count changes), or -1 without a ledger. */
  get phaseWord(): number {
    return this.#entry < 0 ? -1 : this.#entry + T_PEND_PHASE;
  }

  /** Word index of the recorded operation (T_PEND_OP), or -1 without a ledger. */
  get opWord(): number {
    return this.#entry < 0 ? -1 : this.#entry + T_PEND_OP;
  }

  /** Word index of this thread's held-tickets block (T_HELD), or -1 without a table entry. */
  get heldWord(): number {
    return this.#entry < 0 ? -1 : this.#entry + T_HELD;
  }

  /** Word index where a share records the ticket slot it claims, or -1. */
  get auxWord(): number {
    return this.#entry < 0 ? -1 : this.#entry + T_PEND_AUX;
  }

  /**
   * Claims a thread-table slot on first use; false when the table is full. Once claimed, checks
   * on every call that the entry still names this thread: an entry that another thread freed or
   * took over (a damaged state word, or `releaseThread` run on a live thread) would make this
   * thread look gone, and its locks free to take.
   */
  #ensure(): boolean {
    if (this.#slot >= 0) {
      const w = this.#w;
      const e = this.#entry;
      // Plain reads: the words change under a live thread only when they were overwritten.
      if (w.get(e + T_STATE) === kThreadLive && w.get(e + T_THREAD) === this.#threadId) return true;
      throw this.#corrupt(
        `the thread-table entry of thread ${this.#threadId} no longer names it (state ` +
          `${w.load(e + T_STATE)}, thread ${w.load(e + T_THREAD)})`,
      );
    }
    if (this.#disabled) return false;
    const w = this.#w;
    const { start, cap } = this.#table;
    // This thread may already have an entry: it saw this heap before, and the heap object was
    // collected and opened again since. Adopt it rather than claim a second one.
    for (let i = 0; i < cap; i++) {
      const at = start + i * kThreadWords;
      if (w.load(at + T_STATE) === kThreadLive && w.load(at + T_THREAD) === this.#threadId) {
        // Its ledger block may have been freed (it held nothing): prepare() makes a new one.
        const unit = w.load(at + T_LEDGER) >>> 0;
        let lcap = 0;
        if (unit !== 0) {
          lcap = ledgerCapacity(w, unit, this.#threadId + 1, this.#table);
          if (lcap < 0)
            throw this.#corrupt(
              `the ledger of thread ${this.#threadId} (block ${unit}) fails its check`,
            );
        }
        this.#slot = i;
        this.#entry = at;
        this.#unit = unit;
        this.#base = unit === 0 ? 0 : (unit + 1) * kWordsPerUnit;
        this.#cap = lcap;
        this.#misplaced = unit !== 0 && !this.#alloc.isTopPlaced(unit);
        return true;
      }
    }
    for (let i = 0; i < cap; i++) {
      const at = start + i * kThreadWords;
      if (
        w.load(at + T_STATE) === kThreadFree &&
        w.cas(at + T_STATE, kThreadFree, kThreadClaiming) === kThreadFree
      ) {
        for (let k = 1; k < kThreadWords; k++) w.store(at + k, 0);
        w.store(at + T_THREAD, this.#threadId);
        this.#slot = i;
        this.#entry = at;
        try {
          this.#grow(kInitialCapacity);
        } catch (err) {
          // No ledger (a full heap, a lock that could not be had): give the entry back whole,
          // so that the next call claims one afresh instead of finding it half made.
          this.reset();
          for (let k = 1; k < kThreadWords; k++) w.store(at + k, 0);
          w.store(at + T_STATE, kThreadFree);
          throw err;
        }
        w.store(at + T_STATE, kThreadLive);
        return true;
      }
    }
    this.#disabled = true;
    w.store(H_THREAD_OVERFLOW, 1);
    process.emitWarning(
      `shmframe: the heap's thread table (${cap} threads) is full; references held by thread ` +
        `${this.#threadId} will not be released automatically if it dies. Release finished ` +
        `workers with heap.releaseThread(worker.threadId) or heap.watch(worker).`,
      { code: 'SHMFRAME_THREAD_TABLE_FULL' },
    );
    return false;
  }

  /**
   * Moves the table into a new block of `capacity` entries and publishes it. With `above`, only
   * if the new block lies above that unit (a move up); otherwise the new block is given back and
   * false returned.
   */
  #grow(capacity: number, above = 0, hint = 0): boolean {
    const w = this.#w;
    const entry = this.#entry;
    const bytes = (kEntries + 2 * capacity) * 4;
    const { unit } = this.#alloc.allocate(
      bytes,
      kKindLedger,
      'a thread ledger',
      (u) => w.store(entry + T_LEDGER_NEXT, u),
      hint,
    );
    if (unit < above) {
      // Another thread took the room above meanwhile: stay where we are.
      this.#alloc.free(unit);
      w.store(entry + T_LEDGER_NEXT, 0);
      return false;
    }
    const base = (unit + 1) * kWordsPerUnit;
    w.fill(base, bytes / 4, 0);
    w.set(base + L_CAP, capacity);
    w.set(base + L_OWNER, this.#threadId + 1);
    const old = this.#unit;
    const oldBase = this.#base;
    const oldCap = this.#cap;
    this.#unit = unit;
    this.#base = base;
    this.#cap = capacity;
    if (old !== 0) {
      for (let i = 0; i < oldCap; i++) {
        const key = w.getU(oldBase + kEntries + 2 * i);
        const count = w.get(oldBase + kEntries + 2 * i + 1);
        if (key !== 0 && count > 0) this.#put(key, count);
      }
    }
    w.store(entry + T_LEDGER_OLD, old);
    w.store(entry + T_LEDGER, unit);
    w.store(entry + T_LEDGER_NEXT, 0);
    if (old !== 0) this.#alloc.free(old);
    w.store(entry + T_LEDGER_OLD, 0);
    this.#misplaced = !this.#alloc.isTopPlaced(unit);
    return true;
  }

  /** Frees the ledger block of a thread that holds no reference (prepare() makes a new one). */
  #release(): void {
    const w = this.#w;
    const entry = this.#entry;
    const old = this.#unit;
    // The same publication order as a growth: whoever settles after this thread dies finds the
    // block in T_LEDGER or T_LEDGER_OLD until it is free.
    w.store(entry + T_LEDGER_OLD, old);
    w.store(entry + T_LEDGER, 0);
    this.#unit = 0;
    this.#base = 0;
    this.#cap = 0;
    this.#misplaced = false;
    this.#alloc.free(old);
    w.store(entry + T_LEDGER_OLD, 0);
  }

  /**
   * Housekeeping after a drop, outside any recorded operation: frees the ledger when the thread
   * holds nothing, shrinks it after a burst (under a tenth full), and moves a misplaced one up
   * when a block was just freed (`freed`) and there is room above it.
   */
  maintain(freed: boolean): void {
    if (this.#slot < 0 || this.#unit === 0) return;
    const live = this.#w.get(this.#base + L_LIVE);
    if (live === 0) {
      this.#release();
      return;
    }
    if (this.#cap > kInitialCapacity && live * 10 < this.#cap) {
      this.#grow(capacityFor(live));
      return;
    }
    if (this.#misplaced && freed) {
      const units = 1 + Math.ceil(((kEntries + 2 * this.#cap) * 4) / kUnit);
      const hint = this.#alloc.relocationHint(this.#unit, units);
      if (hint !== 0) this.#grow(this.#cap, this.#unit, hint);
    }
  }

  /**
   * Makes sure one more entry fits without allocating, so that the recorded operation that
   * follows never allocates in its middle. False when this thread has no ledger.
   */
  prepare(): boolean {
    if (!this.#ensure()) return false;
    if (this.#unit === 0) {
      this.#grow(kInitialCapacity);
      return true;
    }
    const used = this.#w.get(this.#base + L_USED);
    if ((used + 1) * 10 > this.#cap * 7) this.#grow(capacityFor(this.#w.get(this.#base + L_LIVE)));
    return true;
  }

  // The in-flight record is written with plain stores: it is read only after this thread has
  // died (a synchronization point), and plain stores keep the hot paths cheap.

  /** Records the start of a reference operation on `unit` (phase 0). */
  begin(op: number, unit: number, generation: number): void {
    if (this.#entry < 0) return;
    const w = this.#w;
    const e = this.#entry;
    const count = unit === 0 ? 0 : this.count(unit);
    w.set(e + T_PEND_OP, kOpNone);
    w.set(e + T_PEND_UNIT, unit);
    w.set(e + T_PEND_GEN, generation);
    w.set(e + T_PEND_COUNT, count);
    w.set(e + T_PEND_PHASE, 0);
    w.set(e + T_PEND_CHECK, pendingCheck(op, unit, generation, count));
    w.set(e + T_PEND_OP, op);
  }

  /** For an allocation: records the unit chosen (called inside the allocator lock) and its entry. */
  readonly commitAlloc = (unit: number, generation: number): void => {
    if (this.#entry >= 0) {
      this.#w.set(this.#entry + T_PEND_GEN, generation);
      this.#w.set(this.#entry + T_PEND_UNIT, unit);
    }
    this.add(unit);
  };

  /** The recorded operation completed. */
  end(): void {
    if (this.#entry < 0) return;
    this.#w.set(this.#entry + T_PEND_OP, kOpNone);
    // A record that stays valid after its operation ended would pass for a live one if its op
    // word were overwritten: clear the check.
    this.#w.set(this.#entry + T_PEND_CHECK, 0);
  }

  /**
   * The slot of `unit`, or where to insert it. At most `cap` probes: the table is never full
   * (growth keeps it under 70% used), so a table without an empty slot was overwritten.
   */
  #probe(unit: number, forInsert: boolean): number {
    const w = this.#w;
    const mask = this.#cap - 1;
    let tomb = -1;
    let i = hash(unit, this.#cap);
    for (let n = 0; n < this.#cap; n++, i = (i + 1) & mask) {
      const key = w.getU(this.#base + kEntries + 2 * i);
      if (key === unit) return i;
      if (key === 0) return forInsert && tomb >= 0 ? tomb : i;
      if (forInsert && tomb < 0 && w.get(this.#base + kEntries + 2 * i + 1) === 0) tomb = i;
    }
    if (forInsert && tomb >= 0) return tomb;
    throw this.#corrupt(`the ledger of thread ${this.#threadId} has no empty slot`);
  }

  #put(unit: number, count: number): void {
    const w = this.#w;
    const i = this.#probe(unit, true);
    const at = this.#base + kEntries + 2 * i;
    const key = w.getU(at);
    if (key !== unit) {
      // An empty slot or a tombstone (count 0): reusing tombstones keeps a long
      // producer-consumer loop from filling the table with dead keys.
      w.set(at + 1, 0);
      w.set(at, unit);
      if (key === 0) w.set(this.#base + L_USED, w.get(this.#base + L_USED) + 1);
    }
    const before = w.get(at + 1);
    w.set(at + 1, before + count);
    if (before === 0) w.set(this.#base + L_LIVE, w.get(this.#base + L_LIVE) + 1);
  }

  /** This thread's recorded count for `unit`. */
  count(unit: number): number {
    if (this.#slot < 0 || this.#unit === 0) return 0;
    const at = this.#base + kEntries + 2 * this.#probe(unit, false);
    return this.#w.getU(at) === unit ? this.#w.get(at + 1) : 0;
  }

  /** Records one more reference to `unit` (after {@link prepare}). */
  add(unit: number): void {
    if (this.#slot < 0 || this.#unit === 0) return;
    this.#put(unit, 1);
  }

  /** Records one reference to `unit` dropped. */
  remove(unit: number): void {
    if (this.#slot < 0 || this.#unit === 0) return;
    const w = this.#w;
    const at = this.#base + kEntries + 2 * this.#probe(unit, false);
    if (w.getU(at) !== unit) return;
    const count = w.get(at + 1);
    if (count <= 0) return;
    w.set(at + 1, count - 1);
    if (count === 1) w.set(this.#base + L_LIVE, w.get(this.#base + L_LIVE) - 1);
  }

  /** Forgets the thread-table slot after it was released (by this thread at exit or by another). */
  reset(): void {
    this.#slot = -1;
    this.#entry = -1;
    this.#unit = 0;
    this.#base = 0;
    this.#cap = 0;
    this.#misplaced = false;
  }

  /**
   * Units the next reference operation must allocate for this thread's ledger before anything
   * else: a first ledger block (none now), else 0 (a growth is not counted).
   */
  get reserveUnits(): number {
    const needs = this.#slot >= 0 ? this.#unit === 0 : !this.#disabled;
    return needs ? 1 + Math.ceil(((kEntries + 2 * kInitialCapacity) * 4) / kUnit) : 0;
  }

  get slot(): number {
    return this.#slot;
  }
}
