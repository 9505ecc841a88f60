"""Held tickets (``src/heap/held.ts`` for Python): the handles a queue put makes for the shared
objects in its item, held in a small internal block of the queue's heap (kind ``KIND_HELD``)
named in the putting identity's thread-table entry (``T_HELD``) until the put publishes them.

While an item is encoded, every handle made is appended to the block from inside
``HeapCore.share``: the record first, then the record count, then the store that ends the share's
recorded operation, so a handle is either still the share's (the dead identity's recorded
operation releases it) or listed here. The put publishes its item with a store that disarms the
item's group right after the store that moves the queue's tail. ``release_thread`` releases the
handles of every group still armed, then frees the block.

Payload, 32-bit words: [0] records, [1] record capacity, [2] groups, [3] reserved,
[4 .. 4 + groups) armed flags (1 until that item is published), then records of 8 words:
group, heap id lo, heap id hi, unit, generation, ticket slot, ticket serial, reserved.
"""
import threading

H_RECORDS = 0
H_CAP = 1
H_GROUPS = 2
HEADER = 4
RECORD_WORDS = 8

_local = threading.local()  # .sink: (words, base word, group) of the put collecting now


def held_bytes(groups, records):
    """Payload bytes of a held block for ``groups`` items and ``records`` handles."""
    return (HEADER + groups + records * RECORD_WORDS) * 4


def format_held(w, base, groups, records):
    """Formats a zeroed held block at word ``base``: every group armed."""
    w.set(base + H_CAP, records)
    w.set(base + H_GROUPS, groups)
    for g in range(groups):
        w.set(base + HEADER + g, 1)


def append_held(heap_id, unit, generation, slot, serial, op_words, op_word):
    """Appends a handle just made by ``HeapCore.share`` and ends that share's recorded operation
    (``op_words`` word ``op_word`` set to 0 right after the record count). False when no put is
    collecting in this thread (the caller ends its operation itself)."""
    s = getattr(_local, "sink", None)
    if s is None:
        return False
    w, base, group = s
    n = w.get(base + H_RECORDS)
    if n >= w.get(base + H_CAP):
        return False
    at = base + HEADER + w.get(base + H_GROUPS) + n * RECORD_WORDS
    w.set(at, group)
    w.set(at + 1, heap_id % 2**32)
    w.set(at + 2, heap_id // 2**32)
    w.set(at + 3, unit)
    w.set(at + 4, generation)
    w.set(at + 5, slot)
    w.set(at + 6, serial)
    # The commit: listed here, and the share's operation over.
    w.set(base + H_RECORDS, n + 1)
    if op_word >= 0:
        op_words.set(op_word, 0)
    return True


class HeldRecord:
    __slots__ = ("heap_id", "unit", "generation", "slot", "serial")

    def __init__(self, heap_id, unit, generation, slot, serial):
        self.heap_id = heap_id
        self.unit = unit
        self.generation = generation
        self.slot = slot
        self.serial = serial


def armed_records(w, base, nwords):
    """The records of the held block at word ``base`` (``nwords`` payload words) whose group is
    still armed (their handles were never published)."""
    groups = w.get(base + H_GROUPS)
    n = min(w.get(base + H_RECORDS), w.get(base + H_CAP))
    out = []
    if groups < 0 or n < 0:
        return out
    for r in range(n):
        at = base + HEADER + groups + r * RECORD_WORDS
        if at + RECORD_WORDS > base + nwords:
            break
        g = w.get(at)
        if g < 0 or g >= groups or w.get(base + HEADER + g) != 1:
            continue
        out.append(
            HeldRecord(w.getu(at + 1) + 2**32 * w.get(at + 2), w.getu(at + 3), w.get(at + 4), w.get(at + 5), w.get(at + 6))
        )
    return out


class HeldCommit:
    """Where a put's publication disarms group ``group``: a plain store of 0 at word ``index``."""

    __slots__ = ("w", "index")

    def __init__(self, w, index):
        self.w = w
        self.index = index


class Hold:
    """A put's hold on the handles of its items, from ``HeapCore.begin_hold`` to :meth:`end`.
    Items are encoded inside :meth:`collect`, item k's handles in group k."""

    __slots__ = ("_w", "_base", "_end", "_ended")

    def __init__(self, w, base, end):
        self._w = w
        self._base = base
        self._end = end
        self._ended = False

    def collect(self, group, encode):
        """Runs ``encode()`` (which makes the handles of item ``group``) with this hold collecting."""
        before = getattr(_local, "sink", None)
        _local.sink = (self._w, self._base, group)
        try:
            return encode()
        finally:
            _local.sink = before

    def commit(self, group):
        """The store that marks item ``group`` published."""
        return HeldCommit(self._w, self._base + HEADER + group)

    def end(self):
        """Gives the block back (after the put published, or released the handles it did not)."""
        if self._ended:
            return
        self._ended = True
        self._end()
