"""SharedArray for Python (``src/array/shared-array.ts`` and ``layout.ts``): an N-d array in a
heap block, self-describing, viewed by numpy without a copy.

Array block payload::

    byte 0   i32 dtype code        byte 8   i32 ndim
    byte 4   i32 item size         byte 12  i32 datetime unit code
    byte 16  f64 shape[ndim]
    data at the next multiple of 64
"""
import struct

import numpy as np

from ..errors import CorruptError, InvalidArgumentError, ShapeError, describe
from ..heap.heap import BlockRef, Heap
from ..heap.kinds import register_kind
from ..heap.layout import KIND_ARRAY, KIND_FRAME
from . import dtype as dtypes

MAX_DIMS = 32
KIND = "array"

# Array views living in blocks of another kind (a frame's same-dtype columns, frame.values()):
# kind code -> resolver(ref, spec) -> (numpy dtype, absolute data byte offset, elements).
_hosts = {}


def register_array_host(code, resolve):
    _hosts[code] = resolve


def meta_bytes(ndim):
    return -(-(16 + 8 * ndim) // 64) * 64


def read_meta(buf, byte_offset, byte_length):
    """Reads and checks an array block's payload: (numpy dtype, shape, data offset, size)."""
    if byte_length < 16:
        raise CorruptError(f"Array block payload of {byte_length} bytes is too small for its header")
    code, itemsize, ndim, unit = struct.unpack_from("<4i", buf, byte_offset)
    dt = dtypes.from_code(code, itemsize, unit)
    if dt is None:
        raise CorruptError(f"Array block has an invalid dtype (code {code}, item size {itemsize})")
    if not (0 <= ndim <= MAX_DIMS) or meta_bytes(ndim) > byte_length:
        raise CorruptError(f"Array block has an invalid number of dimensions ({ndim})")
    dims = struct.unpack_from(f"<{ndim}d", buf, byte_offset + 16)
    size = 1
    shape = []
    for n in dims:
        if not (n >= 0 and float(n).is_integer()):
            raise CorruptError(f"Array block has an invalid shape {list(dims)}")
        shape.append(int(n))
        size *= int(n)
    if meta_bytes(ndim) + size * itemsize > byte_length:
        raise CorruptError(f"Array block of {byte_length} bytes is too small for shape {shape} of {dt.str}")
    return dt, shape, byte_offset + meta_bytes(ndim), size


def c_strides(shape):
    strides = [0] * len(shape)
    s = 1
    for i in range(len(shape) - 1, -1, -1):
        strides[i] = s
        s *= shape[i]
    return strides


def span_of(shape, strides):
    span = 1
    for n, st in zip(shape, strides):
        if n == 0:
            return 0
        span += (n - 1) * st
    return span


def check_view(view, base_size):
    ok = (
        isinstance(view, dict)
        and isinstance(view.get("offset"), int)
        and view["offset"] >= 0
        and isinstance(view.get("shape"), list)
        and isinstance(view.get("strides"), list)
        and len(view["shape"]) == len(view["strides"])
        and len(view["shape"]) <= MAX_DIMS
        and all(isinstance(n, int) and n >= 0 for n in view["shape"])
        and all(isinstance(n, int) and n >= 0 for n in view["strides"])
    )
    if not ok:
        raise CorruptError(f"Handle carries an invalid array view: {view!r}")
    span = span_of(view["shape"], view["strides"])
    if span > 0 and view["offset"] + span > base_size:
        raise CorruptError(
            f"Handle's view reaches element {view['offset'] + span - 1} of an array of {base_size} elements"
        )
    return view


def _heap_arg(heap):
    if not isinstance(heap, Heap):
        raise InvalidArgumentError(f"Expected a shmframe.Heap as the first argument, got {describe(heap)}")
    return heap


class SharedArray:
    """An N-d array in a shmframe heap: numpy dtype, shape and strides over one block.

    ``numpy()`` is a view of the shared memory (no copy): writes are seen by every process.

    Example::

        a = shmframe.SharedArray.from_numpy(heap, np.arange(10.0))
        v = a.numpy(); v *= 2           # Node sees the doubled values
        text = str(a.handle)            # SharedArray.attach(text) in Node or Python
        a.close()
    """

    __slots__ = ("_ref", "_dt", "_shape", "_strides", "_offset", "_data_offset", "_whole", "_host", "__weakref__")

    def __init__(self, ref, dt, data_offset, view, whole=False, host=None):
        self._ref = ref
        self._dt = dt
        self._data_offset = data_offset
        self._offset = view["offset"]
        self._shape = tuple(view["shape"])
        self._strides = tuple(view["strides"])
        self._whole = whole
        self._host = host
        ref.payload()  # arms the safety-net finalizer

    # ------------------------------------------------------------------ factories

    @classmethod
    def _allocate(cls, heap, shape, dtype, zero):
        _heap_arg(heap)
        if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
            shape = (int(shape),)
        try:
            dims = [int(n) for n in shape]
        except (TypeError, ValueError):
            dims = None
        if dims is None or len(dims) > MAX_DIMS or any(n < 0 for n in dims) or any(
            isinstance(n, bool) for n in shape
        ):
            raise ShapeError(
                f"Expected `shape` to be non-negative integers (at most {MAX_DIMS} of them), got {shape!r}"
            )
        dt, code, itemsize, unit = dtypes.check(dtype)
        size = 1
        for n in dims:
            size *= n
        meta = meta_bytes(len(dims))
        ref = BlockRef.allocate(
            heap, KIND_ARRAY, meta + size * itemsize, f"a SharedArray {dims} {dt.str}", zero
        )
        try:
            buf = heap._segment.mapping
            struct.pack_into("<4i", buf, ref.byte_offset, code, itemsize, len(dims), unit)
            struct.pack_into(f"<{len(dims)}d", buf, ref.byte_offset + 16, *dims)
            return cls(
                ref, dt, ref.byte_offset + meta, {"offset": 0, "shape": dims, "strides": c_strides(dims)}, True
            )
        except BaseException:
            ref.release()
            raise

    @classmethod
    def zeros(cls, heap, shape, dtype="f8"):
        """A new array of zeros in ``heap``."""
        return cls._allocate(heap, shape, dtype, True)

    @classmethod
    def empty(cls, heap, shape, dtype="f8"):
        """A new array whose contents are whatever the memory held (overwrite it all)."""
        return cls._allocate(heap, shape, dtype, False)

    @classmethod
    def from_numpy(cls, heap, arr):
        """A new array in ``heap`` holding a copy of ``arr`` (one copy, into shared memory).

        dtypes: bool, int8-64, uint8-64, float32/64, datetime64[D|s|ms|us|ns], |S<n>; others
        (object, unicode, complex, float16, big-endian, structured) raise DtypeError.
        """
        if not isinstance(arr, np.ndarray):
            arr = np.asarray(arr)
        dtypes.check(arr.dtype)
        out = cls._allocate(heap, arr.shape, arr.dtype, False)
        try:
            np.copyto(out.numpy(), arr, casting="no")
        except BaseException:
            out.close()
            raise
        return out

    @classmethod
    def attach(cls, handle):
        """Attaches a handle string of an array (from Node or Python)."""
        from ..heap.heap import resolve

        return cls._attach(resolve(handle) if isinstance(handle, str) else handle)

    @classmethod
    def _attach(cls, r):
        view = r.handle.view
        host = view.get("host") if isinstance(view, dict) else None
        if host is not None:
            code = host.get("code") if isinstance(host, dict) else None
            if code not in _hosts:
                raise CorruptError(f"Handle names an array view inside a block of kind {code!r}, which Python does not host")
            ref = BlockRef.adopt(r, KIND, code, "SharedArray")
            try:
                return cls._hosted(ref, host, view)
            except BaseException:
                ref.release()
                raise
        ref = BlockRef.adopt(r, KIND, KIND_ARRAY, "SharedArray")
        try:
            dt, shape, data_offset, size = read_meta(ref.heap._segment.mapping, ref.byte_offset, ref.byte_length)
            if view is None:
                return cls(ref, dt, data_offset, {"offset": 0, "shape": shape, "strides": c_strides(shape)}, True)
            return cls(ref, dt, data_offset, check_view(view, size))
        except BaseException:
            ref.release()
            raise

    @classmethod
    def _hosted(cls, ref, host, view):
        dt, data_offset, size = _hosts[host["code"]](ref, host.get("spec"))
        v = check_view({"offset": view.get("offset"), "shape": view.get("shape"), "strides": view.get("strides")}, size)
        return cls(ref, dt, data_offset, v, False, host)

    # ------------------------------------------------------------------ properties

    @property
    def dtype(self):
        """The numpy dtype."""
        return self._dt

    @property
    def shape(self):
        return self._shape

    @property
    def ndim(self):
        return len(self._shape)

    @property
    def size(self):
        n = 1
        for d in self._shape:
            n *= d
        return n

    @property
    def closed(self):
        return self._ref.closed

    @property
    def heap(self):
        return self._ref.heap

    @property
    def _is_view(self):
        return not self._whole

    def numpy(self):
        """A numpy view of the shared memory (right dtype, shape and strides; no copy).

        Keep this SharedArray open while you use the view: after ``close()`` the memory may be
        reused by another object. (The view keeps the reference alive if you drop the
        SharedArray without closing it: the garbage collector releases it with the last view.)
        """
        self._ref.check("This SharedArray")
        itemsize = self._dt.itemsize
        payload = self._ref.payload()
        start = self._data_offset - self._ref.byte_offset + self._offset * itemsize
        return np.ndarray(
            self._shape,
            dtype=self._dt,
            buffer=payload,
            offset=start,
            strides=tuple(s * itemsize for s in self._strides),
        )

    def __array__(self, dtype=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    # ------------------------------------------------------------------ handles and lifetime

    @property
    def handle(self):
        """A handle carrying a new reference: ``str(handle)`` is its string form. Reading it
        again before anyone attached it returns the same handle."""
        self._ref.check("This SharedArray")
        return self._ref.reuse_handle(self._share)

    def _share(self):
        view = None
        if not self._whole:
            view = {"offset": self._offset, "shape": list(self._shape), "strides": list(self._strides)}
            if self._host is not None:
                view["host"] = self._host
        return self._ref.share(KIND, view)

    def close(self):
        """Drops this process's reference; the last one (in any process) frees the memory."""
        self._ref.release()

    detach = close

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __reduce__(self):
        # Pickled (multiprocessing arguments and results) as the string form of a new handle:
        # the receiver attaches it, with the reference it carries.
        return (_attach_pickled, (str(self._share()),))

    def __repr__(self):
        if self.closed:
            return f"SharedArray({self._dt.str}, closed)"
        return f"SharedArray({self._dt.str}, {list(self._shape)})"


def _attach_pickled(text):
    from ..heap.heap import attach

    return attach(text)


register_kind(KIND, KIND_ARRAY, lambda r: SharedArray._attach(r))

__all__ = ["SharedArray", "register_array_host", "meta_bytes", "KIND_FRAME"]
