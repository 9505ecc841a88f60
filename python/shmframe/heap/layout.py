"""Byte layout of a heap: the same words as ``src/heap/layout.ts`` (read that file for the why).

A control header (allocator state, ticket table, thread table, process table, names) followed by
64-byte-aligned blocks. Positions are in 64-byte units; header fields are 32-bit words (index =
byte offset / 4). Keep this file in step with layout.ts: one format, two languages.
"""

UNIT = 64
WORDS_PER_UNIT = UNIT // 4
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
H_REPAIRS = 19
H_USED_UNITS = 20
H_INTERNAL_UNITS = 21
H_FREE_UNITS = 22
H_INTERNAL_OBJECTS = 23
H_TOP_WATER = 24
H_THREAD_OVERFLOW = 25

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
THREAD_WORDS = 12
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
OP_NONE = 0
OP_RETAIN = 1
OP_ADOPT = 2
OP_DROP = 3
OP_ALLOC = 4
OP_SHARE = 5
THREAD_FREE = 0
THREAD_LIVE = 1
THREAD_CLAIMING = 2

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


def header_check(verkind, gen, size, len_lo, len_hi):
    """Mixes the immutable header fields into a check word (layout.ts headerCheck)."""
    h = 0x811C9DC5 ^ ALLOC_MAGIC
    h = imul(h ^ verkind, 0x01000193)
    h = imul(h ^ gen, 0x01000193)
    h = imul(h ^ size, 0x01000193)
    h = imul(h ^ len_lo, 0x01000193)
    h = imul(h ^ len_hi, 0x01000193)
    return i32(h)
