"""Waiting and waking on words of a process heap (``src/heap/futex.ts`` for Python).

Blocking waits are non-private futex waits of the C library, in slices of at most
:data:`SLICE_MS` (so Ctrl-C lands between two slices), with a look for dead processes when a
wait has slept a whole slice (a dead process may hold what the waiter waits for). Every wake is
a futex wake (blocking waiters of every process, Node's included) and, while some process has
async waits pending (``H_ASYNC_WAITERS``), a ring of that process's doorbell so that its relay
thread notifies its event loop. Python itself never waits asynchronously.

The ctypes call releases the GIL, so other Python threads run while one waits.
"""
import time

from .layout import (
    H_ASYNC_WAITERS,
    H_PROC_CAP,
    H_PROC_START,
    P_ASYNC,
    P_DOORBELL,
    P_STATE,
    PROC_LIVE,
    PROC_WORDS,
)

SLICE_MS = 50
# How often at most a blocked waiter looks for dead processes, in ms.
STALL_MS = 100


class ProcessLink:
    """How this process waits in one heap: its slot, and what to do when a wait stalls."""

    __slots__ = ("slot", "stall", "stalled")

    def __init__(self, slot, stall=None):
        self.slot = slot
        self.stall = stall
        self.stalled = 0.0


def wait_word(words, index, value, timeout_ms=None):
    """Waits while word ``index`` holds ``value``: 'ok', 'not-equal' or 'timed-out'."""
    link = words.link
    addr = words.base + 4 * index
    wait = words.native.futex_wait
    now = time.monotonic
    deadline = None if timeout_ms is None else now() + timeout_ms / 1000.0
    first = True
    while True:
        if deadline is None:
            left = SLICE_MS
        else:
            left = min(SLICE_MS, (deadline - now()) * 1000.0)
            if left <= 0:
                return "timed-out"
        r = wait(addr, value, left)
        if r == 0:
            return "ok"
        if r == 1:
            return "not-equal" if first else "ok"
        first = False
        if words.load(index) != value:
            return "ok"
        if r == 2 and link is not None and link.stall is not None:
            t = now()
            if (t - link.stalled) * 1000.0 >= STALL_MS:
                link.stalled = t
                link.stall()
                if words.load(index) != value:
                    return "ok"


def notify_word(words, index, count=None):
    """Wakes up to ``count`` (default all) waiters on word ``index``, in every process."""
    n = words.native.futex_wake(words.base + 4 * index, 2**31 - 1 if count is None else count)
    if words.load(H_ASYNC_WAITERS) > 0:
        ring_doorbells(words)
    return max(0, n)


def ring_doorbells(words):
    """Wakes the relay of every other process that has async waits pending in this heap."""
    link = words.link
    me = link.slot if link is not None else -1
    start = words.load(H_PROC_START)
    top = min(words.load(start), words.load(H_PROC_CAP))
    for s in range(1, top):
        at = start + s * PROC_WORDS
        if s == me or words.load(at + P_ASYNC) <= 0:
            continue
        if words.load(at + P_STATE) != PROC_LIVE:
            continue
        words.add(at + P_DOORBELL, 1)
        words.native.futex_wake(words.base + 4 * (at + P_DOORBELL), 1)
