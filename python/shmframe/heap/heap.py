"""The public Heap class, references held by Python objects (BlockRef), and the registry of heaps
this process has mapped (``src/heap/heap.ts`` and ``block-ref.ts`` for Python)."""
import atexit
import os
import threading


from ..errors import InvalidArgumentError, UnknownHeapError, describe
from . import segment, threads
from .core import MIN_HEAP_SIZE, HeapCore
from .block_ref import BlockRef  # noqa: F401 (the classes import it from here)
from .handle import Handle, parse, unb64
from .kinds import attach_handle
from .layout import (
    BACKING_FILE,
    BACKING_MEMFD,
    BACKING_NAMED,
    KIND_CODES,
    UNIT,
)
from .names import Names, key_bytes
from .tickets import FRESH_SERIAL

_registry = {}  # heap id -> Heap (kept mapped until the process exits)
_registry_lock = threading.Lock()
_exit_hooked = False


def _parse_size(size):
    if isinstance(size, bool):
        raise InvalidArgumentError(f"Expected `size` in bytes or a string like '1G', got {describe(size)}")
    if isinstance(size, int):
        return size
    if isinstance(size, str):
        text = size.strip().upper().removesuffix("B").removesuffix("I")
        mult = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
        try:
            if text and text[-1] in mult:
                return int(float(text[:-1]) * mult[text[-1]])
            return int(text)
        except ValueError:
            pass
    raise InvalidArgumentError(f"Expected `size` in bytes or a string like '1G', got {describe(size)}")


def _checked_size(requested):
    size = -(-requested // UNIT) * UNIT
    if size < MIN_HEAP_SIZE:
        raise InvalidArgumentError(f"Expected `size` to be at least 1.0 MiB, got {requested} bytes")
    if size > 2**38:
        raise InvalidArgumentError(f"Expected `size` to be at most 256 GiB, got {requested} bytes")
    return size


class Heap:
    """A heap in OS shared memory, shared with Node and other Python processes.

    A Python process joins the heap's process table when it opens the heap and leaves it at exit;
    if it is killed, the next process that notices (Node or Python) releases what it held.

    Example::

        heap = shmframe.Heap.open('results')      # a named heap a Node process created
        frame = heap.lookup('frame-0')             # a SharedFrame published under a key
        df = frame.to_pandas()                     # columns are views of the shared memory
    """

    def __init__(self, core, segment_):
        self._core = core
        self._segment = segment_

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, name=None, *, file=None, pid=None, fd=None):
        """Opens a heap another process (Node or Python) created.

        ``Heap.open('results')`` a named heap (``Heap.create({ name })`` in Node);
        ``Heap.open(file='/mnt/ram/heap.bin')`` a file heap; ``Heap.open(pid=1234, fd=21)`` the
        memfd heap process 1234 holds as fd 21 (through /proc/1234/fd/21); ``Heap.open(fd=3)`` a
        memfd heap this process inherited as fd 3. Handle strings open their heap by themselves:
        ``shmframe.attach(text)`` needs no ``Heap.open`` first.
        """
        given = [x is not None for x in (name, file, fd)]
        if sum(given) != 1 or (pid is not None and fd is None):
            raise InvalidArgumentError(
                "Expected Heap.open(name), Heap.open(file=path), Heap.open(fd=n) or Heap.open(pid=p, fd=n), "
                f"got name={describe(name)}, file={describe(file)}, pid={describe(pid)}, fd={describe(fd)}"
            )
        if name is not None:
            return cls._adopt(segment.open_named(name))
        if file is not None:
            if not isinstance(file, (str, os.PathLike)):
                raise InvalidArgumentError(f"Expected `file` to be a path, got {describe(file)}")
            return cls._adopt(segment.open_file(os.fspath(file)))
        if not isinstance(fd, int) or isinstance(fd, bool) or fd < 0:
            raise InvalidArgumentError(f"Expected `fd` to be a non-negative integer, got {describe(fd)}")
        if pid is None:
            pid = os.getpid()
        if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
            raise InvalidArgumentError(f"Expected `pid` to be a positive integer, got {describe(pid)}")
        return cls._adopt(segment.open_memfd_of(pid, fd))

    @classmethod
    def create(cls, size, *, name=None, file=None, overwrite=False):
        """Creates a heap of ``size`` bytes (or '64M', '1G'...) in OS shared memory.

        With ``name``: a named heap (``/dev/shm/shmframe-<name>``) that other processes open with
        ``Heap.open(name)``; the last process to leave it removes the name. With ``file``: a heap
        in a file, which stays after every process left. Neither: an anonymous memfd that other
        processes reach through the string form of handles (``/proc/<pid>/fd/<n>``) while this
        process lives.
        """
        if name is not None and file is not None:
            raise InvalidArgumentError("Pass either `name` or `file` to Heap.create, not both")
        if not isinstance(overwrite, bool):
            raise InvalidArgumentError(f"Expected `overwrite` to be a bool, got {describe(overwrite)}")
        nbytes = _checked_size(_parse_size(size))
        if name is not None:
            seg = segment.create_named(name, nbytes)
            kind = BACKING_NAMED
        elif file is not None:
            seg = segment.create_file(os.fspath(file), nbytes, overwrite)
            kind = BACKING_FILE
        else:
            seg = segment.create_memfd(nbytes)
            kind = BACKING_MEMFD
        try:
            core = HeapCore.format(seg.mapping, seg.size, kind, seg.path, seg.fd)
        except BaseException:
            if kind == BACKING_NAMED:
                segment.unlink_named(seg.path)
            raise
        return cls._register(core, seg)

    @classmethod
    def _adopt(cls, seg, expected_id=None):
        core = HeapCore.open(seg.mapping, seg.size, seg.fd, expected_id)
        with _registry_lock:
            known = _registry.get(core.id)
        if known is not None:
            # Already mapped here: keep the first mapping (one mapping per heap and process).
            if seg.fd >= 0 and seg.fd != known._core.fd:
                os.close(seg.fd)
            return known
        heap = cls._register(core, seg)
        core.reap_dead()
        return heap

    @classmethod
    def _register(cls, core, seg):
        heap = cls(core, seg)
        with _registry_lock:
            _registry[core.id] = heap
        _install_exit_hook()
        return heap

    @staticmethod
    def by_id(heap_id):
        """A heap this process has already mapped, by id, or None."""
        return _registry.get(heap_id)

    # ------------------------------------------------------------------ properties

    @property
    def id(self):
        """The heap's id, the same in every process."""
        return self._core.id

    @property
    def size(self):
        return self._core.size

    @property
    def name(self):
        """The name of a named heap, else None."""
        c = self._core
        return c.path if c.backing == BACKING_NAMED else None

    @property
    def file(self):
        """The absolute path of a file heap, else None."""
        c = self._core
        return c.path if c.backing == BACKING_FILE else None

    @property
    def shared(self):
        return "process"

    # ------------------------------------------------------------------ objects

    def attach(self, handle):
        """Attaches the string form of a handle (``str(obj.handle)`` in Node or Python): a
        SharedArray, SharedFrame, SharedQueue or SharedLock holding the reference it carried."""
        return attach(handle, _expect_heap=self)

    def publish(self, key, obj):
        """Publishes ``obj`` under ``key`` with a reference of its own (replacing and releasing
        what the key held): ``lookup(key)`` gets it in any process."""
        b = key_bytes(key)
        ref = getattr(obj, "_ref", None)
        if not isinstance(ref, BlockRef):
            raise InvalidArgumentError(
                f"Expected a shmframe object (SharedArray, SharedFrame, SharedQueue, SharedLock) to publish, got {describe(obj)}"
            )
        if ref.core is not self._core:
            raise InvalidArgumentError(
                f"Cannot publish {key!r} in heap {self.id:x}: the object lives in heap {ref.core.id:x}. Publish it in its own heap."
            )
        if getattr(obj, "_is_view", False):
            raise InvalidArgumentError(
                f"Cannot publish {key!r}: it is a view (of rows or columns); publish the whole object"
            )
        ref.check("The object")
        core = self._core
        names = Names(core.w)
        core._enter()
        try:
            # The share stays recorded as in progress until the entry holds its ticket: a process
            # killed in between leaves no handle that nobody holds.
            slot, serial, ledger = core.share_open(ref.unit)
            core.alloc.lock()
            try:
                old = names.set(b, (ref.unit, ref.generation, slot, serial))
            except BaseException:
                core.alloc.unlock()
                ledger.end()
                core.release_ticket(ref.unit, slot, serial)
                raise
            ledger.end()
            core.alloc.unlock()
        finally:
            core._exit()
        if old is not None:
            core.release_ticket(old[0], old[2], old[3])

    def lookup(self, key, remove=False):
        """The object published under ``key`` (a new reference: close it), or None. With
        ``remove=True`` the name is removed and the table's reference becomes the caller's."""
        b = key_bytes(key)
        core = self._core
        names = Names(core.w)
        if remove:
            core._enter()
            try:
                core.alloc.lock()
                try:
                    entry = names.take(b)
                finally:
                    core.alloc.unlock()
            finally:
                core._exit()
        else:
            entry = names.get(b)
        if entry is None:
            return None
        unit, gen, ticket, serial = entry
        kind = core.kind_of(unit, gen)
        h = Handle(kind, core.id, unit, gen, ticket, serial if remove else FRESH_SERIAL)
        return attach_handle(_Resolved(self, h))

    def unpublish(self, key):
        """Removes the name ``key`` and releases the table's reference. False when there was none."""
        b = key_bytes(key)
        core = self._core
        core._enter()
        try:
            core.alloc.lock()
            try:
                entry = Names(core.w).take(b)
            finally:
                core.alloc.unlock()
        finally:
            core._exit()
        if entry is None:
            return False
        core.release_ticket(entry[0], entry[2], entry[3])
        return True

    def published(self):
        """Every key published in this heap."""
        return Names(self._core.w).keys()

    def release_handle(self, handle):
        """Drops the reference a handle (or its string) carries, when it will never be attached."""
        if isinstance(handle, str):
            kind, heap_id, _, unit, gen, ticket, serial, _ = parse(handle)
        else:
            heap_id, unit, ticket, serial = handle.heap_id, handle.unit, handle.ticket, handle.serial
        if heap_id != self.id:
            raise InvalidArgumentError(f"Handle belongs to heap {heap_id:x}, not to heap {self.id:x}")
        return self._core.release_ticket(unit, ticket, serial)

    # ------------------------------------------------------------------ processes and stats

    def processes(self):
        """The processes attached to this heap (this one included), after releasing those that
        are gone: dicts with pid, runtime ('node' or 'python'), state, joined, self."""
        self._core.reap_dead()
        return self._core.procs.list()

    def release_dead(self):
        """Releases now what gone processes (exited, killed) still held; returns how many."""
        return self._core.reap_dead()

    def stats(self):
        """Current usage, the same fields as Node's ``heap.stats()``."""
        core = self._core
        core._enter()
        try:
            c = core.alloc.counters(core.ledger(core.tid()).reserve_units)
        finally:
            core._exit()
        used = c["usedUnits"] * UNIT
        free = c["freeUnits"] * UNIT
        return {
            "size": core.size,
            "used": used,
            "free": free,
            "objects": c["objects"],
            "largestFree": max(0, (c["largestFreeUnits"] - 1) * UNIT),
            "handles": core.tickets.outstanding() - Names(core.w).count(),
            "overhead": core.size - used - free,
            "threads": len(core.threads()),
            "repairs": c["repairs"],
            "corrupt": c["corrupt"] != 0,
        }

    def verify(self):
        """Checks every allocator invariant; returns the problems found (empty when sound)."""
        core = self._core
        core._enter()
        try:
            return core.alloc.verify()
        finally:
            core._exit()

    def unlink(self):
        """Removes a named heap's name now (processes that have it keep using it)."""
        name = self.name
        return False if name is None else segment.unlink_named(name)

    def __repr__(self):
        s = self.stats()
        return f"Heap({self.id:x}) {s['used']} bytes used of {s['size']}, {s['objects']} objects"


# ---------------------------------------------------------------------- handles


class _Resolved:
    """A parsed handle together with its (mapped) heap."""

    __slots__ = ("heap", "handle")

    def __init__(self, heap, handle):
        self.heap = heap
        self.handle = handle

    @property
    def kind(self):
        return self.handle.kind


def _open_by_ref(where, heap_id, text):
    if where == "t":
        raise UnknownHeapError(
            f"The handle {text[:80]!r} names heap {heap_id:x}, a thread heap of a Node process: a thread "
            "heap lives in one process. Create the heap with Heap.create({ shared: 'process' }) (or a "
            "name or file) in Node to reach Python."
        )
    if where.startswith("n"):
        seg = segment.open_named(where[1:])
    elif where.startswith("f"):
        try:
            path = unb64(where[1:])
        except ValueError as err:
            raise InvalidArgumentError(f"The handle {text[:80]!r}: its heap reference is not readable") from err
        seg = segment.open_file(path)
    elif where.startswith("m"):
        import re

        m = re.match(r"^m(\d+)\.(\d+)$", where)
        if m is None:
            raise InvalidArgumentError(f"The handle {text[:80]!r}: its heap reference is not readable")
        pid, fd = int(m.group(1)), int(m.group(2))
        try:
            seg = segment.open_memfd_of(pid, fd)
        except Exception as err:
            raise UnknownHeapError(
                f"Cannot open heap {heap_id:x} of the handle: process {pid}, which held it as fd {fd}, is "
                f"gone or does not share it ({err})"
            ) from err
    else:
        raise InvalidArgumentError(f"The handle {text[:80]!r}: its heap reference is not readable")
    try:
        heap = Heap._adopt(seg)
    except BaseException:
        if seg.fd >= 0:
            os.close(seg.fd)
        raise
    if heap.id != heap_id:
        what = f"the heap named {where[1:]!r}" if where.startswith("n") else "the heap it points to"
        raise UnknownHeapError(
            f"The handle names heap {heap_id:x}, but {what} is heap {heap.id:x} (created again since?)"
        )
    return heap


def resolve(text):
    """A handle string -> _Resolved (opening its heap if this process has not mapped it yet)."""
    kind, heap_id, where, unit, gen, ticket, serial, view = parse(text)
    heap = Heap.by_id(heap_id) or _open_by_ref(where, heap_id, text)
    return _Resolved(heap, Handle(kind, heap_id, unit, gen, ticket, serial, view))


def attach(handle, _expect_heap=None):
    """Attaches the string form of a handle made by Node or Python (``str(obj.handle)``).

    Returns a SharedArray, SharedFrame, SharedQueue or SharedLock, holding the one reference
    the handle carried: close it (or use ``with``) when done.

    Example::

        frame = shmframe.attach(sys.argv[1])
    """
    if isinstance(handle, Handle):
        handle = str(handle)
    r = resolve(handle)
    if _expect_heap is not None and r.heap is not _expect_heap:
        # Still attach: the handle names its own heap. Only a mismatch of ids matters.
        pass
    return attach_handle(r)


# ---------------------------------------------------------------------- process lifetime


def _leave_all():
    """At exit: leave every heap (releasing this process's references); the last process to
    leave a named heap removes its name."""
    with _registry_lock:
        heaps = list(_registry.values())
    for heap in heaps:
        core = heap._core
        try:
            last = core.leave()
            if last and core.backing == BACKING_NAMED:
                segment.unlink_named(core.path)
        except Exception:
            pass


def _install_exit_hook():
    global _exit_hooked
    if _exit_hooked:
        return
    _exit_hooked = True
    atexit.register(_leave_all)
    _hook_multiprocessing()


class _ForkHook:
    """Kept alive here: multiprocessing's after-fork registry holds its keys weakly."""


_fork_hook = _ForkHook()


def _hook_multiprocessing():
    # multiprocessing's children end with os._exit after running multiprocessing's own
    # finalizers, not atexit: register there too (leave() is idempotent). A forked child starts
    # with that registry cleared, then runs the after-fork hooks: register again from there.
    try:
        from multiprocessing import util

        util.Finalize(None, _leave_all, exitpriority=100)
        util.register_after_fork(_fork_hook, lambda _: util.Finalize(None, _leave_all, exitpriority=100))
    except Exception:
        pass


def _thread_exited(index):
    with _registry_lock:
        heaps = list(_registry.values())
    for heap in heaps:
        try:
            heap._core.thread_exited(index)
        except Exception:
            pass


threads.on_exit.append(_thread_exited)


def _resolve_core(heap_id):
    heap = _registry.get(heap_id)
    return None if heap is None else heap._core


# A dead identity's queue put may hold handles of other heaps (core.py, held.py).
HeapCore.resolve = staticmethod(_resolve_core)


def _after_fork_in_child():
    global _registry_lock
    _registry_lock = threading.Lock()
    for heap in list(_registry.values()):
        heap._core.after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)


def kind_code(name):
    return KIND_CODES[name]
