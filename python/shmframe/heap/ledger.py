"""Per-thread ledgers (``src/heap/ledger.ts``): which references each identity holds, kept in the
heap itself so that after a process dies another process can read its ledgers and drop exactly
those references.

A ledger is an open-addressing table (unit -> count) in an internal heap block. Deletion leaves a
tombstone (count 0); every entry change is a single store, so a ledger is readable at any
instant. Growth builds a new block and publishes it with one atomic store; the blocks in flight
are recorded so a process dying mid-growth leaks neither. The thread's table entry also records
the reference operation in progress (``T_PEND_*``); :func:`resolve_pending` turns that record
into the exact count a dead identity held for that block.

In Python a ledger is written by whichever thread of the owning process operates on a reference
it records, always under the process's heap lock (HeapCore), so writes never interleave.
"""
import warnings

from .layout import (
    ALLOC_MAGIC,
    B_GEN,
    B_MAGIC,
    B_REFS,
    H_TABLES,
    H_THREAD_CAP,
    H_THREAD_OVERFLOW,
    H_TICKET_CAP,
    KIND_LEDGER,
    OP_ALLOC,
    OP_DROP,
    OP_NONE,
    OP_SHARE,
    T_LEDGER,
    T_LEDGER_NEXT,
    T_LEDGER_OLD,
    T_PEND_AUX,
    T_PEND_COUNT,
    T_PEND_GEN,
    T_PEND_OP,
    T_PEND_PHASE,
    T_PEND_UNIT,
    T_STATE,
    T_THREAD,
    THREAD_CLAIMING,
    THREAD_FREE,
    THREAD_LIVE,
    THREAD_WORDS,
    TICKET_WORDS,
    WORDS_PER_UNIT,
)

L_CAP = 0
L_USED = 1
L_LIVE = 2
ENTRIES = 4
INITIAL_CAPACITY = 256


def _hash(unit, cap):
    return ((unit * 0x9E3779B1) & 0xFFFFFFFF) & (cap - 1)


def thread_table_start(w):
    return H_TABLES + w.get(H_TICKET_CAP) * TICKET_WORDS


def ledger_entries(w, ledger_unit):
    """Every (unit -> count > 0) entry of the ledger block at ``ledger_unit``."""
    out = {}
    if ledger_unit == 0:
        return out
    base = (ledger_unit + 1) * WORDS_PER_UNIT
    cap = w.get(base + L_CAP)
    mv = w.mv
    mvu = w.mvu
    for i in range(cap):
        key = mvu[base + ENTRIES + 2 * i]
        count = mv[base + ENTRIES + 2 * i + 1]
        if key != 0 and count > 0:
            out[key] = out.get(key, 0) + count
    return out


def resolve_pending(w, entry):
    """What a dead identity's pending operation means: (unit, count, must_free, orphan_ticket)
    or None."""
    op = w.load(entry + T_PEND_OP)
    unit = w.load(entry + T_PEND_UNIT) & 0xFFFFFFFF
    if op == OP_NONE or unit == 0:
        return None
    phase = w.load(entry + T_PEND_PHASE)
    before = w.load(entry + T_PEND_COUNT)
    base = unit * WORDS_PER_UNIT
    same_block = w.get(base + B_MAGIC) == ALLOC_MAGIC and w.get(base + B_GEN) == w.load(entry + T_PEND_GEN)
    if op == OP_ALLOC:
        return unit, 1 if same_block else 0, False, -1
    if op == OP_DROP:
        if phase == 2:
            return unit, 0, same_block and w.load(base + B_REFS) == 0, -1
        return unit, before - 1 if phase == 1 else before, False, -1
    if op == OP_SHARE:
        return unit, before + 1 if phase >= 1 else before, False, w.load(entry + T_PEND_AUX) if phase == 2 else -1
    # retain or adopt
    return unit, before + 1 if phase == 1 else before, False, -1


class Ledger:
    """The ledger of one identity (``thread_id``: slot * 2**21 + thread index)."""

    def __init__(self, w, alloc, thread_id):
        self.w = w
        self.alloc = alloc
        self.thread_id = thread_id
        self.slot = -1
        self.entry = -1
        self.base = 0
        self.unit = 0
        self.cap = 0
        self.disabled = False

    @property
    def phase_word(self):
        return -1 if self.entry < 0 else self.entry + T_PEND_PHASE

    @property
    def aux_word(self):
        return -1 if self.entry < 0 else self.entry + T_PEND_AUX

    def _ensure(self):
        """Claims a thread-table slot on first use; False when the table is full."""
        if self.slot >= 0:
            return True
        if self.disabled:
            return False
        w = self.w
        start = thread_table_start(w)
        cap = w.get(H_THREAD_CAP)
        for i in range(cap):
            at = start + i * THREAD_WORDS
            if w.load(at + T_STATE) == THREAD_LIVE and w.load(at + T_THREAD) == self.thread_id:
                unit = w.load(at + T_LEDGER) & 0xFFFFFFFF
                if unit == 0:
                    break
                self.slot = i
                self.entry = at
                self.unit = unit
                self.base = (unit + 1) * WORDS_PER_UNIT
                self.cap = w.get(self.base + L_CAP)
                return True
        for i in range(cap):
            at = start + i * THREAD_WORDS
            if w.load(at + T_STATE) == THREAD_FREE and w.cas(at + T_STATE, THREAD_FREE, THREAD_CLAIMING) == THREAD_FREE:
                for k in range(1, THREAD_WORDS):
                    w.store(at + k, 0)
                w.store(at + T_THREAD, self.thread_id)
                self.slot = i
                self.entry = at
                self._grow(INITIAL_CAPACITY)
                w.store(at + T_STATE, THREAD_LIVE)
                return True
        self.disabled = True
        w.store(H_THREAD_OVERFLOW, 1)
        warnings.warn(
            f"shmframe: the heap's thread table ({cap} threads) is full; references held by identity "
            f"{self.thread_id} will not be released automatically if this process dies.",
            RuntimeWarning,
        )
        return False

    def _grow(self, capacity):
        w = self.w
        entry = self.entry
        nbytes = (ENTRIES + 2 * capacity) * 4
        unit, _, _ = self.alloc.allocate(
            nbytes, KIND_LEDGER, "a thread ledger", lambda u, g: w.store(entry + T_LEDGER_NEXT, u)
        )
        base = (unit + 1) * WORDS_PER_UNIT
        w.zero(base, nbytes // 4)
        w.set(base + L_CAP, capacity)
        old = self.unit
        old_base = self.base
        self.unit = unit
        self.base = base
        self.cap = capacity
        if old != 0:
            old_cap = w.get(old_base + L_CAP)
            for i in range(old_cap):
                key = w.getu(old_base + ENTRIES + 2 * i)
                count = w.get(old_base + ENTRIES + 2 * i + 1)
                if key != 0 and count > 0:
                    self._put(key, count)
        w.store(entry + T_LEDGER_OLD, old)
        w.store(entry + T_LEDGER, unit)
        w.store(entry + T_LEDGER_NEXT, 0)
        if old != 0:
            self.alloc.free(old)
        w.store(entry + T_LEDGER_OLD, 0)

    def prepare(self):
        """Makes sure one more entry fits without allocating. False without a ledger."""
        if not self._ensure():
            return False
        used = self.w.get(self.base + L_USED)
        if (used + 1) * 10 > self.cap * 7:
            live = self.w.get(self.base + L_LIVE)
            cap = INITIAL_CAPACITY
            while (live + 1) * 10 > cap * 4:
                cap *= 2
            self._grow(cap)
        return True

    def begin(self, op, unit, generation):
        if self.entry < 0:
            return
        w = self.w
        e = self.entry
        w.set(e + T_PEND_OP, OP_NONE)
        w.set(e + T_PEND_UNIT, unit)
        w.set(e + T_PEND_GEN, generation)
        w.set(e + T_PEND_COUNT, 0 if unit == 0 else self.count(unit))
        w.set(e + T_PEND_PHASE, 0)
        w.set(e + T_PEND_OP, op)

    def commit_alloc(self, unit, generation):
        """For an allocation: records the unit chosen (inside the allocator lock) and its entry."""
        if self.entry >= 0:
            self.w.set(self.entry + T_PEND_GEN, generation)
            self.w.set(self.entry + T_PEND_UNIT, unit)
        self.add(unit)

    def end(self):
        if self.entry < 0:
            return
        self.w.set(self.entry + T_PEND_OP, OP_NONE)

    def _probe(self, unit, for_insert):
        mvu = self.w.mvu
        mv = self.w.mv
        mask = self.cap - 1
        base = self.base + ENTRIES
        tomb = -1
        i = _hash(unit, self.cap)
        while True:
            key = mvu[base + 2 * i]
            if key == unit:
                return i
            if key == 0:
                return tomb if for_insert and tomb >= 0 else i
            if for_insert and tomb < 0 and mv[base + 2 * i + 1] == 0:
                tomb = i
            i = (i + 1) & mask

    def _put(self, unit, count):
        w = self.w
        i = self._probe(unit, True)
        at = self.base + ENTRIES + 2 * i
        key = w.getu(at)
        if key != unit:
            w.set(at + 1, 0)
            w.set(at, unit)
            if key == 0:
                w.set(self.base + L_USED, w.get(self.base + L_USED) + 1)
        before = w.get(at + 1)
        w.set(at + 1, before + count)
        if before == 0:
            w.set(self.base + L_LIVE, w.get(self.base + L_LIVE) + 1)

    def count(self, unit):
        if self.slot < 0:
            return 0
        at = self.base + ENTRIES + 2 * self._probe(unit, False)
        return self.w.get(at + 1) if self.w.getu(at) == unit else 0

    def add(self, unit):
        if self.slot < 0:
            return
        self._put(unit, 1)

    def remove(self, unit):
        if self.slot < 0:
            return
        w = self.w
        at = self.base + ENTRIES + 2 * self._probe(unit, False)
        if w.getu(at) != unit:
            return
        count = w.get(at + 1)
        if count <= 0:
            return
        w.set(at + 1, count - 1)
        if count == 1:
            w.set(self.base + L_LIVE, w.get(self.base + L_LIVE) - 1)

    def live(self):
        """Units this ledger holds references to (0 without a ledger)."""
        return 0 if self.slot < 0 else self.w.get(self.base + L_LIVE)

    def reset(self):
        self.slot = -1
        self.entry = -1
        self.unit = 0
        self.base = 0
        self.cap = 0
