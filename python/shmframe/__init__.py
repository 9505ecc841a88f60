"""shmframe for Python: numpy and pandas over shmframe heaps, shared with Node.js processes.

A heap in OS shared memory (a name in /dev/shm, a file, or a memfd) holds arrays, frames, queues
and locks that Node and Python processes use at once, with no copy: ``SharedArray.numpy()`` and
``SharedFrame.col()`` are numpy views, ``SharedFrame.to_pandas()`` a DataFrame over views.
Handles have a string form (``str(obj.handle)``) that ``attach`` accepts in either language.
See docs/python.md.
"""
from .errors import (
    AbortedError,
    ClosedError,
    CorruptError,
    DtypeError,
    ErrorCodes,
    HeapFullError,
    InvalidArgumentError,
    LockOwnerError,
    MissingDependencyError,
    NativeBackendError,
    ParseError,
    QueueClosedError,
    QueueEmptyError,
    QueueFullError,
    ShapeError,
    ShmframeError,
    ShmframeIOError,
    ShmframeTimeoutError,
    TaskError,
    UnknownHeapError,
    WorkerCrashedError,
    error_class,
)
from .heap.handle import Handle
from .heap.heap import Heap, attach
from .array.shared_array import SharedArray
from .frame.shared_frame import SharedFrame
from .sync.queue import SharedQueue
from .sync.lock import SharedLock

__version__ = "0.1.0"

__all__ = [
    "Heap",
    "SharedArray",
    "SharedFrame",
    "SharedQueue",
    "SharedLock",
    "Handle",
    "attach",
    "ErrorCodes",
    "error_class",
    "ShmframeError",
    "InvalidArgumentError",
    "DtypeError",
    "ShapeError",
    "HeapFullError",
    "ClosedError",
    "UnknownHeapError",
    "CorruptError",
    "QueueFullError",
    "QueueEmptyError",
    "QueueClosedError",
    "ShmframeTimeoutError",
    "AbortedError",
    "TaskError",
    "WorkerCrashedError",
    "ParseError",
    "ShmframeIOError",
    "LockOwnerError",
    "MissingDependencyError",
    "NativeBackendError",
]
