"""BlockRef (``src/heap/block-ref.ts``): one reference, held by this process, to one block, and
the payload holder whose finalizer is the safety net; and how a handle string says where its
heap is."""
import weakref

import numpy as np

from ..errors import ClosedError, InvalidArgumentError
from .handle import Handle, b64
from .layout import BACKING_FILE, BACKING_MEMFD, BACKING_NAMED


def _where(core):
    """The part of a handle string saying how to reach the heap."""
    if core.backing == BACKING_NAMED:
        return "n" + core.path
    if core.backing == BACKING_FILE:
        return "f" + b64(core.path)
    if core.backing == BACKING_MEMFD and core.procs is not None:
        holder = core.procs.memfd_holder(core.slot)
        if holder is not None:
            return f"m{holder[0]}.{holder[1]}"
    return "t"


class BlockRef:
    """One reference, held by this process, to one block (block-ref.ts). ``release()`` drops
    it; the last drop in any process frees the block. A finalizer on the payload holder (the
    object every numpy view of the block keeps alive) is the safety net."""

    __slots__ = (
        "heap",
        "core",
        "unit",
        "generation",
        "kind",
        "byte_offset",
        "byte_length",
        "owner",
        "epoch",
        "released",
        "_handle",
        "_finalizer",
        "_payload",
        "__weakref__",
    )

    def __init__(self, heap, info):
        self.heap = heap
        self.core = heap._core
        self.unit = info.unit
        self.generation = info.generation
        self.kind = info.kind
        self.byte_offset = info.byte_offset
        self.byte_length = info.byte_length
        self.owner = info.owner
        self.epoch = self.core.epoch
        self.released = False
        self._handle = None
        self._finalizer = None
        self._payload = None

    @staticmethod
    def allocate(heap, kind, nbytes, what, zero):
        return BlockRef(heap, heap._core.allocate(nbytes, kind, what, zero))

    @staticmethod
    def adopt(resolved, kind_name, code, class_name):
        h = resolved.handle
        if h.kind != kind_name:
            raise InvalidArgumentError(
                f"Expected a handle of a {class_name}, got a handle of a {h.kind}: use the matching attach"
            )
        heap = resolved.heap
        info = heap._core.adopt(h.unit, h.generation, h.ticket, h.serial, code, class_name)
        return BlockRef(heap, info)

    @property
    def closed(self):
        return self.released or self.epoch != self.core.epoch

    def check(self, what):
        if self.closed:
            raise ClosedError(f"{what} is closed: it was closed (or its process left the heap) and cannot be used")

    def payload(self):
        """A uint8 numpy array over the block's payload. Its base is the holder whose finalizer
        drops this reference once this object and every view of the payload are gone."""
        p = self._payload
        if p is None:
            holder = _Payload(self.core.w.base + self.byte_offset, self.byte_length)
            p = np.asarray(holder)
            self._payload = p
            self._finalizer = weakref.finalize(
                holder, _collected, weakref.ref(self), self.core, self.unit, self.owner, self.epoch
            )
            self._finalizer.atexit = False
        return p

    def track(self, target):
        """Releases this reference once ``target`` is collected (objects without payload views)."""
        if self._finalizer is None:
            self._finalizer = weakref.finalize(
                target, _collected, weakref.ref(self), self.core, self.unit, self.owner, self.epoch
            )
            self._finalizer.atexit = False

    def dup(self):
        """A second reference to the same block (for a view)."""
        self.check("The object")
        owner = self.core.retain(self.unit)
        info = _Info(self.unit, self.generation, self.kind, self.byte_offset, self.byte_length, owner)
        return BlockRef(self.heap, info)

    def share(self, kind_name, view=None):
        """A handle carrying a new reference (moved to whoever attaches it)."""
        self.check(f"This {kind_name}")
        core = self.core
        slot, serial = core.share(self.unit)
        return Handle(kind_name, core.id, self.unit, self.generation, slot, serial, view, lambda: _where(core))

    def reuse_handle(self, make):
        h = self._handle
        if h is not None and self.core.tickets.is_outstanding(h.ticket, h.serial, h.unit):
            return h
        h = make()
        self._handle = h
        return h

    def release(self):
        """Drops the reference; idempotent."""
        if self.released:
            return
        self.released = True
        if self._finalizer is not None:
            self._finalizer.detach()
        if self.epoch != self.core.epoch:
            return  # this process released it wholesale (it left), or this is a forked child's copy
        self.core.release(self.unit, self.owner)


class _Info:
    __slots__ = ("unit", "generation", "kind", "byte_offset", "byte_length", "owner")

    def __init__(self, unit, generation, kind, byte_offset, byte_length, owner):
        self.unit = unit
        self.generation = generation
        self.kind = kind
        self.byte_offset = byte_offset
        self.byte_length = byte_length
        self.owner = owner


class _Payload:
    """Exposes a block's payload to numpy; every view of it keeps this object alive."""

    __slots__ = ("__array_interface__", "__weakref__")

    def __init__(self, address, nbytes):
        self.__array_interface__ = {
            "shape": (nbytes,),
            "typestr": "|u1",
            "data": (address, False),
            "version": 3,
        }


def _collected(ref, core, unit, owner, epoch):
    r = ref()
    if r is not None:
        if r.released:
            return
        r.released = True
    core.release_later(unit, owner, epoch)


