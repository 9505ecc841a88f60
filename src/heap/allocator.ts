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
 */
import { CorruptError, HeapFullError } from '../errors.js';
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
  H_DATA_START,
  H_END,
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
  headerCheck,
  kAllocMagic,
  kFirstLevels,
  kFreeMagic,
  kInternalKind,
  kLayoutVersion,
  kSecondLevelBits,
  kSecondLevels,
  kSentinelMagic,
  kUnit,
  kWordsPerUnit,
} from './layout.js';
import type { Words } from './words.js';

const kSpins = 64;
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

export interface AllocatorCounters {
  usedUnits: number;
  internalUnits: number;
  freeUnits: number;
  objects: number;
  internalObjects: number;
  largestFreeUnits: number;
  repairs: number;
}

export class Allocator {
  readonly w: Words;
  readonly #me: number;

  constructor(words: Words, threadId: number) {
    this.w = words;
    this.#me = threadId + 1;
  }

  /** Writes a fresh allocator state: one free block spanning [dataStart, end) and a sentinel. */
  static format(w: Words, dataStart: number, end: number): void {
    for (let i = 0; i < kFirstLevels; i++) w.set(H_SL_BITMAPS + i, 0);
    for (let i = 0; i < kFirstLevels * kSecondLevels; i++) w.set(H_HEADS + i, 0);
    w.set(H_FL_BITMAP, 0);
    w.set(H_DATA_START, dataStart);
    w.set(H_END, end);
    w.set(H_HIGH_WATER, dataStart);
    w.set(H_TOP_WATER, end);
    const a = new Allocator(w, -1);
    const b = end * kWordsPerUnit;
    w.set(b + B_MAGIC, kSentinelMagic);
    w.set(b + B_SIZE, 1);
    w.set(b + B_PREV, 0);
    a.#makeFree(dataStart, end - dataStart, 0);
    a.#insert(dataStart);
    w.set(H_FREE_UNITS, end - dataStart);
  }

  // ---------------------------------------------------------------- lock

  lock(): void {
    const w = this.w;
    if (w.cas(H_LOCK, 0, this.#me) === 0) return;
    for (let i = 0; i < kSpins; i++) {
      if (w.load(H_LOCK) === 0 && w.cas(H_LOCK, 0, this.#me) === 0) return;
    }
    w.add(H_LOCK_WAITERS, 1);
    for (;;) {
      const c = w.load(H_LOCK);
      if (c === 0) {
        if (w.cas(H_LOCK, 0, this.#me) === 0) break;
        continue;
      }
      w.wait(H_LOCK, c);
    }
    w.sub(H_LOCK_WAITERS, 1);
  }

  unlock(): void {
    const w = this.w;
    w.store(H_LOCK, 0);
    if (w.load(H_LOCK_WAITERS) > 0) w.notify(H_LOCK, 1);
  }

  /** Owner thread id of the lock, or -1 when free. */
  lockOwner(): number {
    return this.w.load(H_LOCK) - 1;
  }

  // ---------------------------------------------------------------- free lists

  #hw(unit: number, field: number): number {
    return this.w.get(unit * kWordsPerUnit + field);
  }
  #hwU(unit: number, field: number): number {
    return this.w.getU(unit * kWordsPerUnit + field);
  }
  #hset(unit: number, field: number, v: number): void {
    this.w.set(unit * kWordsPerUnit + field, v);
  }

  #makeFree(unit: number, size: number, prev: number): void {
    this.#hset(unit, B_SIZE, size);
    this.#hset(unit, B_PREV, prev);
    this.#hset(unit, B_NEXT_FREE, 0);
    this.#hset(unit, B_PREV_FREE, 0);
    this.#hset(unit, B_GEN, 0);
    this.#hset(unit, B_MAGIC, kFreeMagic);
  }

  #insert(unit: number): void {
    const w = this.w;
    const idx = mapping(this.#hwU(unit, B_SIZE));
    const fl = idx >>> kSecondLevelBits;
    const head = w.getU(H_HEADS + idx);
    this.#hset(unit, B_NEXT_FREE, head);
    this.#hset(unit, B_PREV_FREE, 0);
    if (head !== 0) this.#hset(head, B_PREV_FREE, unit);
    w.set(H_HEADS + idx, unit);
    w.set(H_SL_BITMAPS + fl, w.get(H_SL_BITMAPS + fl) | (1 << (idx & (kSecondLevels - 1))));
    w.set(H_FL_BITMAP, w.get(H_FL_BITMAP) | (1 << fl));
  }

  #remove(unit: number): void {
    const w = this.w;
    const idx = mapping(this.#hwU(unit, B_SIZE));
    const next = this.#hwU(unit, B_NEXT_FREE);
    const prev = this.#hwU(unit, B_PREV_FREE);
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
   * A free block of at least `units`, or 0. First the TLSF good fit: round the request up to the
   * next class, so the head of any non-empty class at or above it fits (O(1)). If none does, a
   * first fit along the request's own class list: a block there may still be large enough (a
   * 4 GiB array in a heap just over 4 GiB), so anything up to `largestFree` can be allocated.
   */
  #find(units: number): number {
    const w = this.w;
    // A block at the head of the request's own size class that fits is the best fit there is:
    // take it before rounding up. Without this, a freed block of exactly the size asked for
    // (a producer-consumer loop of same-size frames) is skipped whenever a larger free block
    // exists, and each new frame touches fresh pages (measured: 1.2-1.6x the live bytes).
    const own = w.getU(H_HEADS + mapping(units));
    if (own !== 0 && this.#hwU(own, B_SIZE) >= units) return own;
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
        }
      }
      if (slMap !== 0) return w.getU(H_HEADS + fl * kSecondLevels + ctz(slMap));
    }
    for (let u = w.getU(H_HEADS + mapping(units)); u !== 0; u = this.#hwU(u, B_NEXT_FREE)) {
      if (this.#hwU(u, B_SIZE) >= units) return u;
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
    this.lock();
    let unit: number;
    let dirtyHead: number;
    let dirtyTail: number;
    try {
      let found = 0;
      // Bookkeeping goes to the free block `hint` names if it still fits (a ledger moving up),
      // else to the highest free block that fits, so it stays out of the way.
      if (fromTop) {
        if (
          hint !== 0 &&
          this.#hw(hint, B_MAGIC) === kFreeMagic &&
          this.#hwU(hint, B_SIZE) >= units
        )
          found = hint;
        else found = this.#highestFit(units, 0);
      }
      if (found === 0 && units < 2 ** 32) found = this.#find(units);
      if (found === 0) throw this.#fullError(payloadBytes, what);
      this.#remove(found);
      const size = this.#hwU(found, B_SIZE);
      const hw = w.getU(H_HIGH_WATER);
      const top = w.getU(H_TOP_WATER);
      unit = found;
      if (size - units >= 1) {
        // Split so the physical chain stays walkable after every single write: the new header
        // first, then the size of the block that covered it, then the back link after it.
        const next = found + size;
        if (fromTop) {
          unit = next - units;
          this.#hset(unit, B_MAGIC, kFreeMagic); // whatever stale bytes were there, never ALLOC
          this.#hset(unit, B_SIZE, units);
          this.#hset(unit, B_PREV, found);
          this.#hset(found, B_SIZE, size - units);
          this.#hset(next, B_PREV, unit);
          this.#insert(found);
          if (unit < top) w.set(H_TOP_WATER, unit);
        } else {
          const rest = found + units;
          this.#makeFree(rest, size - units, found);
          this.#hset(found, B_SIZE, units);
          this.#hset(next, B_PREV, rest);
          this.#insert(rest);
          if (rest + 1 > hw && rest < top) w.set(H_HIGH_WATER, rest + 1);
        }
      }
      const payload = (unit + 1) * kUnit;
      dirtyHead = Math.max(0, Math.min(payloadBytes, hw * kUnit - payload));
      dirtyTail = Math.max(
        0,
        Math.min(payloadBytes - dirtyHead, payload + payloadBytes - top * kUnit),
      );
      if (fromTop) {
        if (unit < w.getU(H_TOP_WATER)) w.set(H_TOP_WATER, unit);
      } else if (unit + units > w.getU(H_HIGH_WATER) && unit < w.getU(H_TOP_WATER)) {
        w.set(H_HIGH_WATER, unit + units);
      }
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
    let u = this.w.getU(H_END);
    for (let steps = 0; steps < kTopWalk; steps++) {
      u = this.#hwU(u, B_PREV);
      if (u === 0 || u <= above) return 0;
      if (this.#hw(u, B_MAGIC) === kFreeMagic && this.#hwU(u, B_SIZE) >= units) return u;
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
      return this.#hw(next, B_MAGIC) === kFreeMagic && this.#hwU(next, B_SIZE) >= units ? next : 0;
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
      let u = this.w.getU(H_END);
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
    const end = this.w.getU(H_END) * kUnit;
    return new HeapFullError(
      `Cannot allocate ${formatBytes(payloadBytes)} (${payloadBytes} bytes) for ${what}: the heap of ` +
        `${formatBytes(end)} has ${formatBytes(free)} free and its largest free block holds ` +
        `${formatBytes(largest)} (${largest} bytes). Close objects you no longer need, or enlarge ` +
        `the heap with Heap.create({ size: '16G' }) or SHMFRAME_HEAP_SIZE=16G.`,
      { details: { requested: payloadBytes, free, largestFree: largest } },
    );
  }

  /** Frees an allocated block, coalescing with free neighbours. */
  free(unit: number): void {
    const w = this.w;
    this.lock();
    try {
      if (this.#hw(unit, B_MAGIC) !== kAllocMagic) {
        throw new CorruptError(
          `Refusing to free unit ${unit}: it is not an allocated block (double free?)`,
        );
      }
      const kind = this.#hw(unit, B_VERKIND) >>> 16;
      const own = this.#hwU(unit, B_SIZE);
      let size = own;
      let start = unit;
      // Magic first: from here on the block is free for a repair, whatever else is done.
      this.#hset(unit, B_MAGIC, kFreeMagic);
      this.#hset(unit, B_GEN, 0);
      const next = unit + size;
      if (this.#hw(next, B_MAGIC) === kFreeMagic) {
        this.#remove(next);
        size += this.#hwU(next, B_SIZE);
        this.#hset(unit, B_SIZE, size);
      }
      const prev = this.#hwU(unit, B_PREV);
      if (prev !== 0 && this.#hw(prev, B_MAGIC) === kFreeMagic) {
        this.#remove(prev);
        size += this.#hwU(prev, B_SIZE);
        this.#hset(prev, B_SIZE, size);
        start = prev;
      }
      this.#hset(start, B_NEXT_FREE, 0);
      this.#hset(start, B_PREV_FREE, 0);
      this.#hset(start + size, B_PREV, start);
      this.#insert(start);
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

  #largestFreeUnits(): number {
    const w = this.w;
    const flMap = w.get(H_FL_BITMAP);
    if (flMap === 0) return 0;
    const fl = 31 - Math.clz32(flMap);
    const slMap = w.get(H_SL_BITMAPS + fl);
    const sl = 31 - Math.clz32(slMap);
    let best = 0;
    let guard = 0;
    for (let u = w.getU(H_HEADS + fl * kSecondLevels + sl); u !== 0 && guard < 1e6; guard++) {
      best = Math.max(best, this.#hwU(u, B_SIZE));
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
      };
    } finally {
      this.unlock();
    }
  }

  /** Calls `fn(unit, sizeUnits, magic, kind)` for every block in address order (under the lock). */
  walk(fn: (unit: number, size: number, magic: number, kind: number) => void): void {
    this.lock();
    try {
      this.#walk(fn);
    } finally {
      this.unlock();
    }
  }

  #walk(fn: (unit: number, size: number, magic: number, kind: number) => void): void {
    const end = this.w.getU(H_END);
    for (let u = this.w.getU(H_DATA_START); u < end;) {
      const size = this.#hwU(u, B_SIZE);
      if (size < 1 || u + size > end) {
        throw new CorruptError(
          `Heap block chain is broken at unit ${u} (size ${size} units, heap ends at ${end})`,
        );
      }
      fn(u, size, this.#hw(u, B_MAGIC), this.#hw(u, B_VERKIND) >>> 16);
      u += size;
    }
  }

  /**
   * Checks every allocator invariant and returns the violations found (empty when consistent):
   * the physical chain covers the heap, back links match, no two free blocks are adjacent, the
   * free lists hold exactly the free blocks in their right classes, and the counters add up.
   */
  verify(): string[] {
    const w = this.w;
    const problems: string[] = [];
    this.lock();
    try {
      const free = new Set<number>();
      let prev = 0;
      let prevFree = false;
      let used = 0;
      let internal = 0;
      let freeUnits = 0;
      let objects = 0;
      this.#walk((u, size, magic, kind) => {
        if (this.#hwU(u, B_PREV) !== prev)
          problems.push(`block ${u}: back link ${this.#hwU(u, B_PREV)}, expected ${prev}`);
        const isFree = magic === kFreeMagic;
        if (!isFree && magic !== kAllocMagic) problems.push(`block ${u}: bad magic ${magic}`);
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
      if (this.#hwU(w.getU(H_END), B_PREV) !== prev) problems.push('sentinel back link is wrong');
      let listed = 0;
      for (let idx = 0; idx < kFirstLevels * kSecondLevels; idx++) {
        const fl = idx >>> kSecondLevelBits;
        const bit = (w.get(H_SL_BITMAPS + fl) >>> (idx & (kSecondLevels - 1))) & 1;
        const head = w.getU(H_HEADS + idx);
        if ((head !== 0) !== (bit === 1))
          problems.push(`class ${idx}: bitmap bit ${bit} but head ${head}`);
        let back = 0;
        for (let u = head, guard = 0; u !== 0 && guard < 1e7; guard++) {
          if (!free.has(u)) problems.push(`class ${idx}: listed block ${u} is not a free block`);
          else if (mapping(this.#hwU(u, B_SIZE)) !== idx)
            problems.push(`block ${u} is in the wrong class`);
          if (this.#hwU(u, B_PREV_FREE) !== back)
            problems.push(`block ${u}: bad free-list back link`);
          listed++;
          back = u;
          u = this.#hwU(u, B_NEXT_FREE);
        }
      }
      if (listed !== free.size)
        problems.push(`${listed} listed free blocks, ${free.size} in the chain`);
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
   */
  repairIfOwnedBy(threadId: number): boolean {
    const w = this.w;
    if (w.cas(H_LOCK, threadId + 1, this.#me) !== threadId + 1) return false;
    try {
      for (let i = 0; i < kFirstLevels; i++) w.set(H_SL_BITMAPS + i, 0);
      for (let i = 0; i < kFirstLevels * kSecondLevels; i++) w.set(H_HEADS + i, 0);
      w.set(H_FL_BITMAP, 0);
      const blocks: Array<[number, number, boolean, number]> = [];
      this.#walk((u, size, magic, kind) => blocks.push([u, size, magic === kAllocMagic, kind]));
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
        this.#insert(run);
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
      this.#hset(w.getU(H_END), B_PREV, prev);
      w.set(H_USED_UNITS, used);
      w.set(H_INTERNAL_UNITS, internal);
      w.set(H_FREE_UNITS, free);
      w.set(H_OBJECTS, objects);
      w.set(H_INTERNAL_OBJECTS, internalObjects);
      w.add(H_REPAIRS, 1);
    } finally {
      this.unlock();
    }
    return true;
  }
}
