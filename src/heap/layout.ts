/**
 * Byte layout of a heap: a control header (allocator state, ticket table, thread table)
 * followed by 64-byte-aligned blocks. Every field the allocator uses lives in the shared buffer
 * so any thread can allocate and free. Positions are in 64-byte units (`u32`), which addresses
 * 256 GiB; header fields are 32-bit words (index = byte offset / 4).
 */

/** Allocation granule and alignment, in bytes. */
export const kUnit = 64;
export const kWordsPerUnit = kUnit / 4;

/** Version of the on-heap layout; attaching refuses any other. */
export const kLayoutVersion = 1;

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
/**
 * Scratch word for telling a heap's own memory from a byte copy of it: a thread writes a fresh
 * random value through the buffer it knows and reads it back through another (see
 * `HeapCore.sharesMemory`). Kept apart from the words above so that layout additions next to
 * them do not collide with it.
 */
export const H_ALIAS_PROBE = 63;

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
export const kThreadWords = 12;
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
/**
 * A "held tickets" block: the handles a queue put made for its item, which are this thread's
 * until the put publishes them (see `HeapCore.beginHold`); 0 when none.
 */
export const T_HELD = 11;
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

/** Mixes the immutable header fields into a check word. */
export function headerCheck(
  verkind: number,
  gen: number,
  size: number,
  lenLo: number,
  lenHi: number,
): number {
  let h = 0x811c9dc5 ^ kAllocMagic;
  h = Math.imul(h ^ verkind, 0x01000193);
  h = Math.imul(h ^ gen, 0x01000193);
  h = Math.imul(h ^ size, 0x01000193);
  h = Math.imul(h ^ lenLo, 0x01000193);
  h = Math.imul(h ^ lenHi, 0x01000193);
  return h | 0;
}
