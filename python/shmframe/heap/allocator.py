"""The allocator engine: ``src/heap/allocator.ts`` for Python, word for word.

A TLSF (two-level segregated fit) allocator over 64-byte units whose whole state lives in the
heap, guarded by one lock word holding its owner's identity + 1 (``H_LOCK``). Every change is
ordered so that the physical chain of block sizes is walkable after any single write; whoever
finds the lock held by a dead owner rebuilds free lists and counters from that walk
(:meth:`Allocator.repair_if_owned_by`). Keep it in step with allocator.ts.
"""
from ..errors import CorruptError, HeapFullError
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
    FIRST_LEVELS,
    FREE_MAGIC,
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
    INTERNAL_KIND,
    LAYOUT_VERSION,
    SECOND_LEVEL_BITS,
    SECOND_LEVELS,
    SENTINEL_MAGIC,
    UNIT,
    WORDS_PER_UNIT,
    header_check,
    i32,
)

SPINS = 64
_SL_MASK = SECOND_LEVELS - 1


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


class Allocator:
    """The allocator of one heap, acting as identity ``me - 1`` (lock words hold ``me``)."""

    def __init__(self, words, me_tid):
        self.w = words
        self.me_tid = me_tid  # a callable: the calling thread's identity

    # ------------------------------------------------------------------ format

    @staticmethod
    def format(w, data_start, end):
        for i in range(FIRST_LEVELS):
            w.set(H_SL_BITMAPS + i, 0)
        for i in range(FIRST_LEVELS * SECOND_LEVELS):
            w.set(H_HEADS + i, 0)
        w.set(H_FL_BITMAP, 0)
        w.set(H_DATA_START, data_start)
        w.set(H_END, end)
        w.set(H_HIGH_WATER, data_start)
        w.set(H_TOP_WATER, end)
        a = Allocator(w, lambda: -1)
        b = end * WORDS_PER_UNIT
        w.set(b + B_MAGIC, SENTINEL_MAGIC)
        w.set(b + B_SIZE, 1)
        w.set(b + B_PREV, 0)
        a._make_free(data_start, end - data_start, 0)
        a._insert(data_start)
        w.set(H_FREE_UNITS, end - data_start)

    # ------------------------------------------------------------------ lock

    def lock(self):
        w = self.w
        me = self.me_tid() + 1
        if w.cas(H_LOCK, 0, me) == 0:
            return
        for _ in range(SPINS):
            if w.load(H_LOCK) == 0 and w.cas(H_LOCK, 0, me) == 0:
                return
        w.add(H_LOCK_WAITERS, 1)
        try:
            while True:
                c = w.load(H_LOCK)
                if c == 0:
                    if w.cas(H_LOCK, 0, me) == 0:
                        break
                    continue
                w.wait(H_LOCK, c)
        finally:
            w.sub(H_LOCK_WAITERS, 1)

    def unlock(self):
        w = self.w
        w.store(H_LOCK, 0)
        if w.load(H_LOCK_WAITERS) > 0:
            w.notify(H_LOCK, 1)

    def lock_owner(self):
        return self.w.load(H_LOCK) - 1

    # ------------------------------------------------------------------ free lists

    def _hw(self, unit, field):
        return self.w.get(unit * WORDS_PER_UNIT + field)

    def _hwu(self, unit, field):
        return self.w.getu(unit * WORDS_PER_UNIT + field)

    def _hset(self, unit, field, v):
        self.w.set(unit * WORDS_PER_UNIT + field, v)

    def _make_free(self, unit, size, prev):
        self._hset(unit, B_SIZE, size)
        self._hset(unit, B_PREV, prev)
        self._hset(unit, B_NEXT_FREE, 0)
        self._hset(unit, B_PREV_FREE, 0)
        self._hset(unit, B_GEN, 0)
        self._hset(unit, B_MAGIC, FREE_MAGIC)

    def _insert(self, unit):
        w = self.w
        idx = mapping(self._hwu(unit, B_SIZE))
        fl = idx >> SECOND_LEVEL_BITS
        head = w.getu(H_HEADS + idx)
        self._hset(unit, B_NEXT_FREE, head)
        self._hset(unit, B_PREV_FREE, 0)
        if head != 0:
            self._hset(head, B_PREV_FREE, unit)
        w.set(H_HEADS + idx, unit)
        w.set(H_SL_BITMAPS + fl, w.get(H_SL_BITMAPS + fl) | (1 << (idx & _SL_MASK)))
        w.set(H_FL_BITMAP, w.get(H_FL_BITMAP) | (1 << fl))

    def _remove(self, unit):
        w = self.w
        idx = mapping(self._hwu(unit, B_SIZE))
        nxt = self._hwu(unit, B_NEXT_FREE)
        prev = self._hwu(unit, B_PREV_FREE)
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
        """A free block of at least ``units`` (the head of its own class, TLSF good fit, then a
        first fit along the request's own class list), or 0."""
        w = self.w
        own = w.getu(H_HEADS + mapping(units))
        if own != 0 and self._hwu(own, B_SIZE) >= units:
            return own
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
            if sl_map != 0:
                return w.getu(H_HEADS + fl * SECOND_LEVELS + _ctz(sl_map))
        u = w.getu(H_HEADS + mapping(units))
        while u != 0:
            if self._hwu(u, B_SIZE) >= units:
                return u
            u = self._hwu(u, B_NEXT_FREE)
        return 0

    # ------------------------------------------------------------------ allocate / free

    def allocate(self, payload_bytes, kind, what, on_commit=None):
        """Allocates a block of ``payload_bytes`` payload. Returns (unit, dirty_head, dirty_tail):
        which payload bytes may hold old data (the rest was never written and is zero)."""
        units = 1 + -(-payload_bytes // UNIT)
        from_top = kind >= INTERNAL_KIND
        w = self.w
        self.lock()
        try:
            found = 0
            if from_top:
                last = self._hwu(w.getu(H_END), B_PREV)
                if (
                    last != 0
                    and self._hw(last, B_MAGIC) == FREE_MAGIC
                    and self._hwu(last, B_SIZE) >= units
                ):
                    found = last
            if found == 0 and units < 2**32:
                found = self._find(units)
            if found == 0:
                raise self._full_error(payload_bytes, what)
            self._remove(found)
            size = self._hwu(found, B_SIZE)
            hw = w.getu(H_HIGH_WATER)
            top = w.getu(H_TOP_WATER)
            unit = found
            if size - units >= 1:
                nxt = found + size
                if from_top:
                    unit = nxt - units
                    self._hset(unit, B_MAGIC, FREE_MAGIC)
                    self._hset(unit, B_SIZE, units)
                    self._hset(unit, B_PREV, found)
                    self._hset(found, B_SIZE, size - units)
                    self._hset(nxt, B_PREV, unit)
                    self._insert(found)
                    if unit < top:
                        w.set(H_TOP_WATER, unit)
                else:
                    rest = found + units
                    self._make_free(rest, size - units, found)
                    self._hset(found, B_SIZE, units)
                    self._hset(nxt, B_PREV, rest)
                    self._insert(rest)
                    if rest + 1 > hw and rest < top:
                        w.set(H_HIGH_WATER, rest + 1)
            payload = (unit + 1) * UNIT
            dirty_head = max(0, min(payload_bytes, hw * UNIT - payload))
            dirty_tail = max(0, min(payload_bytes - dirty_head, payload + payload_bytes - top * UNIT))
            if from_top:
                if unit < w.getu(H_TOP_WATER):
                    w.set(H_TOP_WATER, unit)
            elif unit + units > w.getu(H_HIGH_WATER) and unit < w.getu(H_TOP_WATER):
                w.set(H_HIGH_WATER, unit + units)
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
            self._hset(unit, B_CHECK, header_check(verkind, gen, units, i32(len_lo), i32(len_hi)))
            self._hset(unit, B_NEXT_FREE, 0)
            self._hset(unit, B_PREV_FREE, 0)
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

    def _full_error(self, payload_bytes, what):
        free = self.w.getu(H_FREE_UNITS) * UNIT
        largest = max(0, (self._largest_free_units() - 1) * UNIT)
        end = self.w.getu(H_END) * UNIT
        return HeapFullError(
            f"Cannot allocate {format_bytes(payload_bytes)} ({payload_bytes} bytes) for {what}: the heap of "
            f"{format_bytes(end)} has {format_bytes(free)} free and its largest free block holds "
            f"{format_bytes(largest)} ({largest} bytes). Close objects you no longer need, or create "
            f"the heap larger.",
            {"requested": payload_bytes, "free": free, "largestFree": largest},
        )

    def free(self, unit):
        """Frees an allocated block, coalescing with free neighbours."""
        w = self.w
        self.lock()
        try:
            if self._hw(unit, B_MAGIC) != ALLOC_MAGIC:
                raise CorruptError(
                    f"Refusing to free unit {unit}: it is not an allocated block (double free?)"
                )
            kind = self._hwu(unit, B_VERKIND) >> 16
            own = self._hwu(unit, B_SIZE)
            size = own
            start = unit
            self._hset(unit, B_MAGIC, FREE_MAGIC)
            self._hset(unit, B_GEN, 0)
            nxt = unit + size
            if self._hw(nxt, B_MAGIC) == FREE_MAGIC:
                self._remove(nxt)
                size += self._hwu(nxt, B_SIZE)
                self._hset(unit, B_SIZE, size)
            prev = self._hwu(unit, B_PREV)
            if prev != 0 and self._hw(prev, B_MAGIC) == FREE_MAGIC:
                self._remove(prev)
                size += self._hwu(prev, B_SIZE)
                self._hset(prev, B_SIZE, size)
                start = prev
            self._hset(start, B_NEXT_FREE, 0)
            self._hset(start, B_PREV_FREE, 0)
            self._hset(start + size, B_PREV, start)
            self._insert(start)
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
        w = self.w
        fl_map = w.getu(H_FL_BITMAP)
        if fl_map == 0:
            return 0
        fl = _bitlen(fl_map)
        sl_map = w.getu(H_SL_BITMAPS + fl)
        sl = _bitlen(sl_map)
        best = 0
        guard = 0
        u = w.getu(H_HEADS + fl * SECOND_LEVELS + sl)
        while u != 0 and guard < 1_000_000:
            best = max(best, self._hwu(u, B_SIZE))
            u = self._hwu(u, B_NEXT_FREE)
            guard += 1
        return best

    def counters(self):
        w = self.w
        self.lock()
        try:
            return {
                "usedUnits": w.getu(H_USED_UNITS),
                "internalUnits": w.getu(H_INTERNAL_UNITS),
                "freeUnits": w.getu(H_FREE_UNITS),
                "objects": w.get(H_OBJECTS),
                "internalObjects": w.get(H_INTERNAL_OBJECTS),
                "largestFreeUnits": self._largest_free_units(),
                "repairs": w.get(H_REPAIRS),
            }
        finally:
            self.unlock()

    def _walk(self, fn):
        end = self.w.getu(H_END)
        u = self.w.getu(H_DATA_START)
        while u < end:
            size = self._hwu(u, B_SIZE)
            if size < 1 or u + size > end:
                raise CorruptError(
                    f"Heap block chain is broken at unit {u} (size {size} units, heap ends at {end})"
                )
            fn(u, size, self._hw(u, B_MAGIC), self._hwu(u, B_VERKIND) >> 16)
            u += size

    def walk(self, fn):
        self.lock()
        try:
            self._walk(fn)
        finally:
            self.unlock()

    def verify(self):
        """Checks every allocator invariant; returns the violations found (empty: consistent)."""
        w = self.w
        problems = []
        self.lock()
        try:
            free = set()
            st = {"prev": 0, "prev_free": False, "used": 0, "internal": 0, "free": 0, "objects": 0}

            def visit(u, size, magic, kind):
                if self._hwu(u, B_PREV) != st["prev"]:
                    problems.append(f"block {u}: back link {self._hwu(u, B_PREV)}, expected {st['prev']}")
                is_free = magic == FREE_MAGIC
                if not is_free and magic != ALLOC_MAGIC:
                    problems.append(f"block {u}: bad magic {magic}")
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

            self._walk(visit)
            if self._hwu(w.getu(H_END), B_PREV) != st["prev"]:
                problems.append("sentinel back link is wrong")
            listed = 0
            for idx in range(FIRST_LEVELS * SECOND_LEVELS):
                fl = idx >> SECOND_LEVEL_BITS
                bit = (w.getu(H_SL_BITMAPS + fl) >> (idx & _SL_MASK)) & 1
                head = w.getu(H_HEADS + idx)
                if (head != 0) != (bit == 1):
                    problems.append(f"class {idx}: bitmap bit {bit} but head {head}")
                back = 0
                u = head
                guard = 0
                while u != 0 and guard < 10_000_000:
                    if u not in free:
                        problems.append(f"class {idx}: listed block {u} is not a free block")
                    elif mapping(self._hwu(u, B_SIZE)) != idx:
                        problems.append(f"block {u} is in the wrong class")
                    if self._hwu(u, B_PREV_FREE) != back:
                        problems.append(f"block {u}: bad free-list back link")
                    listed += 1
                    back = u
                    u = self._hwu(u, B_NEXT_FREE)
                    guard += 1
            if listed != len(free):
                problems.append(f"{listed} listed free blocks, {len(free)} in the chain")
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
        lists, bitmaps and counters from the physical chain."""
        w = self.w
        me = self.me_tid() + 1
        if w.cas(H_LOCK, thread_id + 1, me) != thread_id + 1:
            return False
        try:
            for i in range(FIRST_LEVELS):
                w.set(H_SL_BITMAPS + i, 0)
            for i in range(FIRST_LEVELS * SECOND_LEVELS):
                w.set(H_HEADS + i, 0)
            w.set(H_FL_BITMAP, 0)
            blocks = []
            self._walk(lambda u, size, magic, kind: blocks.append((u, size, magic == ALLOC_MAGIC, kind)))
            used = internal = free = objects = internal_objects = 0
            prev = 0
            run = 0
            run_size = 0

            def flush():
                nonlocal run, run_size, free
                if run == 0:
                    return
                self._make_free(run, run_size, self._hwu(run, B_PREV))
                self._insert(run)
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
            self._hset(w.getu(H_END), B_PREV, prev)
            w.set(H_USED_UNITS, used)
            w.set(H_INTERNAL_UNITS, internal)
            w.set(H_FREE_UNITS, free)
            w.set(H_OBJECTS, objects)
            w.set(H_INTERNAL_OBJECTS, internal_objects)
            w.add(H_REPAIRS, 1)
        finally:
            self.unlock()
        return True
