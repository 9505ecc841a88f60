"""Concurrent appends (``src/frame/append.ts`` for Python, the same protocol, so Python and Node
appenders interleave safely on one frame).

An append (1) stages every column in private memory, checking every value, (2) resolves category
labels to codes, (3) reserves its rows and each utf8 column's byte range in one step under the
frame's append lock (recorded in a reservation slot: owner, rows, state), (4) writes the reserved
rows and (5) publishes them in reservation order: it waits until ``length`` equals its first row,
then stores its end. Nothing in steps 4-5 raises, so a reservation is always published unless its
process dies in between: then the next appender (Node or Python), once the dead process was
released, publishes those rows as nulls. Past capacity an append raises HeapFullError
(SHMFRAME_ERR_HEAP_FULL) and changes no row.
"""
import numpy as np

from ..errors import HeapFullError
from ..heap.owned_mutex import OWNER_CHECK_MS, lock_owned, unlock_owned
from .layout import (
    C_BYTES_CAP,
    C_BYTES_PREV,
    C_BYTES_USED,
    F_LENGTH,
    F_LOCK,
    F_LOCK_WAITERS,
    F_RESERVATIONS,
    F_RESERVED,
    R_END,
    R_OWNER,
    R_START,
    R_STATE,
    RESERVE_SLOTS,
    RESERVE_WORDS,
)


def capacity_error(store, reserved, n):
    cap = store.capacity
    return HeapFullError(
        f"Cannot append {n} row{'' if n == 1 else 's'}: the frame holds {reserved} of its {cap} rows. "
        "Frames do not grow (growing would move memory other processes are reading): create it with a "
        "larger `capacity`.",
        {"requested": n, "length": reserved, "capacity": cap},
    )


def _resolve_codes(s):
    d = s.col.dict
    d.check_room(s.labels)
    where = f"column {s.col.name!r}"
    code_of = np.array([d.code_of(l, where) for l in s.labels] + [-1], dtype=np.int32)
    local = s.local
    s.codes = np.where(local >= 0, code_of[local], -1).astype(np.int32)


def _claim_slot(w, hw):
    for k in range(RESERVE_SLOTS):
        at = hw + F_RESERVATIONS + k * RESERVE_WORDS
        if w.get(at + R_OWNER) == 0:
            return at
    return -1


def lock_append(store, mine=-1):
    """Takes the append lock; if its owner died holding it, undoes a reservation that did not
    take effect (restores the utf8 byte counters, frees its slot)."""
    w = store.w
    hw = store.hw
    me = store.core.tid() + 1
    if not lock_owned(w, hw + F_LOCK, hw + F_LOCK_WAITERS, store.gone, me):
        return
    reserved = w.get(hw + F_RESERVED)
    for k in range(RESERVE_SLOTS):
        at = hw + F_RESERVATIONS + k * RESERVE_WORDS
        owner = w.get(at + R_OWNER)
        if owner == 0 or w.get(at + R_START) != reserved or not _dead_owner(store, owner, at, mine):
            continue
        if w.get(at + R_STATE) == 1:
            for c in range(store.ncols):
                col = store.column(c)
                if col.kind == "utf8":
                    w.set(col.rec + C_BYTES_USED, w.get(col.rec + C_BYTES_PREV))
        w.set(at + R_OWNER, 0)


def _dead_owner(store, owner, at, mine):
    """Whether the reservation in slot ``at``, recorded by ``owner`` (identity + 1), will never be
    published: its thread is gone, or it names this thread but is not the reservation this
    thread is publishing (``mine``): appends are synchronous, so the slot is stale."""
    if owner == store.core.tid() + 1:
        return at != mine
    return store.gone(owner - 1)


def unlock_append(store):
    unlock_owned(store.w, store.hw + F_LOCK, store.hw + F_LOCK_WAITERS)


class Reservation:
    __slots__ = ("start", "end", "slot", "byte_starts", "staged")

    def __init__(self, start, end, slot, byte_starts, staged):
        self.start = start
        self.end = end
        self.slot = slot
        self.byte_starts = byte_starts
        self.staged = staged


def append_staged(store, payload, staged, n):
    """Appends ``n`` staged rows (one Staged per column, in column order); returns the first
    row's position."""
    if n == 0:
        return store.length()
    r = reserve_staged(store, staged, n)
    finish_append(store, payload, r)
    return r.start


def reserve_staged(store, staged, n):
    """Steps 1-3: checks, resolves labels and reserves rows; nothing is visible yet."""
    w = store.w
    hw = store.hw
    cap = store.capacity
    early = w.load(hw + F_RESERVED)
    if early + n > cap:
        raise capacity_error(store, early, n)
    for s in staged:
        if s.labels is not None:
            _resolve_codes(s)
    byte_starts = [0] * len(staged)
    start = 0
    slot = -1
    while slot < 0:
        lock_append(store)
        try:
            start = w.get(hw + F_RESERVED)
            if start + n > cap:
                raise capacity_error(store, start, n)
            for k, s in enumerate(staged):
                if s.blob is None:
                    continue
                rec = s.col.rec
                used = w.get(rec + C_BYTES_USED)
                bytes_cap = w.get(rec + C_BYTES_CAP)
                if used + len(s.blob) > bytes_cap:
                    raise HeapFullError(
                        f"Cannot append {n} row{'' if n == 1 else 's'}: utf8 column {s.col.name!r} has "
                        f"{bytes_cap - used} of its {bytes_cap} string bytes left and the new strings need "
                        f"{len(s.blob)}. Create the frame with a larger `string_bytes`.",
                        {"column": s.col.name, "requested": len(s.blob), "used": used, "capacity": bytes_cap},
                    )
                byte_starts[k] = used
            slot = _claim_slot(w, hw)
            if slot >= 0:
                w.set(slot + R_START, start)
                w.set(slot + R_END, start + n)
                w.set(slot + R_STATE, 0)
                w.set(slot + R_OWNER, store.core.tid() + 1)
                for s in staged:
                    if s.blob is not None:
                        w.set(s.col.rec + C_BYTES_PREV, w.get(s.col.rec + C_BYTES_USED))
                w.set(slot + R_STATE, 1)
                for k, s in enumerate(staged):
                    if s.blob is not None:
                        w.set(s.col.rec + C_BYTES_USED, byte_starts[k] + len(s.blob))
                w.set(hw + F_RESERVED, start + n)
        finally:
            unlock_append(store)
        if slot < 0:
            w.wait(hw + F_LENGTH, w.load(hw + F_LENGTH), OWNER_CHECK_MS)
    return Reservation(start, start + n, slot, byte_starts, staged)


def finish_append(store, payload, r):
    """Steps 4-5: writes the reserved rows and publishes them."""
    n = r.end - r.start
    for k, s in enumerate(r.staged):
        _write_staged(store, payload, s, r.start, n, r.byte_starts[k])
    _publish(store, payload, r)


def _write_staged(store, payload, s, start, n, byte_start):
    c = s.col
    if c.kind == "utf8":
        at = store.base + c.layout.bytes + byte_start
        store.buf[at : at + len(s.blob)] = s.blob
        offsets = store.values(payload, c, start + 1, n)
        offsets[:] = byte_start + s.ends
    elif c.kind == "category":
        store.values(payload, c, start, n)[:] = s.codes
    else:
        store.values(payload, c, start, n)[:] = s.values
    store.write_validity(payload, c, start, n, s.valid)


def _publish(store, payload, r):
    w = store.w
    hw = store.hw
    while True:
        cur = w.load(hw + F_LENGTH)
        if cur == r.start:
            break
        if w.wait(hw + F_LENGTH, cur, OWNER_CHECK_MS) == "timed-out":
            _recover_dead_rows(store, payload, cur, r)
    w.store(hw + F_LENGTH, r.end)
    w.set(r.slot + R_OWNER, 0)
    w.notify(hw + F_LENGTH)


def _recover_dead_rows(store, payload, frm, r):
    """If rows [frm, r.start) are reserved only by dead processes' threads, makes them null rows
    and publishes them."""
    w = store.w
    hw = store.hw
    to = r.start
    lock_append(store, r.slot)
    try:
        if w.load(hw + F_LENGTH) != frm:
            return
        dead = []
        covered = frm
        while covered < to:
            nxt = -1
            for k in range(RESERVE_SLOTS):
                at = hw + F_RESERVATIONS + k * RESERVE_WORDS
                if w.get(at + R_OWNER) != 0 and w.get(at + R_START) == covered:
                    nxt = at
                    break
            if nxt < 0 or not _dead_owner(store, w.get(nxt + R_OWNER), nxt, r.slot):
                return
            dead.append(nxt)
            covered = w.get(nxt + R_END)
            if covered > to:
                return
        n = to - frm
        nulls = np.zeros(n, bool)
        for k, s in enumerate(r.staged):
            c = s.col
            if c.kind == "utf8":
                offsets = store.values(payload, c, 0, to + 1)
                offsets[frm + 1 : to] = offsets[frm]
                offsets[to] = r.byte_starts[k]
            elif c.kind == "category":
                store.values(payload, c, frm, n)[:] = -1
            elif c.dt.kind == "S":
                store.values(payload, c, frm, n)[:] = b""
            else:
                store.values(payload, c, frm, n).view(np.uint8)[:] = 0
            store.write_validity(payload, c, frm, n, nulls)
        for at in dead:
            w.set(at + R_OWNER, 0)
        w.store(hw + F_LENGTH, to)
        w.notify(hw + F_LENGTH)
    finally:
        unlock_append(store)
