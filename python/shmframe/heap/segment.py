"""Shared memory segments (``src/native/segment.ts`` for Python): a named POSIX shared memory
object (``/dev/shm/shmframe-<name>``), a file, or an anonymous memfd (reached from other
processes as ``/proc/<pid>/fd/<n>``), each mapped with ``mmap(MAP_SHARED)``."""
import errno
import mmap
import os
import re

from ..errors import HeapFullError, InvalidArgumentError, ShmframeIOError, UnknownHeapError, describe
from .allocator import format_bytes

SHM_DIR = "/dev/shm"
NAME_PREFIX = "shmframe-"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


class Segment:
    __slots__ = ("mapping", "size", "fd", "path", "created")

    def __init__(self, mapping, size, fd, path, created):
        self.mapping = mapping
        self.size = size
        self.fd = fd  # kept open for memfd heaps (others reach them through /proc), else -1
        self.path = path  # name (named heaps) or absolute path (file heaps); '' for a memfd
        self.created = created


def named_path(name):
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidArgumentError(
            "Expected a heap `name` of 1-200 letters, digits, '.', '_' or '-' (not starting with "
            f"'.', '_' or '-'), got {describe(name)}"
        )
    return f"{SHM_DIR}/{NAME_PREFIX}{name}"


def _io_error(what, path, err):
    if isinstance(err, FileNotFoundError) or getattr(err, "errno", None) == errno.ENOENT:
        return UnknownHeapError(f"{what}: {path} does not exist")
    return ShmframeIOError(f"{what}: {path}: {err}", {"path": path})


def _map(fd, size, what):
    try:
        return mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    except (OSError, ValueError) as err:
        raise ShmframeIOError(f"{what}: mapping {format_bytes(size)} failed: {err}") from err


def open_existing(path, what, label, keep_fd):
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except OSError as err:
        raise _io_error(what, path, err) from err
    try:
        size = os.fstat(fd).st_size
        if size < 1 << 20:
            raise UnknownHeapError(f"{what}: {path} is {size} bytes, too small to be a shmframe heap")
        mapping = _map(fd, size, what)
    except BaseException:
        os.close(fd)
        raise
    if not keep_fd:
        os.close(fd)
        fd = -1
    return Segment(mapping, size, fd, label, False)


def open_named(name):
    path = named_path(name)
    return open_existing(path, f"Heap.open({name!r})", name, False)


def open_file(file):
    path = os.path.abspath(file)
    return open_existing(path, f"Heap.open(file={file!r})", path, False)


def open_memfd_of(pid, fd):
    """The memfd heap another process holds as fd ``fd`` (or this process, inherited)."""
    what = f"Opening the heap of process {pid}"
    seg = open_existing(f"/proc/{pid}/fd/{fd}", what, "", True)
    os.set_inheritable(seg.fd, True)
    return seg


def _check_space(directory, size, what):
    try:
        s = os.statvfs(directory)
    except OSError:
        return
    free = s.f_bavail * s.f_frsize
    if size > free:
        raise HeapFullError(
            f"{what}: {directory} has {format_bytes(free)} free, less than the {format_bytes(size)} asked for. "
            f"Ask for less, free space in {directory}, or create a memfd heap (Heap.create(size))",
            {"requested": size, "available": free},
        )


def create_named(name, size):
    path = named_path(name)
    what = f"Heap.create(name={name!r})"
    _check_space(SHM_DIR, size, what)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError as err:
        raise InvalidArgumentError(
            f"A heap named {name!r} already exists ({path}): open it with Heap.open({name!r}), or pick another name"
        ) from err
    except OSError as err:
        raise _io_error(what, path, err) from err
    try:
        os.ftruncate(fd, size)
        mapping = _map(fd, size, what)
    except BaseException:
        os.close(fd)
        try:
            os.unlink(path)
        except OSError:
            pass
        raise
    os.close(fd)
    return Segment(mapping, size, -1, name, True)


def create_file(file, size, overwrite):
    path = os.path.abspath(file)
    what = f"Heap.create(file={file!r})"
    flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError as err:
        raise InvalidArgumentError(
            f"{what}: {path} exists: open it with Heap.open(file=...) or pass overwrite=True to replace it"
        ) from err
    except OSError as err:
        raise _io_error(what, path, err) from err
    try:
        os.ftruncate(fd, size)
        # Reserve the blocks now: a full disk is an error here, not a SIGBUS on a later write.
        try:
            os.posix_fallocate(fd, 0, size)
        except OSError as err:
            raise HeapFullError(
                f"{what}: could not reserve {format_bytes(size)} on the filesystem of {path} ({err}): not enough space"
            ) from err
        mapping = _map(fd, size, what)
    except BaseException:
        os.close(fd)
        try:
            os.unlink(path)
        except OSError:
            pass
        raise
    os.close(fd)
    return Segment(mapping, size, -1, path, True)


def create_memfd(size):
    what = "Heap.create(size)"
    try:
        fd = os.memfd_create("shmframe", os.MFD_CLOEXEC)
    except OSError as err:
        raise ShmframeIOError(f"memfd_create of {format_bytes(size)} failed: {err}") from err
    try:
        os.ftruncate(fd, size)
        mapping = _map(fd, size, what)
    except BaseException:
        os.close(fd)
        raise
    os.set_inheritable(fd, True)
    return Segment(mapping, size, fd, "", True)


def unlink_named(name):
    try:
        os.unlink(named_path(name))
        return True
    except OSError:
        return False
