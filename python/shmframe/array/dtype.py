"""dtypes as the heap stores them (``src/array/dtype.ts``): a code, an item size and a datetime
unit code, mapped to and from numpy dtypes. Little-endian only."""
import numpy as np

from ..errors import DtypeError

# typestr -> stored code (dtype.ts kFixed)
CODES = {
    "|b1": 1,
    "|i1": 2,
    "<i2": 3,
    "<i4": 4,
    "<i8": 5,
    "|u1": 6,
    "<u2": 7,
    "<u4": 8,
    "<u8": 9,
    "<f4": 10,
    "<f8": 11,
}
CODE_DATETIME = 12
CODE_BYTES = 13
UNITS = {"D": 1, "s": 2, "ms": 3, "us": 4, "ns": 5}
UNIT_NAMES = {v: k for k, v in UNITS.items()}
_BY_CODE = {v: k for k, v in CODES.items()}

SUPPORTED = (
    "|b1 |i1 <i2 <i4 <i8 |u1 <u2 <u4 <u8 <f4 <f8 <M8[D|s|ms|us|ns] |S<n> "
    "(numpy names and aliases such as 'f8', 'float64', 'int32', 'bool' work)"
)


def from_code(code, itemsize, unit_code):
    """The numpy dtype of a stored (code, itemsize, unit code), or None when invalid."""
    if code == CODE_DATETIME:
        unit = UNIT_NAMES.get(unit_code)
        return None if unit is None or itemsize != 8 else np.dtype(f"<M8[{unit}]")
    if code == CODE_BYTES:
        return np.dtype(f"|S{itemsize}") if 1 <= itemsize <= 2**20 else None
    name = _BY_CODE.get(code)
    if name is None:
        return None
    dt = np.dtype(name)
    return dt if dt.itemsize == itemsize else None


def _refuse(spec, why):
    raise DtypeError(f"Unsupported dtype {str(spec)!r}: {why}. Supported: {SUPPORTED}")


def check(spec):
    """Resolves ``spec`` (a numpy dtype or anything np.dtype accepts) to a supported numpy dtype
    and its stored (code, itemsize, unit code); raises DtypeError naming what is supported."""
    try:
        dt = np.dtype(spec)
    except TypeError as err:
        raise DtypeError(f"Expected a dtype such as 'f8' or '<i4', got {spec!r}: {err}. Supported: {SUPPORTED}") from err
    if dt.names is not None:
        _refuse(dt, "structured dtypes are frames: use SharedFrame (from_pandas, create)")
    if dt.byteorder == ">":
        _refuse(dt, 'big-endian data is not supported; convert it with arr.astype(arr.dtype.newbyteorder("<"))')
    k = dt.kind
    if k == "O":
        _refuse(dt, "object arrays hold pointers to Python objects, which other processes cannot read")
    if k == "U":
        _refuse(dt, "numpy unicode is UTF-32; use '|S<n>' (bytes) in arrays, or a 'utf8' frame column for text")
    if k == "c":
        _refuse(dt, "complex numbers are not supported; store real and imaginary parts as two f8 arrays")
    if k == "m":
        _refuse(dt, "timedelta64 is not supported; store it as <i8")
    if k == "f" and dt.itemsize == 2:
        _refuse(dt, "float16 has no TypedArray in Node; use f4")
    if k == "f" and dt.itemsize > 8:
        _refuse(dt, "long double is not supported; use f8")
    if k == "V":
        _refuse(dt, "raw void dtypes are not supported")
    if k == "M":
        unit, count = np.datetime_data(dt)
        if unit not in UNITS or count != 1:
            _refuse(dt, "datetime64 needs one of the units D, s, ms, us, ns (e.g. '<M8[ms]')")
        return np.dtype(f"<M8[{unit}]"), CODE_DATETIME, 8, UNITS[unit]
    if k == "S":
        if dt.itemsize < 1:
            _refuse(dt, "fixed-width bytes need a positive width, e.g. '|S10'")
        if dt.itemsize > 2**20:
            _refuse(dt, "fixed-width bytes wider than 1 MiB are not supported")
        return dt, CODE_BYTES, dt.itemsize, 0
    norm = dt.newbyteorder("<") if dt.byteorder == "=" else dt
    code = CODES.get(norm.str)
    if code is None:
        _refuse(dt, "unknown dtype")
    return np.dtype(norm.str), code, dt.itemsize, 0
