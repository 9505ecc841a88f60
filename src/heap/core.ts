/**
 * HeapCore: one thread's engine for one heap buffer. It formats or validates the control header
 * and implements references: allocate, retain, release, share (handle with a ticket), adopt
 * (attach a handle), and the release of everything a dead thread held.
 */
import { threadId } from 'node:worker_threads';
import { requireNative } from '../native/binding.js';
import { bootHash } from '../native/proc.js';
import { ClosedError, CorruptError, InvalidArgumentError, UnknownHeapError } from '../errors.js';
import { Allocator, corruptHeapError } from './allocator.js';
import {
  B_CHECK,
  B_GEN,
  B_LEN_HI,
  B_LEN_LO,
  B_MAGIC,
  B_REFS,
  B_SIZE,
  B_VERKIND,
  H_CORRUPT,
  H_ALIAS_PROBE,
  H_DATA_START,
  H_END,
  H_HEADER_CHECK,
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
  H_BACKING,
  H_BOOT,
  H_LOCK,
  H_NAMES_CAP,
  H_NAMES_START,
  H_PATH_START,
  H_PROC_CAP,
  H_PROC_START,
  T_HELD,
  T_LEDGER,
  T_PEND_OP,
  kOpNone,
  T_LEDGER_NEXT,
  T_LEDGER_OLD,
  T_STATE,
  T_THREAD,
  headerCheck,
  headerWordsCheck,
  kAllocMagic,
  kCorruptHeader,
  kCorruptRefs,
  kCorruptThreads,
  kFixedWords,
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
  kThreadVisiting,
  kThreadWords,
  kTicketWords,
  kUnit,
  kWordsPerUnit,
  kBackingThread,
  kNamesCapacity,
  kNameWords,
  kPathBytes,
  kProcCapacity,
  kProcClaiming,
  kProcFree,
  kProcReaping,
  kProcWords,
  kSlotSpan,
} from './layout.js';
import { registerContext, type ProcessLink } from './futex.js';
import { ProcessTable } from './processes.js';
import { KindCode, disposeBlock, kindName, repairBlock, type FreedBlock } from './kinds.js';
import {
  Ledger,
  drainLedger,
  ledgerCapacity,
  ledgerEntries,
  resolvePending,
  setLedgerCount,
  type ThreadTable,
} from './ledger.js';
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

/** How a new heap's memory is backed, for {@link HeapCore.format}. */
export interface Backing {
  /** One of layout.ts `kBacking*`. */
  kind: number;
  /** Name (named heaps) or absolute path (file heaps). */
  path: string;
  /** The fd a memfd heap is held by in this process (-1 otherwise). */
  fd: number;
}

/** Called by {@link HeapCore.share} with each new handle's heap, unit, ticket slot and serial. */
export type ShareObserver = (heap: number, unit: number, slot: number, serial: number) => void;
let shareObserver: ShareObserver | null = null;

/**
 * Runs `body` with `observer` told of every handle made in this thread meanwhile, the moment its
 * ticket exists (before the handle object does): a pool worker lists its result handles this way,
 * so that a worker killed while the handle object is being built leaves it listed.
 */
export function observeShares<T>(observer: ShareObserver, body: () => T): T {
  const outer = shareObserver;
  shareObserver = observer;
  try {
    return body();
  } finally {
    shareObserver = outer;
  }
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
  /** The thread table and block range, read once from the checked header. */
  readonly table: ThreadTable;
  /** One of layout.ts `kBacking*`: 0 for a thread heap. */
  readonly backing: number;
  /** This thread's identity in this heap: `slot * 2^21 + threadId` (slot 0 in a thread heap). */
  readonly tid: number;
  /** This process's slot in the process table (0 in a thread heap). */
  readonly slot: number;
  /** The process table (process heaps only). */
  readonly procs: ProcessTable | undefined;
  /** Bumped when this thread's own references were released wholesale (at its exit). */
  epoch = 0;

  private constructor(
    buffer: SharedArrayBuffer,
    w: Words,
    slot: number,
    link: ProcessLink | undefined,
  ) {
    this.buffer = buffer;
    this.w = w;
    this.id = w.getU(H_ID_HI) * 2 ** 32 + w.getU(H_ID_LO);
    this.size = w.getU(H_SIZE_HI) * 2 ** 32 + w.getU(H_SIZE_LO);
    this.dataStart = w.getU(H_DATA_START);
    this.end = w.getU(H_END);
    this.backing = w.get(H_BACKING);
    if (this.backing !== kBackingThread) w.markNatively(buffer);
    this.slot = slot;
    this.tid = slot * kSlotSpan + threadId;
    this.procs = slot === 0 ? undefined : new ProcessTable(w);
    if (link !== undefined) link.stall = () => void this.reapDead();
    registerContext(buffer, this.tid, link);
    const ticketCap = w.getU(H_TICKET_CAP);
    this.table = {
      start: H_TABLES + ticketCap * kTicketWords,
      cap: w.getU(H_THREAD_CAP),
      dataStart: this.dataStart,
      end: this.end,
    };
    this.alloc = new Allocator(w, this.tid, this.dataStart, this.end, {
      gone: (tid) => this.isThreadGone(tid),
      visit: () => this.#visit(),
      leave: (at) => this.#leave(at),
    });
    this.tickets = new Tickets(w, ticketCap);
    this.ledger = new Ledger(w, this.alloc, this.tid, this.table);
  }

  /** Formats a new heap in a fresh (zeroed) buffer. */
  static format(
    buffer: SharedArrayBuffer,
    backing: Backing = { kind: kBackingThread, path: '', fd: -1 },
  ): HeapCore {
    const w = new Words(buffer);
    const size = buffer.byteLength;
    const shared = backing.kind !== kBackingThread;
    const ticketCap = Math.min(262144, Math.max(4096, Math.floor(size / 65536)));
    const threadWords = H_TABLES + ticketCap * kTicketWords + kThreadCapacity * kThreadWords;
    const procStart = threadWords;
    const procCap = shared ? kProcCapacity : 0;
    const namesStart = procStart + (shared ? (procCap + 1) * kProcWords : 0);
    const pathStart = namesStart + kNamesCapacity * kNameWords;
    const tableWords = pathStart + 1 + kPathBytes / 4;
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
    w.set(H_BACKING, backing.kind);
    w.set(H_BOOT, shared ? bootHash() : 0);
    w.set(H_PROC_START, procStart);
    w.set(H_PROC_CAP, procCap);
    w.set(H_NAMES_START, namesStart);
    w.set(H_NAMES_CAP, kNamesCapacity);
    w.set(H_PATH_START, pathStart);
    writePath(w, pathStart, backing.path);
    if (shared) w.set(procStart, 1); // highest slot claimed + 1
    w.set(H_DATA_START, dataStart);
    w.set(H_END, end);
    Allocator.format(w, dataStart, end);
    w.set(
      H_HEADER_CHECK,
      headerWordsCheck(kFixedWords.map((i) => (i === H_MAGIC ? kHeapMagic : w.get(i)))),
    );
    let slot = 0;
    let link: ProcessLink | undefined;
    if (shared) {
      // Claimed before the magic is set: a sweep that finds a heap without magic and without a
      // live process leaves it alone only while it is young (see Heap.create's sweep).
      link = processLink(w, 0, 'A process heap');
      slot = new ProcessTable(w).claim(backing.fd, 'node', () => true);
      link.slot = slot;
    }
    w.store(H_MAGIC, kHeapMagic);
    return new HeapCore(buffer, w, slot, link);
  }

  /** Validates the control header of a buffer received from another thread or process. */
  static open(buffer: unknown, expectedId?: number, fd = -1): HeapCore {
    if (!(buffer instanceof SharedArrayBuffer)) {
      throw new UnknownHeapError(
        `Expected a handle's heap buffer to be a SharedArrayBuffer, got ${Object.prototype.toString.call(buffer)}. ` +
          `Handles must travel by postMessage or structured clone, not JSON (use the string form ` +
          `String(handle) of a process heap to cross processes or JSON).`,
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
    const ticketCap = w.getU(H_TICKET_CAP);
    const threadCap = w.getU(H_THREAD_CAP);
    const tableWords = H_TABLES + ticketCap * kTicketWords + threadCap * kThreadWords;
    const procStart = w.getU(H_PROC_START);
    const procCap = w.getU(H_PROC_CAP);
    const namesStart = w.getU(H_NAMES_START);
    const pathStart = w.getU(H_PATH_START);
    const backing = w.get(H_BACKING);
    if (
      w.get(H_HEADER_CHECK) !== headerWordsCheck(kFixedWords.map((i) => w.get(i))) ||
      size !== buffer.byteLength ||
      end * kUnit >= size ||
      dataStart >= end ||
      !(ticketCap >= 1 && threadCap >= 1) ||
      tableWords > dataStart * kWordsPerUnit ||
      backing < 0 ||
      backing > 3 ||
      procCap > kProcCapacity ||
      (backing !== kBackingThread) !== procCap > 0 ||
      procStart < tableWords ||
      procStart + (procCap + 1) * kProcWords > namesStart + (procCap === 0 ? kProcWords : 0) ||
      namesStart + w.getU(H_NAMES_CAP) * kNameWords > pathStart ||
      (pathStart + 1 + kPathBytes / 4) * 4 > dataStart * kUnit
    ) {
      // Its magic and version say it is a heap of this layout: tell every thread it is damaged.
      w.cas(H_CORRUPT, 0, kCorruptHeader);
      throw new CorruptError(
        `Heap header is inconsistent with its ${buffer.byteLength}-byte buffer (its fixed words: ` +
          `size, bounds, table sizes, do not agree with the buffer or with their check word): the ` +
          `heap was overwritten and is now marked corrupt. Objects already attached elsewhere stay ` +
          `readable: copy out what you need and create a new heap.`,
        { details: { reason: kCorruptHeader } },
      );
    }
    const id = w.getU(H_ID_HI) * 2 ** 32 + w.getU(H_ID_LO);
    if (expectedId !== undefined && id !== expectedId) {
      throw new UnknownHeapError(
        `Handle names heap ${expectedId.toString(16)} but carries the buffer of heap ${id.toString(16)}`,
      );
    }
    if (backing === kBackingThread) return new HeapCore(buffer, w, 0, undefined);
    const link = processLink(w, 0, 'Opening a process heap');
    const table = new ProcessTable(w);
    let slot = table.findMine();
    if (slot < 0) {
      slot = table.claim(fd, 'node', (s) => !hasThreadsOf(w, s));
    } else if (fd >= 0 && table.fdOf(slot) < 0) {
      table.setFd(slot, fd);
    }
    link.slot = slot;
    return new HeapCore(buffer, w, slot, link);
  }

  /** Identity in this heap of thread `threadId` of this process. */
  tidOf(threadIdInProcess: number): number {
    return this.slot * kSlotSpan + threadIdInProcess;
  }

  /** The heap's name (named heaps) or file path (file heaps); '' otherwise. */
  get path(): string {
    return readPath(this.w, this.w.getU(H_PATH_START));
  }

  /**
   * Releases every process of this heap that is provably gone (exited or killed, SIGKILL and
   * OOM included; a reused pid does not count, the start time tells): the references each of
   * its threads held, the allocator if one died holding its lock, locks and queue operations
   * they left half-done (the kinds' repair hooks). Returns how many processes were released.
   */
  reapDead(): number {
    const table = this.procs;
    if (table === undefined) return 0;
    let reaped = 0;
    for (let s = 1; s < table.top; s++) {
      if (s === this.slot) continue;
      const e = table.entry(s);
      if (e.state === kProcFree || e.state === kProcClaiming) continue;
      if (e.state === kProcReaping) {
        // Another process is releasing it; take over only if that process died meanwhile.
        const reaper = table.reaperOf(e);
        const reaperSlot = Math.floor((reaper - 1) / kSlotSpan);
        if (reaperSlot === this.slot) continue;
        if (reaperSlot >= 1 && reaperSlot <= table.cap && table.alive(table.entry(reaperSlot)))
          continue;
        if (!table.takeOverReap(e, reaper, this.tid + 1)) continue;
      } else {
        if (table.alive(e)) continue;
        if (!table.beginReap(e, this.tid + 1)) continue;
      }
      this.#releaseSlot(s);
      table.endReap(table.entry(s));
      reaped++;
    }
    return reaped;
  }

  /** Releases every thread recorded for process slot `s` (a process that is gone). */
  #releaseSlot(s: number): void {
    const w = this.w;
    const lo = s * kSlotSpan;
    const hi = lo + kSlotSpan;
    // The allocator first: releasing the threads frees their ledgers, which needs the lock one of
    // them may have died holding (also a thread of it that had no ledger, a visitor).
    const owner = w.load(H_LOCK) - 1;
    if (owner >= lo && owner < hi) this.#repairIfOwnedBy(owner);
    const { start, cap } = this.table;
    for (let i = 0; i < cap; i++) {
      const at = start + i * kThreadWords;
      if (w.load(at + T_STATE) === kThreadFree) continue;
      const tid = w.load(at + T_THREAD);
      if (tid >= lo && tid < hi) this.releaseThread(tid);
    }
  }

  /**
   * This process leaves the heap (its main thread is exiting): releases this thread's
   * references and marks the slot exited. Returns true when no other process is live, so a
   * named heap's last process can remove the name.
   */
  leave(): boolean {
    const table = this.procs;
    if (table === undefined) return false;
    this.releaseThread(this.tid);
    table.leave(this.slot);
    this.reapDead();
    return table.othersAlive(this.slot) === 0;
  }

  /** 0, or why the heap was marked corrupt (see docs/heap.md). */
  get corrupt(): number {
    return this.w.load(H_CORRUPT);
  }

  /** Throws SHMFRAME_ERR_CORRUPT when the heap was marked corrupt: no new block, no attach. */
  checkUsable(): void {
    const reason = this.w.load(H_CORRUPT);
    if (reason !== 0) throw corruptHeapError(reason);
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
    this.checkUsable();
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
    const w = this.w;
    const at = unit * kWordsPerUnit + B_REFS;
    let before: number;
    L.begin(kOpDrop, unit, w.get(unit * kWordsPerUnit + B_GEN));
    try {
      L.remove(unit);
      before = w.decMark(at, L.phaseWord);
      if (before === 1) {
        // The count says that was the last reference, yet this thread's own ledger still holds
        // one: the count was lowered behind our back, and freeing would hand out memory that
        // this thread's objects still use.
        if (L.count(unit) > 0) {
          w.add(at, 1);
          this.alloc.markCorrupt(kCorruptRefs);
          throw new CorruptError(
            `Reference count of block ${unit} reached 0 while this thread still holds ` +
              `${L.count(unit)} reference(s) to it: the count was overwritten. The block is kept ` +
              `and the heap marked corrupt.`,
            { details: { reason: kCorruptRefs } },
          );
        }
        // A kind's dispose hook may drop more references (a queue's items): the ledger's
        // housekeeping waits for the outermost drop.
        this.#releasing++;
        try {
          this.#destroy(unit);
        } finally {
          this.#releasing--;
        }
      }
    } finally {
      L.end();
    }
    if (before <= 0) {
      w.add(at, 1);
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
    if (kind !== KindCode.array) {
      // The hook reads the payload by the header's length: only through an intact header.
      this.alloc.checkAllocated(unit);
      disposeBlock(kind, this.#block(unit));
    }
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
    // Told before the operation ends: whoever must release this handle if the thread dies from
    // here on (a pool worker's result record) has it listed while the in-flight record still
    // covers it, so there is no instant at which neither does.
    shareObserver?.(this.id, unit, t.slot, t.serial);
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
    this.checkUsable();
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

  /**
   * Drops every reference thread `tid` still held (it must have exited). Its table entry and
   * ledger are checked before use: a record that fails its check is skipped (the heap is marked
   * corrupt), so a damaged record can leak references but never drop one it did not hold.
   */
  releaseThread(tid: number): ReleaseReport {
    const w = this.w;
    const { start, cap } = this.table;
    let entry = -1;
    for (let i = 0; i < cap; i++) {
      const at = start + i * kThreadWords;
      if (w.load(at + T_STATE) !== kThreadFree && w.load(at + T_THREAD) === tid) {
        entry = at;
        break;
      }
    }
    // First make the allocator usable again if the thread died holding its lock, so that the
    // kind hooks below may allocate or free. Settling afterwards, unlocked, is safe: every block
    // the thread was allocating or freeing is checked by generation (resolvePending), and every
    // other ledger entry is a reference it held, which keeps that block from being reused.
    const repaired = this.#repairIfOwnedBy(tid);
    if (entry < 0) return { references: 0, repaired };
    // Its ledger, only if it is an intact ledger block stamped with this thread's id: a damaged
    // entry must not make this thread's release drop another thread's references.
    let ledger = w.load(entry + T_LEDGER) >>> 0;
    let ledgerCap = 0;
    if (ledger !== 0) {
      ledgerCap = ledgerCapacity(w, ledger, tid + 1, this.table);
      if (ledgerCap < 0) {
        this.alloc.markCorrupt(kCorruptThreads);
        ledger = 0;
      }
    }
    const inHeap = (unit: number): boolean => unit >= this.dataStart && unit < this.end;
    // Let each kind repair what the thread left half-done (a lock it held, a queue operation
    // it was in) while its references still keep the blocks alive.
    for (const [unit, count] of ledgerEntries(w, ledger, ledgerCap)) {
      if (count <= 0 || !inHeap(unit) || !this.alloc.allocatedIntact(unit)) continue;
      const kind = w.get(unit * kWordsPerUnit + B_VERKIND) >>> 16;
      if (kind === KindCode.array || kind >= kInternalKind) continue;
      repairBlock(kind, this.#block(unit), tid);
    }
    let references = 0;
    const toFree: number[] = [];
    // References held outside the ledger (a pending count the ledger had no slot for, or a
    // ledger that failed its check: then only the record counts).
    const extra = new Map<number, number>();
    const pending = resolvePending(w, entry, this.table);
    if (pending === null) this.alloc.markCorrupt(kCorruptThreads);
    else if (pending !== undefined) {
      // Fold the record into the ledger, then clear it: a release that stops after this point
      // (the releasing process was killed too) and is done again finds the count in the ledger
      // instead of resolving the record a second time.
      if (!setLedgerCount(w, ledger, ledgerCap, pending.unit, pending.count)) {
        extra.set(pending.unit, pending.count);
      }
      if (pending.mustFree) {
        // Freed before the record is cleared, for an array (see drop below): a releaser killed
        // in between leaves the record, and the next one finds the block already gone.
        const base = pending.unit * kWordsPerUnit;
        if (
          w.get(base + B_VERKIND) >>> 16 === KindCode.array &&
          w.get(base + B_MAGIC) === kAllocMagic &&
          w.load(base + B_REFS) === 0
        )
          this.#quietly(() => this.#destroy(pending.unit));
        else toFree.push(pending.unit);
      }
      if (pending.orphanTicket >= 0) this.tickets.clear(pending.orphanTicket);
      w.store(entry + T_PEND_OP, kOpNone);
    }
    const drop = (unit: number, count: number): void => {
      if (count <= 0 || !inHeap(unit)) return;
      const at = unit * kWordsPerUnit + B_REFS;
      if (w.get(unit * kWordsPerUnit + B_MAGIC) !== kAllocMagic) return;
      // One compare-and-swap, never below zero (a ledger that overstates drops what is there).
      for (;;) {
        const before = w.load(at);
        if (before <= 0) break;
        const n = Math.min(count, before);
        if (w.cas(at, before, before - n) !== before) continue;
        references += n;
        if (before === n) {
          // An array (no dispose hook) is freed at once: a releaser killed before the end of the
          // release would leave a block at count 0 that nobody frees (a leak seen about once in
          // 500 kills of churning processes that also release each other). Other kinds wait for
          // the end, when every reference the dead thread held is gone.
          if (w.get(unit * kWordsPerUnit + B_VERKIND) >>> 16 === KindCode.array) {
            const destroy = (): void => this.#destroy(unit);
            this.#quietly(destroy);
          } else toFree.push(unit);
        }
        break;
      }
    };
    // Each entry is zeroed before its references are dropped (drainLedger).
    drainLedger(w, ledger, ledgerCap, drop);
    for (const [unit, count] of extra) drop(unit, count);
    // Its ledger blocks, including one being built or replaced when it died; never one that
    // another thread has taken as its own since.
    const others = new Set<number>();
    for (let i = 0; i < cap; i++) {
      const at = start + i * kThreadWords;
      if (at !== entry && w.load(at + T_STATE) !== kThreadFree) {
        others
          .add(w.load(at + T_LEDGER) >>> 0)
          .add(w.load(at + T_LEDGER_NEXT) >>> 0)
          .add(w.load(at + T_LEDGER_OLD) >>> 0);
      }
    }
    const ledgers: number[] = [];
    for (const field of [T_LEDGER, T_LEDGER_NEXT, T_LEDGER_OLD]) {
      const u = w.load(entry + field) >>> 0;
      if (u === 0 || ledgers.includes(u) || others.has(u)) continue;
      if (inHeap(u) && this.#isLedgerBlock(u)) ledgers.push(u);
    }
    for (const u of ledgers) this.#quietly(() => this.alloc.free(u));
    references += this.#releaseHeld(entry, start, cap);
    for (let k = 1; k < kThreadWords; k++) w.store(entry + k, 0);
    w.store(entry + T_STATE, kThreadFree);
    if (tid === this.tid) {
      this.ledger.reset();
      this.epoch++;
    }
    for (const unit of toFree) {
      const base = unit * kWordsPerUnit;
      if (w.get(base + B_MAGIC) === kAllocMagic && w.load(base + B_REFS) === 0)
        this.#quietly(() => this.#destroy(unit));
    }
    return { references, repaired };
  }

  /** repairIfOwnedBy, for a release: a chain that fails its checks leaves the heap marked. */
  #repairIfOwnedBy(tid: number): boolean {
    let repaired = false;
    this.#quietly(() => {
      repaired = this.alloc.repairIfOwnedBy(tid);
    });
    return repaired;
  }

  /**
   * Runs `fn`; a SHMFRAME_ERR_CORRUPT it throws has marked the heap already, and a release goes
   * on with what it can do safely (a release never makes things worse by giving up half way).
   */
  #quietly(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      if (!(err instanceof CorruptError)) throw err;
    }
  }

  /** An intact ledger-kind block (a ledger being built has no capacity or stamp yet). */
  #isLedgerBlock(unit: number): boolean {
    return (
      this.alloc.allocatedIntact(unit) &&
      this.w.get(unit * kWordsPerUnit + B_VERKIND) >>> 16 === kKindLedger
    );
  }

  /**
   * Makes this thread findable in the thread table while it holds the allocator lock without a
   * ledger of its own (see kThreadVisiting). Returns the entry's word index, or -1.
   */
  #visit(): number {
    if (this.ledger.slot >= 0) return -1;
    const w = this.w;
    if (w.load(H_THREAD_OVERFLOW) !== 0) return -1;
    const { start, cap } = this.table;
    for (let i = 0; i < cap; i++) {
      const at = start + i * kThreadWords;
      if (
        w.load(at + T_STATE) === kThreadFree &&
        w.cas(at + T_STATE, kThreadFree, kThreadVisiting) === kThreadFree
      ) {
        w.store(at + T_THREAD, this.tid);
        return at;
      }
    }
    // No room to be findable: from now on no owner is provably gone (no lock is ever taken over).
    w.store(H_THREAD_OVERFLOW, 1);
    return -1;
  }

  #leave(at: number): void {
    const w = this.w;
    if (w.load(at + T_STATE) !== kThreadVisiting) return;
    for (let k = 1; k < kThreadWords; k++) w.store(at + k, 0);
    w.store(at + T_STATE, kThreadFree);
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
   * the thread table (every thread that holds a reference in this heap, or holds its allocator
   * lock, has one until `releaseThread`). A negative or fractional id names no thread at all (a
   * damaged owner word), so it is gone. False whenever death cannot be proven, e.g. once the
   * table overflowed. Lets shared structures take over locks and reservations a dead thread
   * left behind.
   */
  isThreadGone(tid: number): boolean {
    if (tid === this.tid) return false;
    if (!Number.isInteger(tid) || tid < 0) return true;
    const w = this.w;
    const s = Math.floor(tid / kSlotSpan);
    if (s !== this.slot && this.procs !== undefined) {
      // A thread of another process: gone once its process is (a dead process's threads run no
      // code even while their entries wait to be released). Releasing it first repairs what it
      // guarded before a waiter takes over.
      if (s < 1 || s > this.procs.cap) return true;
      const e = this.procs.entry(s);
      if (e.state === kProcFree || e.state === kProcReaping) return true;
      if (e.state === kProcClaiming || this.procs.alive(e)) return false;
      this.reapDead();
      return true;
    }
    if (w.load(H_THREAD_OVERFLOW) !== 0) return false;
    const { start, cap } = this.table;
    for (let i = 0; i < cap; i++) {
      const at = start + i * kThreadWords;
      if (w.load(at + T_STATE) !== kThreadFree && w.load(at + T_THREAD) === tid) return false;
    }
    return true;
  }

  /** The handle kind name of a live block (checked like an attach). */
  kindOf(unit: number, generation: number): string {
    if (!Number.isInteger(unit) || unit < this.dataStart || unit >= this.end) {
      throw new CorruptError(
        `Published entry names block unit ${unit}, outside this heap's blocks`,
      );
    }
    const base = unit * kWordsPerUnit;
    if (this.w.get(base + B_MAGIC) !== kAllocMagic || this.w.get(base + B_GEN) !== generation) {
      throw new ClosedError(`The published object (block ${unit}) was freed`);
    }
    const code = this.w.get(base + B_VERKIND) >>> 16;
    const name = kindName(code);
    if (name === undefined) {
      throw new CorruptError(
        `Published block ${unit} has kind ${code}, which no class in this thread handles: import 'shmframe' first`,
      );
    }
    return name;
  }

  /** Reference count of a block (diagnostics and tests). */
  refCount(unit: number): number {
    return this.w.load(unit * kWordsPerUnit + B_REFS);
  }

  /** Threads with a ledger in the thread table (visitors, there only for a moment, excluded). */
  threads(): number[] {
    const w = this.w;
    const { start, cap } = this.table;
    const out: number[] = [];
    for (let i = 0; i < cap; i++) {
      const at = start + i * kThreadWords;
      const state = w.load(at + T_STATE);
      if (state !== kThreadFree && state !== kThreadVisiting) out.push(w.load(at + T_THREAD));
    }
    return out;
  }

  get ticketCapacity(): number {
    return this.tickets.capacity;
  }
}

/** Whether any thread of process slot `s` is still recorded in the thread table. */
function hasThreadsOf(w: Words, s: number): boolean {
  const start = H_TABLES + w.getU(H_TICKET_CAP) * kTicketWords;
  const cap = w.get(H_THREAD_CAP);
  for (let i = 0; i < cap; i++) {
    const at = start + i * kThreadWords;
    if (w.load(at + T_STATE) === kThreadFree) continue;
    if (Math.floor(w.load(at + T_THREAD) / kSlotSpan) === s) return true;
  }
  return false;
}

function processLink(w: Words, slot: number, what: string): ProcessLink {
  if (threadId >= kSlotSpan) {
    throw new InvalidArgumentError(
      `${what}: thread id ${threadId} is beyond the ${kSlotSpan} threads a process may have started to use a process heap`,
    );
  }
  return { native: requireNative(what), words: w.first, slot };
}

function writePath(w: Words, at: number, path: string): void {
  const bytes = new TextEncoder().encode(path);
  if (bytes.length > kPathBytes) {
    throw new InvalidArgumentError(
      `Expected a heap path of at most ${kPathBytes} bytes, got ${bytes.length}`,
    );
  }
  w.set(at, bytes.length);
  for (let i = 0; i < bytes.length; i += 4) {
    let v = 0;
    for (let k = 0; k < 4 && i + k < bytes.length; k++) v |= (bytes[i + k] as number) << (8 * k);
    w.set(at + 1 + i / 4, v);
  }
}

function readPath(w: Words, at: number): string {
  const n = Math.min(w.getU(at), kPathBytes);
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i++) bytes[i] = (w.getU(at + 1 + (i >> 2)) >>> (8 * (i & 3))) & 0xff;
  return new TextDecoder().decode(bytes);
}

/** Zeroes bytes in views of at most 2^32 bytes (the Node 20 TypedArray limit). */
export function fillZero(buffer: SharedArrayBuffer, byteOffset: number, byteLength: number): void {
  const kChunk = 2 ** 31;
  for (let at = 0; at < byteLength; at += kChunk) {
    new Uint8Array(buffer, byteOffset + at, Math.min(kChunk, byteLength - at)).fill(0);
  }
}
