"""The allocator engine: ``src/heap/allocator.ts`` for Python, word for word.

A TLSF (two-level segregated fit) allocator over 64-byte units whose whole state lives in the
heap, guarded by one lock word holding its owner's identity + 1 (``H_LOCK``). Every change is
ordered so that the physical chain of block sizes is walkable after any single write; whoever
finds the lock held by a dead owner rebuilds free lists and counters from that walk
(:meth:`Allocator.repair_if_owned_by`).

Nothing read from the heap is trusted: a free block carries a check word over its position, size
and back link (``free_check``), an allocated one over its immutable header (``header_check``),
and every free-list link is followed only after the block it names passed its check, sits in the
list's size class and links back. A failed check marks the heap corrupt (``H_CORRUPT``) before
anything was written through the bad word. Keep it in step with allocator.ts.
"""
import time

from ..errors import CorruptError, HeapFullError, ShmframeTimeoutError
from .layout import (
    ALLOC_MAGIC,
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
    CORRUPT_BLOCKS,
    CORRUPT_HEADER,
    CORRUPT_LOCK,
    CORRUPT_REFS,
    CORRUPT_THREADS,
    FIRST_LEVELS,
    FREE_MAGIC,
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
    INTERNAL_KIND,
    LAYOUT_VERSION,
    SECOND_LEVEL_BITS,
    SECOND_LEVELS,
    SENTINEL_MAGIC,
    UNIT,
    WORDS_PER_UNIT,
    free_check,
    header_check,
    i32,
    water_check,
)

SPINS = 64
# How long a waiter sleeps before it asks whether the lock's owner is gone, in ms.
LOCK_SLICE_MS = 100
# How long an owner the heap believes alive may hold the allocator lock before a waiter gives up
# with SHMFRAME_ERR_TIMEOUT, in ms.
LOCK_STUCK_MS = 5000
# How many blocks below the end of the heap an internal allocation looks through for the highest
# free block, and how far is_top_placed looks.
TOP_WALK = 64
_SL_MASK = SECOND_LEVELS - 1
_CLASSES = FIRST_LEVELS * SECOND_LEVELS


def _ctz(x):
    x &= 0xFFFFFFFF
    return (x & -x).bit_length() - 1


def _bitlen(x):
    """31 - Math.clz32(x) for x > 0: the index of the highest set bit."""
    return (x & 0xFFFFFFFF).bit_length() - 1


def mapping(units):
    """First/second level index of a free block of ``units``."""
    if units < SECOND_LEVELS:
        return units
    l = units.bit_length() - 1
    fl = l - SECOND_LEVEL_BITS + 1
    sl = (units >> (l - SECOND_LEVEL_BITS)) & _SL_MASK
    return fl * SECOND_LEVELS + sl


def format_bytes(n):
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


_REASONS = {
    CORRUPT_BLOCKS: "a block header, free-list link or block size failed its check",
    CORRUPT_HEADER: "a control word of the heap failed its check",
    CORRUPT_THREADS: "the thread table or a thread's ledger failed its check",
    CORRUPT_LOCK: "the allocator lock was taken from a thread that still held it",
    CORRUPT_REFS: "a reference count was below the references this thread holds",
}

ADVICE = (
    "Objects already attached stay readable: copy out what you need and create a new heap. "
    "Something wrote into the heap outside its objects (a view past its end, another process, a bug)."
)


def corrupt_reason(reason):
    """What a reason code in ``H_CORRUPT`` means."""
    return _REASONS.get(reason, f"reason code {reason}")


def corrupt_heap_error(reason):
    """The error every allocation and attach of a heap marked corrupt fails with."""
    return CorruptError(
        f"This heap was marked corrupt ({corrupt_reason(reason)}), so it refuses new allocations "
        f"and attaches in every thread. {ADVICE}",
        {"reason": reason},
    )


class _Nobody:
    """Lock owners for an allocator that never takes a lock over (formatting)."""

    @staticmethod
    def gone(owner):
        return False

    @staticmethod
    def visit():
        return -1

    @staticmethod
    def leave(token):
        pass


class Allocator:
    """The allocator of one heap. ``me_tid`` is a callable: the calling thread's identity (lock
    words hold it + 1). ``owners`` (``gone(tid)``, ``visit()``, ``leave(token)``) tells whether
    a lock owner is provably gone and makes a thread without a ledger findable while it holds the
    lock. ``data_start`` and ``end`` come from the checked header (never re-read)."""

    def __init__(self, words, me_tid, data_start, end, owners=None):
        self.w = words
        self.me_tid = me_tid
        self._ds = data_start
        self._end = end
        self._owners = owners if owners is not None else _Nobody
        self._visitor = -1
        self._visit_depth = 0

    # ------------------------------------------------------------------ format

    @staticmethod
    def format(w, data_start, end):
        """Writes a fresh allocator state: one free block spanning [data_start, end) and a sentinel."""
        for i in range(FIRST_LEVELS):
            w.set(H_SL_BITMAPS + i, 0)
        for i in range(_CLASSES):
            w.set(H_HEADS + i, 0)
        w.set(H_FL_BITMAP, 0)
        w.set(H_HIGH_WATER, data_start)
        w.set(H_TOP_WATER, end)
        w.set(H_WATER_CHECK, water_check(data_start, end))
        a = Allocator(w, lambda: -1, data_start, end)
        b = end * WORDS_PER_UNIT
        w.set(b + B_MAGIC, SENTINEL_MAGIC)
        w.set(b + B_SIZE, 1)
        w.set(b + B_PREV, data_start)
        a._make_free(data_start, end - data_start, 0)
        a._insert(data_start, end - data_start)
        w.set(H_FREE_UNITS, end - data_start)

    # ------------------------------------------------------------------ corruption

    @property
    def corrupt(self):
        """0, or why the heap was marked corrupt."""
        return self.w.load(H_CORRUPT)

    def mark_corrupt(self, reason):
        """Marks the heap corrupt for every process (the first reason stays)."""
        self.w.cas(H_CORRUPT, 0, reason)

    def _corrupt(self, reason, what):
        self.mark_corrupt(reason)
        return CorruptError(
            f"Heap metadata is corrupt: {what}. The heap is now marked corrupt: allocations and "
            f"attaches fail in every thread. {ADVICE}",
            {"reason": reason},
        )

    # ------------------------------------------------------------------ lock

    def _visit(self):
        # Findable before the lock word names this thread, so no waiter ever thinks it gone. A
        # lock taken while waiting for it (a stalled wait releasing a dead process) shares the
        # outer visit.
        if self._visit_depth == 0:
            self._visitor = self._owners.visit()
        self._visit_depth += 1

    def _leave(self):
        if self._visit_depth == 0:
            return
        self._visit_depth -= 1
        if self._visit_depth == 0 and self._visitor >= 0:
            token = self._visitor
            self._visitor = -1
            self._owners.leave(token)

    def lock(self):
        w = self.w
        me = self.me_tid() + 1
        self._visit()
        if w.cas(H_LOCK, 0, me) == 0:
            return
        for _ in range(SPINS):
            if w.load(H_LOCK) == 0 and w.cas(H_LOCK, 0, me) == 0:
                return
        try:
            self._lock_slow(me)
        except BaseException:
            self._leave()
            raise

    def _lock_slow(self, me):
        """Sleeps in slices. After a slice in which the word kept naming the same owner, the owner
        is asked after: one that is gone (or this very identity: the lock is not reentrant, so
        the word is stale) is taken over and the allocator rebuilt; a live one is given
        LOCK_STUCK_MS."""
        w = self.w
        w.add(H_LOCK_WAITERS, 1)
        try:
            stuck = 0
            while True:
                c = w.load(H_LOCK)
                if c == 0:
                    if w.cas(H_LOCK, 0, me) == 0:
                        return
                    continue
                if c == me:
                    if self._take_over(c, me):
                        return
                    continue
                if w.wait(H_LOCK, c, LOCK_SLICE_MS) != "timed-out" or w.load(H_LOCK) != c:
                    stuck = 0
                    continue
                if self._owners.gone(c - 1):
                    if self._take_over(c, me):
                        return
                    continue
                stuck = stuck + LOCK_SLICE_MS if self._held_still(c) else 0
                if stuck >= LOCK_STUCK_MS:
                    raise ShmframeTimeoutError(
                        f"Waited {LOCK_STUCK_MS} ms for the heap's allocator lock, held by identity {c - 1}, "
                        "which the heap believes alive (a live thread holds it for microseconds). If its "
                        "process was killed, the heap releases it once that process is seen gone; otherwise "
                        "the lock word was overwritten.",
                        {"owner": c - 1, "waited": LOCK_STUCK_MS},
                    )
        finally:
            w.sub(H_LOCK_WAITERS, 1)

    def _held_still(self, c):
        """True when the lock word kept the value ``c`` for the next 2 ms."""
        until = time.monotonic() + 0.002
        while time.monotonic() < until:
            if self.w.load(H_LOCK) != c:
                return False
            self.w.wait(H_LOCK, c, 0.25)
        return self.w.load(H_LOCK) == c

    def _take_over(self, owner, me):
        """Takes the lock from ``owner``, which is gone, and rebuilds what it may have left half done."""
        if self.w.cas(H_LOCK, owner, me) != owner:
            return False
        try:
            if self.corrupt == 0:
                self._rebuild()
        except BaseException:
            self.unlock()
            raise
        return True

    def unlock(self):
        w = self.w
        # The word changes under a holder only if someone took the lock over, believing this
        # thread gone; then nothing can be trusted after that.
        held = w.get(H_LOCK) == self.me_tid() + 1
        if held:
            w.store(H_LOCK, 0)
        self._leave()
        if not held:
            self.mark_corrupt(CORRUPT_LOCK)
        if w.load(H_LOCK_WAITERS) > 0:
            w.notify(H_LOCK, 1)

    def lock_owner(self):
        """Owner identity of the lock, or -1 when free."""
        return self.w.load(H_LOCK) - 1

    # ------------------------------------------------------------------ checked access

    def _hw(self, unit, field):
        return self.w.get(unit * WORDS_PER_UNIT + field)

    def _hwu(self, unit, field):
        return self.w.getu(unit * WORDS_PER_UNIT + field)

    def _hset(self, unit, field, v):
        self.w.set(unit * WORDS_PER_UNIT + field, v)

    def _free_size(self, u):
        """Size of the free block at ``u`` if it passes every check, else 0."""
        if not (self._ds <= u < self._end):
            return 0
        w = self.w
        b = u * WORDS_PER_UNIT
        if w.get(b + B_MAGIC) != FREE_MAGIC:
            return 0
        size = w.getu(b + B_SIZE)
        if size < 1 or size > self._end - u:
            return 0
        return size if w.get(b + B_CHECK) == free_check(u, size, w.getu(b + B_PREV)) else 0

    def allocated_intact(self, u):
        """Whether the header of allocated block ``u`` is intact (in the heap, magic, size, check)."""
        if not (self._ds <= u < self._end):
            return False
        w = self.w
        b = u * WORDS_PER_UNIT
        if w.get(b + B_MAGIC) != ALLOC_MAGIC:
            return False
        size = w.getu(b + B_SIZE)
        if size < 1 or size > self._end - u:
            return False
        return w.get(b + B_CHECK) == header_check(
            w.get(b + B_VERKIND), w.get(b + B_GEN), size, w.getu(b + B_LEN_LO), w.getu(b + B_LEN_HI)
        )

    def check_allocated(self, unit):
        """Size of allocated block ``unit``; raises SHMFRAME_ERR_CORRUPT (and marks the heap) if it
        is not an allocated block with an intact header."""
        if not self.allocated_intact(unit):
            in_heap = self._ds <= unit < self._end
            raise self._corrupt(
                CORRUPT_BLOCKS,
                f"unit {unit} was to be freed but is not an allocated block (freed twice?)"
                if not in_heap or self._hw(unit, B_MAGIC) != ALLOC_MAGIC
                else f"the header of block {unit} does not match its check word",
            )
        return self._hwu(unit, B_SIZE)

    def _listed(self, u, idx, back):
        """Size of ``u``, reached through class ``idx``'s list from ``back`` (0: the head)."""
        size = self._free_size(u)
        if size == 0 or mapping(size) != idx or self._hwu(u, B_PREV_FREE) != back:
            raise self._corrupt(
                CORRUPT_BLOCKS,
                f"the free list of size class {idx} starts at unit {u}, which is not a free block of that class"
                if back == 0
                else f"free block {back} links to unit {u}, which is not the free block of class {idx} that links back",
            )
        return size

    # ------------------------------------------------------------------ free lists

    def _make_free(self, unit, size, prev):
        """Writes a free block's header; the magic last, so the block is free only once whole."""
        self._hset(unit, B_SIZE, size)
        self._hset(unit, B_PREV, prev)
        self._hset(unit, B_NEXT_FREE, 0)
        self._hset(unit, B_PREV_FREE, 0)
        self._hset(unit, B_GEN, 0)
        self._hset(unit, B_CHECK, free_check(unit, size, prev))
        self._hset(unit, B_MAGIC, FREE_MAGIC)

    def _insert(self, unit, size):
        w = self.w
        idx = mapping(size)
        fl = idx >> SECOND_LEVEL_BITS
        head = w.getu(H_HEADS + idx)
        if head != 0:
            self._listed(head, idx, 0)
        self._hset(unit, B_NEXT_FREE, head)
        self._hset(unit, B_PREV_FREE, 0)
        if head != 0:
            self._hset(head, B_PREV_FREE, unit)
        w.set(H_HEADS + idx, unit)
        w.set(H_SL_BITMAPS + fl, w.get(H_SL_BITMAPS + fl) | (1 << (idx & _SL_MASK)))
        w.set(H_FL_BITMAP, w.get(H_FL_BITMAP) | (1 << fl))

    def _remove(self, unit, size):
        """Unlinks free block ``unit`` of ``size`` after checking both its neighbours link to it."""
        w = self.w
        idx = mapping(size)
        nxt = self._hwu(unit, B_NEXT_FREE)
        prev = self._hwu(unit, B_PREV_FREE)
        if prev != 0:
            ps = self._free_size(prev)
            if ps == 0 or mapping(ps) != idx or self._hwu(prev, B_NEXT_FREE) != unit:
                raise self._corrupt(
                    CORRUPT_BLOCKS, f"free block {unit} links back to unit {prev}, which does not link to it"
                )
        elif w.getu(H_HEADS + idx) != unit:
            raise self._corrupt(
                CORRUPT_BLOCKS,
                f"free block {unit} claims to head the list of size class {idx}, which starts at {w.getu(H_HEADS + idx)}",
            )
        if nxt != 0:
            self._listed(nxt, idx, unit)
        if prev != 0:
            self._hset(prev, B_NEXT_FREE, nxt)
        else:
            w.set(H_HEADS + idx, nxt)
            if nxt == 0:
                fl = idx >> SECOND_LEVEL_BITS
                sl = w.get(H_SL_BITMAPS + fl) & ~(1 << (idx & _SL_MASK))
                w.set(H_SL_BITMAPS + fl, sl)
                if (sl & 0xFFFFFFFF) == 0:
                    w.set(H_FL_BITMAP, w.get(H_FL_BITMAP) & ~(1 << fl))
        if nxt != 0:
            self._hset(nxt, B_PREV_FREE, prev)

    def _find(self, units):
        """A free block of at least ``units`` and its size, or (0, 0): the head of its own class,
        the TLSF good fit, then a first fit along the request's own class list."""
        w = self.w
        own_idx = mapping(units)
        own = w.getu(H_HEADS + own_idx)
        if own != 0:
            size = self._listed(own, own_idx, 0)
            if size >= units:
                return own, size
        search = units
        if units >= SECOND_LEVELS:
            l = units.bit_length() - 1
            search = units + 2 ** (l - SECOND_LEVEL_BITS) - 1
        if search < 2**32:
            idx = mapping(search)
            fl = idx >> SECOND_LEVEL_BITS
            sl_map = w.getu(H_SL_BITMAPS + fl) & ((0xFFFFFFFF << (idx & _SL_MASK)) & 0xFFFFFFFF)
            if sl_map == 0 and fl + 1 < FIRST_LEVELS:
                fl_map = w.getu(H_FL_BITMAP) & ((0xFFFFFFFF << (fl + 1)) & 0xFFFFFFFF)
                if fl_map != 0:
                    fl = _ctz(fl_map)
                    sl_map = w.getu(H_SL_BITMAPS + fl)
                    if sl_map == 0:
                        raise self._corrupt(
                            CORRUPT_HEADER, f"first-level bitmap bit {fl} is set over an empty second level"
                        )
            if sl_map != 0:
                at = fl * SECOND_LEVELS + _ctz(sl_map)
                head = w.getu(H_HEADS + at)
                if head == 0:
                    raise self._corrupt(
                        CORRUPT_HEADER, f"the bitmap marks size class {at} non-empty but its list is empty"
                    )
                return head, self._listed(head, at, 0)
        limit = self._end - self._ds
        u = own
        back = 0
        n = 0
        while u != 0:
            if n > limit:
                raise self._corrupt(CORRUPT_BLOCKS, f"the free list of class {own_idx} does not end")
            size = self._listed(u, own_idx, back)
            if size >= units:
                return u, size
            back = u
            u = self._hwu(u, B_NEXT_FREE)
            n += 1
        return 0, 0

    # ------------------------------------------------------------------ allocate / free

    def allocate(self, payload_bytes, kind, what, on_commit=None, hint=0):
        """Allocates a block of ``payload_bytes`` payload. Returns (unit, dirty_head, dirty_tail):
        which payload bytes may hold old data (the rest was never written and is zero). Internal
        blocks are carved from the top of the highest free block that fits (or ``hint``)."""
        units = 1 + -(-payload_bytes // UNIT)
        from_top = kind >= INTERNAL_KIND
        w = self.w
        end = self._end
        self.lock()
        try:
            reason = w.load(H_CORRUPT)
            if reason != 0:
                raise corrupt_heap_error(reason)
            found = 0
            size = 0
            if from_top:
                h = self._free_size(hint) if hint != 0 else 0
                if h >= units:
                    found = hint
                    size = h
                else:
                    u = self._highest_fit(units, 0)
                    if u != 0:
                        found = u
                        size = self._free_size(u)
            if found == 0 and units < 2**32:
                found, size = self._find(units)
            if found == 0:
                raise self._full_error(payload_bytes, what)
            hw = w.getu(H_HIGH_WATER)
            top = w.getu(H_TOP_WATER)
            if w.get(H_WATER_CHECK) != water_check(hw, top) or not (
                self._ds <= hw <= end and self._ds <= top <= end
            ):
                raise self._corrupt(CORRUPT_HEADER, f"the water marks ({hw}, {top}) do not match their check word")
            self._remove(found, size)
            nxt = found + size
            unit = nxt - units if from_top and size > units else found
            # The water marks move before anything is written above them.
            new_hw = hw
            new_top = top
            if from_top:
                if unit < new_top:
                    new_top = unit
            else:
                rest = found + units
                if size > units and rest + 1 > new_hw and rest < top:
                    new_hw = rest + 1
                if unit + units > new_hw and unit < new_top:
                    new_hw = unit + units
            if new_hw != hw or new_top != top:
                w.set(H_HIGH_WATER, new_hw)
                w.set(H_TOP_WATER, new_top)
                w.set(H_WATER_CHECK, water_check(new_hw, new_top))
            if size > units:
                # Split so the physical chain stays walkable after every single write.
                if from_top:
                    self._hset(unit, B_MAGIC, FREE_MAGIC)
                    self._hset(unit, B_SIZE, units)
                    self._hset(unit, B_PREV, found)
                    self._hset(unit, B_CHECK, free_check(unit, units, found))
                    self._hset(found, B_SIZE, size - units)
                    self._hset(found, B_CHECK, free_check(found, size - units, self._hwu(found, B_PREV)))
                    self._hset(nxt, B_PREV, unit)
                    self._insert(found, size - units)
                else:
                    rest = found + units
                    self._make_free(rest, size - units, found)
                    self._hset(found, B_SIZE, units)
                    self._hset(nxt, B_PREV, rest)
                    self._insert(rest, size - units)
            payload = (unit + 1) * UNIT
            dirty_head = max(0, min(payload_bytes, hw * UNIT - payload))
            dirty_tail = max(0, min(payload_bytes - dirty_head, payload + payload_bytes - top * UNIT))
            gen = i32(w.add(H_GEN, 1) + 1)
            if gen == 0:
                gen = i32(w.add(H_GEN, 1) + 1)
            verkind = i32((kind << 16) | LAYOUT_VERSION)
            len_lo = payload_bytes & 0xFFFFFFFF
            len_hi = payload_bytes >> 32
            self._hset(unit, B_VERKIND, verkind)
            self._hset(unit, B_GEN, gen)
            w.store(unit * WORDS_PER_UNIT + B_REFS, 1)
            self._hset(unit, B_LEN_LO, len_lo)
            self._hset(unit, B_LEN_HI, len_hi)
            self._hset(unit, B_CHECK, header_check(verkind, gen, units, len_lo, len_hi))
            self._hset(unit, B_NEXT_FREE, 0)
            self._hset(unit, B_PREV_FREE, 0)
            # Recorded by the caller (its ledger) before the block counts as allocated.
            if on_commit is not None:
                on_commit(unit, gen)
            self._hset(unit, B_MAGIC, ALLOC_MAGIC)
            w.set(H_FREE_UNITS, w.getu(H_FREE_UNITS) - units)
            if from_top:
                w.set(H_INTERNAL_UNITS, w.getu(H_INTERNAL_UNITS) + units)
                w.set(H_INTERNAL_OBJECTS, w.get(H_INTERNAL_OBJECTS) + 1)
            else:
                w.set(H_USED_UNITS, w.getu(H_USED_UNITS) + units)
                w.set(H_OBJECTS, w.get(H_OBJECTS) + 1)
        finally:
            self.unlock()
        return unit, dirty_head, dirty_tail

    def _highest_fit(self, units, above):
        """The highest free block of at least ``units`` above unit ``above``, looking at the last
        TOP_WALK blocks of the heap; 0 if none there. Called under the lock."""
        u = self._end
        for _ in range(TOP_WALK):
            u = self._hwu(u, B_PREV)
            if u == 0 or u <= above:
                return 0
            if self._free_size(u) >= units:
                return u
        return 0

    def relocation_hint(self, unit, units):
        """Where internal block ``unit`` (to be rebuilt with ``units``) should move to stop
        splitting the space objects use; 0: stay."""
        self.lock()
        try:
            top = self._highest_fit(units, unit)
            if top != 0:
                return top
            nxt = unit + self._hwu(unit, B_SIZE)
            return nxt if self._free_size(nxt) >= units else 0
        finally:
            self.unlock()

    def is_top_placed(self, unit):
        """Whether nothing but bookkeeping and free space lies between internal block ``unit`` and
        the end of the heap (looking at most TOP_WALK blocks down)."""
        self.lock()
        try:
            u = self._end
            for _ in range(TOP_WALK):
                u = self._hwu(u, B_PREV)
                if u == unit:
                    return True
                if u == 0 or u < unit:
                    return False
                if self._hw(u, B_MAGIC) == ALLOC_MAGIC and (self._hwu(u, B_VERKIND) >> 16) < INTERNAL_KIND:
                    return False
            return False
        finally:
            self.unlock()

    def _full_error(self, payload_bytes, what):
        free = self.w.getu(H_FREE_UNITS) * UNIT
        largest = max(0, (self._largest_free_units() - 1) * UNIT)
        end = self._end * UNIT
        return HeapFullError(
            f"Cannot allocate {format_bytes(payload_bytes)} ({payload_bytes} bytes) for {what}: the heap of "
            f"{format_bytes(end)} has {format_bytes(free)} free and its largest free block holds "
            f"{format_bytes(largest)} ({largest} bytes). Close objects you no longer need, or create "
            f"the heap larger.",
            {"requested": payload_bytes, "free": free, "largestFree": largest},
        )

    def free(self, unit):
        """Frees an allocated block, coalescing with free neighbours. In a heap marked corrupt it
        does nothing, and a block whose count was raised again meanwhile stays allocated."""
        w = self.w
        self.lock()
        try:
            if w.load(H_CORRUPT) != 0:
                return
            own = self.check_allocated(unit)
            kind = self._hwu(unit, B_VERKIND) >> 16
            if kind < INTERNAL_KIND and w.load(unit * WORDS_PER_UNIT + B_REFS) > 0:
                return
            # Both neighbours are checked before anything is written.
            nxt = unit + own
            next_size = 0
            if nxt < self._end and self._hw(nxt, B_MAGIC) == FREE_MAGIC:
                next_size = self._free_size(nxt)
                if next_size == 0 or self._hwu(nxt, B_PREV) != unit:
                    raise self._corrupt(CORRUPT_BLOCKS, f"free block {nxt} after block {unit} fails its check")
            prev = self._hwu(unit, B_PREV)
            if (unit != self._ds) if prev == 0 else not (self._ds <= prev < unit):
                raise self._corrupt(CORRUPT_BLOCKS, f"block {unit} has back link {prev}")
            prev_size = 0
            if prev != 0 and self._hw(prev, B_MAGIC) == FREE_MAGIC:
                prev_size = self._free_size(prev)
                if prev_size == 0 or prev + prev_size != unit:
                    raise self._corrupt(CORRUPT_BLOCKS, f"free block {prev} before block {unit} fails its check")
            size = own
            start = unit
            # Magic first: from here on the block is free for a repair, whatever else is done.
            self._hset(unit, B_MAGIC, FREE_MAGIC)
            self._hset(unit, B_GEN, 0)
            if next_size > 0:
                self._remove(nxt, next_size)
                size += next_size
                self._hset(unit, B_SIZE, size)
            if prev_size > 0:
                self._remove(prev, prev_size)
                size += prev_size
                self._hset(prev, B_SIZE, size)
                start = prev
            self._hset(start, B_NEXT_FREE, 0)
            self._hset(start, B_PREV_FREE, 0)
            self._hset(start, B_CHECK, free_check(start, size, self._hwu(start, B_PREV)))
            self._hset(start + size, B_PREV, start)
            self._insert(start, size)
            w.set(H_FREE_UNITS, w.getu(H_FREE_UNITS) + own)
            if kind >= INTERNAL_KIND:
                w.set(H_INTERNAL_UNITS, w.getu(H_INTERNAL_UNITS) - own)
                w.set(H_INTERNAL_OBJECTS, w.get(H_INTERNAL_OBJECTS) - 1)
            else:
                w.set(H_USED_UNITS, w.getu(H_USED_UNITS) - own)
                w.set(H_OBJECTS, w.get(H_OBJECTS) - 1)
        finally:
            self.unlock()

    def _largest_free_units(self):
        """Largest block of the highest non-empty class, walking only blocks that pass their checks."""
        w = self.w
        fl_map = w.getu(H_FL_BITMAP)
        if fl_map == 0:
            return 0
        fl = _bitlen(fl_map)
        sl_map = w.getu(H_SL_BITMAPS + fl)
        if sl_map == 0:
            return 0
        idx = fl * SECOND_LEVELS + _bitlen(sl_map)
        limit = self._end - self._ds
        best = 0
        u = w.getu(H_HEADS + idx)
        back = 0
        n = 0
        while u != 0 and n < limit:
            size = self._free_size(u)
            if size == 0 or mapping(size) != idx or self._hwu(u, B_PREV_FREE) != back:
                break
            best = max(best, size)
            back = u
            u = self._hwu(u, B_NEXT_FREE)
            n += 1
        return best

    def _largest_after_reserve(self, reserve):
        """The largest free block once an internal block of ``reserve`` units is carved where
        allocate would carve it (a thread without a ledger makes one before it allocates)."""
        largest = self._largest_free_units()
        if reserve == 0:
            return largest
        at = self._highest_fit(reserve, 0) or self._find(reserve)[0]
        if at == 0 or self._hwu(at, B_SIZE) != largest:
            return largest
        other = 0
        w = self.w
        idx = _CLASSES - 1
        while idx >= 0 and other == 0:
            guard = 0
            u = w.getu(H_HEADS + idx)
            while u != 0 and guard < 1_000_000:
                if u != at:
                    other = max(other, self._hwu(u, B_SIZE))
                u = self._hwu(u, B_NEXT_FREE)
                guard += 1
            idx -= 1
        return max(largest - reserve, other)

    def counters(self, reserve=0):
        """Counters; ``largestFreeUnits`` as if an internal block of ``reserve`` units were made."""
        w = self.w
        self.lock()
        try:
            return {
                "usedUnits": w.getu(H_USED_UNITS),
                "internalUnits": w.getu(H_INTERNAL_UNITS),
                "freeUnits": w.getu(H_FREE_UNITS),
                "objects": w.get(H_OBJECTS),
                "internalObjects": w.get(H_INTERNAL_OBJECTS),
                "largestFreeUnits": self._largest_after_reserve(reserve),
                "repairs": w.get(H_REPAIRS),
                "corrupt": w.load(H_CORRUPT),
            }
        finally:
            self.unlock()

    def walk(self, fn):
        """Calls ``fn(unit, size_units, magic, kind)`` for every block in address order."""
        self.lock()
        try:
            broken = self._walk(fn)
            if broken is not None:
                raise CorruptError(broken)
        finally:
            self.unlock()

    def _walk(self, fn):
        """Walks the physical chain; returns what broke it, if it broke."""
        end = self._end
        u = self._ds
        while u < end:
            size = self._hwu(u, B_SIZE)
            if size < 1 or size > end - u:
                return f"Heap block chain is broken at unit {u} (size {size} units, heap ends at {end})"
            fn(u, size, self._hw(u, B_MAGIC), self._hwu(u, B_VERKIND) >> 16)
            u += size
        return None

    def verify(self):
        """Checks every allocator invariant; returns the violations found (empty: consistent)."""
        w = self.w
        problems = []
        self.lock()
        try:
            reason = w.load(H_CORRUPT)
            if reason != 0:
                problems.append(f"the heap is marked corrupt: {corrupt_reason(reason)}")
            free = set()
            st = {"prev": 0, "prev_free": False, "used": 0, "internal": 0, "free": 0, "objects": 0}

            def visit(u, size, magic, kind):
                if self._hwu(u, B_PREV) != st["prev"]:
                    problems.append(f"block {u}: back link {self._hwu(u, B_PREV)}, expected {st['prev']}")
                is_free = magic == FREE_MAGIC
                if is_free and self._free_size(u) != size:
                    problems.append(f"free block {u}: check word mismatch")
                if not is_free and magic != ALLOC_MAGIC:
                    problems.append(f"block {u}: bad magic {magic}")
                if magic == ALLOC_MAGIC and not self.allocated_intact(u):
                    problems.append(f"block {u}: header does not match its check word")
                if is_free and st["prev_free"]:
                    problems.append(f"block {u}: two adjacent free blocks (not coalesced)")
                if is_free:
                    free.add(u)
                    st["free"] += size
                elif kind >= INTERNAL_KIND:
                    st["internal"] += size
                else:
                    st["used"] += size
                    st["objects"] += 1
                st["prev"] = u
                st["prev_free"] = is_free

            broken = self._walk(visit)
            if broken is not None:
                problems.append(broken)
                return problems
            if self._hwu(self._end, B_PREV) != st["prev"]:
                problems.append("sentinel back link is wrong")
            listed = 0
            for idx in range(_CLASSES):
                fl = idx >> SECOND_LEVEL_BITS
                bit = (w.getu(H_SL_BITMAPS + fl) >> (idx & _SL_MASK)) & 1
                head = w.getu(H_HEADS + idx)
                if (head != 0) != (bit == 1):
                    problems.append(f"class {idx}: bitmap bit {bit} but head {head}")
                back = 0
                u = head
                n = 0
                while u != 0:
                    if u not in free or n > len(free):
                        problems.append(f"class {idx}: listed block {u} is not a free block")
                        break
                    if mapping(self._hwu(u, B_SIZE)) != idx:
                        problems.append(f"block {u} is in the wrong class")
                    if self._hwu(u, B_PREV_FREE) != back:
                        problems.append(f"block {u}: bad free-list back link")
                    listed += 1
                    back = u
                    u = self._hwu(u, B_NEXT_FREE)
                    n += 1
            for fl in range(FIRST_LEVELS):
                bit = (w.getu(H_FL_BITMAP) >> fl) & 1
                if (w.get(H_SL_BITMAPS + fl) != 0) != (bit == 1):
                    problems.append(f"first level {fl}: bitmap bit {bit} but second level {w.get(H_SL_BITMAPS + fl)}")
            if listed != len(free):
                problems.append(f"{listed} listed free blocks, {len(free)} in the chain")
            hw = w.getu(H_HIGH_WATER)
            top = w.getu(H_TOP_WATER)
            if w.get(H_WATER_CHECK) != water_check(hw, top):
                problems.append(f"water marks ({hw}, {top}) do not match their check word")
            if w.getu(H_FREE_UNITS) != st["free"]:
                problems.append(f"free counter {w.getu(H_FREE_UNITS)}, actual {st['free']}")
            if w.getu(H_USED_UNITS) != st["used"]:
                problems.append(f"used counter {w.getu(H_USED_UNITS)}, actual {st['used']}")
            if w.getu(H_INTERNAL_UNITS) != st["internal"]:
                problems.append(f"internal counter {w.getu(H_INTERNAL_UNITS)}, actual {st['internal']}")
            if w.get(H_OBJECTS) != st["objects"]:
                problems.append(f"objects counter {w.get(H_OBJECTS)}, actual {st['objects']}")
        finally:
            self.unlock()
        return problems

    # ------------------------------------------------------------------ recovery

    def repair_if_owned_by(self, thread_id):
        """If the lock is held by ``thread_id`` (known dead), takes it over and rebuilds free
        lists, bitmaps and counters from the physical chain. Raises SHMFRAME_ERR_CORRUPT (the lock
        released, the heap marked) when the chain fails its checks; in a heap already marked
        corrupt it only releases the lock."""
        w = self.w
        if w.load(H_LOCK) != thread_id + 1:
            return False
        me = self.me_tid() + 1
        self._visit()
        if w.cas(H_LOCK, thread_id + 1, me) != thread_id + 1:
            self._leave()
            return False
        try:
            if self.corrupt == 0:
                self._rebuild()
        finally:
            self.unlock()
        return True

    def _chain(self):
        """The physical chain for a rebuild, every block checked (see allocator.ts #chain)."""
        end = self._end
        out = []
        stale = -1  # a free block whose check word did not match, awaiting the block after it
        u = self._ds
        while u < end:
            magic = self._hw(u, B_MAGIC)
            size = self._hwu(u, B_SIZE)
            if size < 1 or size > end - u:
                raise self._corrupt(CORRUPT_BLOCKS, f"the block chain breaks at unit {u} (size {size})")
            if magic == ALLOC_MAGIC:
                intact = self.allocated_intact(u)
                if not intact:
                    raise self._corrupt(CORRUPT_BLOCKS, f"block {u} does not match its check word")
            elif magic == FREE_MAGIC:
                intact = self._free_size(u) == size
            else:
                raise self._corrupt(CORRUPT_BLOCKS, f"unit {u} in the block chain has magic {magic}")
            if stale >= 0:
                if not intact or not self._links_back_to(u, stale):
                    raise self._corrupt(CORRUPT_BLOCKS, f"free block {stale} fails its check")
                stale = -1
            if not intact:
                stale = u
            out.append((u, size, magic == ALLOC_MAGIC, self._hwu(u, B_VERKIND) >> 16))
            u += size
        if stale >= 0 and not self._links_back_to(end, stale):
            raise self._corrupt(CORRUPT_BLOCKS, f"free block {stale} fails its check")
        return out

    def _links_back_to(self, u, start):
        """Whether the back link of block ``u`` leads to ``start`` through free blocks inside (start, u)."""
        hi = u
        p = self._hwu(u, B_PREV)
        while p != start:
            if not (start < p < hi) or self._hw(p, B_MAGIC) != FREE_MAGIC:
                return False
            hi = p
            p = self._hwu(p, B_PREV)
        return True

    def _rebuild(self):
        """Rebuilds free lists, bitmaps, back links, counters and the water check (holding the lock)."""
        w = self.w
        blocks = self._chain()
        hw = w.getu(H_HIGH_WATER)
        top = w.getu(H_TOP_WATER)
        if not (self._ds <= hw <= self._end and self._ds <= top <= self._end):
            raise self._corrupt(CORRUPT_HEADER, f"the water marks ({hw}, {top}) are outside the heap")
        for i in range(FIRST_LEVELS):
            w.set(H_SL_BITMAPS + i, 0)
        for i in range(_CLASSES):
            w.set(H_HEADS + i, 0)
        w.set(H_FL_BITMAP, 0)
        used = internal = free = objects = internal_objects = 0
        prev = 0
        run = 0
        run_size = 0

        def flush():
            nonlocal run, run_size, free
            if run == 0:
                return
            self._make_free(run, run_size, self._hwu(run, B_PREV))
            self._insert(run, run_size)
            free += run_size
            run = 0
            run_size = 0

        for u, size, allocated, kind in blocks:
            if allocated:
                flush()
                self._hset(u, B_PREV, prev)
                prev = u
                if kind >= INTERNAL_KIND:
                    internal += size
                    internal_objects += 1
                else:
                    used += size
                    objects += 1
            elif run == 0:
                run = u
                run_size = size
                self._hset(u, B_PREV, prev)
                prev = u
            else:
                run_size += size
        flush()
        self._hset(self._end, B_PREV, prev)
        w.set(H_WATER_CHECK, water_check(hw, top))
        w.set(H_USED_UNITS, used)
        w.set(H_INTERNAL_UNITS, internal)
        w.set(H_FREE_UNITS, free)
        w.set(H_OBJECTS, objects)
        w.set(H_INTERNAL_OBJECTS, internal_objects)
        w.add(H_REPAIRS, 1)
