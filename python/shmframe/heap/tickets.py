"""The ticket table (``src/heap/tickets.ts``): one slot per outstanding handle.

A handle carries one reference; the first attach consumes its ticket with one compare-and-swap
and adopts the reference. A second attach of the same handle finds the ticket gone and takes a
fresh reference instead, so a handle can never drop a count it does not own.
"""
from ..errors import CorruptError, HeapFullError
from .layout import H_TABLES, H_TICKET_CAP, H_TICKET_CURSOR, H_TICKET_SERIAL, TICKET_WORDS

# A serial no ticket ever has: a handle carrying it takes a fresh reference when attached.
FRESH_SERIAL = 0x7FFFFFFF


class Tickets:
    def __init__(self, w):
        self.w = w
        self.cap = w.get(H_TICKET_CAP)

    def create(self, unit, slot_word=-1, phase_word=-1):
        """Claims a slot for a handle of ``unit``: returns (slot, serial)."""
        w = self.w
        serial = (w.add(H_TICKET_SERIAL, 1) & 0x3FFFFFFF) + 1
        start = (w.add(H_TICKET_CURSOR, 1) & 0xFFFFFFFF) % self.cap
        for i in range(self.cap):
            slot = (start + i) % self.cap
            at = H_TABLES + slot * TICKET_WORDS
            if w.load(at) != 0:
                continue
            if slot_word >= 0:
                w.store(slot_word, slot)
            if w.cas_mark(at, 0, serial, phase_word, 2) == 0:
                w.store(at + 1, unit)
                return slot, serial
        raise HeapFullError(
            f"Cannot create a handle: all {self.cap} handle slots of this heap are taken by handles that "
            "were never attached. Attach (or release) the handles you make, or read obj.handle once "
            "per receiver.",
            {"outstandingHandles": self.cap},
        )

    def consume(self, slot, serial, unit, phase_word=-1):
        """True when the ticket was still outstanding; it is consumed now (phase set to 1)."""
        w = self.w
        if not isinstance(slot, int) or slot < 0 or slot >= self.cap or not serial > 0:
            raise CorruptError(
                f"Handle names ticket slot {slot} (serial {serial}), outside this heap's "
                f"{self.cap} slots: the handle is damaged or forged."
            )
        at = H_TABLES + slot * TICKET_WORDS
        if w.load(at) != serial or (w.load(at + 1) & 0xFFFFFFFF) != unit:
            return False
        return w.cas_mark(at, serial, 0, phase_word, 1) == serial

    def is_outstanding(self, slot, serial, unit):
        if not (0 <= slot < self.cap):
            return False
        at = H_TABLES + slot * TICKET_WORDS
        return self.w.load(at) == serial and (self.w.load(at + 1) & 0xFFFFFFFF) == unit

    def outstanding(self):
        """Handles created and not yet attached or released (a snapshot of the table)."""
        mv = self.w.mv
        return sum(1 for k in mv[H_TABLES : H_TABLES + self.cap * TICKET_WORDS : TICKET_WORDS] if k != 0)

    def clear(self, slot):
        if 0 <= slot < self.cap:
            self.w.store(H_TABLES + slot * TICKET_WORDS, 0)
