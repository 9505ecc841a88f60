"""Errors raised by shmframe: the same classes and ``code`` strings as the Node package.

Every error is a :class:`ShmframeError` with a stable ``code`` (``SHMFRAME_ERR_*``, equal to the
``code`` Node's errors carry), a message that says what was expected, what came and the fix when
one is known, and ``details`` (a dict of structured facts). Errors pickle with their code and
details, so they cross ``multiprocessing`` boundaries intact.

The queue errors also derive from :mod:`queue`'s ``Full`` and ``Empty``, and the timeout error
from the built-in ``TimeoutError``, so ``except queue.Empty:`` keeps working.
"""
import queue as _queue

__all__ = [
    "ErrorCodes",
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
    "error_class",
]


class ErrorCodes:
    """Every stable error code (the same strings as ``ErrorCodes`` in the Node package)."""

    INVALID_ARG = "SHMFRAME_ERR_INVALID_ARG"
    DTYPE = "SHMFRAME_ERR_DTYPE"
    SHAPE = "SHMFRAME_ERR_SHAPE"
    HEAP_FULL = "SHMFRAME_ERR_HEAP_FULL"
    CLOSED = "SHMFRAME_ERR_CLOSED"
    UNKNOWN_HEAP = "SHMFRAME_ERR_UNKNOWN_HEAP"
    CORRUPT = "SHMFRAME_ERR_CORRUPT"
    QUEUE_FULL = "SHMFRAME_ERR_QUEUE_FULL"
    QUEUE_EMPTY = "SHMFRAME_ERR_QUEUE_EMPTY"
    QUEUE_CLOSED = "SHMFRAME_ERR_QUEUE_CLOSED"
    TIMEOUT = "SHMFRAME_ERR_TIMEOUT"
    ABORTED = "SHMFRAME_ERR_ABORTED"
    TASK = "SHMFRAME_ERR_TASK"
    WORKER_CRASHED = "SHMFRAME_ERR_WORKER_CRASHED"
    PARSE = "SHMFRAME_ERR_PARSE"
    IO = "SHMFRAME_ERR_IO"
    LOCK_OWNER = "SHMFRAME_ERR_LOCK_OWNER"
    DEPENDENCY = "SHMFRAME_ERR_DEPENDENCY"
    NATIVE = "SHMFRAME_ERR_NATIVE"


class ShmframeError(Exception):
    """Base class of every error shmframe raises.

    ``code`` is stable across releases and languages; ``details`` holds structured facts
    (sizes, capacities...).

    Example::

        try:
            heap.attach(text)
        except shmframe.ShmframeError as err:
            if err.code == 'SHMFRAME_ERR_CLOSED': ...
    """

    code = None

    def __init__(self, message, details=None):
        super().__init__(message)
        self.message = message
        self.details = dict(details or {})

    def __reduce__(self):
        return (_rebuild, (type(self), self.message, self.details))

    def __str__(self):
        return self.message


def _rebuild(cls, message, details):
    return cls(message, details)


def _make(name, code, doc, bases=(ShmframeError,)):
    cls = type(name, bases, {"code": code, "__doc__": doc, "__module__": __name__})
    return cls


InvalidArgumentError = _make(
    "InvalidArgumentError", ErrorCodes.INVALID_ARG, "An argument has the wrong type or value."
)
DtypeError = _make(
    "DtypeError",
    ErrorCodes.DTYPE,
    "An unknown, unsupported or mismatched dtype (also: a column numpy cannot view).",
)
ShapeError = _make("ShapeError", ErrorCodes.SHAPE, "A shape, index or size that does not fit.")
HeapFullError = _make(
    "HeapFullError",
    ErrorCodes.HEAP_FULL,
    "The heap has no free block large enough, or a frame's rows, string bytes or dictionary are full.",
)
ClosedError = _make(
    "ClosedError", ErrorCodes.CLOSED, "The object (or the block a handle names) was closed and freed."
)
UnknownHeapError = _make(
    "UnknownHeapError", ErrorCodes.UNKNOWN_HEAP, "A handle names a heap this process cannot reach."
)
CorruptError = _make(
    "CorruptError",
    ErrorCodes.CORRUPT,
    "A block header or handle is inconsistent: refused before any out-of-bounds access.",
)
QueueFullError = _make(
    "QueueFullError", ErrorCodes.QUEUE_FULL, "A put timed out on a full queue.", (ShmframeError, _queue.Full)
)
QueueEmptyError = _make(
    "QueueEmptyError",
    ErrorCodes.QUEUE_EMPTY,
    "A get timed out on an empty queue.",
    (ShmframeError, _queue.Empty),
)
QueueClosedError = _make(
    "QueueClosedError", ErrorCodes.QUEUE_CLOSED, "A put on a closed queue, or a get on a closed and drained one."
)
ShmframeTimeoutError = _make(
    "ShmframeTimeoutError",
    ErrorCodes.TIMEOUT,
    "An operation took longer than its timeout.",
    (ShmframeError, TimeoutError),
)
AbortedError = _make("AbortedError", ErrorCodes.ABORTED, "An operation was aborted.")
TaskError = _make("TaskError", ErrorCodes.TASK, "A pool task raised.")
WorkerCrashedError = _make("WorkerCrashedError", ErrorCodes.WORKER_CRASHED, "A worker crashed.")
ParseError = _make("ParseError", ErrorCodes.PARSE, "Malformed input text.")
ShmframeIOError = _make("ShmframeIOError", ErrorCodes.IO, "A file could not be read or written.")
LockOwnerError = _make(
    "LockOwnerError", ErrorCodes.LOCK_OWNER, "A SharedLock call by a thread that does not hold it."
)
MissingDependencyError = _make(
    "MissingDependencyError", ErrorCodes.DEPENDENCY, "An optional dependency (pandas) is not installed."
)
NativeBackendError = _make(
    "NativeBackendError",
    ErrorCodes.NATIVE,
    "The C library (native/build/Release/shmframe_sys.so) is missing or cannot be loaded.",
)

_BY_CODE = {
    cls.code: cls
    for cls in (
        InvalidArgumentError,
        DtypeError,
        ShapeError,
        HeapFullError,
        ClosedError,
        UnknownHeapError,
        CorruptError,
        QueueFullError,
        QueueEmptyError,
        QueueClosedError,
        ShmframeTimeoutError,
        AbortedError,
        TaskError,
        WorkerCrashedError,
        ParseError,
        ShmframeIOError,
        LockOwnerError,
        MissingDependencyError,
        NativeBackendError,
    )
}


def error_class(code):
    """The subclass of :class:`ShmframeError` raised with ``code`` (``None`` when unknown)."""
    return _BY_CODE.get(code)


def describe(value):
    """A short description of a value for error messages."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, (int, float)):
        return f"{value!r} ({type(value).__name__})"
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "..."
        return repr(text)
    return f"a {type(value).__name__}"
