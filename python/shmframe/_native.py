"""The C library of the native backend (``native/src/sys.c``), loaded with ctypes.

It gives Python what the language lacks: sequentially consistent 32-bit atomics on mapped memory
and non-private futex waits and wakes (keyed by the physical page, so they reach every process
that maps the heap, Node's included). ``npm ci`` (or ``npm run build:native``) builds it as
``native/build/Release/shmframe_sys.so``; the Python package compiles nothing.

Where it is looked for, in order: ``$SHMFRAME_SYS_LIB``; ``shmframe/_lib/shmframe_sys.so`` (copied
there by ``pip install ./python`` when it was built); ``native/build/Release/shmframe_sys.so`` of
the repository this package sits in (``PYTHONPATH=python``).
"""
import ctypes
import os
from pathlib import Path

from .errors import NativeBackendError

ENV_VAR = "SHMFRAME_SYS_LIB"
LIB_NAME = "shmframe_sys.so"
# ABI version of native/src/sys.c this package speaks (sf_version()).
VERSION = 1


def candidates():
    """Paths tried, in order."""
    here = Path(__file__).resolve().parent
    out = []
    env = os.environ.get(ENV_VAR)
    if env:
        out.append(Path(env))
    out.append(here / "_lib" / LIB_NAME)
    out.append(here.parent.parent / "native" / "build" / "Release" / LIB_NAME)
    return out


class Native:
    """The loaded library: each function is a ctypes function taking absolute addresses."""

    def __init__(self, path):
        lib = ctypes.CDLL(str(path))
        self.path = str(path)
        c_void_p, c_int32, c_double = ctypes.c_void_p, ctypes.c_int32, ctypes.c_double

        def fn(name, restype, *argtypes):
            f = getattr(lib, name)
            f.restype = restype
            f.argtypes = list(argtypes)
            return f

        self.version = fn("sf_version", ctypes.c_int)()
        if self.version != VERSION:
            raise NativeBackendError(
                f"{path} speaks ABI version {self.version}, this shmframe package {VERSION}: "
                "rebuild it with `npm run build:native`"
            )
        for name in ("sf_add_mark", "sf_dec_mark", "sf_cas_mark"):
            if not hasattr(lib, name):
                raise NativeBackendError(
                    f"{path} lacks {name} (it was built from an older native/src/sys.c): "
                    "rebuild it with `npm run build:native`"
                )
        self.futex_wait = fn("sf_futex_wait", ctypes.c_int, c_void_p, c_int32, c_double)
        self.futex_wake = fn("sf_futex_wake", ctypes.c_int, c_void_p, c_int32)
        self.load = fn("sf_load", c_int32, c_void_p)
        self.store = fn("sf_store", None, c_void_p, c_int32)
        self.cas = fn("sf_cas", c_int32, c_void_p, c_int32, c_int32)
        self.add = fn("sf_add", c_int32, c_void_p, c_int32)
        self.exchange = fn("sf_exchange", c_int32, c_void_p, c_int32)
        self.add_mark = fn("sf_add_mark", c_int32, c_void_p, c_int32, c_void_p)
        self.dec_mark = fn("sf_dec_mark", c_int32, c_void_p, c_void_p)
        self.cas_mark = fn("sf_cas_mark", c_int32, c_void_p, c_int32, c_int32, c_void_p, c_int32)
        self.reserve = fn("sf_reserve", ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64)


_loaded = None
_failure = None


def native(what="shmframe"):
    """The loaded library, or a NativeBackendError saying why not and how to build it."""
    global _loaded, _failure
    if _loaded is not None:
        return _loaded
    if _failure is None:
        tried = []
        for path in candidates():
            if not path.exists():
                tried.append(f"{path} (missing)")
                continue
            try:
                _loaded = Native(path)
                return _loaded
            except NativeBackendError as err:
                tried.append(str(err))
            except OSError as err:
                tried.append(f"{path} ({err})")
        _failure = "; ".join(tried)
    raise NativeBackendError(
        f"{what} needs shmframe's C library {LIB_NAME}, which is not available: tried {_failure}. "
        f"Build it in the repository with `npm run build:native` (npm ci does it too), or point "
        f"{ENV_VAR} at a built {LIB_NAME}."
    )
