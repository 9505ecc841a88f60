/**
 * Byte layout of a heap: a control header (allocator state, ticket table, thread table)
 * followed by 64-byte-aligned blocks. Every field the allocator uses lives in the shared buffer
 * so any thread can allocate and free. Positions are in 64-byte units (`u32`), which addresses
 * 256 GiB; header fields are 32-bit words (index = byte offset / 4).
 */

/** Allocation granule and alignment, in bytes. */
export const kUnit = 64;
export const kWordsPerUnit = kUnit / 4;

/**
 * Version of the on-heap layout; attaching refuses any other. 2: check words on free blocks, the
 * control header and in-flight reference records, the corrupt flag, ledger owner stamps, process heaps
 * (backing, process table, names table, path).
 */
export const kLayoutVersion = 2;

export const kHeapMagic = 0x464d4853; // "SHMF"
export const kAllocMagic = 0x4b4c4253; // "SBLK": an allocated block
export const kFreeMagic = 0x45455246; // "FREE": a free block
export const kSentinelMagic = 0x444e4553; // "SEND": one-unit block that ends the heap

// ---- heap control words (Int32 index from byte 0) ----
export const H_MAGIC = 0;
export const H_VERSION = 1;
export const H_ID_LO = 2;
export const H_ID_HI = 3;
export const H_SIZE_LO = 4; // size in bytes, lo/hi u32
export const H_SIZE_HI = 5;
/** Allocator lock: 0 free, otherwise owner thread id + 1. */
export const H_LOCK = 6;
/** Number of threads sleeping on the allocator lock. */
export const H_LOCK_WAITERS = 7;
/** Generation counter, incremented per allocation (wraps, never 0). */
export const H_GEN = 8;
export const H_TICKET_CAP = 9;
export const H_TICKET_CURSOR = 10;
export const H_TICKET_SERIAL = 11;
export const H_THREAD_CAP = 12;
export const H_FL_BITMAP = 13;
/** First block unit. */
export const H_DATA_START = 14;
/** Unit of the sentinel block that ends the heap. */
export const H_END = 15;
/** Highest unit ever handed out + 1: everything at or above it was never written (still zero). */
export const H_HIGH_WATER = 16;
/** Number of allocated user blocks. */
export const H_OBJECTS = 17;
/**
 * 0, or the reason (a `kCorrupt*` code) a check of the heap's metadata failed. Once set, every
 * allocation and attach in every thread fails fast with SHMFRAME_ERR_CORRUPT.
 */
export const H_CORRUPT = 18;
/** How many times the allocator state was rebuilt after a thread died holding the lock. */
export const H_REPAIRS = 19;
/** Units held by allocated user blocks (headers included). */
export const H_USED_UNITS = 20;
/** Units held by internal blocks (ledgers). */
export const H_INTERNAL_UNITS = 21;
/** Units in free blocks. */
export const H_FREE_UNITS = 22;
export const H_INTERNAL_OBJECTS = 23;
/**
 * Lowest unit ever written by an allocation carved from the top of a free block (internal
 * bookkeeping). Memory in [H_HIGH_WATER, H_TOP_WATER) was never written and is still zero.
 */
export const H_TOP_WATER = 24;
/** Set once a thread could not get a thread-table entry: from then on death cannot be proven. */
export const H_THREAD_OVERFLOW = 25;
/** Check word over the words fixed at format time (magic to end), verified by every open. */
export const H_HEADER_CHECK = 26;
/** Check word over the two water marks (wrong marks would skip zeroing memory that holds data). */
export const H_WATER_CHECK = 27;

/** Why a heap was marked corrupt (the value of `H_CORRUPT`). */
export const kCorruptBlocks = 1; // a block header, free-list link or block size failed its check
export const kCorruptHeader = 2; // a control word (header, bitmap, water mark) failed its check
export const kCorruptThreads = 3; // the thread table or a ledger failed its check
export const kCorruptLock = 4; // the allocator lock was held by a live thread for too long, or lost
export const kCorruptRefs = 5; // a reference count below what this thread's ledger records

// ---- process heaps (words 56..63; zero in a thread heap except the names table) ----
/** How the heap's memory is backed: one of the `kBacking*` values. */
export const H_BACKING = 56;
/** Hash of the boot the heap's process table belongs to (a file heap can outlive a reboot). */
export const H_BOOT = 57;
/** Word index of the process table, and its capacity (0 in a thread heap). */
export const H_PROC_START = 58;
export const H_PROC_CAP = 59;
/** Word index of the table of published names, and its capacity. */
export const H_NAMES_START = 60;
export const H_NAMES_CAP = 61;
/** Async waits pending in all processes: notifiers ring doorbells only while it is non-zero. */
export const H_ASYNC_WAITERS = 62;
/** Word index of the heap's name or file path: [byte length, UTF-8 bytes...]. */
export const H_PATH_START = 63;

export const kBackingThread = 0;
/** An anonymous memfd: inherited by children, reachable as /proc/<pid>/fd/<n>. */
export const kBackingMemfd = 1;
/** A named POSIX shared memory object in /dev/shm. */
export const kBackingNamed = 2;
/** A file (a RAM disk or a real disk): persistent. */
export const kBackingFile = 3;

/** Process table entries: slot 0 is never used, so a thread heap's identities stay thread ids. */
export const kProcCapacity = 1023;
export const kProcWords = 16;
export const P_STATE = 0;
export const P_PID = 1;
export const P_START_LO = 2;
export const P_START_HI = 3;
/** Rung (incremented and futex-woken) when this process has async waits to re-check. */
export const P_DOORBELL = 4;
/** Async waits pending in this process. */
export const P_ASYNC = 5;
/** The fd through which this process holds a memfd heap (-1 none): /proc/<pid>/fd/<fd>. */
export const P_FD = 6;
/** 1 Node, 2 Python. */
export const P_LANG = 7;
/** Identity (+1) of the process releasing this dead one. */
export const P_REAPER = 8;
/** Bumped at every claim of the slot. */
export const P_SERIAL = 9;
/** When it joined, ms since the epoch (lo, hi). */
export const P_JOINED_LO = 10;
export const P_JOINED_HI = 11;
export const kProcFree = 0;
export const kProcClaiming = 1;
export const kProcLive = 2;
/** Left the heap (its main thread exited); its pid may still run worker threads for a moment. */
export const kProcExited = 3;
export const kProcReaping = 4;
export const kLangNode = 1;
export const kLangPython = 2;
/**
 * A thread's identity in a heap (its key in the thread table and ledger, and the value lock
 * words hold, + 1): `slot * kSlotSpan + threadId`. In a thread heap slot is 0, so identities are
 * plain thread ids; in a process heap every process has its own slot.
 */
export const kSlotSpan = 2 ** 21;

/** Published names: [state, unit, generation, ticket slot, ticket serial, key length, key (16 words)]. */
export const kNamesCapacity = 128;
export const kNameWords = 24;
export const kNameKeyBytes = 64;
export const N_STATE = 0;
export const N_UNIT = 1;
export const N_GEN = 2;
export const N_TICKET = 3;
export const N_SERIAL = 4;
export const N_KEYLEN = 5;
export const N_KEY = 8;
export const kNameFree = 0;
export const kNameBusy = 1;
export const kNameSet = 2;
/** Bytes of the name / path region. */
export const kPathBytes = 1024;

/**
 * Scratch word for telling a heap's own memory from a byte copy of it: a thread writes a fresh
 * random value through the buffer it knows and reads it back through another (see
 * `HeapCore.sharesMemory`). Kept apart from the words above so that layout additions next to
 * them do not collide with it.
 */
export const H_ALIAS_PROBE = 28;

/** Second-level bitmaps: one word per first level. */
export const kFirstLevels = 32;
export const kSecondLevelBits = 4;
export const kSecondLevels = 1 << kSecondLevelBits;
export const H_SL_BITMAPS = 64;
/** Free-list heads, one word per (first, second) level: the unit of the first block, 0 = empty. */
export const H_HEADS = H_SL_BITMAPS + kFirstLevels;
export const H_TABLES = H_HEADS + kFirstLevels * kSecondLevels; // 608

/** Ticket table entry: [serial (0 = free slot), unit]. */
export const kTicketWords = 2;
/**
 * Thread table entry. Besides the ledger, each thread records the reference operation it is in
 * the middle of (op, unit, generation, its ledger count for the unit before, and a phase set
 * atomically with the count change), so that after it dies exactly what it held can be told.
 */
export const kThreadWords = 16;
export const T_STATE = 0;
export const T_THREAD = 1;
export const T_LEDGER = 2;
export const T_PEND_OP = 3;
export const T_PEND_UNIT = 4;
export const T_PEND_GEN = 5;
export const T_PEND_COUNT = 6;
export const T_PEND_PHASE = 7;
/** The ticket slot a share was claiming. */
export const T_PEND_AUX = 10;
/** Check word over op, unit, generation and count of the recorded operation ({@link pendingCheck}). */
export const T_PEND_CHECK = 11;
/**
 * A "held tickets" block: the handles a queue put made for its item, which are this thread's
 * until the put publishes them (see `HeapCore.beginHold`); 0 when none.
 */
export const T_HELD = 12;
/** A ledger block being built by growth (allocated, not yet published). */
export const T_LEDGER_NEXT = 8;
/** The ledger block being replaced (published its successor, not yet freed). */
export const T_LEDGER_OLD = 9;
export const kOpNone = 0;
/** A new reference to a block this thread already holds (phase 1: count added). */
export const kOpRetain = 1;
/** A handle's ticket consumed (phase 1: consumed, the reference is this thread's). */
export const kOpAdopt = 2;
/** A reference dropped (phase 1: dropped, 2: dropped the last one, the block must be freed). */
export const kOpDrop = 3;
/** A new block (its unit is recorded inside the allocator lock, before the block is marked allocated). */
export const kOpAlloc = 4;
/** A reference for a handle (phase 1: count added; 2: ticket claimed). */
export const kOpShare = 5;
export const kThreadFree = 0;
export const kThreadLive = 1;
export const kThreadClaiming = 2;
/**
 * An entry held only while its thread holds the allocator lock without having a ledger (heap
 * stats, a release run by a thread that holds nothing): it makes the lock's owner findable, so
 * that a waiter never takes the lock over from a live thread.
 */
export const kThreadVisiting = 3;

// ---- block header words (Int32 index from the block's first byte) ----
export const B_MAGIC = 0;
/** Layout version in the low 16 bits, kind in the high 16 bits. */
export const B_VERKIND = 1;
export const B_GEN = 2;
/** Reference count, changed with Atomics. */
export const B_REFS = 3;
/** Block size in units, header included. */
export const B_SIZE = 4;
/** Unit of the physically previous block (0 for the first). */
export const B_PREV = 5;
export const B_LEN_LO = 6;
export const B_LEN_HI = 7;
export const B_CHECK = 8;
/** Free-list links while free. */
export const B_NEXT_FREE = 9;
export const B_PREV_FREE = 10;

/** Kinds at or above this are the heap's own bookkeeping and not counted as objects. */
export const kInternalKind = 0x8000;
export const kKindLedger = 0x8001;
export const kKindHeld = 0x8002;

const kFnvPrime = 0x01000193;

/** Mixes the immutable header fields into a check word. */
export function headerCheck(
  verkind: number,
  gen: number,
  size: number,
  lenLo: number,
  lenHi: number,
): number {
  let h = 0x811c9dc5 ^ kAllocMagic;
  h = Math.imul(h ^ verkind, kFnvPrime);
  h = Math.imul(h ^ gen, kFnvPrime);
  h = Math.imul(h ^ size, kFnvPrime);
  h = Math.imul(h ^ lenLo, kFnvPrime);
  h = Math.imul(h ^ lenHi, kFnvPrime);
  return h | 0;
}

/**
 * Check word of a free block: its position, size and physical back link. Each step of the mix
 * is a bijection in the word it adds, so changing any one of the three always changes the check.
 */
export function freeCheck(unit: number, size: number, prev: number): number {
  let h = 0x811c9dc5 ^ kFreeMagic;
  h = Math.imul(h ^ unit, kFnvPrime);
  h = Math.imul(h ^ size, kFnvPrime);
  h = Math.imul(h ^ prev, kFnvPrime);
  return h | 0;
}

/** Check word over the water marks. */
export function waterCheck(high: number, top: number): number {
  let h = 0x811c9dc5 ^ H_WATER_CHECK;
  h = Math.imul(h ^ high, kFnvPrime);
  h = Math.imul(h ^ top, kFnvPrime);
  return h | 0;
}

/**
 * Check word of a recorded reference operation (never 0, so that a record cleared to 0 never
 * passes for a live one).
 */
export function pendingCheck(op: number, unit: number, gen: number, count: number): number {
  let h = 0x811c9dc5 ^ T_PEND_CHECK;
  h = Math.imul(h ^ op, kFnvPrime);
  h = Math.imul(h ^ unit, kFnvPrime);
  h = Math.imul(h ^ gen, kFnvPrime);
  h = Math.imul(h ^ count, kFnvPrime);
  return h | 0 || 1;
}

/** Words fixed when a heap is formatted, covered by `H_HEADER_CHECK`. */
export const kFixedWords = [
  H_MAGIC,
  H_VERSION,
  H_ID_LO,
  H_ID_HI,
  H_SIZE_LO,
  H_SIZE_HI,
  H_TICKET_CAP,
  H_THREAD_CAP,
  H_DATA_START,
  H_END,
  H_BACKING,
  H_BOOT,
  H_PROC_START,
  H_PROC_CAP,
  H_NAMES_START,
  H_NAMES_CAP,
  H_PATH_START,
] as const;

/** Check word over the fixed control words, given their values in `kFixedWords` order. */
export function headerWordsCheck(values: readonly number[]): number {
  let h = 0x811c9dc5 ^ kHeapMagic;
  for (const v of values) h = Math.imul(h ^ v, kFnvPrime);
  return h | 0;
}
