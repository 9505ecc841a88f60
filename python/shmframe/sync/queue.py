"""SharedQueue for Python (``src/sync/queue-engine.ts``, ``item-codec.ts`` and
``shared-queue.ts``): the same bounded ring of fixed-size slots in a heap block, so Python
producers and Node consumers (or the other way round) share one queue.

Items Python puts and takes: None, bools, numbers (a Python int within +-2**53 travels as a
number, as Node's are; larger ones in int64 as a bigint), str, and shared objects (SharedArray,
SharedFrame, SharedQueue, SharedLock) moved by handle with their reference. Items Node
structured-clones (objects, arrays, Maps...) are readable by Node only: a Python get raises
DtypeError and leaves such an item in the queue for a Node consumer.

Timeouts are in seconds (None: wait for ever), as with Python's ``queue.Queue``.
"""
from ..errors import CorruptError, InvalidArgumentError, QueueClosedError, QueueEmptyError, QueueFullError, describe
from ..heap.heap import BlockRef, Heap, resolve
from ..heap.kinds import register_kind
from ..heap.layout import KIND_QUEUE
from .items import encode_item, release_handles, share_count
from .queue_engine import DEFAULT_MAX_ITEM_BYTES, DRAINED, EMPTY_, KIND, MAX_CAPACITY, QueueEngine, queue_bytes


def _timeout_ms(timeout, what="timeout"):
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout != timeout or timeout < 0:
        raise InvalidArgumentError(f"Expected `{what}` to be a non-negative number of seconds (or None), got {describe(timeout)}")
    return float(timeout) * 1000.0


# ---------------------------------------------------------------------- public class


class SharedQueue:
    """A bounded multi-producer multi-consumer queue in a heap, shared with Node and Python
    processes (``SharedQueue.create({ capacity })`` in Node).

    Example::

        q = shmframe.attach(handle_text)          # a queue a Node process created
        a = shmframe.SharedArray.from_numpy(q.heap, frame_pixels)
        q.put(a, timeout=2)                       # the consumer gets the array; no copy
        a.close()                                 # the item carries its own reference
        q.put(None)                               # e.g. an end marker
    """

    __slots__ = ("_ref", "_engine", "__weakref__")

    def __init__(self, ref):
        self._ref = ref
        if ref.byte_length < 64:
            raise CorruptError("SharedQueue block is too small")
        self._engine = QueueEngine(ref.core, ref.heap._segment.mapping, ref.byte_offset, ref.byte_length & ~7)
        ref.track(self)

    @classmethod
    def create(cls, heap, capacity, max_item_bytes=DEFAULT_MAX_ITEM_BYTES):
        """A new empty queue of ``capacity`` slots of ``max_item_bytes`` each."""
        if not isinstance(heap, Heap):
            raise InvalidArgumentError(f"Expected a shmframe.Heap as the first argument, got {describe(heap)}")
        if not isinstance(capacity, int) or isinstance(capacity, bool) or not 1 <= capacity <= MAX_CAPACITY:
            raise InvalidArgumentError(f"Expected `capacity` to be a positive integer of at most {MAX_CAPACITY}, got {describe(capacity)}")
        if not isinstance(max_item_bytes, int) or isinstance(max_item_bytes, bool) or not 8 <= max_item_bytes <= 2**30:
            raise InvalidArgumentError(f"Expected `max_item_bytes` to be an integer from 8 to {2**30}, got {describe(max_item_bytes)}")
        nbytes = queue_bytes(capacity, max_item_bytes)
        ref = BlockRef.allocate(heap, KIND_QUEUE, nbytes, f"a SharedQueue of capacity {capacity}", True)
        try:
            QueueEngine.format(heap._core.w, ref.byte_offset, capacity, max_item_bytes)
            return cls(ref)
        except BaseException:
            ref.release()
            raise

    @classmethod
    def attach(cls, handle):
        return cls._attach(resolve(handle) if isinstance(handle, str) else handle)

    @classmethod
    def _attach(cls, r):
        ref = BlockRef.adopt(r, KIND, KIND_QUEUE, "SharedQueue")
        try:
            return cls(ref)
        except BaseException:
            ref.release()
            raise

    def _check(self):
        self._ref.check("This SharedQueue")

    @property
    def heap(self):
        return self._ref.heap

    @property
    def capacity(self):
        return self._engine.capacity

    @property
    def max_item_bytes(self):
        return self._engine.max_item_bytes

    @property
    def size(self):
        """Items in the queue now."""
        self._check()
        return self._engine.size

    def qsize(self):
        return self.size

    @property
    def closed(self):
        """True once close() was called (in any process)."""
        self._check()
        return self._engine.closed

    def put(self, item, timeout=None):
        """Appends ``item``, waiting while the queue is full: QueueFullError after ``timeout``
        seconds, QueueClosedError once the queue is closed. A failed put changes nothing (a
        shared object's reference it took is dropped)."""
        self._check()
        t = _timeout_ms(timeout)
        hold = self._hold(item)
        try:
            e = self._encode(item, hold)
            try:
                self._engine.put(e, t, None if hold is None else hold.commit(0))
            except BaseException:
                release_handles(e.handles)
                raise
        finally:
            if hold is not None:
                hold.end()

    def put_nowait(self, item):
        """Appends ``item`` if there is room now, else raises QueueFullError."""
        self._check()
        hold = self._hold(item)
        try:
            e = self._encode(item, hold)
            ok = False
            try:
                ok = self._engine.try_put(e, None if hold is None else hold.commit(0))
            finally:
                if not ok:
                    release_handles(e.handles)
        finally:
            if hold is not None:
                hold.end()
        if not ok:
            raise QueueFullError(
                f"SharedQueue.put_nowait(): the queue is full (capacity {self.capacity})", {"capacity": self.capacity}
            )

    def _hold(self, item):
        """A hold on the handles the item will make (heap/held.py), when it holds a shared
        object: if this process is killed before the put publishes (blocked on a full queue,
        say), whoever releases it releases them."""
        records = share_count(item)
        return None if records == 0 else self._ref.core.begin_hold(1, records)

    def _encode(self, item, hold):
        max_bytes = self._engine.max_item_bytes
        if hold is None:
            return encode_item(item, max_bytes)
        return hold.collect(0, lambda: encode_item(item, max_bytes))

    def get(self, timeout=None):
        """Takes the next item, waiting while the queue is empty: QueueEmptyError after
        ``timeout`` seconds, QueueClosedError once it is closed and drained. Shared objects
        arrive attached (close them when done)."""
        self._check()
        return self._engine.get(_timeout_ms(timeout))

    def get_nowait(self):
        """Takes the next item if there is one now, else raises QueueEmptyError."""
        self._check()
        r = self._engine.try_get()
        if r is EMPTY_:
            raise QueueEmptyError("SharedQueue.get_nowait(): the queue is empty")
        if r is DRAINED:
            raise QueueClosedError("SharedQueue.get_nowait(): the queue is closed and every item has been taken")
        return r

    def __iter__(self):
        """Items until the queue is closed and drained."""
        while True:
            try:
                yield self.get()
            except QueueClosedError:
                return

    def close(self):
        """Closes the queue for every process: puts fail from now on, gets drain then fail.
        (To drop only this process's reference, use ``detach()``.)"""
        self._check()
        self._engine.close()

    def task_done(self):
        self._check()
        self._engine.task_done()

    def join(self, timeout=None):
        """Waits until every item put was marked done with task_done()."""
        self._check()
        self._engine.join(_timeout_ms(timeout))

    @property
    def handle(self):
        self._check()
        return self._ref.reuse_handle(lambda: self._ref.share(KIND))

    def detach(self):
        """Drops this process's reference (the queue stays open for the others)."""
        self._ref.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.detach()

    def __reduce__(self):
        from ..array.shared_array import _attach_pickled

        return (_attach_pickled, (str(self._ref.share(KIND)),))

    def __repr__(self):
        if self._ref.closed:
            return "SharedQueue(detached)"
        e = self._engine
        return f"SharedQueue({e.size}/{e.capacity}{', closed' if e.closed else ''})"


register_kind(
    KIND,
    KIND_QUEUE,
    lambda r: SharedQueue._attach(r),
    dispose=QueueEngine.dispose,
    repair=QueueEngine.repair,
)
