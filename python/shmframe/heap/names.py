"""Published names (``src/heap/names.ts``): a small table in the heap mapping a key (up to 64
UTF-8 bytes) to an object, holding one reference per entry through a ticket nobody else sees."""
from ..errors import HeapFullError, InvalidArgumentError, describe
from .layout import (
    H_NAMES_CAP,
    H_NAMES_START,
    N_GEN,
    N_KEY,
    N_KEYLEN,
    N_SERIAL,
    N_STATE,
    N_TICKET,
    N_UNIT,
    NAME_BUSY,
    NAME_FREE,
    NAME_KEY_BYTES,
    NAME_SET,
    NAME_WORDS,
)


def key_bytes(key):
    """Checks a key and returns its UTF-8 bytes."""
    if not isinstance(key, str) or key == "":
        raise InvalidArgumentError(
            f"Expected `key` to be a non-empty string, got {describe(key) if key != '' else repr('')}"
        )
    b = key.encode("utf-8")
    if len(b) > NAME_KEY_BYTES:
        raise InvalidArgumentError(
            f"Expected `key` of at most {NAME_KEY_BYTES} UTF-8 bytes, got {len(b)} ({key[:20]!r}...)"
        )
    return b


def _word(key, i):
    v = 0
    for k in range(4):
        if i + k < len(key):
            v |= key[i + k] << (8 * k)
    return v


class Names:
    def __init__(self, w):
        self.w = w
        self.start = w.get(H_NAMES_START)
        self.cap = w.get(H_NAMES_CAP)

    def _at(self, i):
        return self.start + i * NAME_WORDS

    def _matches(self, at, key):
        w = self.w
        if w.load(at + N_KEYLEN) != len(key):
            return False
        for i in range(0, len(key), 4):
            if (w.load(at + N_KEY + i // 4) & 0xFFFFFFFF) != _word(key, i):
                return False
        return True

    def get(self, key):
        """The entry (unit, generation, ticket, serial) published under ``key``, or None."""
        w = self.w
        for i in range(self.cap):
            at = self._at(i)
            if w.load(at + N_STATE) != NAME_SET or not self._matches(at, key):
                continue
            return self._read(at)
        return None

    def set(self, key, entry):
        """Publishes ``entry`` under ``key`` (call with the allocator lock held). Returns the
        entry it replaced, whose reference the caller drops."""
        w = self.w
        free = -1
        for i in range(self.cap):
            at = self._at(i)
            state = w.load(at + N_STATE)
            if state == NAME_SET and self._matches(at, key):
                old = self._read(at)
                self._write(at, key, entry)
                return old
            if state == NAME_FREE and free < 0:
                free = i
        if free < 0:
            raise HeapFullError(
                f"Cannot publish {key.decode('utf-8', 'replace')!r}: all {self.cap} names of this heap are "
                "taken. Remove names you no longer need with heap.unpublish(key)."
            )
        at = self._at(free)
        w.store(at + N_STATE, NAME_BUSY)
        self._write(at, key, entry)
        return None

    def _read(self, at):
        w = self.w
        return (
            w.load(at + N_UNIT) & 0xFFFFFFFF,
            w.load(at + N_GEN),
            w.load(at + N_TICKET),
            w.load(at + N_SERIAL),
        )

    def _write(self, at, key, entry):
        w = self.w
        unit, gen, ticket, serial = entry
        w.store(at + N_STATE, NAME_BUSY)
        w.store(at + N_UNIT, unit)
        w.store(at + N_GEN, gen)
        w.store(at + N_TICKET, ticket)
        w.store(at + N_SERIAL, serial)
        w.store(at + N_KEYLEN, len(key))
        for k in range(NAME_KEY_BYTES // 4):
            w.store(at + N_KEY + k, _word(key, 4 * k))
        w.store(at + N_STATE, NAME_SET)

    def take(self, key):
        """Removes the entry under ``key`` and returns it (its reference is the caller's now)."""
        w = self.w
        for i in range(self.cap):
            at = self._at(i)
            if w.load(at + N_STATE) != NAME_SET or not self._matches(at, key):
                continue
            if w.cas(at + N_STATE, NAME_SET, NAME_BUSY) != NAME_SET:
                continue
            e = self._read(at)
            w.store(at + N_KEYLEN, 0)
            w.store(at + N_STATE, NAME_FREE)
            return e
        return None

    def keys(self):
        w = self.w
        out = []
        for i in range(self.cap):
            at = self._at(i)
            if w.load(at + N_STATE) != NAME_SET:
                continue
            n = min(w.load(at + N_KEYLEN), NAME_KEY_BYTES)
            b = bytes((w.load(at + N_KEY + (k >> 2)) & 0xFFFFFFFF) >> (8 * (k & 3)) & 0xFF for k in range(n))
            out.append(b.decode("utf-8", "replace"))
        return out

    def count(self):
        w = self.w
        return sum(1 for i in range(self.cap) if w.load(self._at(i) + N_STATE) != NAME_FREE)
