"""32-bit word access to a mapped heap (``src/heap/words.ts`` for Python).

``get``/``set`` are plain memory accesses (a memoryview), used exactly where words.ts uses plain
TypedArray access; ``load``/``store``/``add``/``cas``/``exchange`` and the ``*_mark`` methods go
through the C library's sequentially consistent atomics, used exactly where words.ts uses
``Atomics``. Indexes are word indexes from the start of the heap.
"""
import ctypes

from .._native import native
from .layout import MASK32, i32


class Words:
    """The words of one mapped heap. ``base`` is the absolute address of word 0."""

    __slots__ = (
        "mv",
        "mvu",
        "base",
        "nwords",
        "_load",
        "_store",
        "_add",
        "_cas",
        "_xchg",
        "_add_mark",
        "_dec_mark",
        "_cas_mark",
        "native",
        "link",
    )

    def __init__(self, mapping, size):
        nat = native("Opening a heap")
        self.native = nat
        self.mv = memoryview(mapping).cast("B")[:size].cast("i")
        self.mvu = memoryview(mapping).cast("B")[:size].cast("I")
        self.base = ctypes.addressof(ctypes.c_char.from_buffer(mapping))
        self.nwords = size // 4
        self._load = nat.load
        self._store = nat.store
        self._add = nat.add
        self._cas = nat.cas
        self._xchg = nat.exchange
        self._add_mark = nat.add_mark
        self._dec_mark = nat.dec_mark
        self._cas_mark = nat.cas_mark
        # How this process waits in the heap (set by HeapCore: slot, stall hook).
        self.link = None

    # ---- plain access
    def get(self, i):
        return self.mv[i]

    def getu(self, i):
        return self.mvu[i]

    def set(self, i, v):
        self.mvu[i] = v & MASK32

    def zero(self, i, n):
        """Zeroes words [i, i + n)."""
        ctypes.memset(self.base + 4 * i, 0, 4 * n)

    # ---- atomics
    def load(self, i):
        return self._load(self.base + 4 * i)

    def store(self, i, v):
        self._store(self.base + 4 * i, i32(v))

    def add(self, i, v):
        return self._add(self.base + 4 * i, i32(v))

    def sub(self, i, v):
        return self._add(self.base + 4 * i, i32(-v))

    def cas(self, i, expected, value):
        return self._cas(self.base + 4 * i, i32(expected), i32(value))

    def exchange(self, i, value):
        return self._xchg(self.base + 4 * i, i32(value))

    # The *_mark methods: the atomic operation and the record that it happened, in one C call
    # (see native/src/sys.h). `mark` is a word index, or -1 for none.

    def add_mark(self, i, v, mark):
        return self._add_mark(self.base + 4 * i, i32(v), self.base + 4 * mark if mark >= 0 else None)

    def dec_mark(self, i, mark):
        return self._dec_mark(self.base + 4 * i, self.base + 4 * mark if mark >= 0 else None)

    def cas_mark(self, i, expected, value, mark, phase):
        return self._cas_mark(
            self.base + 4 * i,
            i32(expected),
            i32(value),
            self.base + 4 * mark if mark >= 0 else None,
            phase,
        )

    # ---- waits (futex.py)
    def wait(self, i, value, timeout_ms=None):
        from .futex import wait_word

        return wait_word(self, i, value, timeout_ms)

    def notify(self, i, count=None):
        from .futex import notify_word

        return notify_word(self, i, count)
