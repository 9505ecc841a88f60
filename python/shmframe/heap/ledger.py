"""Per-thread ledgers (``src/heap/ledger.ts``): which references each identity holds, kept in the
heap itself so that after a process dies another process can read its ledgers and drop exactly
those references.

A ledger is an open-addressing table (unit -> count) in an internal heap block, stamped with its
owner (identity + 1, ``L_OWNER``). Deletion leaves a tombstone (count 0); every entry change is a
single store, so a ledger is readable at any instant. Growth builds a new block and publishes it
with one atomic store; the blocks in flight are recorded so a process dying mid-growth leaks
neither. The thread's table entry also records the reference operation in progress
(``T_PEND_*``, with a check word); :func:`resolve_pending` turns that record into the exact count
a dead identity held for that block.

Placement: a ledger block is bookkeeping, carved from the highest free block that fits. One that
landed lower (the top was taken) moves up at the first drop that leaves room above it, shrinks
when a burst of references is over, and is freed when its identity holds no reference at all.

In Python a ledger is written by whichever thread of the owning process operates on a reference
it records, always under the process's heap lock (HeapCore), so writes never interleave.
"""
import warnings

from ..errors import CorruptError
from .layout import (
    ALLOC_MAGIC,
    B_CHECK,
    B_GEN,
    B_LEN_HI,
    B_LEN_LO,
    B_MAGIC,
    B_REFS,
    B_SIZE,
    B_VERKIND,
    CORRUPT_THREADS,
    H_THREAD_OVERFLOW,
    KIND_LEDGER,
    OP_ALLOC,
    OP_DROP,
    OP_NONE,
    OP_SHARE,
    T_HELD,
    T_LEDGER,
    T_LEDGER_NEXT,
    T_LEDGER_OLD,
    T_PEND_AUX,
    T_PEND_CHECK,
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
    UNIT,
    WORDS_PER_UNIT,
    header_check,
    pending_check,
)

L_CAP = 0
L_USED = 1
L_LIVE = 2
# Owner stamp: identity + 1 of the thread whose ledger this is.
L_OWNER = 3
ENTRIES = 4
INITIAL_CAPACITY = 256


def _hash(unit, cap):
    return ((unit * 0x9E3779B1) & 0xFFFFFFFF) & (cap - 1)


class ThreadTable:
    """Where the thread table is, and the heap's block range: from the checked header."""

    __slots__ = ("start", "cap", "data_start", "end")

    def __init__(self, start, cap, data_start, end):
        self.start = start
        self.cap = cap
        self.data_start = data_start
        self.end = end


def capacity_for(live):
    """Entries for a ledger holding ``live`` references with room to grow (at most 40% full)."""
    cap = INITIAL_CAPACITY
    while (live + 1) * 10 > cap * 4:
        cap *= 2
    return cap


def ledger_capacity(w, unit, owner, t):
    """Capacity of the ledger block at ``unit`` if it is one (an allocated ledger block with an
    intact header and a capacity that fits it) stamped with ``owner`` (identity + 1), else -1."""
    if not (t.data_start <= unit < t.end):
        return -1
    b = unit * WORDS_PER_UNIT
    verkind = w.get(b + B_VERKIND)
    size = w.getu(b + B_SIZE)
    len_lo = w.getu(b + B_LEN_LO)
    len_hi = w.getu(b + B_LEN_HI)
    if (
        w.get(b + B_MAGIC) != ALLOC_MAGIC
        or (verkind & 0xFFFFFFFF) >> 16 != KIND_LEDGER
        or size < 1
        or size > t.end - unit
        or w.get(b + B_CHECK) != header_check(verkind, w.get(b + B_GEN), size, len_lo, len_hi)
    ):
        return -1
    base = (unit + 1) * WORDS_PER_UNIT
    cap = w.get(base + L_CAP)
    if w.get(base + L_OWNER) != owner:
        return -1
    if not (cap >= 1 and (cap & (cap - 1)) == 0 and (ENTRIES + 2 * cap) * 4 <= len_hi * 2**32 + len_lo):
        return -1
    return cap


def ledger_entries(w, ledger_unit, cap):
    """Every (unit -> count > 0) entry of the ledger block at ``ledger_unit`` of capacity ``cap``."""
    out = {}
    if ledger_unit == 0 or cap <= 0:
        return out
    base = (ledger_unit + 1) * WORDS_PER_UNIT + ENTRIES
    mv = w.mv
    mvu = w.mvu
    for i in range(cap):
        key = mvu[base + 2 * i]
        count = mv[base + 2 * i + 1]
        if key != 0 and count > 0:
            out[key] = out.get(key, 0) + count
    return out


def set_ledger_count(w, ledger_unit, cap, unit, count):
    """Sets a dead identity's ledger count for ``unit`` to ``count`` (absolute, so doing it twice
    is the same as once). False when the ledger has no slot for it."""
    if ledger_unit == 0 or cap <= 0:
        return False
    base = (ledger_unit + 1) * WORDS_PER_UNIT + ENTRIES
    free = -1
    found = False
    for i in range(cap):
        key = w.getu(base + 2 * i)
        if key == unit:
            # The first slot of the unit gets the count; any other (a duplicate) is emptied.
            w.set(base + 2 * i + 1, 0 if found else count)
            found = True
        elif free < 0 and (key == 0 or w.get(base + 2 * i + 1) <= 0):
            free = i
    if found:
        return True
    if free < 0:
        return False
    # The count first, then the key: a slot with key 0 counts for nothing if the reaper stops here.
    w.set(base + 2 * free + 1, count)
    w.set(base + 2 * free, unit)
    return True


def drain_ledger(w, ledger_unit, cap, drop):
    """Drains a dead identity's ledger: for every entry with a count, sets the count to 0 and
    then calls ``drop(unit, count)`` (a reaper that dies in the middle never drops twice)."""
    if ledger_unit == 0 or cap <= 0:
        return
    base = (ledger_unit + 1) * WORDS_PER_UNIT + ENTRIES
    for i in range(cap):
        key = w.getu(base + 2 * i)
        count = w.get(base + 2 * i + 1)
        if key == 0 or count <= 0:
            continue
        w.set(base + 2 * i + 1, 0)
        drop(key, count)


class Pending:
    """What a dead identity's pending operation means for the block it was on."""

    __slots__ = ("unit", "count", "must_free", "orphan_ticket")

    def __init__(self, unit, count, must_free, orphan_ticket):
        self.unit = unit
        self.count = count
        self.must_free = must_free
        self.orphan_ticket = orphan_ticket


_INVALID = object()  # a record that fails its check (resolvePending's null)


def resolve_pending(w, entry, t):
    """What a dead identity's pending operation means (see ledger.ts resolvePending): a Pending,
    None when there is nothing to settle, or INVALID when the record fails its check word."""
    op = w.load(entry + T_PEND_OP)
    if op == OP_NONE:
        return None
    unit = w.load(entry + T_PEND_UNIT) & 0xFFFFFFFF
    gen = w.load(entry + T_PEND_GEN)
    before = w.load(entry + T_PEND_COUNT)
    # An allocation records its unit and generation later, inside the allocator: no check word.
    if op != OP_ALLOC and w.load(entry + T_PEND_CHECK) != pending_check(op, unit, gen, before):
        return INVALID
    if unit == 0:
        return None
    if not (t.data_start <= unit < t.end) or before < 0:
        return INVALID
    phase = w.load(entry + T_PEND_PHASE)
    if phase < 0 or phase > 2:
        return INVALID
    base = unit * WORDS_PER_UNIT
    same_block = w.get(base + B_MAGIC) == ALLOC_MAGIC and w.get(base + B_GEN) == gen
    if op == OP_ALLOC:
        return Pending(unit, 1 if same_block else 0, False, -1)
    if op == OP_DROP and phase == 2:
        return Pending(unit, 0, same_block and w.load(base + B_REFS) == 0, -1)
    # The identity held (or was adopting) a reference, so the block it recorded is alive unless
    # the handle it was adopting was stale: a record for another block says nothing about this one.
    if not same_block:
        return None
    if op == OP_DROP:
        return Pending(unit, before - 1 if phase == 1 else before, False, -1)
    if op == OP_SHARE:
        # The handle never left the identity: the reference taken for it is its to drop.
        return Pending(
            unit, before + 1 if phase >= 1 else before, False, w.load(entry + T_PEND_AUX) if phase == 2 else -1
        )
    # retain or adopt
    return Pending(unit, before + 1 if phase == 1 else before, False, -1)


INVALID = _INVALID


class Ledger:
    """The ledger of one identity (``thread_id``: slot * 2**21 + thread index)."""

    def __init__(self, w, alloc, thread_id, table):
        self.w = w
        self.alloc = alloc
        self.thread_id = thread_id
        self.table = table
        self.slot = -1
        self.entry = -1  # word index of this identity's table entry
        self.base = 0  # word index of the ledger payload
        self.unit = 0
        self.cap = 0
        self.disabled = False
        # The ledger block lies below some object (it grew while the top was taken): move it up.
        self.misplaced = False

    def _corrupt(self, what):
        self.alloc.mark_corrupt(CORRUPT_THREADS)
        return CorruptError(
            f"Heap metadata is corrupt: {what}. The heap is now marked corrupt: allocations and attaches "
            "fail in every thread. Objects already attached stay readable: copy out what you need and "
            "create a new heap.",
            {"reason": CORRUPT_THREADS},
        )

    @property
    def phase_word(self):
        return -1 if self.entry < 0 else self.entry + T_PEND_PHASE

    @property
    def op_word(self):
        return -1 if self.entry < 0 else self.entry + T_PEND_OP

    @property
    def held_word(self):
        return -1 if self.entry < 0 else self.entry + T_HELD

    @property
    def aux_word(self):
        return -1 if self.entry < 0 else self.entry + T_PEND_AUX

    def _ensure(self):
        """Claims a thread-table slot on first use; False when the table is full. Once claimed,
        checks on every call that the entry still names this identity."""
        w = self.w
        if self.slot >= 0:
            e = self.entry
            if w.get(e + T_STATE) == THREAD_LIVE and w.get(e + T_THREAD) == self.thread_id:
                return True
            raise self._corrupt(
                f"the thread-table entry of thread {self.thread_id} no longer names it (state "
                f"{w.load(e + T_STATE)}, thread {w.load(e + T_THREAD)})"
            )
        if self.disabled:
            return False
        start = self.table.start
        cap = self.table.cap
        # This identity may already have an entry (the heap was opened before): adopt it.
        for i in range(cap):
            at = start + i * THREAD_WORDS
            if w.load(at + T_STATE) == THREAD_LIVE and w.load(at + T_THREAD) == self.thread_id:
                unit = w.load(at + T_LEDGER) & 0xFFFFFFFF
                lcap = 0
                if unit != 0:
                    lcap = ledger_capacity(w, unit, self.thread_id + 1, self.table)
                    if lcap < 0:
                        raise self._corrupt(f"the ledger of thread {self.thread_id} (block {unit}) fails its check")
                self.slot = i
                self.entry = at
                self.unit = unit
                self.base = 0 if unit == 0 else (unit + 1) * WORDS_PER_UNIT
                self.cap = lcap
                self.misplaced = unit != 0 and not self.alloc.is_top_placed(unit)
                return True
        for i in range(cap):
            at = start + i * THREAD_WORDS
            if w.load(at + T_STATE) == THREAD_FREE and w.cas(at + T_STATE, THREAD_FREE, THREAD_CLAIMING) == THREAD_FREE:
                for k in range(1, THREAD_WORDS):
                    w.store(at + k, 0)
                w.store(at + T_THREAD, self.thread_id)
                self.slot = i
                self.entry = at
                try:
                    self._grow(INITIAL_CAPACITY)
                except BaseException:
                    # No ledger: give the entry back whole.
                    self.reset()
                    for k in range(1, THREAD_WORDS):
                        w.store(at + k, 0)
                    w.store(at + T_STATE, THREAD_FREE)
                    raise
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

    def _grow(self, capacity, above=0, hint=0):
        """Moves the table into a new block of ``capacity`` entries and publishes it. With
        ``above``, only if the new block lies above that unit (a move up)."""
        w = self.w
        entry = self.entry
        nbytes = (ENTRIES + 2 * capacity) * 4
        unit, _, _ = self.alloc.allocate(
            nbytes, KIND_LEDGER, "a thread ledger", lambda u, g: w.store(entry + T_LEDGER_NEXT, u), hint
        )
        if unit < above:
            # Another process took the room above meanwhile: stay where we are.
            self.alloc.free(unit)
            w.store(entry + T_LEDGER_NEXT, 0)
            return False
        base = (unit + 1) * WORDS_PER_UNIT
        w.zero(base, nbytes // 4)
        w.set(base + L_CAP, capacity)
        w.set(base + L_OWNER, self.thread_id + 1)
        old = self.unit
        old_base = self.base
        old_cap = self.cap
        self.unit = unit
        self.base = base
        self.cap = capacity
        if old != 0:
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
        self.misplaced = not self.alloc.is_top_placed(unit)
        return True

    def _release(self):
        """Frees the ledger block of an identity that holds no reference (prepare() makes a new one)."""
        w = self.w
        entry = self.entry
        old = self.unit
        w.store(entry + T_LEDGER_OLD, old)
        w.store(entry + T_LEDGER, 0)
        self.unit = 0
        self.base = 0
        self.cap = 0
        self.misplaced = False
        self.alloc.free(old)
        w.store(entry + T_LEDGER_OLD, 0)

    def maintain(self, freed):
        """Housekeeping after a drop, outside any recorded operation: frees the ledger when the
        identity holds nothing, shrinks it after a burst, moves a misplaced one up."""
        if self.slot < 0 or self.unit == 0:
            return
        live = self.w.get(self.base + L_LIVE)
        if live == 0:
            self._release()
            return
        if self.cap > INITIAL_CAPACITY and live * 10 < self.cap:
            self._grow(capacity_for(live))
            return
        if self.misplaced and freed:
            units = 1 + -(-((ENTRIES + 2 * self.cap) * 4) // UNIT)
            hint = self.alloc.relocation_hint(self.unit, units)
            if hint != 0:
                self._grow(self.cap, self.unit, hint)

    def prepare(self):
        """Makes sure one more entry fits without allocating. False without a ledger."""
        if not self._ensure():
            return False
        if self.unit == 0:
            self._grow(INITIAL_CAPACITY)
            return True
        used = self.w.get(self.base + L_USED)
        if (used + 1) * 10 > self.cap * 7:
            self._grow(capacity_for(self.w.get(self.base + L_LIVE)))
        return True

    def begin(self, op, unit, generation):
        """Records the start of a reference operation on ``unit`` (phase 0)."""
        if self.entry < 0:
            return
        w = self.w
        e = self.entry
        count = 0 if unit == 0 else self.count(unit)
        w.set(e + T_PEND_OP, OP_NONE)
        w.set(e + T_PEND_UNIT, unit)
        w.set(e + T_PEND_GEN, generation)
        w.set(e + T_PEND_COUNT, count)
        w.set(e + T_PEND_PHASE, 0)
        w.set(e + T_PEND_CHECK, pending_check(op, unit, generation, count))
        w.set(e + T_PEND_OP, op)

    def commit_alloc(self, unit, generation):
        """For an allocation: records the unit chosen (inside the allocator lock) and its entry."""
        if self.entry >= 0:
            self.w.set(self.entry + T_PEND_GEN, generation)
            self.w.set(self.entry + T_PEND_UNIT, unit)
        self.add(unit)

    def end(self):
        """The recorded operation completed."""
        if self.entry < 0:
            return
        self.w.set(self.entry + T_PEND_OP, OP_NONE)
        self.w.set(self.entry + T_PEND_CHECK, 0)

    def _probe(self, unit, for_insert):
        """The slot of ``unit``, or where to insert it (at most ``cap`` probes)."""
        mvu = self.w.mvu
        mv = self.w.mv
        cap = self.cap
        mask = cap - 1
        base = self.base + ENTRIES
        tomb = -1
        i = _hash(unit, cap)
        for _ in range(cap):
            key = mvu[base + 2 * i]
            if key == unit:
                return i
            if key == 0:
                return tomb if for_insert and tomb >= 0 else i
            if for_insert and tomb < 0 and mv[base + 2 * i + 1] == 0:
                tomb = i
            i = (i + 1) & mask
        if for_insert and tomb >= 0:
            return tomb
        raise self._corrupt(f"the ledger of thread {self.thread_id} has no empty slot")

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
        """This identity's recorded count for ``unit``."""
        if self.slot < 0 or self.unit == 0:
            return 0
        at = self.base + ENTRIES + 2 * self._probe(unit, False)
        return self.w.get(at + 1) if self.w.getu(at) == unit else 0

    def add(self, unit):
        if self.slot < 0 or self.unit == 0:
            return
        self._put(unit, 1)

    def remove(self, unit):
        if self.slot < 0 or self.unit == 0:
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
        return 0 if self.slot < 0 or self.unit == 0 else self.w.get(self.base + L_LIVE)

    def reset(self):
        """Forgets the thread-table slot after it was released."""
        self.slot = -1
        self.entry = -1
        self.unit = 0
        self.base = 0
        self.cap = 0
        self.misplaced = False

    @property
    def reserve_units(self):
        """Units the next reference operation must allocate for this ledger first (a first block)."""
        needs = self.unit == 0 if self.slot >= 0 else not self.disabled
        return 1 + -(-((ENTRIES + 2 * INITIAL_CAPACITY) * 4) // UNIT) if needs else 0
