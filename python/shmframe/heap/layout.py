"""Byte layout of a heap: the same words as ``src/heap/layout.ts`` (read that file for the why).

A control header (allocator state, ticket table, thread table, process table, names) followed by
64-byte-aligned blocks. Positions are in 64-byte units; header fields are 32-bit words (index =
byte offset / 4). Keep this file in step with layout.ts: one format, two languages.
"""

UNIT = 64
WORDS_PER_UNIT = UNIT // 4
# 2: check words on free blocks, the control header and in-flight reference records, the corrupt
# flag, ledger owner stamps, process heaps (backing, process table, names table, path).
LAYOUT_VERSION = 2

HEAP_MAGIC = 0x464D4853  # "SHMF"
ALLOC_MAGIC = 0x4B4C4253  # "SBLK"
FREE_MAGIC = 0x45455246  # "FREE"
SENTINEL_MAGIC = 0x444E4553  # "SEND"

# ---- heap control words
H_MAGIC = 0
H_VERSION = 1
H_ID_LO = 2
H_ID_HI = 3
H_SIZE_LO = 4
H_SIZE_HI = 5
H_LOCK = 6
H_LOCK_WAITERS = 7
H_GEN = 8
H_TICKET_CAP = 9
H_TICKET_CURSOR = 10
H_TICKET_SERIAL = 11
H_THREAD_CAP = 12
H_FL_BITMAP = 13
H_DATA_START = 14
H_END = 15
H_HIGH_WATER = 16
H_OBJECTS = 17
# 0, or the reason (a CORRUPT_* code) a check of the heap's metadata failed: from then on every
# allocation and attach in every process fails fast with SHMFRAME_ERR_CORRUPT.
H_CORRUPT = 18
H_REPAIRS = 19
H_USED_UNITS = 20
H_INTERNAL_UNITS = 21
H_FREE_UNITS = 22
H_INTERNAL_OBJECTS = 23
H_TOP_WATER = 24
H_THREAD_OVERFLOW = 25
# Check word over the words fixed at format time (FIXED_WORDS), verified by every open.
H_HEADER_CHECK = 26
# Check word over the two water marks.
H_WATER_CHECK = 27
# Scratch word for telling a heap's memory from a byte copy of it (Node's sharesMemory).
H_ALIAS_PROBE = 28

# Why a heap was marked corrupt (the value of H_CORRUPT).
CORRUPT_BLOCKS = 1  # a block header, free-list link or block size failed its check
CORRUPT_HEADER = 2  # a control word (header, bitmap, water mark) failed its check
CORRUPT_THREADS = 3  # the thread table or a ledger failed its check
CORRUPT_LOCK = 4  # the allocator lock was taken from a thread that still held it
CORRUPT_REFS = 5  # a reference count below what this thread's ledger records

# ---- process heaps
H_BACKING = 56
H_BOOT = 57
H_PROC_START = 58
H_PROC_CAP = 59
H_NAMES_START = 60
H_NAMES_CAP = 61
H_ASYNC_WAITERS = 62
H_PATH_START = 63

BACKING_THREAD = 0
BACKING_MEMFD = 1
BACKING_NAMED = 2
BACKING_FILE = 3

PROC_CAPACITY = 1023
PROC_WORDS = 16
P_STATE = 0
P_PID = 1
P_START_LO = 2
P_START_HI = 3
P_DOORBELL = 4
P_ASYNC = 5
P_FD = 6
P_LANG = 7
P_REAPER = 8
P_SERIAL = 9
P_JOINED_LO = 10
P_JOINED_HI = 11
PROC_FREE = 0
PROC_CLAIMING = 1
PROC_LIVE = 2
PROC_EXITED = 3
PROC_REAPING = 4
LANG_NODE = 1
LANG_PYTHON = 2
# A thread's identity in a heap: slot * SLOT_SPAN + thread index.
SLOT_SPAN = 2**21

NAMES_CAPACITY = 128
NAME_WORDS = 24
NAME_KEY_BYTES = 64
N_STATE = 0
N_UNIT = 1
N_GEN = 2
N_TICKET = 3
N_SERIAL = 4
N_KEYLEN = 5
N_KEY = 8
NAME_FREE = 0
NAME_BUSY = 1
NAME_SET = 2
PATH_BYTES = 1024

FIRST_LEVELS = 32
SECOND_LEVEL_BITS = 4
SECOND_LEVELS = 1 << SECOND_LEVEL_BITS
H_SL_BITMAPS = 64
H_HEADS = H_SL_BITMAPS + FIRST_LEVELS
H_TABLES = H_HEADS + FIRST_LEVELS * SECOND_LEVELS  # 608

TICKET_WORDS = 2
THREAD_WORDS = 16
T_STATE = 0
T_THREAD = 1
T_LEDGER = 2
T_PEND_OP = 3
T_PEND_UNIT = 4
T_PEND_GEN = 5
T_PEND_COUNT = 6
T_PEND_PHASE = 7
T_LEDGER_NEXT = 8
T_LEDGER_OLD = 9
T_PEND_AUX = 10
# Check word over op, unit, generation and count of the recorded operation (pending_check).
T_PEND_CHECK = 11
# A "held tickets" block (held.py): the handles a queue put made for its item, this thread's
# until the put publishes them; 0 when none.
T_HELD = 12
OP_NONE = 0
OP_RETAIN = 1
OP_ADOPT = 2
OP_DROP = 3
OP_ALLOC = 4
OP_SHARE = 5
THREAD_FREE = 0
THREAD_LIVE = 1
THREAD_CLAIMING = 2
# An entry held only while its thread holds the allocator lock without a ledger: it makes the
# lock's owner findable, so that a waiter never takes the lock over from a live thread.
THREAD_VISITING = 3

# ---- block header words
B_MAGIC = 0
B_VERKIND = 1
B_GEN = 2
B_REFS = 3
B_SIZE = 4
B_PREV = 5
B_LEN_LO = 6
B_LEN_HI = 7
B_CHECK = 8
B_NEXT_FREE = 9
B_PREV_FREE = 10

INTERNAL_KIND = 0x8000
KIND_LEDGER = 0x8001
KIND_HELD = 0x8002

# Block kind codes (src/heap/kinds.ts KindCode).
KIND_ARRAY = 1
KIND_FRAME = 2
KIND_QUEUE = 3
KIND_LOCK = 4
KIND_NAMES = {KIND_ARRAY: "array", KIND_FRAME: "frame", KIND_QUEUE: "queue", KIND_LOCK: "lock"}
KIND_CODES = {v: k for k, v in KIND_NAMES.items()}

MASK32 = 0xFFFFFFFF


def i32(v):
    """``v | 0`` of JavaScript: the signed 32-bit integer with the same low 32 bits."""
    v &= MASK32
    return v - 0x100000000 if v & 0x80000000 else v


def imul(a, b):
    """``Math.imul``: the low 32 bits of a * b, signed."""
    return i32((a & MASK32) * (b & MASK32))


_FNV_PRIME = 0x01000193
_FNV_BASIS = i32(0x811C9DC5)


def _mix(h, values):
    for v in values:
        h = imul(h ^ i32(v), _FNV_PRIME)
    return h


def header_check(verkind, gen, size, len_lo, len_hi):
    """Mixes the immutable header fields into a check word (layout.ts headerCheck)."""
    return _mix(_FNV_BASIS ^ ALLOC_MAGIC, (verkind, gen, size, len_lo, len_hi))


def free_check(unit, size, prev):
    """Check word of a free block: its position, size and physical back link (freeCheck)."""
    return _mix(_FNV_BASIS ^ FREE_MAGIC, (unit, size, prev))


def water_check(high, top):
    """Check word over the water marks (waterCheck)."""
    return _mix(_FNV_BASIS ^ H_WATER_CHECK, (high, top))


def pending_check(op, unit, gen, count):
    """Check word of a recorded reference operation, never 0 (pendingCheck)."""
    return _mix(_FNV_BASIS ^ T_PEND_CHECK, (op, unit, gen, count)) or 1


# Words fixed when a heap is formatted, covered by H_HEADER_CHECK.
FIXED_WORDS = (
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
)


def header_words_check(values):
    """Check word over the fixed control words, given their values in FIXED_WORDS order."""
    return _mix(_FNV_BASIS ^ HEAP_MAGIC, values)
