"""How queue items are written into slots (``src/sync/item-codec.ts`` for Python): small
primitives in a tag and at most 8 bytes (or a string's UTF-8 bytes), and single shared objects as
a 32-byte handle record (heap id f64, unit, generation, ticket, serial, kind code, reserved)."""
import struct

from ..errors import CorruptError, InvalidArgumentError, describe
from ..heap.handle import Handle
from ..heap.heap import BlockRef, Heap, _Resolved
from ..heap.kinds import attach_handle
from ..heap.layout import H_LOCK, KIND_NAMES

TAG_NULL, TAG_FALSE, TAG_TRUE, TAG_NUMBER, TAG_STRING, TAG_BIGINT, TAG_SHARED, TAG_VALUE = range(1, 9)
SLOT_HEADER = 16
RECORD = 32


class Encoded:
    """An item ready for a slot: its tag, payload bytes and the handles it made, (heap, Handle)
    pairs, each carrying a reference until a consumer attaches it. A put encodes inside a hold
    (heap/held.py): a producer killed before it publishes has those handles released."""

    __slots__ = ("tag", "payload", "handles")

    def __init__(self, tag, payload=b"", handles=()):
        self.tag = tag
        self.payload = payload
        self.handles = list(handles)


def share_count(item):
    """At most how many handles encoding ``item`` makes (a put holds room for that many)."""
    return 1 if isinstance(getattr(item, "_ref", None), BlockRef) else 0


def _too_big(n, max_bytes):
    return InvalidArgumentError(
        f"Expected a queue item of at most max_item_bytes = {max_bytes} bytes, got one that encodes to {n} bytes. "
        "Create the queue with a larger max_item_bytes, or put the data in a SharedArray/SharedFrame (moved by handle).",
        {"itemBytes": n, "maxItemBytes": max_bytes},
    )


def encode_item(item, max_bytes):
    """Encodes ``item`` for a slot of ``max_bytes`` payload bytes."""
    import numpy as np

    if isinstance(item, np.generic):
        item = item.item()
    if item is None:
        return Encoded(TAG_NULL)
    if item is True:
        return Encoded(TAG_TRUE)
    if item is False:
        return Encoded(TAG_FALSE)
    if isinstance(item, int):
        if -(2**53) + 1 <= item <= 2**53 - 1:
            e = Encoded(TAG_NUMBER, struct.pack("<d", float(item)))
        elif -(2**63) <= item < 2**63:
            e = Encoded(TAG_BIGINT, struct.pack("<q", item))
        else:
            raise InvalidArgumentError(f"Expected a queue item that fits a number or an int64, got {item}")
        if 8 > max_bytes:
            raise _too_big(8, max_bytes)
        return e
    if isinstance(item, float):
        if 8 > max_bytes:
            raise _too_big(8, max_bytes)
        return Encoded(TAG_NUMBER, struct.pack("<d", item))
    if isinstance(item, str):
        try:
            b = item.encode("utf-8")
        except UnicodeEncodeError as err:
            raise InvalidArgumentError(f"Expected valid Unicode for a queue item, got {item[:40]!r}") from err
        if len(b) > max_bytes:
            raise _too_big(len(b), max_bytes)
        return Encoded(TAG_STRING, b)
    ref = getattr(item, "_ref", None)
    if isinstance(ref, BlockRef):
        if RECORD > max_bytes:
            raise _too_big(RECORD, max_bytes)
        if getattr(item, "_is_view", False):
            raise InvalidArgumentError(
                "Cannot put a view (rows or columns of another object) into a SharedQueue from Python: put the whole object"
            )
        ref.check(f"This {type(item).__name__}")
        kind_name = KIND_NAMES[ref.kind]
        h = ref.share(kind_name)
        rec = struct.pack("<d6i", float(ref.core.id), ref.unit, ref.generation, h.ticket, h.serial, ref.kind, 0)
        return Encoded(TAG_SHARED, rec, [(ref.heap, h)])
    raise InvalidArgumentError(
        f"Cannot put {describe(item)} into a SharedQueue from Python: Python puts None, bools, numbers, str and "
        "shared objects (SharedArray, SharedFrame, SharedQueue, SharedLock); other values need Node's structured "
        "clone. Put the data in a SharedArray or SharedFrame and put that."
    )


def release_handles(handles):
    for heap, h in handles:
        try:
            heap._core.release_ticket(h.unit, h.ticket, h.serial)
        except Exception:
            pass


def read_record(buf, at):
    heap_id, unit, gen, ticket, serial, kind, _ = struct.unpack_from("<d6i", buf, at)
    return int(heap_id), unit & 0xFFFFFFFF, gen, ticket & 0xFFFFFFFF, serial, kind


def record_count(tag, length, handles):
    if tag == TAG_SHARED:
        return 1
    if tag == TAG_VALUE:
        return min(handles, length // RECORD)
    return 0


def release_records(records):
    unknown = 0
    for heap_id, unit, _, ticket, serial, _ in records:
        heap = Heap.by_id(heap_id)
        if heap is None:
            unknown += 1
            continue
        try:
            heap._core.release_ticket(unit, ticket, serial)
        except Exception:
            pass
    return unknown


def rearm_records(buf, at, n, tid):
    for i in range(n):
        heap_id, unit, gen, ticket, serial, kind = read_record(buf, at + i * RECORD)
        heap = Heap.by_id(heap_id)
        if heap is None:
            continue
        core = heap._core
        if core.w.load(H_LOCK) == tid + 1:
            continue
        try:
            if core.tickets.is_outstanding(ticket, serial, unit):
                continue
            core.inspect(unit, gen, kind, KIND_NAMES.get(kind, "object"))
            if core.ref_count(unit) <= 0:
                continue
            slot, new_serial = core.share(unit)
            struct.pack_into("<2i", buf, at + i * RECORD + 16, slot, new_serial)
        except Exception:
            pass


def _attach_record(r):
    heap_id, unit, gen, ticket, serial, kind = r
    heap = Heap.by_id(heap_id)
    name = KIND_NAMES.get(kind)
    if name is None:
        release_records([r])
        raise CorruptError(f"Queue slot names unknown kind code {kind}")
    return attach_handle(_Resolved(heap, Handle(name, heap_id, unit, gen, ticket, serial)))


def attach_record(r):
    heap_id, unit, gen, ticket, serial, kind = r
    heap = Heap.by_id(heap_id)
    name = KIND_NAMES.get(kind)
    if name is None:
        release_records([r])
        raise CorruptError(f"Queue slot names unknown kind code {kind}")
    return attach_handle(_Resolved(heap, Handle(name, heap_id, unit, gen, ticket, serial)))
