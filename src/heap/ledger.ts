/**
 * Per-thread ledgers: which references each thread holds, kept in the heap itself so that after a
 * thread dies another thread can read its ledger and drop exactly those references.
 *
 * A ledger is an open-addressing table (unit -> count) in an internal heap block, written only by
 * its own thread. Deletion leaves a tombstone (count 0) instead of shifting entries, so that a
 * thread terminated in the middle of an update leaves at worst one reference untracked (a leak),
 * never one counted twice (a premature free). Growth copies into a new block and publishes it
 * with one atomic store.
 */
import {
  H_TABLES,
  H_THREAD_CAP,
  H_TICKET_CAP,
  T_LEDGER,
  T_STATE,
  T_THREAD,
  kKindLedger,
  kThreadClaiming,
  kThreadFree,
  kThreadLive,
  kThreadWords,
  kTicketWords,
  kWordsPerUnit,
} from './layout.js';
import type { Allocator } from './allocator.js';
import type { Words } from './words.js';

const L_CAP = 0;
const L_USED = 1;
const L_LIVE = 2;
const kEntries = 4;
const kInitialCapacity = 256;

function hash(unit: number, cap: number): number {
  return (Math.imul(unit, 0x9e3779b1) >>> 0) & (cap - 1);
}

export function threadTableStart(w: Words): number {
  return H_TABLES + w.get(H_TICKET_CAP) * kTicketWords;
}

/** Visits every (unit, count > 0) entry of the ledger block at `ledgerUnit`. */
export function forEachEntry(
  w: Words,
  ledgerUnit: number,
  fn: (unit: number, count: number) => void,
): void {
  const base = (ledgerUnit + 1) * kWordsPerUnit;
  const cap = w.get(base + L_CAP);
  for (let i = 0; i < cap; i++) {
    const key = w.getU(base + kEntries + 2 * i);
    const count = w.get(base + kEntries + 2 * i + 1);
    if (key !== 0 && count > 0) fn(key, count);
  }
}

export class Ledger {
  readonly #w: Words;
  readonly #alloc: Allocator;
  readonly #threadId: number;
  #slot = -1;
  #base = 0; // word index of the ledger payload
  #unit = 0;
  #cap = 0;
  #disabled = false;

  constructor(w: Words, alloc: Allocator, threadId: number) {
    this.#w = w;
    this.#alloc = alloc;
    this.#threadId = threadId;
  }

  /** The thread-table slot, claimed on first use; -1 when the table is full. */
  #ensure(): boolean {
    if (this.#slot >= 0) return true;
    if (this.#disabled) return false;
    const w = this.#w;
    const start = threadTableStart(w);
    const cap = w.get(H_THREAD_CAP);
    for (let i = 0; i < cap; i++) {
      const at = start + i * kThreadWords;
      if (
        w.load(at + T_STATE) === kThreadFree &&
        w.cas(at + T_STATE, kThreadFree, kThreadClaiming) === kThreadFree
      ) {
        w.store(at + T_THREAD, this.#threadId);
        w.store(at + T_LEDGER, 0);
        this.#slot = i;
        this.#create(kInitialCapacity);
        w.store(at + T_STATE, kThreadLive);
        return true;
      }
    }
    this.#disabled = true;
    process.emitWarning(
      `shmframe: the heap's thread table (${cap} threads) is full; references held by thread ` +
        `${this.#threadId} will not be released automatically if it dies. Release finished ` +
        `workers with heap.releaseThread(worker.threadId) or heap.watch(worker).`,
      { code: 'SHMFRAME_THREAD_TABLE_FULL' },
    );
    return false;
  }

  #create(capacity: number): void {
    const bytes = (kEntries + 2 * capacity) * 4;
    const { unit, dirtyBytes } = this.#alloc.allocate(bytes, kKindLedger, 'a thread ledger');
    const base = (unit + 1) * kWordsPerUnit;
    for (let i = 0; i < Math.ceil(dirtyBytes / 4); i++) this.#w.set(base + i, 0);
    this.#w.set(base + L_CAP, capacity);
    const old = this.#unit;
    const oldBase = this.#base;
    this.#unit = unit;
    this.#base = base;
    this.#cap = capacity;
    if (old !== 0) {
      // Copy live entries, publish the new block, then free the old one.
      const oldCap = this.#w.get(oldBase + L_CAP);
      for (let i = 0; i < oldCap; i++) {
        const key = this.#w.getU(oldBase + kEntries + 2 * i);
        const count = this.#w.get(oldBase + kEntries + 2 * i + 1);
        if (key !== 0 && count > 0) this.#put(key, count);
      }
    }
    this.#w.store(threadTableStart(this.#w) + this.#slot * kThreadWords + T_LEDGER, unit);
    if (old !== 0) this.#alloc.free(old);
  }

  /** Finds the entry index for `unit`, or the first empty index. */
  #probe(unit: number): number {
    const w = this.#w;
    const mask = this.#cap - 1;
    for (let i = hash(unit, this.#cap); ; i = (i + 1) & mask) {
      const key = w.getU(this.#base + kEntries + 2 * i);
      if (key === unit || key === 0) return i;
    }
  }

  #put(unit: number, count: number): void {
    const w = this.#w;
    const i = this.#probe(unit);
    const at = this.#base + kEntries + 2 * i;
    if (w.getU(at) === 0) {
      w.set(at + 1, 0);
      w.set(at, unit);
      w.set(this.#base + L_USED, w.get(this.#base + L_USED) + 1);
    }
    const before = w.get(at + 1);
    w.set(at + 1, before + count);
    if (before === 0) w.set(this.#base + L_LIVE, w.get(this.#base + L_LIVE) + 1);
  }

  /** Records one more reference to `unit` held by this thread. */
  add(unit: number): void {
    if (!this.#ensure()) return;
    const used = this.#w.get(this.#base + L_USED);
    if ((used + 1) * 10 > this.#cap * 7) {
      const live = this.#w.get(this.#base + L_LIVE);
      let cap = kInitialCapacity;
      while ((live + 1) * 10 > cap * 4) cap *= 2;
      this.#create(cap);
    }
    this.#put(unit, 1);
  }

  /** Records that this thread dropped one reference to `unit`. */
  remove(unit: number): void {
    if (this.#slot < 0) return;
    const w = this.#w;
    const at = this.#base + kEntries + 2 * this.#probe(unit);
    if (w.getU(at) !== unit) return;
    const count = w.get(at + 1);
    if (count <= 0) return;
    w.set(at + 1, count - 1);
    if (count === 1) w.set(this.#base + L_LIVE, w.get(this.#base + L_LIVE) - 1);
  }

  /** Forgets the thread-table slot after it was released (by this thread at exit or by another). */
  reset(): void {
    this.#slot = -1;
    this.#unit = 0;
    this.#base = 0;
    this.#cap = 0;
  }

  get slot(): number {
    return this.#slot;
  }
}
