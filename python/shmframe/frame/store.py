"""FrameStore: this process's engine for one frame block (``src/frame/store.ts`` and
``dictionary.ts`` for Python): the checked layout, column records, validity bits, cells and the
shared category dictionaries. numpy views are made per call from the holder's payload array, so
a view keeps alive the reference it was made from and nothing else."""
import struct
import threading
import weakref

import numpy as np

from ..errors import CorruptError, HeapFullError, InvalidArgumentError, describe
from ..heap.owned_mutex import lock_owned, unlock_owned
from .layout import (
    C_BYTES_CAP,
    C_BYTES_USED,
    C_DICT_CAP,
    C_DICT_COUNT,
    C_DICT_LOCK,
    C_DICT_WAITERS,
    C_EDITS,
    COLUMN_BYTES,
    F_LENGTH,
    F_MAGIC,
    HEADER_BYTES,
    read_layout,
)

NAT = np.iinfo(np.int64).min


class Col:
    """One column: its layout and where its words are (absolute word indexes)."""

    __slots__ = ("index", "name", "kind", "dt", "dtype", "layout", "rec", "valid_word", "is_index", "dict")

    def __init__(self, store, i):
        l = store.layout.columns[i]
        self.index = i
        self.name = l.name
        self.kind = l.type.kind
        self.dt = l.type.dt
        self.dtype = l.type.dtype
        self.layout = l
        self.rec = (store.base + HEADER_BYTES + COLUMN_BYTES * i) // 4
        self.valid_word = (store.base + l.validity) // 4
        self.is_index = i == store.layout.index
        self.dict = Dictionary(store, self) if self.kind == "category" else None


class FrameStore:
    def __init__(self, heap, byte_offset, byte_length):
        core = heap._core
        self.core = core
        self.w = core.w
        self.buf = heap._segment.mapping
        self.base = byte_offset
        self.hw = byte_offset // 4
        self.layout = read_layout(self.buf, byte_offset, byte_length, self.w.load(self.hw + F_MAGIC))
        length = self.length()
        if not (0 <= length <= self.layout.capacity):
            raise CorruptError(f"Frame block is inconsistent: length {length} of capacity {self.layout.capacity}")
        self.by_name = {c.name: i for i, c in enumerate(self.layout.columns)}
        self._cols = [None] * len(self.layout.columns)
        self.lock = threading.Lock()

    @property
    def ncols(self):
        return len(self.layout.columns)

    @property
    def capacity(self):
        return self.layout.capacity

    def length(self):
        return self.w.load(self.hw + F_LENGTH)

    def column(self, i):
        c = self._cols[i]
        if c is None:
            c = Col(self, i)
            self._cols[i] = c
        return c

    def col(self, name, shown=None):
        i = self.by_name.get(name) if isinstance(name, str) else None
        if i is None or (shown is not None and i not in shown):
            names = [c.name for c in self.layout.columns] if shown is None else [self.layout.columns[k].name for k in shown]
            listed = names[:20] + (["..."] if len(names) > 20 else [])
            raise InvalidArgumentError(f"Unknown column {describe(name)}: the frame's columns are {listed}")
        return self.column(i)

    def gone(self, tid):
        return self.core.is_thread_gone(tid)

    # ------------------------------------------------------------------ raw views

    def view(self, payload, at, dt, count):
        """A numpy view of ``count`` elements of ``dt`` at payload byte ``at``."""
        return np.ndarray((count,), dtype=dt, buffer=payload, offset=at)

    def values(self, payload, c, start, n):
        """Values of column ``c`` (fixed: its dtype; utf8: offsets; category: codes)."""
        l = c.layout
        return self.view(payload, l.data + start * c.dt.itemsize, c.dt, n)

    def valid_bits(self, payload, c, start, n):
        """Validity of rows [start, start + n) as a bool array (a copy)."""
        if n == 0:
            return np.zeros(0, bool)
        lo = start // 8
        hi = -(-(start + n) // 8)
        raw = self.view(payload, c.layout.validity + lo, np.uint8, hi - lo)
        bits = np.unpackbits(raw, bitorder="little")
        return bits[start - 8 * lo : start - 8 * lo + n].astype(bool)

    def all_valid(self, payload, c, start, n):
        """Whether rows [start, start + n) are all valid: a scan of the bitmap 64 bits at a time
        (about n / 500 element reads), so a frame of millions of rows is checked in microseconds."""
        if n == 0:
            return True
        if start % 8:
            return bool(self.valid_bits(payload, c, start, n).all())
        at = c.layout.validity + start // 8
        full = n // 8
        words = full // 8
        if words and not (self.view(payload, at, np.uint64, words) == np.uint64(0xFFFFFFFFFFFFFFFF)).all():
            return False
        rest = self.view(payload, at + 8 * words, np.uint8, full - 8 * words)
        if rest.size and not (rest == 0xFF).all():
            return False
        tail = n % 8
        if tail:
            last = int(self.view(payload, at + full, np.uint8, 1)[0])
            mask = (1 << tail) - 1
            return last & mask == mask
        return True

    def is_valid(self, c, row):
        return ((self.w.get(c.valid_word + (row >> 5)) >> (row & 31)) & 1) == 1

    def set_valid(self, c, row, valid):
        """Sets or clears one bit atomically (writers of neighbouring rows never lose bits)."""
        at = c.valid_word + (row >> 5)
        bit = 1 << (row & 31)
        w = self.w
        while True:
            old = w.load(at)
            new = (old | bit) if valid else (old & ~bit)
            if w.cas(at, old, new) == old:
                return

    def write_validity(self, payload, c, start, n, flags):
        """Writes the validity of rows [start, start + n) from ``flags`` (bool array; None: all
        valid). Words wholly inside the range are this writer's (the rows are not committed
        yet) and written plainly; the two edge words are shared and changed atomically."""
        if n == 0:
            return
        end = start + n
        if flags is None:
            flags = np.ones(n, bool)
        w = self.w
        first_full = -(-start // 32) * 32
        last_full = (end // 32) * 32
        # edge words (atomic)
        edges = []
        if first_full > last_full:  # inside one word
            edges.append((start, end))
        else:
            if start < first_full:
                edges.append((start, first_full))
            if last_full < end:
                edges.append((last_full, end))
        for a, b in edges:
            word = c.valid_word + (a >> 5)
            w0 = (a >> 5) * 32
            mask = 0
            bits = 0
            for r in range(a, b):
                mask |= 1 << (r - w0)
                if flags[r - start]:
                    bits |= 1 << (r - w0)
            while True:
                old = w.load(word)
                new = (old & ~mask) | bits
                if w.cas(word, old, new) == old:
                    break
        if first_full < last_full:
            packed = np.packbits(np.asarray(flags[first_full - start : last_full - start], dtype=bool), bitorder="little")
            dst = self.view(payload, c.layout.validity + first_full // 8, np.uint8, (last_full - first_full) // 8)
            dst[:] = packed

    # ------------------------------------------------------------------ cells

    def read_cell(self, payload, c, row):
        """One cell: None when null; int/float/bool, numpy datetime64, bytes (|S), str."""
        if not self.is_valid(c, row):
            return None
        if c.kind == "fixed":
            v = self.values(payload, c, row, 1)[0]
            if c.dt.kind == "S":
                return bytes(v)
            if c.dt.kind == "M":
                return v
            return v.item()
        if c.kind == "utf8":
            o = self.values(payload, c, row, 2)
            a, b = int(o[0]), int(o[1])
            at = self.base + c.layout.bytes
            return bytes(self.buf[at + a : at + b]).decode("utf-8")
        code = int(self.values(payload, c, row, 1)[0])
        label = c.dict.label(code)
        if label is None:
            raise CorruptError(
                f"Row {row} of category column {c.name!r} holds code {code}, outside its dictionary of {c.dict.size} labels"
            )
        return label

    def write_null(self, payload, c, row):
        self.set_valid(c, row, False)
        if c.is_index:
            self.w.add(c.rec + C_EDITS, 1)
        if c.kind == "utf8":
            return
        v = self.values(payload, c, row, 1)
        if c.kind == "category":
            v[0] = -1
        elif c.dt.kind == "S":
            v[0] = b""
        elif c.dt.kind == "f":
            v[0] = np.nan
        elif c.dt.kind == "M":
            v.view("<i8")[0] = NAT
        else:
            v[0] = 0

    def write_cell(self, payload, c, row, value, where):
        """Writes one committed cell in place (or null); a bad value changes nothing."""
        from .stage import convert_scalar

        if value is None:
            self.write_null(payload, c, row)
            return
        if c.kind == "utf8":
            raise immutable_utf8(c, where)
        if c.kind == "category":
            code = c.dict.code_of(value, where)
            self.values(payload, c, row, 1)[0] = code
            self.set_valid(c, row, True)
        else:
            stored, valid = convert_scalar(c, value, where)
            self.values(payload, c, row, 1)[0] = stored
            self.set_valid(c, row, valid)
        if c.is_index:
            self.w.add(c.rec + C_EDITS, 1)


def immutable_utf8(c, where):
    return InvalidArgumentError(
        f"Cannot set {where}: utf8 column {c.name!r} is immutable once written (its strings are packed "
        "end to end). Use a '|S<n>' column (fixed width) or a 'category' column for values you change "
        "in place; appending new rows is allowed."
    )


class Dictionary:
    """The dictionary of a category column: labels as utf8 in the block, appended under a small
    lock in the column record, read through a per-process cache."""

    def __init__(self, store, c):
        self.store = store
        self.c = c
        self.w = store.w
        self.rec = c.rec
        self.offsets_at = store.base + c.layout.dict_offsets
        self.bytes_at = store.base + c.layout.bytes
        self.labels_ = []
        self.codes = {}

    @property
    def size(self):
        return self.w.load(self.rec + C_DICT_COUNT)

    @property
    def capacity(self):
        return self.w.get(self.rec + C_DICT_CAP)

    def _offset(self, i):
        return struct.unpack_from("<i", self.store.buf, self.offsets_at + 4 * i)[0]

    def sync(self):
        n = self.w.load(self.rec + C_DICT_COUNT)
        buf = self.store.buf
        for i in range(len(self.labels_), n):
            a, b = struct.unpack_from("<2i", buf, self.offsets_at + 4 * i)
            label = bytes(buf[self.bytes_at + a : self.bytes_at + b]).decode("utf-8")
            self.labels_.append(label)
            self.codes[label] = i

    def label(self, code):
        if code >= len(self.labels_):
            self.sync()
        return self.labels_[code] if 0 <= code < len(self.labels_) else None

    def labels(self):
        self.sync()
        return list(self.labels_)

    def find(self, label):
        code = self.codes.get(label)
        if code is None:
            self.sync()
            code = self.codes.get(label)
        return -1 if code is None else code

    def code_of(self, label, where):
        """The code of ``label``, appending it to the shared dictionary if it is new."""
        if not isinstance(label, str):
            raise InvalidArgumentError(f"Expected a string label (or None) for {where} (category), got {describe(label)}")
        try:
            encoded = label.encode("utf-8")
        except UnicodeEncodeError as err:
            raise InvalidArgumentError(f"{where}: {label!r} is not valid Unicode (lone surrogate)") from err
        known = self.find(label)
        if known >= 0:
            return known
        w = self.w
        rec = self.rec
        me = self.store.core.tid() + 1
        if lock_owned(w, rec + C_DICT_LOCK, rec + C_DICT_WAITERS, self.store.gone, me):
            count = w.load(rec + C_DICT_COUNT)
            w.set(rec + C_BYTES_USED, self._offset(count))
        try:
            self.sync()
            again = self.codes.get(label)
            if again is not None:
                return again
            count = len(self.labels_)
            used = w.get(rec + C_BYTES_USED)
            cap = w.get(rec + C_DICT_CAP)
            bytes_cap = w.get(rec + C_BYTES_CAP)
            if count >= cap or used + len(encoded) > bytes_cap:
                raise HeapFullError(
                    f"The dictionary of category column {self.c.name!r} is full ({count} of {cap} labels, "
                    f"{used} of {bytes_cap} bytes) and cannot take {label!r}. Create the frame with larger "
                    "`categories` / `category_bytes`.",
                    {"labels": count, "capacity": cap, "bytes": used, "bytesCapacity": bytes_cap},
                )
            buf = self.store.buf
            buf[self.bytes_at + used : self.bytes_at + used + len(encoded)] = encoded
            struct.pack_into("<i", buf, self.offsets_at + 4 * (count + 1), used + len(encoded))
            w.set(rec + C_BYTES_USED, used + len(encoded))
            w.store(rec + C_DICT_COUNT, count + 1)
            self.labels_.append(label)
            self.codes[label] = count
            return count
        finally:
            unlock_owned(w, rec + C_DICT_LOCK, rec + C_DICT_WAITERS)

    def check_room(self, labels):
        """Checks that the new ``labels`` would fit, without adding them."""
        count = self.size
        used = self.w.load(self.rec + C_BYTES_USED)
        fresh = set()
        for l in labels:
            if l in fresh or self.find(l) >= 0:
                continue
            fresh.add(l)
            count += 1
            used += len(l.encode("utf-8"))
        cap = self.capacity
        bytes_cap = self.w.get(self.rec + C_BYTES_CAP)
        if count > cap or used > bytes_cap:
            raise HeapFullError(
                f"The dictionary of category column {self.c.name!r} cannot take {len(fresh)} new labels "
                f"(it would hold {count} of {cap} labels, {used} of {bytes_cap} bytes). Create the frame "
                "with larger `categories` / `category_bytes`.",
                {"labels": count, "capacity": cap, "bytes": used, "bytesCapacity": bytes_cap},
            )


# ---------------------------------------------------------------------- per-process store cache

_stores = weakref.WeakValueDictionary()
_stores_lock = threading.Lock()


def store_for(heap, unit, generation, byte_offset, byte_length):
    """The store of block (heap, unit, generation) in this process (layouts and dictionary
    caches shared by every attach of the same frame)."""
    key = (heap.id, unit, generation)
    with _stores_lock:
        s = _stores.get(key)
        if s is None:
            s = FrameStore(heap, byte_offset, byte_length)
            _stores[key] = s
        return s
