/**
 * HeapCore: one thread's engine for one heap buffer. It formats or validates the control header
 * and implements references: allocate, retain, release, share (handle with a ticket), adopt
 * (attach a handle), and the release of everything a dead thread held.
 */
import { threadId } from 'node:worker_threads';
import { ClosedError, CorruptError, InvalidArgumentError, UnknownHeapError } from '../errors.js';
import { Allocator } from './allocator.js';
import {
  B_CHECK,
  B_GEN,
  B_LEN_HI,
  B_LEN_LO,
  B_MAGIC,
  B_REFS,
  B_SIZE,
  B_VERKIND,
  H_ALIAS_PROBE,
  H_DATA_START,
  H_END,
  H_ID_HI,
  H_ID_LO,
  H_MAGIC,
  H_SIZE_HI,
  H_SIZE_LO,
  H_TABLES,
  H_THREAD_CAP,
  H_THREAD_OVERFLOW,
  H_TICKET_CAP,
  H_VERSION,
  T_HELD,
  T_LEDGER,
  T_LEDGER_NEXT,
  T_LEDGER_OLD,
  T_STATE,
  T_THREAD,
  headerCheck,
  kAllocMagic,
  kHeapMagic,
  kInternalKind,
  kKindHeld,
  kKindLedger,
  kLayoutVersion,
  kOpAdopt,
  kOpAlloc,
  kOpDrop,
  kOpRetain,
  kOpShare,
  kThreadFree,
  kThreadWords,
  kTicketWords,
  kUnit,
  kWordsPerUnit,
} from './layout.js';
import { KindCode, disposeBlock, repairBlock, type FreedBlock } from './kinds.js';
import { Ledger, ledgerEntries, resolvePending, threadTableStart } from './ledger.js';
import { Tickets, type Ticket } from './tickets.js';
import { Hold, appendHeld, armedRecords, formatHeld, heldBytes } from './held.js';
import { Words } from './words.js';

/** Smallest heap: the control header plus room for a few blocks. */
export const kMinHeapSize = 1 << 20;
const kThreadCapacity = 1024;

export interface BlockInfo {
  unit: number;
  generation: number;
  kind: number;
  /** Absolute byte offset of the payload in the heap buffer. */
  byteOffset: number;
  byteLength: number;
}

export interface ReleaseReport {
  /** References the thread still held and that were dropped now. */
  references: number;
  /** Whether the thread died holding the allocator lock, so the allocator state was rebuilt. */
  repaired: boolean;
}

export class HeapCore {
  readonly buffer: SharedArrayBuffer;
  readonly w: Words;
  readonly alloc: Allocator;
  readonly tickets: Tickets;
  readonly ledger: Ledger;
  readonly id: number;
  readonly size: number;
  readonly dataStart: number;
  readonly end: number;
  /** Bumped when this thread's own references were released wholesale (at its exit). */
  epoch = 0;

  private constructor(buffer: SharedArrayBuffer, w: Words) {
    this.buffer = buffer;
    this.w = w;
    this.id = w.getU(H_ID_HI) * 2 ** 32 + w.getU(H_ID_LO);
    this.size = w.getU(H_SIZE_HI) * 2 ** 32 + w.getU(H_SIZE_LO);
    this.dataStart = w.getU(H_DATA_START);
    this.end = w.getU(H_END);
    this.alloc = new Allocator(w, threadId);
    this.tickets = new Tickets(w);
    this.ledger = new Ledger(w, this.alloc, threadId);
  }

  /** Formats a new heap in a fresh (zeroed) buffer. */
  static format(buffer: SharedArrayBuffer): HeapCore {
    const w = new Words(buffer);
    const size = buffer.byteLength;
    const ticketCap = Math.min(262144, Math.max(4096, Math.floor(size / 65536)));
    const tableWords = H_TABLES + ticketCap * kTicketWords + kThreadCapacity * kThreadWords;
    const dataStart = Math.ceil((tableWords * 4) / kUnit);
    const end = Math.floor(size / kUnit) - 1; // the last unit is the sentinel
    const id = Math.floor(Math.random() * 2 ** 52) + 1;
    w.set(H_VERSION, kLayoutVersion);
    w.set(H_ID_LO, id % 2 ** 32);
    w.set(H_ID_HI, Math.floor(id / 2 ** 32));
    w.set(H_SIZE_LO, size % 2 ** 32);
    w.set(H_SIZE_HI, Math.floor(size / 2 ** 32));
    w.set(H_TICKET_CAP, ticketCap);
    w.set(H_THREAD_CAP, kThreadCapacity);
    Allocator.format(w, dataStart, end);
    w.store(H_MAGIC, kHeapMagic);
    return new HeapCore(buffer, w);
  }

  /** Validates the control header of a buffer received from another thread. */
  static open(buffer: unknown, expectedId?: number): HeapCore {
    if (!(buffer instanceof SharedArrayBuffer)) {
      throw new UnknownHeapError(
        `Expected a handle's heap buffer to be a SharedArrayBuffer, got ${Object.prototype.toString.call(buffer)}. ` +
          `Handles must travel by postMessage or structured clone, not JSON.`,
      );
    }
    if (buffer.byteLength < kMinHeapSize)
      throw new CorruptError(`Heap buffer of ${buffer.byteLength} bytes is too small`);
    const w = new Words(buffer);
    if (w.load(H_MAGIC) !== kHeapMagic)
      throw new CorruptError('Buffer is not a shmframe heap (bad magic)');
    if (w.get(H_VERSION) !== kLayoutVersion) {
      throw new CorruptError(
        `Heap layout version ${w.get(H_VERSION)} is not supported by this shmframe (expects ${kLayoutVersion})`,
      );
    }
    const size = w.getU(H_SIZE_HI) * 2 ** 32 + w.getU(H_SIZE_LO);
    const end = w.getU(H_END);
    const dataStart = w.getU(H_DATA_START);
    if (
      size !== buffer.byteLength ||
      end * kUnit >= size ||
      dataStart >= end ||
      dataStart < H_TABLES / kWordsPerUnit
    ) {
      throw new CorruptError(
        `Heap header is inconsistent with its ${buffer.byteLength}-byte buffer`,
      );
    }
    const core = new HeapCore(buffer, w);
    if (expectedId !== undefined && core.id !== expectedId) {
      throw new UnknownHeapError(
        `Handle names heap ${expectedId.toString(16)} but carries the buffer of heap ${core.id.toString(16)}`,
      );
    }
    return core;
  }

  /**
   * Whether `buffer` is this heap's memory, not a byte copy of it (a copy has the same header,
   * id included). A fresh random value is written through this heap's buffer and must read back
   * through `buffer`; a concurrent probe by another thread can only make that fail, so it is
   * tried a few times. Posted handles bring a new SharedArrayBuffer object for the same memory
   * every time, so identity (`===`) cannot tell.
   */
  sharesMemory(buffer: SharedArrayBuffer): boolean {
    if (buffer === this.buffer) return true;
    if (buffer.byteLength !== this.buffer.byteLength) return false;
    const other = new Int32Array(buffer, 0, H_ALIAS_PROBE + 1);
    for (let attempt = 0; attempt < 16; attempt++) {
      const token = (Math.random() * 2 ** 32) | 0 || 1;
      this.w.store(H_ALIAS_PROBE, token);
      if (Atomics.load(other, H_ALIAS_PROBE) === token) return true;
    }
    return false;
  }

  /** Allocates a block holding one reference owned by this thread. */
  allocate(payloadBytes: number, kind: number, what: string, zero: boolean): BlockInfo {
    const L = this.ledger;
    const tracked = L.prepare();
    if (tracked) L.begin(kOpAlloc, 0, 0);
    let res: { unit: number; dirtyHead: number; dirtyTail: number };
    try {
      res = this.alloc.allocate(payloadBytes, kind, what, tracked ? L.commitAlloc : undefined);
    } finally {
      L.end();
    }
    const { unit, dirtyHead, dirtyTail } = res;
    const byteOffset = (unit + 1) * kUnit;
    if (zero && dirtyHead > 0) fillZero(this.buffer, byteOffset, dirtyHead);
    if (zero && dirtyTail > 0)
      fillZero(this.buffer, byteOffset + payloadBytes - dirtyTail, dirtyTail);
    return {
      unit,
      generation: this.w.get(unit * kWordsPerUnit + B_GEN),
      kind,
      byteOffset,
      byteLength: payloadBytes,
    };
  }

  /**
   * Reads and checks a block header without changing anything. Never reads outside the heap:
   * the unit is range-checked before any access, and lengths are checked against the block size.
   */
  inspect(unit: unknown, generation: unknown, kind: number, kindName: string): BlockInfo {
    if (
      typeof unit !== 'number' ||
      !Number.isInteger(unit) ||
      unit < this.dataStart ||
      unit >= this.end
    ) {
      throw new CorruptError(
        `Handle names block unit ${String(unit)}, outside this heap's blocks [${this.dataStart}, ${this.end}): the handle is damaged or forged.`,
      );
    }
    const base = unit * kWordsPerUnit;
    const w = this.w;
    if (w.get(base + B_MAGIC) !== kAllocMagic || w.get(base + B_GEN) !== generation) {
      throw new ClosedError(
        `The ${kindName} this handle names was closed and its memory freed (block ${unit}, generation ${String(generation)}). ` +
          `Keep a reference open (do not close it) until every receiver has attached.`,
      );
    }
    const verkind = w.get(base + B_VERKIND);
    const size = w.getU(base + B_SIZE);
    const lenLo = w.getU(base + B_LEN_LO);
    const lenHi = w.getU(base + B_LEN_HI);
    const byteLength = lenHi * 2 ** 32 + lenLo;
    if ((verkind & 0xffff) !== kLayoutVersion) {
      throw new CorruptError(
        `Block ${unit} has layout version ${verkind & 0xffff}; this shmframe reads version ${kLayoutVersion}`,
      );
    }
    if (
      size < 1 ||
      unit + size > this.end ||
      byteLength > (size - 1) * kUnit ||
      w.get(base + B_CHECK) !== headerCheck(verkind, w.get(base + B_GEN), size, lenLo, lenHi)
    ) {
      throw new CorruptError(
        `Block ${unit} has an inconsistent header (size ${size} units, payload ${byteLength} bytes)`,
      );
    }
    const actualKind = verkind >>> 16;
    if (actualKind !== kind) {
      throw new InvalidArgumentError(
        `Expected a handle of a ${kindName} (kind ${kind}), got one of kind ${actualKind}: attach it with the matching class.`,
      );
    }
    return {
      unit,
      generation: generation as number,
      kind,
      byteOffset: (unit + 1) * kUnit,
      byteLength,
    };
  }

  // Every reference operation below is recorded in this thread's table entry (begin / a phase
  // set atomically with the count change / end), so that if the thread is terminated anywhere
  // in the middle, releaseThread knows exactly which references it held. See ledger.ts.

  /** Adds a reference for this thread to a block this thread already holds (a view). */
  retain(unit: number): void {
    const L = this.ledger;
    L.prepare();
    L.begin(kOpRetain, unit, this.w.get(unit * kWordsPerUnit + B_GEN));
    this.w.addMark(unit * kWordsPerUnit + B_REFS, 1, L.phaseWord);
    L.add(unit);
    L.end();
  }

  /** Drops one reference of this thread; the last one (in any thread) frees the block. */
  release(unit: number): void {
    const L = this.ledger;
    L.begin(kOpDrop, unit, this.w.get(unit * kWordsPerUnit + B_GEN));
    L.remove(unit);
    const at = unit * kWordsPerUnit + B_REFS;
    const before = this.w.decMark(at, L.phaseWord);
    if (before === 1) {
      // A kind's dispose hook may drop more references (a queue's items): the ledger's
      // housekeeping waits for the outermost drop.
      this.#releasing++;
      try {
        this.#destroy(unit);
      } finally {
        this.#releasing--;
      }
    }
    L.end();
    if (before <= 0) {
      this.w.add(at, 1);
      throw new CorruptError(
        `Reference count of block ${unit} was ${before} before a release: released twice?`,
      );
    }
    if (this.#releasing === 0) L.maintain(before === 1);
  }

  /** Depth of drops in progress (a dispose hook dropping references of its own). */
  #releasing = 0;

  /** Runs the kind's dispose hook and frees a block whose count reached zero. */
  #destroy(unit: number): void {
    const base = unit * kWordsPerUnit;
    const kind = this.w.get(base + B_VERKIND) >>> 16;
    if (kind !== KindCode.array) disposeBlock(kind, this.#block(unit));
    this.alloc.free(unit);
  }

  /** Where a block's payload lives, for a kind's `dispose` / `threadReleased`. */
  #block(unit: number): FreedBlock {
    const base = unit * kWordsPerUnit;
    return {
      heapId: this.id,
      buffer: this.buffer,
      unit,
      byteOffset: (unit + 1) * kUnit,
      byteLength: this.w.getU(base + B_LEN_HI) * 2 ** 32 + this.w.getU(base + B_LEN_LO),
    };
  }

  /**
   * A new reference owned by a ticket, for a handle. While a queue put collects its item's
   * handles (held.ts), the ticket is listed in the put's held block in the same step that ends
   * this operation.
   */
  share(unit: number): Ticket {
    const L = this.ledger;
    L.prepare();
    const generation = this.w.get(unit * kWordsPerUnit + B_GEN);
    L.begin(kOpShare, unit, generation);
    const at = unit * kWordsPerUnit + B_REFS;
    this.w.addMark(at, 1, L.phaseWord);
    let t: Ticket;
    try {
      t = this.tickets.create(unit, L.auxWord, L.phaseWord);
    } catch (err) {
      if (this.w.decMark(at, -1) === 1) this.#destroy(unit);
      L.end();
      throw err;
    }
    if (!appendHeld(this.id, unit, generation, t.slot, t.serial, this.w.first, L.opWord)) L.end();
    return t;
  }

  /**
   * Starts a hold (held.ts) in this heap, the queue's, for a put of `groups` items making
   * `records` handles: an internal block named in this thread's table entry, so that if the
   * thread dies before the put publishes, `releaseThread` releases those handles. Undefined when
   * this thread has no table entry here (the thread table overflowed).
   */
  beginHold(groups: number, records: number): Hold | undefined {
    const L = this.ledger;
    if (!L.prepare()) return undefined;
    const word = L.heldWord;
    const w = this.w;
    if (word < 0 || w.load(word) !== 0) return undefined; // one hold per thread and heap
    const bytes = heldBytes(groups, records);
    const { unit } = this.alloc.allocate(bytes, kKindHeld, 'a queue put in progress', (u) =>
      w.store(word, u),
    );
    const i32 = new Int32Array(this.buffer, (unit + 1) * kUnit, bytes / 4);
    i32.fill(0);
    formatHeld(i32, groups, records);
    return new Hold(i32, () => {
      this.alloc.free(unit);
      w.store(word, 0);
    });
  }

  /** @internal The engine of another heap this thread knows, by id (set by heap.ts). */
  static resolve: (id: number) => HeapCore | undefined = () => undefined;

  /**
   * Takes the reference a handle carries, or, when its ticket was already used, a fresh one if
   * the block is still alive. Returns the checked block.
   */
  adopt(
    unit: unknown,
    generation: unknown,
    ticket: Ticket,
    kind: number,
    kindName: string,
  ): BlockInfo {
    const info = this.inspect(unit, generation, kind, kindName);
    const L = this.ledger;
    L.prepare();
    L.begin(kOpAdopt, info.unit, info.generation);
    if (this.tickets.consume(ticket, info.unit, L.phaseWord)) {
      L.add(info.unit);
      L.end();
      return info;
    }
    L.end();
    // Ticket already used: take a new reference under the allocator lock, where no block can be
    // freed or re-split between the check and the increment.
    this.alloc.lock();
    try {
      this.inspect(unit, generation, kind, kindName);
      const at = info.unit * kWordsPerUnit + B_REFS;
      if (this.w.load(at) <= 0) {
        throw new ClosedError(
          `The ${kindName} this handle names is being freed (its last reference was dropped)`,
        );
      }
      L.begin(kOpRetain, info.unit, info.generation);
      this.w.addMark(at, 1, L.phaseWord);
    } finally {
      this.alloc.unlock();
    }
    L.add(info.unit);
    L.end();
    return info;
  }

  /** Drops the reference of a handle that will never be attached. True if it was outstanding. */
  releaseTicket(unit: number, ticket: Ticket): boolean {
    if (!Number.isInteger(unit) || unit < this.dataStart || unit >= this.end) return false;
    const L = this.ledger;
    L.prepare();
    L.begin(kOpAdopt, unit, this.w.get(unit * kWordsPerUnit + B_GEN));
    if (!this.tickets.consume(ticket, unit, L.phaseWord)) {
      L.end();
      return false;
    }
    L.add(unit);
    L.end();
    this.release(unit);
    return true;
  }

  /** Drops every reference thread `tid` still held (it must have exited). */
  releaseThread(tid: number): ReleaseReport {
    const w = this.w;
    const start = threadTableStart(w);
    const cap = w.get(H_THREAD_CAP);
    let entry = -1;
    for (let i = 0; i < cap; i++) {
      const at = start + i * kThreadWords;
      if (w.load(at + T_STATE) !== kThreadFree && w.load(at + T_THREAD) === tid) {
        entry = at;
        break;
      }
    }
    if (entry < 0) return { references: 0, repaired: this.alloc.repairIfOwnedBy(tid) };
    let references = 0;
    const toFree: number[] = [];
    const ledgers: number[] = [];
    const settle = (): void => {
      const counts = ledgerEntries(w, w.load(entry + T_LEDGER) >>> 0);
      const pending = resolvePending(w, entry);
      if (pending !== undefined) {
        counts.set(pending.unit, pending.count);
        if (pending.mustFree) toFree.push(pending.unit);
        if (pending.orphanTicket >= 0) this.tickets.clear(pending.orphanTicket);
      }
      for (const [unit, count] of counts) {
        if (count <= 0 || unit < this.dataStart || unit >= this.end) continue;
        if (w.get(unit * kWordsPerUnit + B_MAGIC) !== kAllocMagic) continue;
        for (let k = 0; k < count; k++) {
          const before = w.sub(unit * kWordsPerUnit + B_REFS, 1);
          if (before <= 0) {
            w.add(unit * kWordsPerUnit + B_REFS, 1); // the ledger overstates: never go below zero
            break;
          }
          references++;
          if (before === 1) {
            toFree.push(unit);
            break;
          }
        }
      }
      // Its ledger blocks, including one being built or replaced when it died; never one that
      // another thread has taken as its own since.
      const others = new Set<number>();
      for (let i = 0; i < cap; i++) {
        const at = start + i * kThreadWords;
        if (at !== entry && w.load(at + T_STATE) !== kThreadFree) {
          others.add(w.load(at + T_LEDGER) >>> 0).add(w.load(at + T_LEDGER_NEXT) >>> 0);
        }
      }
      for (const field of [T_LEDGER, T_LEDGER_NEXT, T_LEDGER_OLD]) {
        const u = w.load(entry + field) >>> 0;
        if (u === 0 || ledgers.includes(u) || others.has(u) || u < this.dataStart || u >= this.end)
          continue;
        const base = u * kWordsPerUnit;
        if (w.get(base + B_MAGIC) === kAllocMagic && w.get(base + B_VERKIND) >>> 16 === kKindLedger)
          ledgers.push(u);
      }
    };
    // First make the allocator usable again if the thread died holding its lock, so that the
    // kind hooks below may allocate or free. Settling afterwards, unlocked, is safe: every block
    // the thread was allocating or freeing is checked by generation (resolvePending), and every
    // other ledger entry is a reference it held, which keeps that block from being reused.
    const repaired = this.alloc.repairIfOwnedBy(tid);
    // Let each kind repair what the thread left half-done (a lock it held, a queue operation
    // it was in) while its references still keep the blocks alive.
    for (const [unit, count] of ledgerEntries(w, w.load(entry + T_LEDGER) >>> 0)) {
      if (count <= 0 || unit < this.dataStart || unit >= this.end) continue;
      const base = unit * kWordsPerUnit;
      if (w.get(base + B_MAGIC) !== kAllocMagic) continue;
      const kind = w.get(base + B_VERKIND) >>> 16;
      if (kind === KindCode.array || kind >= kInternalKind) continue;
      repairBlock(kind, this.#block(unit), tid);
    }
    settle();
    references += this.#releaseHeld(entry, start, cap);
    for (const u of ledgers) this.alloc.free(u);
    for (let k = 1; k < kThreadWords; k++) w.store(entry + k, 0);
    w.store(entry + T_STATE, kThreadFree);
    if (tid === threadId) {
      this.ledger.reset();
      this.epoch++;
    }
    for (const unit of toFree) {
      const base = unit * kWordsPerUnit;
      if (w.get(base + B_MAGIC) === kAllocMagic && w.load(base + B_REFS) === 0) this.#destroy(unit);
    }
    return { references, repaired };
  }

  /**
   * Releases the handles a dead thread's queue put still held (its held block, T_HELD, with
   * groups not yet published) and frees the block; returns how many were released.
   */
  #releaseHeld(entry: number, start: number, cap: number): number {
    const w = this.w;
    const unit = w.load(entry + T_HELD) >>> 0;
    if (unit < this.dataStart || unit >= this.end) return 0;
    const base = unit * kWordsPerUnit;
    if (w.get(base + B_MAGIC) !== kAllocMagic || w.get(base + B_VERKIND) >>> 16 !== kKindHeld)
      return 0;
    // Freed by its thread and taken by another thread's put since: not this thread's.
    for (let i = 0; i < cap; i++) {
      const at = start + i * kThreadWords;
      if (
        at !== entry &&
        w.load(at + T_STATE) !== kThreadFree &&
        w.load(at + T_HELD) >>> 0 === unit
      )
        return 0;
    }
    const bytes = w.getU(base + B_LEN_HI) * 2 ** 32 + w.getU(base + B_LEN_LO);
    const i32 = new Int32Array(this.buffer, (unit + 1) * kUnit, Math.floor(bytes / 4));
    let released = 0;
    for (const r of armedRecords(i32)) {
      const core = r.heapId === this.id ? this : HeapCore.resolve(r.heapId);
      try {
        if (core?.releaseTicket(r.unit, { slot: r.slot, serial: r.serial })) released++;
      } catch {
        // A block freed and reused since cannot match its ticket: nothing to release.
      }
    }
    this.alloc.free(unit);
    w.store(entry + T_HELD, 0);
    return released;
  }

  /**
   * True only when thread `tid` is provably gone: it is not this thread, and it has no entry in
   * the thread table (every thread that holds a reference in this heap has one until
   * `releaseThread`). False whenever that cannot be proven, e.g. once the table overflowed.
   * Lets shared structures take over locks and reservations a dead thread left behind.
   */
  isThreadGone(tid: number): boolean {
    if (tid === threadId || tid < 0) return false;
    const w = this.w;
    if (w.load(H_THREAD_OVERFLOW) !== 0) return false;
    const start = threadTableStart(w);
    const cap = w.get(H_THREAD_CAP);
    for (let i = 0; i < cap; i++) {
      const at = start + i * kThreadWords;
      if (w.load(at + T_STATE) !== kThreadFree && w.load(at + T_THREAD) === tid) return false;
    }
    return true;
  }

  /** Reference count of a block (diagnostics and tests). */
  refCount(unit: number): number {
    return this.w.load(unit * kWordsPerUnit + B_REFS);
  }

  /** Live threads in the thread table. */
  threads(): number[] {
    const w = this.w;
    const start = threadTableStart(w);
    const out: number[] = [];
    for (let i = 0; i < w.get(H_THREAD_CAP); i++) {
      const at = start + i * kThreadWords;
      if (w.load(at + T_STATE) !== kThreadFree) out.push(w.load(at + T_THREAD));
    }
    return out;
  }

  get ticketCapacity(): number {
    return this.w.get(H_TICKET_CAP);
  }
}

/** Zeroes bytes in views of at most 2^32 bytes (the Node 20 TypedArray limit). */
export function fillZero(buffer: SharedArrayBuffer, byteOffset: number, byteLength: number): void {
  const kChunk = 2 ** 31;
  for (let at = 0; at < byteLength; at += kChunk) {
    new Uint8Array(buffer, byteOffset + at, Math.min(kChunk, byteLength - at)).fill(0);
  }
}
