"""The engine of SharedQueue (``src/sync/queue-engine.ts`` for Python; read it for the design):
a bounded ring of fixed-size slots in one block, Vyukov-style sequence words, a producer mutex
and a consumer mutex recording their holder's identity, futex words to sleep on, and the dispose
and repair hooks that run when the queue is freed or a holder died."""
import struct

from ..errors import (
    CorruptError,
    DtypeError,
    InvalidArgumentError,
    QueueClosedError,
    QueueEmptyError,
    QueueFullError,
    ShmframeTimeoutError,
    UnknownHeapError,
)
from ..heap.heap import Heap
from ..heap.kinds import FreedBlock
from .items import (
    RECORD,
    SLOT_HEADER,
    TAG_BIGINT,
    TAG_FALSE,
    TAG_NULL,
    TAG_NUMBER,
    TAG_SHARED,
    TAG_STRING,
    TAG_TRUE,
    TAG_VALUE,
    attach_record,
    read_record,
    rearm_records,
    record_count,
    release_records,
)
from .mutex import deadline_of, force_unlock, held_by, lock_within, remaining, unlock

KIND = "queue"
QUEUE_MAGIC = 0x31515348  # "HSQ1"
VERSION = 1
MAGIC, _VERSION, CAPACITY, SLOT_BYTES, MAX_ITEM, MODULUS = 0, 1, 2, 3, 4, 5
CLOSED = 8
TAIL = 16
PLOCK = 17
PUTS = 19
HEAD = 32
CLOCK = 33
NOT_EMPTY = 48
GET_WAITERS = 49
GET_SIGNALED = 50
NOT_FULL = 64
PUT_WAITERS = 65
PUT_SIGNALED = 66
DONE = 80
JOIN_WAITERS = 81
HEADER_BYTES = 6 * 64
MAX_CAPACITY = 2**24
MAX_BLOCK_BYTES = 2**31
SPINS = 400
TRY_MUTEX_MS = 100
DEFAULT_MAX_ITEM_BYTES = 1024

OK, FULL, CLOSED_ = 0, 1, 2
EMPTY_ = object()
DRAINED = object()


def slot_bytes_for(max_item_bytes):
    return -(-(SLOT_HEADER + max_item_bytes) // 64) * 64


def queue_bytes(capacity, max_item_bytes):
    n = HEADER_BYTES + capacity * slot_bytes_for(max_item_bytes)
    if n > MAX_BLOCK_BYTES:
        raise InvalidArgumentError(
            f"A queue of capacity {capacity} with max_item_bytes {max_item_bytes} needs {n} bytes, more than the "
            f"{MAX_BLOCK_BYTES}-byte limit: lower one of them (put large data in SharedArrays; items then carry only handles)."
        )
    return n


class QueueEngine:
    """The ring in one block. The mutex words record the identity (+ 1) of the thread in the
    section; a mutex left held by an identity that is gone (or naming the caller itself: stale)
    is repaired and released by whoever waits for it."""

    def __init__(self, core, buf, byte_offset, byte_length):
        w = core.w
        self.core = core
        self.w = w
        self.buf = buf
        self.qw = byte_offset // 4
        h = read_header(w, self.qw, byte_length)
        self.capacity, self.max_item_bytes, self.slot_bytes, self.m = h
        block = FreedBlock(core, 0, byte_offset, byte_length)

        def stale(holder):
            if holder == core.tid() + 1 or core.is_thread_gone(holder - 1):
                QueueEngine.repair(block, holder - 1)

        self._stale = stale

    def _lock(self, at, ms):
        return lock_within(self.w, self.qw + at, ms, self.core.tid() + 1, self._stale)

    @staticmethod
    def format(w, byte_offset, capacity, max_item_bytes):
        qw = byte_offset // 4
        slot_bytes = slot_bytes_for(max_item_bytes)
        w.set(qw + _VERSION, VERSION)
        w.set(qw + CAPACITY, capacity)
        w.set(qw + SLOT_BYTES, slot_bytes)
        w.set(qw + MAX_ITEM, max_item_bytes)
        w.set(qw + MODULUS, capacity * (2**29 // capacity))
        for i in range(capacity):
            w.set(qw + (HEADER_BYTES + i * slot_bytes) // 4, 2 * i)
        w.store(qw + MAGIC, QUEUE_MAGIC)

    def _next(self, p):
        return 0 if p + 1 == self.m else p + 1

    def _seq_at(self, p):
        return self.qw + (HEADER_BYTES + (p % self.capacity) * self.slot_bytes) // 4

    @property
    def size(self):
        w = self.w
        d = w.load(self.qw + TAIL) - w.load(self.qw + HEAD)
        return max(0, min(self.capacity, d + self.m if d < 0 else d))

    @property
    def closed(self):
        return self.w.load(self.qw + CLOSED) != 0

    @property
    def unfinished(self):
        return ((self.w.load(self.qw + PUTS) - self.w.load(self.qw + DONE)) + 2**31) % 2**32 - 2**31

    def _has_room(self):
        t = self.w.load(self.qw + TAIL)
        return self.w.load(self._seq_at(t)) == 2 * t

    def _has_item(self):
        h = self.w.load(self.qw + HEAD)
        return self.w.load(self._seq_at(h)) == 2 * h + 1

    # ---- producer side

    def _publish(self, e, commit=None):
        """Copies ``e`` into the next free slot and publishes it. Called holding the producer
        mutex; releases it. ``commit`` (a put's hold on its item's handles, heap/held.py) is
        disarmed right after the tail moves: from then on the handles are the queue's."""
        w = self.w
        qw = self.qw
        t = w.get(qw + TAIL)
        seq = self._seq_at(t)
        if w.get(qw + CLOSED) != 0:
            unlock(w, qw + PLOCK)
            return CLOSED_
        if w.load(seq) != 2 * t:
            unlock(w, qw + PLOCK)
            return FULL
        body = seq * 4 + SLOT_HEADER
        self.buf[body : body + len(e.payload)] = e.payload
        w.set(seq + 1, len(e.payload))
        w.set(seq + 2, e.tag)
        w.set(seq + 3, len(e.handles))
        nxt = self._next(t)
        # Commit: a process killed after the tail store has its slot published by `repair`.
        w.set(qw + PUTS, w.get(qw + PUTS) + 1)
        w.set(qw + TAIL, nxt)
        if commit is not None:
            commit.w.set(commit.index, 0)
        w.store(seq, 2 * t + 1)
        self._after_publish()
        return OK

    def _after_publish(self):
        w = self.w
        qw = self.qw
        unlock(w, qw + PLOCK)
        if w.load(qw + GET_WAITERS) > 0:
            self._signal(GET_SIGNALED, NOT_EMPTY)
        if w.load(qw + PUT_WAITERS) > 0 and self._has_room():
            self._signal(PUT_SIGNALED, NOT_FULL)

    def _signal(self, flag, futex):
        w = self.w
        qw = self.qw
        if w.load(qw + flag) == 0 and w.exchange(qw + flag, 1) == 0:
            w.add(qw + futex, 1)
            w.notify(qw + futex, 1)

    def _sleep(self, waiters, flag, futex, left, room):
        w = self.w
        qw = self.qw
        w.add(qw + waiters, 1)
        w.store(qw + flag, 0)
        v = w.load(qw + futex)
        if not (self._has_room() if room else self._has_item()) and not self.closed:
            w.wait(qw + futex, v, left)
        w.sub(qw + waiters, 1)
        w.store(qw + flag, 0)

    def _spin_for(self, room):
        for _ in range(SPINS):
            if (self._has_room() if room else self._has_item()) or self.closed:
                return True
        return False

    def try_put(self, e, commit=None):
        if not self._lock(PLOCK, TRY_MUTEX_MS):
            return False
        r = self._publish(e, commit)
        if r == CLOSED_:
            raise _closed_error("SharedQueue.put_nowait()")
        return r == OK

    def put(self, e, timeout_ms, commit=None):
        deadline = None
        started = False
        while True:
            if not self._lock(PLOCK, timeout_ms if not started else remaining(deadline)):
                raise self._full_error(timeout_ms)
            r = self._publish(e, commit)
            if r == OK:
                return
            if r == CLOSED_:
                raise _closed_error("SharedQueue.put()")
            if not started:
                deadline = deadline_of(timeout_ms)
                started = True
            if self._spin_for(True):
                continue
            left = remaining(deadline)
            if left is not None and left <= 0:
                raise self._full_error(timeout_ms)
            self._sleep(PUT_WAITERS, PUT_SIGNALED, NOT_FULL, left, True)

    def _full_error(self, timeout_ms):
        return QueueFullError(
            f"SharedQueue.put() timed out after {timeout_ms / 1000:g} s: the queue stayed full (capacity {self.capacity})",
            {"timeout": timeout_ms, "capacity": self.capacity},
        )

    # ---- consumer side

    def _take(self):
        """Takes the next item holding the consumer mutex, which it releases."""
        w = self.w
        qw = self.qw
        h = w.get(qw + HEAD)
        seq = self._seq_at(h)
        if w.load(seq) != 2 * h + 1:
            closed = self.closed
            unlock(w, qw + CLOCK)
            if closed and not self._has_item():
                return DRAINED
            return EMPTY_
        body = seq * 4 + SLOT_HEADER
        length = w.get(seq + 1)
        tag = w.get(seq + 2)
        buf = self.buf
        records = []
        attaching = False
        try:
            if tag == TAG_NULL:
                value = None
            elif tag == TAG_FALSE:
                value = False
            elif tag == TAG_TRUE:
                value = True
            elif tag == TAG_NUMBER:
                value = struct.unpack_from("<d", buf, body)[0]
            elif tag == TAG_STRING:
                value = bytes(buf[body : body + length]).decode("utf-8")
            elif tag == TAG_BIGINT:
                value = struct.unpack_from("<q", buf, body)[0]
            elif tag in (TAG_SHARED, TAG_VALUE):
                if not 0 <= length <= self.max_item_bytes:
                    raise CorruptError(f"Queue slot claims {length} bytes")
                n = record_count(tag, length, w.get(seq + 3))
                records = [read_record(buf, body + i * RECORD) for i in range(n)]
                for r in records:
                    if Heap.by_id(r[0]) is None:
                        raise UnknownHeapError(
                            f"The next queue item carries a shared object of heap {r[0]:x}, which this process has not "
                            "opened, so it cannot attach it; the item stays in the queue.",
                            {"heap": r[0]},
                        )
                if tag == TAG_VALUE:
                    raise DtypeError(
                        "The next queue item is a structured-clone value (an object, array, Map... put by Node), which "
                        "only Node can read: the item stays in the queue for a Node consumer. Put numbers, strings, "
                        "None/null, booleans or single shared objects for Python consumers."
                    )
                attaching = True
                value = attach_record(records[0])
            else:
                raise CorruptError(f"Queue slot has unknown tag {tag}")
        except (UnknownHeapError, DtypeError):
            unlock(w, qw + CLOCK)
            raise
        except BaseException:
            if not attaching:
                release_records(records)
            self._commit_take(h, seq)
            raise
        self._commit_take(h, seq)
        return value

    def _commit_take(self, h, seq):
        w = self.w
        free = h + self.capacity
        if free >= self.m:
            free -= self.m
        w.set(self.qw + HEAD, self._next(h))
        w.store(seq, 2 * free)
        self._after_take()

    def _after_take(self):
        w = self.w
        qw = self.qw
        unlock(w, qw + CLOCK)
        if w.load(qw + PUT_WAITERS) > 0:
            self._signal(PUT_SIGNALED, NOT_FULL)
        if w.load(qw + GET_WAITERS) > 0 and self._has_item():
            self._signal(GET_SIGNALED, NOT_EMPTY)

    def try_get(self):
        if not self._has_item() and not self.closed:
            return EMPTY_
        if not self._lock(CLOCK, TRY_MUTEX_MS):
            return EMPTY_
        return self._take()

    def get(self, timeout_ms):
        deadline = None
        started = False
        while True:
            r = EMPTY_
            if self._has_item() or self.closed:
                if not self._lock(CLOCK, timeout_ms if not started else remaining(deadline)):
                    raise self._empty_error(timeout_ms)
                r = self._take()
            if r is DRAINED:
                raise QueueClosedError("SharedQueue.get(): the queue is closed and every item has been taken")
            if r is not EMPTY_:
                return r
            if not started:
                deadline = deadline_of(timeout_ms)
                started = True
            if self._spin_for(False):
                continue
            left = remaining(deadline)
            if left is not None and left <= 0:
                raise self._empty_error(timeout_ms)
            self._sleep(GET_WAITERS, GET_SIGNALED, NOT_EMPTY, left, False)

    def _empty_error(self, timeout_ms):
        return QueueEmptyError(
            f"SharedQueue.get() timed out after {timeout_ms / 1000:g} s: the queue stayed empty",
            {"timeout": timeout_ms},
        )

    # ---- close, tasks

    def close(self):
        w = self.w
        qw = self.qw
        if w.load(qw + CLOSED) != 0:
            return
        locked = self._lock(PLOCK, TRY_MUTEX_MS)
        w.store(qw + CLOSED, 1)
        if locked:
            unlock(w, qw + PLOCK)
        w.add(qw + NOT_EMPTY, 1)
        w.notify(qw + NOT_EMPTY)
        w.add(qw + NOT_FULL, 1)
        w.notify(qw + NOT_FULL)

    def task_done(self):
        w = self.w
        qw = self.qw
        while True:
            d = w.load(qw + DONE)
            u = ((w.load(qw + PUTS) - d) + 2**31) % 2**32 - 2**31
            if u <= 0:
                raise InvalidArgumentError(
                    "SharedQueue.task_done() was called more times than items were put: call it once per item taken"
                )
            if w.cas(qw + DONE, d, d + 1) == d:
                if u == 1 and w.load(qw + JOIN_WAITERS) > 0:
                    w.notify(qw + DONE)
                return

    def join(self, timeout_ms):
        w = self.w
        qw = self.qw
        deadline = deadline_of(timeout_ms)
        while True:
            d = w.load(qw + DONE)
            u = ((w.load(qw + PUTS) - d) + 2**31) % 2**32 - 2**31
            if u <= 0:
                return
            left = remaining(deadline)
            if left is not None and left <= 0:
                raise ShmframeTimeoutError(
                    f"SharedQueue.join() timed out after {timeout_ms / 1000:g} s with {u} item(s) not marked done",
                    {"timeout": timeout_ms, "unfinished": u},
                )
            w.add(qw + JOIN_WAITERS, 1)
            w.wait(qw + DONE, d, left)
            w.sub(qw + JOIN_WAITERS, 1)

    # ---- lifetime hooks

    @staticmethod
    def dispose(block):
        """Drops the references carried by items never taken (the queue's last reference is gone)."""
        core = block.core
        w = core.w
        buf = core.mapping
        qw = block.byte_offset // 4
        if w.load(qw + MAGIC) != QUEUE_MAGIC:
            return
        capacity, max_item, slot_bytes, m = read_header(w, qw, block.byte_length & ~7)
        p = w.load(qw + HEAD)
        for _ in range(capacity):
            seq = qw + (HEADER_BYTES + (p % capacity) * slot_bytes) // 4
            if w.load(seq) != 2 * p + 1:
                break
            tag = w.get(seq + 2)
            count = record_count(tag, min(w.get(seq + 1), max_item), w.get(seq + 3))
            records = [read_record(buf, seq * 4 + SLOT_HEADER + i * RECORD) for i in range(count)]
            release_records(records)
            w.store(seq, 0)
            p = 0 if p + 1 == m else p + 1

    @staticmethod
    def repair(block, tid):
        """Finishes or undoes what identity ``tid`` left half-done when it was released."""
        core = block.core
        w = core.w
        buf = core.mapping
        qw = block.byte_offset // 4
        if w.load(qw + MAGIC) != QUEUE_MAGIC:
            return
        capacity, max_item, slot_bytes, m = read_header(w, qw, block.byte_length & ~7)

        def seq_at(p):
            return qw + (HEADER_BYTES + (p % capacity) * slot_bytes) // 4

        def prev(p):
            return m - 1 if p == 0 else p - 1

        repaired = False
        if held_by(w, qw + PLOCK, tid):
            t = prev(w.load(qw + TAIL))
            if w.load(seq_at(t)) == 2 * t:
                w.store(seq_at(t), 2 * t + 1)
            repaired = force_unlock(w, qw + PLOCK, tid)
        if held_by(w, qw + CLOCK, tid):
            p = prev(w.load(qw + HEAD))
            if w.load(seq_at(p)) == 2 * p + 1:
                w.store(qw + HEAD, p)
            head = w.load(qw + HEAD)
            seq = seq_at(head)
            if w.load(seq) == 2 * head + 1:
                tag = w.get(seq + 2)
                n = record_count(tag, min(w.get(seq + 1), max_item), w.get(seq + 3))
                rearm_records(buf, seq * 4 + SLOT_HEADER, n, tid)
            repaired = force_unlock(w, qw + CLOCK, tid) or repaired
        if repaired:
            w.add(qw + NOT_EMPTY, 1)
            w.notify(qw + NOT_EMPTY)
            w.add(qw + NOT_FULL, 1)
            w.notify(qw + NOT_FULL)


def read_header(w, qw, byte_length):
    if w.load(qw + MAGIC) != QUEUE_MAGIC or w.get(qw + _VERSION) != VERSION:
        raise CorruptError("Block is not a SharedQueue of this layout version (bad magic)")
    capacity = w.get(qw + CAPACITY)
    max_item = w.get(qw + MAX_ITEM)
    slot_bytes = w.get(qw + SLOT_BYTES)
    m = w.get(qw + MODULUS)
    if (
        not 1 <= capacity <= MAX_CAPACITY
        or not max_item >= 8
        or slot_bytes != slot_bytes_for(max_item)
        or m < capacity
        or m % capacity != 0
        or HEADER_BYTES + capacity * slot_bytes > byte_length
    ):
        raise CorruptError(
            f"SharedQueue header is inconsistent (capacity {capacity}, maxItemBytes {max_item}) with its {byte_length}-byte block"
        )
    return capacity, max_item, slot_bytes, m


def _closed_error(what):
    return QueueClosedError(f"{what} failed: the queue is closed (close() was called), so it takes no more items")
