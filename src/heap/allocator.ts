/**
 * The allocator engine: a TLSF (two-level segregated fit) allocator over 64-byte units whose
 * whole state lives in the shared buffer, guarded by one Atomics mutex.
 *
 * Why a lock and not lock-free: TLSF gives O(1) allocate and free with immediate coalescing
 * (low fragmentation for both the same-size producer-consumer loop and mixed sizes), but its
 * free lists and bitmaps change together; a mutex keeps that simple, and critical sections are
 * a few hundred nanoseconds. See docs/heap.md.
 *
 * A thread can be terminated anywhere, also inside a critical section. Every change is ordered
 * so that the physical chain of block sizes is walkable after any single write; a thread that
 * finds the lock held by a dead thread rebuilds free lists and counters from that walk
 * ({@link Allocator.repairIfOwnedBy}).
 *
 * Nothing read from the heap is trusted: the heap may be shared with code that writes outside
 * its arrays, or with other processes. A free block carries a check word over its position,
 * size and back link (`freeCheck`), an allocated one over its immutable header (`headerCheck`),
 * and every free-list link is followed only after the block it names passed its check, sits in
 * the list's size class and links back (a doubly linked list checked both ways, as in safe
 * unlinking). A failed check marks the heap corrupt (`H_CORRUPT`) before anything was written
 * through the bad word: from then on allocation and attach fail in every thread, and frees
 * leave the lists alone.
 */
import { CorruptError, HeapFullError, ShmframeTimeoutError } from '../errors.js';
import { formatBytes } from '../util/size.js';
import {
  B_CHECK,
  B_GEN,
  B_LEN_HI,
  B_LEN_LO,
  B_MAGIC,
  B_NEXT_FREE,
  B_PREV,
  B_PREV_FREE,
  B_REFS,
  B_SIZE,
  B_VERKIND,
  H_CORRUPT,
  H_FL_BITMAP,
  H_FREE_UNITS,
  H_GEN,
  H_HEADS,
  H_HIGH_WATER,
  H_INTERNAL_OBJECTS,
  H_INTERNAL_UNITS,
  H_LOCK,
  H_LOCK_WAITERS,
  H_OBJECTS,
  H_REPAIRS,
  H_SL_BITMAPS,
  H_TOP_WATER,
  H_USED_UNITS,
  H_WATER_CHECK,
  freeCheck,
  headerCheck,
  kAllocMagic,
  kCorruptBlocks,
  kCorruptHeader,
  kCorruptLock,
  kCorruptRefs,
  kCorruptThreads,
  kFirstLevels,
  kFreeMagic,
  kInternalKind,
  kLayoutVersion,
  kSecondLevelBits,
  kSecondLevels,
  kSentinelMagic,
  kUnit,
  kWordsPerUnit,
  waterCheck,
} from './layout.js';
import type { Words } from './words.js';

const kSpins = 64;
/** How long a waiter sleeps before it asks whether the lock's owner is gone, in ms. */
export const kLockSliceMs = 100;
/**
 * How long a thread the heap believes alive may hold the allocator lock before a waiter gives up
 * with SHMFRAME_ERR_TIMEOUT, in ms. A live thread holds it for microseconds; longer means it was
 * terminated and not released yet (its parent's event loop is blocked), or the word is forged.
 */
export const kLockStuckMs = 5000;
/**
 * How many blocks below the end of the heap an internal (bookkeeping) allocation looks through
 * for the highest free block, and how far {@link Allocator.isTopPlaced} looks: the top of a heap
 * holds the ledgers of the threads that use it, rarely more than a few dozen.
 */
const kTopWalk = 64;

function ctz(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** First/second level of a free block of `units`. */
function mapping(units: number): number {
  if (units < kSecondLevels) return units; // fl 0
  const l = 31 - Math.clz32(units);
  const fl = l - kSecondLevelBits + 1;
  const sl = (units >>> (l - kSecondLevelBits)) & (kSecondLevels - 1);
  return fl * kSecondLevels + sl;
}

const kReasons: Record<number, string> = {
  [kCorruptBlocks]: 'a block header, free-list link or block size failed its check',
  [kCorruptHeader]: 'a control word of the heap failed its check',
  [kCorruptThreads]: "the thread table or a thread's ledger failed its check",
  [kCorruptLock]: 'the allocator lock was taken from a thread that still held it',
  [kCorruptRefs]: 'a reference count was below the references this thread holds',
};

/** What a reason code in `H_CORRUPT` means. */
export function corruptReason(reason: number): string {
  return kReasons[reason] ?? `reason code ${reason}`;
}

const kAdvice =
  'Objects already attached stay readable: copy out what you need and create a new heap. ' +
  'Something wrote into the heap outside its objects (a view past its end, another process, a bug).';

/** The error every allocation and attach of a heap marked corrupt fails with. */
export function corruptHeapError(reason: number): CorruptError {
  return new CorruptError(
    `This heap was marked corrupt (${corruptReason(reason)}), so it refuses new allocations ` +
      `and attaches in every thread. ${kAdvice}`,
    { details: { reason } },
  );
}

export interface AllocatorCounters {
  usedUnits: number;
  internalUnits: number;
  freeUnits: number;
  objects: number;
  internalObjects: number;
  largestFreeUnits: number;
  repairs: number;
  /** 0, or why the heap was marked corrupt. */
  corrupt: number;
}

/**
 * Who owns the allocator lock, as the heap sees it. Routed in as callbacks so that a heap shared
 * between processes can add its own liveness test.
 */
export interface LockOwners {
  /** True only when `owner` (the lock word minus 1: a thread id) is provably gone. */
  gone(owner: number): boolean;
  /**
   * Makes this thread findable by `gone` for as long as it holds the lock (a thread that has no
   * ledger claims a visitor entry in the thread table); returns what {@link leave} undoes, or -1.
   */
  visit(): number;
  leave(token: number): void;
}

const kNobody: LockOwners = { gone: () => false, visit: () => -1, leave: () => {} };

export class Allocator {
  readonly w: Words;
  readonly #me: number;
  readonly #ds: number;
  readonly #end: number;
  readonly #owners: LockOwners;
  #visitor = -1;
  /** Size of the block #find returned. */
  #foundSize = 0;

  /** `dataStart` and `end` come from the checked header (never re-read from the heap). */
  constructor(
    words: Words,
    threadId: number,
    dataStart: number,
    end: number,
    owners: LockOwners = kNobody,
  ) {
    this.w = words;
    this.#me = threadId + 1;
    this.#ds = dataStart;
    this.#end = end;
    this.#owners = owners;
  }

  /** Writes a fresh allocator state: one free block spanning [dataStart, end) and a sentinel. */
  static format(w: Words, dataStart: number, end: number): void {
    for (let i = 0; i < kFirstLevels; i++) w.set(H_SL_BITMAPS + i, 0);
    for (let i = 0; i < kFirstLevels * kSecondLevels; i++) w.set(H_HEADS + i, 0);
    w.set(H_FL_BITMAP, 0);
    w.set(H_HIGH_WATER, dataStart);
    w.set(H_TOP_WATER, end);
    w.set(H_WATER_CHECK, waterCheck(dataStart, end));
    const a = new Allocator(w, -1, dataStart, end);
    const b = end * kWordsPerUnit;
    w.set(b + B_MAGIC, kSentinelMagic);
    w.set(b + B_SIZE, 1);
    w.set(b + B_PREV, dataStart);
    a.#makeFree(dataStart, end - dataStart, 0);
    a.#insert(dataStart, end - dataStart);
    w.set(H_FREE_UNITS, end - dataStart);
  }

  // ---------------------------------------------------------------- corruption

  /** 0, or why the heap was marked corrupt. */
  get corrupt(): number {
    return this.w.load(H_CORRUPT);
  }

  /** Marks the heap corrupt for every thread (the first reason stays). */
  markCorrupt(reason: number): void {
    this.w.cas(H_CORRUPT, 0, reason);
  }

  /** Marks the heap corrupt and returns the error that says what failed. */
  #corrupt(reason: number, what: string): CorruptError {
    this.markCorrupt(reason);
    return new CorruptError(
      `Heap metadata is corrupt: ${what}. The heap is now marked corrupt: allocations and attaches fail in every thread. ${kAdvice}`,
      { details: { reason } },
    );
  }

  // ---------------------------------------------------------------- lock

  lock(): void {
    const w = this.w;
    // Findable before the lock word names this thread, so no waiter ever thinks it gone.
    this.#visitor = this.#owners.visit();
    if (w.cas(H_LOCK, 0, this.#me) === 0) return;
    for (let i = 0; i < kSpins; i++) {
      if (w.load(H_LOCK) === 0 && w.cas(H_LOCK, 0, this.#me) === 0) return;
    }
    try {
      this.#lockSlow();
    } catch (err) {
      this.#leave();
      throw err;
    }
  }

  /**
   * Sleeps in slices. After a slice in which the word kept naming the same owner, the owner is
   * asked after: one that is gone (or this very thread: the lock is not reentrant, so the word is
   * stale) is taken over and the allocator rebuilt; a live one is given {@link kLockStuckMs}.
   */
  #lockSlow(): void {
    const w = this.w;
    w.add(H_LOCK_WAITERS, 1);
    try {
      let stuck = 0;
      for (;;) {
        const c = w.load(H_LOCK);
        if (c === 0) {
          if (w.cas(H_LOCK, 0, this.#me) === 0) return;
          continue;
        }
        if (c === this.#me) {
          if (this.#takeOver(c)) return;
          continue;
        }
        if (w.wait(H_LOCK, c, kLockSliceMs) !== 'timed-out' || w.load(H_LOCK) !== c) {
          stuck = 0;
          continue;
        }
        if (this.#owners.gone(c - 1)) {
          if (this.#takeOver(c)) return;
          continue;
        }
        // Without wake-ups (a damaged waiter count) a busy owner looks stuck: watch the word.
        stuck = this.#heldStill(c) ? stuck + kLockSliceMs : 0;
        if (stuck >= kLockStuckMs) {
          throw new ShmframeTimeoutError(
            `Waited ${kLockStuckMs} ms for the heap's allocator lock, held by thread ${c - 1}, which ` +
              `the heap believes alive (a live thread holds it for microseconds). If that thread was ` +
              `terminated, its parent releases it with heap.releaseThread(${c - 1}) (Pool and ` +
              `heap.watch do so once its 'exit' event runs: do not block that event loop meanwhile); ` +
              `otherwise the lock word was overwritten.`,
            { details: { owner: c - 1, waited: kLockStuckMs } },
          );
        }
      }
    } finally {
      w.sub(H_LOCK_WAITERS, 1);
    }
  }

  /** True when the lock word kept the value `c` for the next 2 ms. */
  #heldStill(c: number): boolean {
    const until = performance.now() + 2;
    while (performance.now() < until) {
      if (this.w.load(H_LOCK) !== c) return false;
      this.w.wait(H_LOCK, c, 0.25);
    }
    return this.w.load(H_LOCK) === c;
  }

  /** Takes the lock from `owner`, which is gone, and rebuilds what it may have left half done. */
  #takeOver(owner: number): boolean {
    if (this.w.cas(H_LOCK, owner, this.#me) !== owner) return false;
    try {
      if (this.corrupt === 0) this.#rebuild();
    } catch (err) {
      this.unlock();
      throw err;
    }
    return true;
  }

  unlock(): void {
    const w = this.w;
    // A plain read first (a store alone was the cost before the check): the word changes under
    // a holder only if someone took the lock over, believing this thread gone; then its rebuild
    // may have raced with this thread's writes, and nothing can be trusted after that.
    const held = w.get(H_LOCK) === this.#me;
    if (held) w.store(H_LOCK, 0);
    this.#leave();
    if (!held) this.markCorrupt(kCorruptLock);
    if (w.load(H_LOCK_WAITERS) > 0) w.notify(H_LOCK, 1);
  }

  #leave(): void {
    if (this.#visitor >= 0) {
      this.#owners.leave(this.#visitor);
      this.#visitor = -1;
    }
  }

  /** Owner thread id of the lock, or -1 when free. */
  lockOwner(): number {
    return this.w.load(H_LOCK) - 1;
  }

  // ---------------------------------------------------------------- checked access

  #hw(unit: number, field: number): number {
    return this.w.get(unit * kWordsPerUnit + field);
  }
  #hwU(unit: number, field: number): number {
    return this.w.getU(unit * kWordsPerUnit + field);
  }
  #hset(unit: number, field: number, v: number): void {
    this.w.set(unit * kWordsPerUnit + field, v);
  }

  /** Size of the free block at `u` if it passes every check (in the heap, magic, size, check word), else 0. */
  #freeSize(u: number): number {
    if (!(u >= this.#ds && u < this.#end)) return 0;
    const w = this.w;
    const b = u * kWordsPerUnit;
    if (w.get(b + B_MAGIC) !== kFreeMagic) return 0;
    const size = w.getU(b + B_SIZE);
    if (size < 1 || size > this.#end - u) return 0;
    return w.get(b + B_CHECK) === freeCheck(u, size, w.getU(b + B_PREV)) ? size : 0;
  }

  /** Whether the header of allocated block `u` is intact (in the heap, magic, size, check word). */
  allocatedIntact(u: number): boolean {
    if (!(u >= this.#ds && u < this.#end)) return false;
    const w = this.w;
    const b = u * kWordsPerUnit;
    if (w.get(b + B_MAGIC) !== kAllocMagic) return false;
    const size = w.getU(b + B_SIZE);
    if (size < 1 || size > this.#end - u) return false;
    return (
      w.get(b + B_CHECK) ===
      headerCheck(
        w.get(b + B_VERKIND),
        w.get(b + B_GEN),
        size,
        w.getU(b + B_LEN_LO),
        w.getU(b + B_LEN_HI),
      )
    );
  }

  /**
   * Size of allocated block `unit`; throws SHMFRAME_ERR_CORRUPT (and marks the heap) if it is not
   * an allocated block with an intact header.
   */
  checkAllocated(unit: number): number {
    if (!this.allocatedIntact(unit)) {
      throw this.#corrupt(
        kCorruptBlocks,
        this.#hw(unit, B_MAGIC) !== kAllocMagic
          ? `unit ${unit} was to be freed but is not an allocated block (freed twice?)`
          : `the header of block ${unit} does not match its check word`,
      );
    }
    return this.#hwU(unit, B_SIZE);
  }

  /** Size of `u`, reached through class `idx`'s list from `back` (0: the head); throws if any check fails. */
  #listed(u: number, idx: number, back: number): number {
    const size = this.#freeSize(u);
    if (size === 0 || mapping(size) !== idx || this.#hwU(u, B_PREV_FREE) !== back) {
      throw this.#corrupt(
        kCorruptBlocks,
        back === 0
          ? `the free list of size class ${idx} starts at unit ${u}, which is not a free block of that class`
          : `free block ${back} links to unit ${u}, which is not the free block of class ${idx} that links back`,
      );
    }
    return size;
  }

  // ---------------------------------------------------------------- free lists

  /** Writes a free block's header; the magic last, so the block is free only once it is whole. */
  #makeFree(unit: number, size: number, prev: number): void {
    this.#hset(unit, B_SIZE, size);
    this.#hset(unit, B_PREV, prev);
    this.#hset(unit, B_NEXT_FREE, 0);
    this.#hset(unit, B_PREV_FREE, 0);
    this.#hset(unit, B_GEN, 0);
    this.#hset(unit, B_CHECK, freeCheck(unit, size, prev));
    this.#hset(unit, B_MAGIC, kFreeMagic);
  }

  #insert(unit: number, size: number): void {
    const w = this.w;
    const idx = mapping(size);
    const fl = idx >>> kSecondLevelBits;
    const head = w.getU(H_HEADS + idx);
    if (head !== 0) this.#listed(head, idx, 0);
    this.#hset(unit, B_NEXT_FREE, head);
    this.#hset(unit, B_PREV_FREE, 0);
    if (head !== 0) this.#hset(head, B_PREV_FREE, unit);
    w.set(H_HEADS + idx, unit);
    w.set(H_SL_BITMAPS + fl, w.get(H_SL_BITMAPS + fl) | (1 << (idx & (kSecondLevels - 1))));
    w.set(H_FL_BITMAP, w.get(H_FL_BITMAP) | (1 << fl));
  }

  /** Unlinks free block `unit` of `size` (checked) after checking both its neighbours link to it. */
  #remove(unit: number, size: number): void {
    const w = this.w;
    const idx = mapping(size);
    const next = this.#hwU(unit, B_NEXT_FREE);
    const prev = this.#hwU(unit, B_PREV_FREE);
    if (prev !== 0) {
      const ps = this.#freeSize(prev);
      if (ps === 0 || mapping(ps) !== idx || this.#hwU(prev, B_NEXT_FREE) !== unit) {
        throw this.#corrupt(
          kCorruptBlocks,
          `free block ${unit} links back to unit ${prev}, which does not link to it`,
        );
      }
    } else if (w.getU(H_HEADS + idx) !== unit) {
      throw this.#corrupt(
        kCorruptBlocks,
        `free block ${unit} claims to head the list of size class ${idx}, which starts at ${w.getU(H_HEADS + idx)}`,
      );
    }
    if (next !== 0) this.#listed(next, idx, unit);
    if (prev !== 0) this.#hset(prev, B_NEXT_FREE, next);
    else {
      w.set(H_HEADS + idx, next);
      if (next === 0) {
        const fl = idx >>> kSecondLevelBits;
        const sl = w.get(H_SL_BITMAPS + fl) & ~(1 << (idx & (kSecondLevels - 1)));
        w.set(H_SL_BITMAPS + fl, sl);
        if (sl === 0) w.set(H_FL_BITMAP, w.get(H_FL_BITMAP) & ~(1 << fl));
      }
    }
    if (next !== 0) this.#hset(next, B_PREV_FREE, prev);
  }

  /**
   * A free block of at least `units` (its size in #foundSize), or 0. First the TLSF good fit:
   * round the request up to the next class, so the head of any non-empty class at or above it
   * fits (O(1)). If none does, a first fit along the request's own class list: a block there may
   * still be large enough (a 4 GiB array in a heap just over 4 GiB), so anything up to
   * `largestFree` can be allocated.
   */
  #find(units: number): number {
    const w = this.w;
    // A block at the head of the request's own size class that fits is the best fit there is:
    // take it before rounding up. Without this, a freed block of exactly the size asked for
    // (a producer-consumer loop of same-size frames) is skipped whenever a larger free block
    // exists, and each new frame touches fresh pages (measured: 1.2-1.6x the live bytes).
    const ownIdx = mapping(units);
    const own = w.getU(H_HEADS + ownIdx);
    if (own !== 0) {
      const size = this.#listed(own, ownIdx, 0);
      if (size >= units) {
        this.#foundSize = size;
        return own;
      }
    }
    let search = units;
    if (units >= kSecondLevels) {
      const l = 31 - Math.clz32(units);
      search = units + 2 ** (l - kSecondLevelBits) - 1;
    }
    if (search < 2 ** 32) {
      const idx = mapping(search);
      let fl = idx >>> kSecondLevelBits;
      let slMap = w.get(H_SL_BITMAPS + fl) & (-1 << (idx & (kSecondLevels - 1)));
      if (slMap === 0 && fl + 1 < kFirstLevels) {
        const flMap = w.get(H_FL_BITMAP) & (-1 << (fl + 1));
        if (flMap !== 0) {
          fl = ctz(flMap);
          slMap = w.get(H_SL_BITMAPS + fl);
          if (slMap === 0) {
            throw this.#corrupt(
              kCorruptHeader,
              `first-level bitmap bit ${fl} is set over an empty second level`,
            );
          }
        }
      }
      if (slMap !== 0) {
        const at = fl * kSecondLevels + ctz(slMap);
        const head = w.getU(H_HEADS + at);
        if (head === 0) {
          throw this.#corrupt(
            kCorruptHeader,
            `the bitmap marks size class ${at} non-empty but its list is empty`,
          );
        }
        // A block of a class at or above the rounded request always fits.
        this.#foundSize = this.#listed(head, at, 0);
        return head;
      }
    }
    // Every step checked its link back, so the walk cannot cycle; the bound is a second guard.
    const limit = this.#end - this.#ds;
    for (let u = own, back = 0, n = 0; u !== 0; n++) {
      if (n > limit)
        throw this.#corrupt(kCorruptBlocks, `the free list of class ${ownIdx} does not end`);
      const size = this.#listed(u, ownIdx, back);
      if (size >= units) {
        this.#foundSize = size;
        return u;
      }
      back = u;
      u = this.#hwU(u, B_NEXT_FREE);
    }
    return 0;
  }

  // ---------------------------------------------------------------- allocate / free

  /**
   * Allocates a block with `payloadBytes` of payload. Returns its unit and which payload bytes
   * may hold old data: `dirtyHead` bytes at the start and `dirtyTail` bytes at the end (memory
   * between the two water marks was never written and is zero). Internal bookkeeping blocks are
   * carved from the top of the free block found, so they collect at the top of the heap instead
   * of splitting the space that objects use.
   */
  allocate(
    payloadBytes: number,
    kind: number,
    what: string,
    onCommit?: (unit: number, generation: number) => void,
    hint = 0,
  ): { unit: number; dirtyHead: number; dirtyTail: number } {
    const units = 1 + Math.ceil(payloadBytes / kUnit);
    const fromTop = kind >= kInternalKind;
    const w = this.w;
    const end = this.#end;
    this.lock();
    let unit: number;
    let dirtyHead: number;
    let dirtyTail: number;
    try {
      const reason = w.load(H_CORRUPT);
      if (reason !== 0) throw corruptHeapError(reason);
      let found = 0;
      let size = 0;
      // Bookkeeping goes to the free block `hint` names if it still fits (a ledger moving up),
      // else to the highest free block that fits, so it stays out of the way. Both are checked
      // free blocks (#freeSize) before they are used.
      if (fromTop) {
        const h = hint !== 0 ? this.#freeSize(hint) : 0;
        if (h >= units) {
          found = hint;
          size = h;
        } else {
          const u = this.#highestFit(units, 0);
          if (u !== 0) {
            found = u;
            size = this.#freeSize(u);
          }
        }
      }
      if (found === 0 && units < 2 ** 32) {
        found = this.#find(units);
        size = this.#foundSize;
      }
      if (found === 0) throw this.#fullError(payloadBytes, what);
      const hw = w.getU(H_HIGH_WATER);
      const top = w.getU(H_TOP_WATER);
      if (
        w.get(H_WATER_CHECK) !== waterCheck(hw, top) ||
        !(hw >= this.#ds && hw <= end && top >= this.#ds && top <= end)
      ) {
        throw this.#corrupt(
          kCorruptHeader,
          `the water marks (${hw}, ${top}) do not match their check word`,
        );
      }
      this.#remove(found, size);
      const next = found + size;
      unit = fromTop && size > units ? next - units : found;
      // The water marks move before anything is written above them, so a thread stopped in
      // between never leaves written memory that the marks still call zero.
      let newHw = hw;
      let newTop = top;
      if (fromTop) {
        if (unit < newTop) newTop = unit;
      } else {
        const rest = found + units;
        if (size > units && rest + 1 > newHw && rest < top) newHw = rest + 1;
        if (unit + units > newHw && unit < newTop) newHw = unit + units;
      }
      if (newHw !== hw || newTop !== top) {
        w.set(H_HIGH_WATER, newHw);
        w.set(H_TOP_WATER, newTop);
        w.set(H_WATER_CHECK, waterCheck(newHw, newTop));
      }
      if (size > units) {
        // Split so the physical chain stays walkable after every single write: the new header
        // whole first (check word included), then the size of the block that covered it, then
        // the back link after it.
        if (fromTop) {
          this.#hset(unit, B_MAGIC, kFreeMagic); // whatever stale bytes were there, never ALLOC
          this.#hset(unit, B_SIZE, units);
          this.#hset(unit, B_PREV, found);
          this.#hset(unit, B_CHECK, freeCheck(unit, units, found));
          this.#hset(found, B_SIZE, size - units);
          this.#hset(found, B_CHECK, freeCheck(found, size - units, this.#hwU(found, B_PREV)));
          this.#hset(next, B_PREV, unit);
          this.#insert(found, size - units);
        } else {
          const rest = found + units;
          this.#makeFree(rest, size - units, found);
          this.#hset(found, B_SIZE, units);
          this.#hset(next, B_PREV, rest);
          this.#insert(rest, size - units);
        }
      }
      const payload = (unit + 1) * kUnit;
      dirtyHead = Math.max(0, Math.min(payloadBytes, hw * kUnit - payload));
      dirtyTail = Math.max(
        0,
        Math.min(payloadBytes - dirtyHead, payload + payloadBytes - top * kUnit),
      );
      let gen = (w.add(H_GEN, 1) + 1) | 0;
      if (gen === 0) gen = w.add(H_GEN, 1) + 1;
      const verkind = (kind << 16) | kLayoutVersion;
      const lenLo = payloadBytes >>> 0;
      const lenHi = Math.floor(payloadBytes / 2 ** 32);
      this.#hset(unit, B_VERKIND, verkind);
      this.#hset(unit, B_GEN, gen);
      w.store(unit * kWordsPerUnit + B_REFS, 1);
      this.#hset(unit, B_LEN_LO, lenLo);
      this.#hset(unit, B_LEN_HI, lenHi);
      this.#hset(unit, B_CHECK, headerCheck(verkind, gen, units, lenLo, lenHi));
      this.#hset(unit, B_NEXT_FREE, 0);
      this.#hset(unit, B_PREV_FREE, 0);
      // Recorded by the caller (its ledger) before the block counts as allocated: a thread
      // stopped anywhere in here leaves either a free block or a recorded one.
      onCommit?.(unit, gen);
      this.#hset(unit, B_MAGIC, kAllocMagic);
      w.set(H_FREE_UNITS, w.getU(H_FREE_UNITS) - units);
      if (fromTop) {
        w.set(H_INTERNAL_UNITS, w.getU(H_INTERNAL_UNITS) + units);
        w.set(H_INTERNAL_OBJECTS, w.get(H_INTERNAL_OBJECTS) + 1);
      } else {
        w.set(H_USED_UNITS, w.getU(H_USED_UNITS) + units);
        w.set(H_OBJECTS, w.get(H_OBJECTS) + 1);
      }
    } finally {
      this.unlock();
    }
    return { unit, dirtyHead, dirtyTail };
  }

  /**
   * The highest free block of at least `units` above unit `above`, looking at the last
   * {@link kTopWalk} blocks of the heap; 0 if none there. Called under the lock.
   */
  #highestFit(units: number, above: number): number {
    let u = this.#end;
    for (let steps = 0; steps < kTopWalk; steps++) {
      u = this.#hwU(u, B_PREV);
      if (u === 0 || u <= above) return 0;
      if (this.#freeSize(u) >= units) return u;
    }
    return 0;
  }

  /**
   * Where internal block `unit` (to be rebuilt with `units`) should move to stop splitting the
   * space objects use: a free block near the end of the heap above it that fits, else the free
   * block right above it if that fits (carved from its top, the block's old place merges with
   * what is left of it and with a free block below). 0: stay.
   */
  relocationHint(unit: number, units: number): number {
    this.lock();
    try {
      const top = this.#highestFit(units, unit);
      if (top !== 0) return top;
      const next = unit + this.#hwU(unit, B_SIZE);
      return this.#freeSize(next) >= units ? next : 0;
    } finally {
      this.unlock();
    }
  }

  /**
   * Whether nothing but bookkeeping and free space lies between internal block `unit` and the end
   * of the heap (looking at most {@link kTopWalk} blocks down): then it splits no space objects
   * could use.
   */
  isTopPlaced(unit: number): boolean {
    this.lock();
    try {
      let u = this.#end;
      for (let steps = 0; steps < kTopWalk; steps++) {
        u = this.#hwU(u, B_PREV);
        if (u === unit) return true;
        if (u === 0 || u < unit) return false;
        if (this.#hw(u, B_MAGIC) === kAllocMagic && this.#hw(u, B_VERKIND) >>> 16 < kInternalKind)
          return false;
      }
      return false;
    } finally {
      this.unlock();
    }
  }

  #fullError(payloadBytes: number, what: string): HeapFullError {
    const free = this.w.getU(H_FREE_UNITS) * kUnit;
    const largest = Math.max(0, (this.#largestFreeUnits() - 1) * kUnit);
    const end = this.#end * kUnit;
    return new HeapFullError(
      `Cannot allocate ${formatBytes(payloadBytes)} (${payloadBytes} bytes) for ${what}: the heap of ` +
        `${formatBytes(end)} has ${formatBytes(free)} free and its largest free block holds ` +
        `${formatBytes(largest)} (${largest} bytes). Close objects you no longer need, or enlarge ` +
        `the heap with Heap.create({ size: '16G' }) or SHMFRAME_HEAP_SIZE=16G.`,
      { details: { requested: payloadBytes, free, largestFree: largest } },
    );
  }

  /**
   * Frees an allocated block, coalescing with free neighbours. In a heap marked corrupt it does
   * nothing (the block stays allocated: a leak, never a list walked through a bad link), and a
   * block whose count was raised again meanwhile (a fresh reference taken under this lock from a
   * handle) stays allocated.
   */
  free(unit: number): void {
    const w = this.w;
    this.lock();
    try {
      if (w.load(H_CORRUPT) !== 0) return;
      const own = this.checkAllocated(unit);
      const kind = this.#hw(unit, B_VERKIND) >>> 16;
      if (kind < kInternalKind && w.load(unit * kWordsPerUnit + B_REFS) > 0) return;
      // Both neighbours are checked before anything is written.
      const next = unit + own;
      let nextSize = 0;
      if (next < this.#end && this.#hw(next, B_MAGIC) === kFreeMagic) {
        nextSize = this.#freeSize(next);
        if (nextSize === 0 || this.#hwU(next, B_PREV) !== unit) {
          throw this.#corrupt(
            kCorruptBlocks,
            `free block ${next} after block ${unit} fails its check`,
          );
        }
      }
      const prev = this.#hwU(unit, B_PREV);
      if (prev === 0 ? unit !== this.#ds : !(prev >= this.#ds && prev < unit)) {
        throw this.#corrupt(kCorruptBlocks, `block ${unit} has back link ${prev}`);
      }
      let prevSize = 0;
      if (prev !== 0 && this.#hw(prev, B_MAGIC) === kFreeMagic) {
        prevSize = this.#freeSize(prev);
        if (prevSize === 0 || prev + prevSize !== unit) {
          throw this.#corrupt(
            kCorruptBlocks,
            `free block ${prev} before block ${unit} fails its check`,
          );
        }
      }
      let size = own;
      let start = unit;
      // Magic first: from here on the block is free for a repair, whatever else is done.
      this.#hset(unit, B_MAGIC, kFreeMagic);
      this.#hset(unit, B_GEN, 0);
      if (nextSize > 0) {
        this.#remove(next, nextSize);
        size += nextSize;
        this.#hset(unit, B_SIZE, size);
      }
      if (prevSize > 0) {
        this.#remove(prev, prevSize);
        size += prevSize;
        this.#hset(prev, B_SIZE, size);
        start = prev;
      }
      this.#hset(start, B_NEXT_FREE, 0);
      this.#hset(start, B_PREV_FREE, 0);
      this.#hset(start, B_CHECK, freeCheck(start, size, this.#hwU(start, B_PREV)));
      this.#hset(start + size, B_PREV, start);
      this.#insert(start, size);
      w.set(H_FREE_UNITS, w.getU(H_FREE_UNITS) + own);
      if (kind >= kInternalKind) {
        w.set(H_INTERNAL_UNITS, w.getU(H_INTERNAL_UNITS) - own);
        w.set(H_INTERNAL_OBJECTS, w.get(H_INTERNAL_OBJECTS) - 1);
      } else {
        w.set(H_USED_UNITS, w.getU(H_USED_UNITS) - own);
        w.set(H_OBJECTS, w.get(H_OBJECTS) - 1);
      }
    } finally {
      this.unlock();
    }
  }

  /** Largest block of the highest non-empty class, walking only blocks that pass their checks. */
  #largestFreeUnits(): number {
    const w = this.w;
    const flMap = w.get(H_FL_BITMAP);
    if (flMap === 0) return 0;
    const fl = 31 - Math.clz32(flMap);
    const slMap = w.get(H_SL_BITMAPS + fl);
    if (slMap === 0) return 0;
    const idx = fl * kSecondLevels + (31 - Math.clz32(slMap));
    const limit = this.#end - this.#ds;
    let best = 0;
    for (let u = w.getU(H_HEADS + idx), back = 0, n = 0; u !== 0 && n < limit; n++) {
      const size = this.#freeSize(u);
      if (size === 0 || mapping(size) !== idx || this.#hwU(u, B_PREV_FREE) !== back) break;
      best = Math.max(best, size);
      back = u;
      u = this.#hwU(u, B_NEXT_FREE);
    }
    return best;
  }

  /**
   * The largest free block once an internal block of `reserve` units is carved where
   * `allocate` would carve it (0: none). A thread that holds no reference needs its ledger
   * before its next allocation, so the largest allocation it can make is this.
   */
  #largestAfterReserve(reserve: number): number {
    const largest = this.#largestFreeUnits();
    if (reserve === 0) return largest;
    const at = this.#highestFit(reserve, 0) || this.#find(reserve);
    if (at === 0 || this.#hwU(at, B_SIZE) !== largest) return largest;
    // Carved from (one of) the largest block(s): the rest of it, or the next largest block.
    let other = 0;
    const w = this.w;
    for (let idx = kFirstLevels * kSecondLevels - 1; idx >= 0 && other === 0; idx--) {
      let guard = 0;
      for (let u = w.getU(H_HEADS + idx); u !== 0 && guard < 1e6; guard++) {
        if (u !== at) other = Math.max(other, this.#hwU(u, B_SIZE));
        u = this.#hwU(u, B_NEXT_FREE);
      }
    }
    return Math.max(largest - reserve, other);
  }

  /** Counters; `largestFreeUnits` as {@link #largestAfterReserve} with `reserve`. */
  counters(reserve = 0): AllocatorCounters {
    const w = this.w;
    this.lock();
    try {
      return {
        usedUnits: w.getU(H_USED_UNITS),
        internalUnits: w.getU(H_INTERNAL_UNITS),
        freeUnits: w.getU(H_FREE_UNITS),
        objects: w.get(H_OBJECTS),
        internalObjects: w.get(H_INTERNAL_OBJECTS),
        largestFreeUnits: this.#largestAfterReserve(reserve),
        repairs: w.get(H_REPAIRS),
        corrupt: w.load(H_CORRUPT),
      };
    } finally {
      this.unlock();
    }
  }

  /** Calls `fn(unit, sizeUnits, magic, kind)` for every block in address order (under the lock). */
  walk(fn: (unit: number, size: number, magic: number, kind: number) => void): void {
    this.lock();
    try {
      const broken = this.#walk(fn);
      if (broken !== undefined) throw new CorruptError(broken);
    } finally {
      this.unlock();
    }
  }

  /**
   * Walks the physical chain; returns what broke it, if it broke. Every step moves forward by at
   * least one unit, so the walk ends on any input.
   */
  #walk(fn: (unit: number, size: number, magic: number, kind: number) => void): string | undefined {
    const end = this.#end;
    for (let u = this.#ds; u < end;) {
      const size = this.#hwU(u, B_SIZE);
      if (size < 1 || size > end - u) {
        return `Heap block chain is broken at unit ${u} (size ${size} units, heap ends at ${end})`;
      }
      fn(u, size, this.#hw(u, B_MAGIC), this.#hw(u, B_VERKIND) >>> 16);
      u += size;
    }
    return undefined;
  }

  /**
   * Checks every allocator invariant and returns the violations found (empty when consistent):
   * the physical chain covers the heap, every header matches its check word, back links match,
   * no two free blocks are adjacent, the free lists hold exactly the free blocks in their right
   * classes, and the counters add up. Terminates on any content (each list walk is bounded by
   * the number of free blocks and stops at the first block that is not one).
   */
  verify(): string[] {
    const w = this.w;
    const problems: string[] = [];
    this.lock();
    try {
      const reason = w.load(H_CORRUPT);
      if (reason !== 0) problems.push(`the heap is marked corrupt: ${corruptReason(reason)}`);
      const free = new Set<number>();
      let prev = 0;
      let prevFree = false;
      let used = 0;
      let internal = 0;
      let freeUnits = 0;
      let objects = 0;
      const broken = this.#walk((u, size, magic, kind) => {
        if (this.#hwU(u, B_PREV) !== prev)
          problems.push(`block ${u}: back link ${this.#hwU(u, B_PREV)}, expected ${prev}`);
        const isFree = magic === kFreeMagic;
        if (isFree && this.#freeSize(u) !== size)
          problems.push(`free block ${u}: check word mismatch`);
        if (!isFree && magic !== kAllocMagic) problems.push(`block ${u}: bad magic ${magic}`);
        if (magic === kAllocMagic && !this.allocatedIntact(u))
          problems.push(`block ${u}: header does not match its check word`);
        if (isFree && prevFree)
          problems.push(`block ${u}: two adjacent free blocks (not coalesced)`);
        if (isFree) {
          free.add(u);
          freeUnits += size;
        } else if (kind >= kInternalKind) internal += size;
        else {
          used += size;
          objects++;
        }
        prev = u;
        prevFree = isFree;
      });
      if (broken !== undefined) {
        problems.push(broken);
        return problems;
      }
      if (this.#hwU(this.#end, B_PREV) !== prev) problems.push('sentinel back link is wrong');
      let listed = 0;
      for (let idx = 0; idx < kFirstLevels * kSecondLevels; idx++) {
        const fl = idx >>> kSecondLevelBits;
        const bit = (w.get(H_SL_BITMAPS + fl) >>> (idx & (kSecondLevels - 1))) & 1;
        const head = w.getU(H_HEADS + idx);
        if ((head !== 0) !== (bit === 1))
          problems.push(`class ${idx}: bitmap bit ${bit} but head ${head}`);
        let back = 0;
        for (let u = head, n = 0; u !== 0; n++) {
          if (!free.has(u) || n > free.size) {
            problems.push(`class ${idx}: listed block ${u} is not a free block`);
            break;
          }
          if (mapping(this.#hwU(u, B_SIZE)) !== idx)
            problems.push(`block ${u} is in the wrong class`);
          if (this.#hwU(u, B_PREV_FREE) !== back)
            problems.push(`block ${u}: bad free-list back link`);
          listed++;
          back = u;
          u = this.#hwU(u, B_NEXT_FREE);
        }
      }
      for (let fl = 0; fl < kFirstLevels; fl++) {
        const bit = (w.get(H_FL_BITMAP) >>> fl) & 1;
        if ((w.get(H_SL_BITMAPS + fl) !== 0) !== (bit === 1))
          problems.push(
            `first level ${fl}: bitmap bit ${bit} but second level ${w.get(H_SL_BITMAPS + fl)}`,
          );
      }
      if (listed !== free.size)
        problems.push(`${listed} listed free blocks, ${free.size} in the chain`);
      const hw = w.getU(H_HIGH_WATER);
      const top = w.getU(H_TOP_WATER);
      if (w.get(H_WATER_CHECK) !== waterCheck(hw, top))
        problems.push(`water marks (${hw}, ${top}) do not match their check word`);
      if (w.getU(H_FREE_UNITS) !== freeUnits)
        problems.push(`free counter ${w.getU(H_FREE_UNITS)}, actual ${freeUnits}`);
      if (w.getU(H_USED_UNITS) !== used)
        problems.push(`used counter ${w.getU(H_USED_UNITS)}, actual ${used}`);
      if (w.getU(H_INTERNAL_UNITS) !== internal)
        problems.push(`internal counter ${w.getU(H_INTERNAL_UNITS)}, actual ${internal}`);
      if (w.get(H_OBJECTS) !== objects)
        problems.push(`objects counter ${w.get(H_OBJECTS)}, actual ${objects}`);
    } finally {
      this.unlock();
    }
    return problems;
  }

  // ---------------------------------------------------------------- recovery

  /**
   * If the allocator lock is held by `threadId`, which the caller knows to be dead, takes the
   * lock over and rebuilds free lists, bitmaps and counters from the physical chain. Blocks that
   * a dead thread was allocating or freeing become free or stay allocated, never half of each.
   * Throws SHMFRAME_ERR_CORRUPT (the lock released, the heap marked) when the chain itself
   * fails its checks; in a heap already marked corrupt it only releases the lock.
   */
  repairIfOwnedBy(threadId: number): boolean {
    const w = this.w;
    if (w.load(H_LOCK) !== threadId + 1) return false;
    this.#visitor = this.#owners.visit();
    if (w.cas(H_LOCK, threadId + 1, this.#me) !== threadId + 1) {
      this.#leave();
      return false;
    }
    try {
      if (this.corrupt === 0) this.#rebuild();
    } finally {
      this.unlock();
    }
    return true;
  }

  /**
   * The physical chain for a rebuild, every block checked: an allocated block must match its
   * check word (its magic is written last, so that always holds); a free block may not, if the
   * dead owner was changing it, but then the block after it must be intact and link back into
   * it through free blocks only. So a damaged size can neither swallow an allocated block nor
   * send the walk into a payload.
   */
  #chain(): Array<[number, number, boolean, number]> {
    const end = this.#end;
    const out: Array<[number, number, boolean, number]> = [];
    let stale = -1; // a free block whose check word did not match, awaiting the block after it
    for (let u = this.#ds; u < end;) {
      const magic = this.#hw(u, B_MAGIC);
      const size = this.#hwU(u, B_SIZE);
      if (size < 1 || size > end - u) {
        throw this.#corrupt(kCorruptBlocks, `the block chain breaks at unit ${u} (size ${size})`);
      }
      let intact: boolean;
      if (magic === kAllocMagic) {
        intact = this.allocatedIntact(u);
        if (!intact)
          throw this.#corrupt(kCorruptBlocks, `block ${u} does not match its check word`);
      } else if (magic === kFreeMagic) intact = this.#freeSize(u) === size;
      else throw this.#corrupt(kCorruptBlocks, `unit ${u} in the block chain has magic ${magic}`);
      if (stale >= 0) {
        if (!intact || !this.#linksBackTo(u, stale))
          throw this.#corrupt(kCorruptBlocks, `free block ${stale} fails its check`);
        stale = -1;
      }
      if (!intact) stale = u;
      out.push([u, size, magic === kAllocMagic, this.#hw(u, B_VERKIND) >>> 16]);
      u += size;
    }
    if (stale >= 0 && !this.#linksBackTo(end, stale))
      throw this.#corrupt(kCorruptBlocks, `free block ${stale} fails its check`);
    return out;
  }

  /** Whether the back link of block `u` leads to `start` through free blocks inside (start, u). */
  #linksBackTo(u: number, start: number): boolean {
    let hi = u;
    let p = this.#hwU(u, B_PREV);
    while (p !== start) {
      if (!(p > start && p < hi) || this.#hw(p, B_MAGIC) !== kFreeMagic) return false;
      hi = p;
      p = this.#hwU(p, B_PREV);
    }
    return true;
  }

  /** Rebuilds free lists, bitmaps, back links, counters and the water check (holding the lock). */
  #rebuild(): void {
    const w = this.w;
    const blocks = this.#chain();
    const hw = w.getU(H_HIGH_WATER);
    const top = w.getU(H_TOP_WATER);
    if (!(hw >= this.#ds && hw <= this.#end && top >= this.#ds && top <= this.#end))
      throw this.#corrupt(kCorruptHeader, `the water marks (${hw}, ${top}) are outside the heap`);
    for (let i = 0; i < kFirstLevels; i++) w.set(H_SL_BITMAPS + i, 0);
    for (let i = 0; i < kFirstLevels * kSecondLevels; i++) w.set(H_HEADS + i, 0);
    w.set(H_FL_BITMAP, 0);
    let used = 0;
    let internal = 0;
    let free = 0;
    let objects = 0;
    let internalObjects = 0;
    let prev = 0;
    let run = 0; // start of the current run of free blocks
    let runSize = 0;
    const flush = (): void => {
      if (run === 0) return;
      this.#makeFree(run, runSize, this.#hwU(run, B_PREV));
      this.#insert(run, runSize);
      free += runSize;
      run = 0;
      runSize = 0;
    };
    for (const [u, size, allocated, kind] of blocks) {
      if (allocated) {
        flush();
        this.#hset(u, B_PREV, prev);
        prev = u;
        if (kind >= kInternalKind) {
          internal += size;
          internalObjects++;
        } else {
          used += size;
          objects++;
        }
      } else if (run === 0) {
        run = u;
        runSize = size;
        this.#hset(u, B_PREV, prev);
        prev = u;
      } else {
        runSize += size;
      }
    }
    flush();
    this.#hset(this.#end, B_PREV, prev);
    // The dead owner may have moved a water mark and not its check: the marks only ever move
    // towards clearing more, so the values found are kept.
    w.set(H_WATER_CHECK, waterCheck(hw, top));
    w.set(H_USED_UNITS, used);
    w.set(H_INTERNAL_UNITS, internal);
    w.set(H_FREE_UNITS, free);
    w.set(H_OBJECTS, objects);
    w.set(H_INTERNAL_OBJECTS, internalObjects);
    w.add(H_REPAIRS, 1);
  }
}
