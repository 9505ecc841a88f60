"""SharedLock for Python (``src/sync/lock-engine.ts``): the same FIFO ticket lock, so Node and
Python processes exclude each other, and its repair after a holder or waiter died.

Layout (int32 words of the block payload)::

    [0] magic  [1] layout version  [2] ring size R
    [16] NEXT  [17] SERVING  [18] OWNER (identity + 1)  [19] DIED  [20] room waiters
    [21] acquisitions
    [32 .. 32+R) ring: GRANT(t) or CANCEL(t) for ticket t (mod R)
    [32+R .. 32+2R) identity + 1 of the thread that took ticket t

The identity a Python lock records is the one whose ledger holds the lock's reference (so a
process that dies holding it is repaired like a Node thread); which Python thread holds it is
kept in the object, and only that thread may release it.

Waiters sleep in slices and then look at the holder (``_check_holder``): a holder that is
provably gone (its process died, or OWNER names no thread at all) is repaired as if released
dead, so a damaged OWNER word never leaves a waiter waiting for nobody.
"""
import threading

from ..errors import CorruptError, InvalidArgumentError, LockOwnerError, ShmframeTimeoutError, describe
from ..heap.heap import BlockRef, Heap, resolve
from ..heap.kinds import register_kind
from ..heap.layout import KIND_LOCK, i32
from ..heap.owned_mutex import OWNER_CHECK_MS
from .mutex import deadline_of, remaining

KIND = "lock"
LOCK_MAGIC = 0x314B4C53  # "SLK1"
VERSION = 1
RING = 256
MASK = RING - 1
W_MAGIC, W_VERSION, W_RING = 0, 1, 2
NEXT, SERVING, OWNER, DIED, ROOM_WAITERS, ACQUISITIONS = 16, 17, 18, 19, 20, 21
RING_AT = 32
TIDS = RING_AT + RING
LOCK_BYTES = (TIDS + RING) * 4
SPINS = 64


def grant(t):
    return i32(t * 2 + 1)


def cancel(t):
    return i32(t * 2 + 2)


class LockEngine:
    def __init__(self, w, base_word, me, gone=None):
        if w.load(base_word + W_MAGIC) != LOCK_MAGIC or w.get(base_word + W_VERSION) != VERSION:
            raise CorruptError("Block is not a SharedLock of this layout version (bad magic)")
        if w.get(base_word + W_RING) != RING:
            raise CorruptError(f"SharedLock has ring size {w.get(base_word + W_RING)}, expected {RING}")
        self.w = w
        self.b = base_word
        self.me = me
        self.owner_died = False
        # gone(tid): whether an identity is provably gone (normally HeapCore.is_thread_gone).
        self.gone = gone if gone is not None else (lambda tid: False)
        # SERVING when the last slice check found the lock without an owner and nothing granted.
        self._ownerless = None

    @staticmethod
    def format(w, b):
        w.set(b + W_VERSION, VERSION)
        w.set(b + W_RING, RING)
        w.set(b + SERVING, -1)
        w.set(b + RING_AT, grant(0))
        w.store(b + W_MAGIC, LOCK_MAGIC)

    def owner(self):
        o = self.w.load(self.b + OWNER)
        return None if o == 0 else o - 1

    def try_acquire(self):
        w, b = self.w, self.b
        t = w.load(b + NEXT)
        if w.load(b + RING_AT + (t & MASK)) != grant(t):
            return False
        if w.cas(b + NEXT, t, i32(t + 1)) != t:
            return False
        w.store(b + TIDS + (t & MASK), self.me)
        self._claim(t)
        return True

    def acquire(self, timeout_ms):
        w, b = self.w, self.b
        if self.try_acquire():
            return True
        deadline = deadline_of(timeout_ms)
        while True:
            t = w.load(b + NEXT)
            s = w.load(b + SERVING)
            if i32(t - s) >= RING:
                left = remaining(deadline)
                if left is not None and left <= 0:
                    return False
                w.add(b + ROOM_WAITERS, 1)
                w.wait(b + SERVING, s, left)
                w.sub(b + ROOM_WAITERS, 1)
                continue
            if w.cas(b + NEXT, t, i32(t + 1)) == t:
                w.store(b + TIDS + (t & MASK), self.me)
                break
        at = b + RING_AT + (t & MASK)
        g = grant(t)
        spins = 0
        while True:
            v = w.load(at)
            if v == g:
                break
            spins += 1
            if spins < SPINS:
                continue
            left = remaining(deadline)
            if left is not None and left <= 0:
                if w.cas(at, v, cancel(t)) == v:
                    return False
                continue
            slice_ms = OWNER_CHECK_MS if left is None else min(left, OWNER_CHECK_MS)
            if w.wait(at, v, slice_ms) == "timed-out":
                self._check_holder()
        self._claim(t)
        return True

    def _check_holder(self):
        """Called by a waiter after a slice without its grant. If OWNER names an identity that is
        gone, the lock is repaired as if that identity had been released dead, unless the one
        that took the serving ticket is alive: then OWNER was overwritten and is given back to
        it. If the lock has no owner and nothing granted for two checks in a row, the same, for
        the identity that took the serving ticket."""
        w, b = self.w, self.b
        o = w.load(b + OWNER)
        s = w.load(b + SERVING)
        taker = w.load(b + TIDS + (s & MASK))
        if o != 0:
            self._ownerless = None
            if not self.gone(o - 1):
                return
            if taker != o and taker != 0 and not self.gone(taker - 1):
                w.cas(b + OWNER, o, taker)
                return
            self._repair(o)
            return
        if taker == 0 or self._granted_after(s):
            self._ownerless = None
            return
        if self.gone(taker - 1):
            self._repair(taker)
        elif self._ownerless == s:
            w.cas(b + OWNER, 0, taker)
        self._ownerless = s

    def _claim(self, t):
        w, b = self.w, self.b
        w.store(b + SERVING, t)
        self.owner_died = w.exchange(b + DIED, 0) != 0
        w.store(b + OWNER, self.me)
        w.add(b + ACQUISITIONS, 1)
        if w.load(b + ROOM_WAITERS) > 0:
            w.notify(b + SERVING)

    def release(self):
        w, b = self.w, self.b
        self.owner_died = False
        t = w.load(b + SERVING)
        w.store(b + OWNER, 0)
        self._grant_after(t)

    def _grant_after(self, t):
        w, b = self.w, self.b
        n = i32(t + 1)
        while True:
            at = b + RING_AT + (n & MASK)
            v = w.load(at)
            if v == cancel(n):
                n = i32(n + 1)
                continue
            if w.cas(at, v, grant(n)) == v:
                w.notify(at)
                return

    def _granted_after(self, t):
        w, b = self.w, self.b
        nxt = w.load(b + NEXT)
        n = i32(t + 1)
        while True:
            v = w.load(b + RING_AT + (n & MASK))
            if v == grant(n):
                return True
            if v != cancel(n) or n == nxt:
                return False
            n = i32(n + 1)

    @staticmethod
    def repair(block, tid):
        """Releases the lock if identity ``tid`` held it (the next holder sees owner_died) and
        cancels every ticket it was waiting with."""
        if block.byte_length < LOCK_BYTES:
            return
        w = block.core.w
        b = block.byte_offset // 4
        if w.load(b + W_MAGIC) != LOCK_MAGIC:
            return
        LockEngine(w, b, 0)._repair(tid + 1)

    def _repair(self, dead):
        w, b = self.w, self.b
        s = w.load(b + SERVING)
        if w.load(b + OWNER) == dead:
            if w.cas(b + OWNER, dead, 0) == dead:
                w.store(b + DIED, dead)
                self._grant_after(s)
        elif w.load(b + OWNER) == 0 and w.load(b + TIDS + (s & MASK)) == dead and not self._granted_after(s):
            self._grant_after(s)
        nxt = w.load(b + NEXT)
        t = i32(s + 1)
        k = 0
        # At most RING tickets are outstanding: a damaged NEXT cannot make this loop run on.
        while t != nxt and k < RING:
            if w.load(b + TIDS + (t & MASK)) == dead:
                at = b + RING_AT + (t & MASK)
                while True:
                    v = w.load(at)
                    if v == cancel(t):
                        break
                    if v == grant(t):
                        self._grant_after(t)
                        break
                    if w.cas(at, v, cancel(t)) == v:
                        break
            t = i32(t + 1)
            k += 1


class SharedLock:
    """A fair (first come, first served) lock in a heap, shared with Node and Python processes.
    Not reentrant; only the thread that acquired it releases it. ``with lock:`` holds it.

    Example::

        lock = heap.attach(text)      # SharedLock.create() in Node
        with lock:
            counters.numpy()[0] += 1
    """

    __slots__ = ("_ref", "_engine", "_holder", "__weakref__")

    def __init__(self, ref):
        self._ref = ref
        if ref.byte_length < LOCK_BYTES:
            raise CorruptError(f"SharedLock block holds {ref.byte_length} bytes, expected {LOCK_BYTES}")
        self._engine = LockEngine(ref.core.w, ref.byte_offset // 4, ref.owner + 1, ref.core.is_thread_gone)
        self._holder = None
        ref.track(self)

    @classmethod
    def create(cls, heap):
        if not isinstance(heap, Heap):
            raise InvalidArgumentError(f"Expected a shmframe.Heap as the first argument, got {describe(heap)}")
        ref = BlockRef.allocate(heap, KIND_LOCK, LOCK_BYTES, "a SharedLock", True)
        try:
            LockEngine.format(heap._core.w, ref.byte_offset // 4)
            return cls(ref)
        except BaseException:
            ref.release()
            raise

    @classmethod
    def attach(cls, handle):
        return cls._attach(resolve(handle) if isinstance(handle, str) else handle)

    @classmethod
    def _attach(cls, r):
        ref = BlockRef.adopt(r, KIND, KIND_LOCK, "SharedLock")
        try:
            return cls(ref)
        except BaseException:
            ref.release()
            raise

    @property
    def heap(self):
        return self._ref.heap

    @property
    def previous_owner_died(self):
        """True when this hold began by taking over from a holder that died."""
        return self._engine.owner_died

    def acquire(self, timeout=None):
        """Blocks until acquired (True), or False after ``timeout`` seconds."""
        self._ref.check("This SharedLock")
        me = threading.get_ident()
        if self._holder == me:
            raise LockOwnerError(
                "This thread already holds the SharedLock, and it is not reentrant: a blocking acquire() would wait forever."
            )
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0):
            raise InvalidArgumentError(f"Expected `timeout` in seconds (or None), got {describe(timeout)}")
        ok = self._engine.acquire(None if timeout is None else timeout * 1000.0)
        if ok:
            self._holder = me
        return ok

    def try_acquire(self):
        self._ref.check("This SharedLock")
        if self._holder is not None:
            return False
        ok = self._engine.try_acquire()
        if ok:
            self._holder = threading.get_ident()
        return ok

    def release(self):
        self._ref.check("This SharedLock")
        if self._holder != threading.get_ident():
            raise LockOwnerError("Cannot release a SharedLock this thread does not hold: only the holder releases it")
        self._holder = None
        self._engine.release()

    def __enter__(self):
        if not self.acquire():
            raise ShmframeTimeoutError("SharedLock.acquire() failed")
        return self

    def __exit__(self, *exc):
        self.release()

    @property
    def handle(self):
        self._ref.check("This SharedLock")
        return self._ref.reuse_handle(lambda: self._ref.share(KIND))

    def detach(self):
        """Drops this process's reference."""
        self._ref.release()

    close = detach

    def __reduce__(self):
        from ..array.shared_array import _attach_pickled

        return (_attach_pickled, (str(self._ref.share(KIND)),))

    def __repr__(self):
        if self._ref.closed:
            return "SharedLock(detached)"
        o = self._engine.owner()
        return "SharedLock(unlocked)" if o is None else f"SharedLock(held by identity {o})"


register_kind(KIND, KIND_LOCK, lambda r: SharedLock._attach(r), repair=LockEngine.repair)
