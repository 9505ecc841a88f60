"""shmframe for Python: numpy and pandas over shmframe heaps, shared with Node.js processes.

A heap in OS shared memory (a name in /dev/shm, a file, or a memfd) holds arrays, frames and
queues that Node and Python processes use at once, with no copy: ``SharedArray.numpy()`` and
``SharedFrame.col()`` are numpy views, ``SharedFrame.to_pandas()`` a DataFrame over views.
Handles have a string form (``str(obj.handle)``) that ``attach`` accepts in either language.
See docs/python.md.
"""
from .errors import *  # noqa: F401,F403  (the error classes, one per code)
from .errors import ShmframeError
from .heap.heap import Heap, attach
from .heap.handle import Handle
from .array.shared_array import SharedArray

__version__ = "0.1.0"

__all__ = ["Heap", "SharedArray", "Handle", "attach", "ShmframeError"]
from .frame.shared_frame import SharedFrame

__all__ += ["SharedFrame"]
