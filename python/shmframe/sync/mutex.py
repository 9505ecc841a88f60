"""The queue's small mutex on two heap words (state = holder identity + 1, sleeping waiters):
``src/sync/mutex.ts`` for Python. Spins briefly, then sleeps on the futex; woken only if someone
sleeps. The holder's identity is recorded so the queue's repair can release a mutex whose holder
died mid-section.

It is only ever held inside synchronous code, so a word that names the very identity asking for
the mutex is stale: nothing of this thread can be inside the section. A waiter sleeps in slices
and asks ``stale(holder)`` after each one (``stale`` may repair and release the mutex)."""
import time

from ..heap.owned_mutex import OWNER_CHECK_MS

SPINS = 100


def deadline_of(timeout_ms):
    return None if timeout_ms is None else time.monotonic() + timeout_ms / 1000.0


def remaining(deadline):
    """Milliseconds left (None: forever; 0 once passed)."""
    if deadline is None:
        return None
    return max(0.0, (deadline - time.monotonic()) * 1000.0)


def lock_within(w, at, ms, me, stale=None):
    """Takes the mutex if it comes free within ``ms`` milliseconds (None: forever; 0: a short
    spin, never sleeps). ``stale(holder)`` is asked when the word names ``me`` and after every
    slice the holder kept it."""
    if w.cas(at, 0, me) == 0:
        return True
    for _ in range(SPINS):
        if w.load(at) == 0 and w.cas(at, 0, me) == 0:
            return True
    if stale is not None and w.load(at) == me:
        stale(me)
        if w.cas(at, 0, me) == 0:
            return True
    if ms is not None and ms <= 0:
        return False
    deadline = deadline_of(ms)
    w.add(at + 1, 1)
    try:
        while True:
            v = w.load(at)
            if v == 0 and w.cas(at, 0, me) == 0:
                return True
            left = remaining(deadline)
            if left is not None and left <= 0:
                return False
            if v == 0:
                continue
            slice_ms = OWNER_CHECK_MS if left is None else min(left, OWNER_CHECK_MS)
            if w.wait(at, v, slice_ms) == "timed-out" and stale is not None and w.load(at) == v:
                stale(v)
    finally:
        w.sub(at + 1, 1)


def unlock(w, at):
    w.store(at, 0)
    if w.load(at + 1) > 0:
        w.notify(at, 1)


def held_by(w, at, tid):
    return w.load(at) == tid + 1


def force_unlock(w, at, tid):
    """Releases a mutex held by an identity that is gone, waking everyone waiting for it."""
    if w.cas(at, tid + 1, 0) != tid + 1:
        return False
    w.notify(at)
    return True
