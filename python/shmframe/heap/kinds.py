"""The registry of shared object kinds (``src/heap/kinds.ts``): what attaches a handle of each
kind, and the hooks a heap runs when a block is freed (``dispose``) or when a dead identity that
held it is released (``repair``: a queue mutex it held, a lock it owned)."""
import warnings

from ..errors import InvalidArgumentError

_attach = {}
_dispose = {}
_repair = {}


class FreedBlock:
    """Where a block lives, for a kind's hooks: its heap engine, unit and payload region."""

    __slots__ = ("core", "unit", "byte_offset", "byte_length")

    def __init__(self, core, unit, byte_offset, byte_length):
        self.core = core
        self.unit = unit
        self.byte_offset = byte_offset
        self.byte_length = byte_length


def register_kind(name, code, attach, dispose=None, repair=None):
    _attach[name] = attach
    if dispose is not None:
        _dispose[code] = dispose
    if repair is not None:
        _repair[code] = repair


def attach_handle(handle):
    """Attaches a parsed handle of any registered kind."""
    fn = _attach.get(handle.kind)
    if fn is None:
        raise InvalidArgumentError(
            f"No Python class handles shared objects of kind '{handle.kind}': the Python package "
            f"attaches arrays, frames, queues and locks"
        )
    return fn(handle)


def dispose_block(code, block):
    fn = _dispose.get(code)
    if fn is None:
        return
    try:
        fn(block)
    except Exception as err:  # never stop a free
        warnings.warn(f"shmframe: releasing the contents of a freed block (kind {code}) failed: {err}")


def repair_block(code, block, tid):
    fn = _repair.get(code)
    if fn is None:
        return
    try:
        fn(block, tid)
    except Exception as err:
        warnings.warn(f"shmframe: repairing a block (kind {code}) after identity {tid} was released failed: {err}")
