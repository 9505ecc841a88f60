"""Small per-process numbers for Python threads: a thread's identity in a heap is
``slot * 2**21 + index`` (layout.ts ``kSlotSpan``). The main thread is 0, as Node's main thread
is; other threads are numbered 1, 2, ... in the order they first touch a heap (never reused).
After a fork the child starts over: the forking thread is its main thread, index 0.

When a numbered thread ends, :data:`on_exit` callbacks run (HeapCore frees the thread's entry in
each heap's thread table when its ledger holds nothing)."""
import itertools
import os
import threading

from .layout import SLOT_SPAN

_local = threading.local()
_next = itertools.count(1)
_lock = threading.Lock()
on_exit = []


class _Sentinel:
    """Lives in a thread's local storage: dropped when the thread ends."""

    __slots__ = ("index", "pid")

    def __init__(self, index):
        self.index = index
        self.pid = os.getpid()

    def __del__(self):
        if os.getpid() != self.pid:
            return  # a forked child dropping its parent's thread-local storage
        for fn in list(on_exit):
            try:
                fn(self.index)
            except Exception:
                pass


def index():
    """This thread's index (0 for the main thread)."""
    try:
        return _local.index
    except AttributeError:
        pass
    if threading.current_thread() is threading.main_thread():
        i = 0
    else:
        with _lock:
            i = next(_next)
        if i >= SLOT_SPAN:
            from ..errors import InvalidArgumentError

            raise InvalidArgumentError(
                f"This process started more than {SLOT_SPAN - 1} threads that use shmframe heaps"
            )
        _local.sentinel = _Sentinel(i)
    _local.index = i
    return i


def _after_fork_in_child():
    global _local, _next, _lock
    _local = threading.local()
    _next = itertools.count(1)
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
