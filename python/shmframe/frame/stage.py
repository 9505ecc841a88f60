"""Staging (``src/frame/stage.ts`` for Python): checks and converts the values of one column in
private memory before anything in the frame changes, so a bad value leaves the frame exactly as
it was. A value that does not fit its dtype (300 into uint8, 1.5 into int32, a long string into
|S3) is an error, never a wrap or a truncation.

Nulls: ``None`` is null everywhere. Values that come from pandas (a DataFrame, Series or
Categorical) follow pandas: what ``pd.isna`` calls missing (NaN, NaT, None, pd.NA) is null. A
float NaN given any other way (a list, a numpy array) is a value, as in Node.
"""
import datetime
import math

import numpy as np

from ..errors import InvalidArgumentError, describe

NAT = np.iinfo(np.int64).min


class Staged:
    __slots__ = ("col", "values", "valid", "blob", "ends", "labels", "local", "codes")

    def __init__(self, col):
        self.col = col
        self.values = None  # fixed: np array in the column dtype
        self.valid = None  # np bool array (True valid); None: all valid
        self.blob = None  # utf8: bytes of the non-null values back to back
        self.ends = None  # utf8: int32 end of each row within blob
        self.labels = None  # category: distinct labels
        self.local = None  # category: index into labels per row (-1 null)
        self.codes = None  # category: dictionary codes, resolved before reserving


def _pd():
    try:
        import pandas as pd

        return pd
    except ImportError:
        return None


def is_pandas(x):
    pd = _pd()
    return pd is not None and isinstance(x, (pd.Series, pd.Index, pd.Categorical, pd.api.extensions.ExtensionArray))


def _missing(v, pandas_nulls):
    if v is None:
        return True
    pd = _pd()
    if pd is not None and (v is pd.NA or v is pd.NaT):
        return True
    if isinstance(v, np.datetime64) and np.isnat(v):
        return True
    if pandas_nulls and isinstance(v, (float, np.floating)) and math.isnan(v):
        return True
    return False


def _bad(where, expected, v):
    return InvalidArgumentError(f"Expected {expected} for {where}, got {describe(v)}")


def _int_range(dt):
    info = np.iinfo(dt)
    return int(info.min), int(info.max)


def convert_scalar(c, v, where):
    """One value for fixed column ``c``: (stored value, valid)."""
    dt = c.dt
    k = dt.kind
    if isinstance(v, np.generic) and k != "M":
        v = v.item()
    if k == "b":
        if isinstance(v, bool):
            return v, True
        if isinstance(v, (int, float)) and v in (0, 1):
            return bool(v), True
        raise _bad(where, "a bool (or 0/1)", v)
    if k in "iu":
        if isinstance(v, bool):
            return int(v), True
        if isinstance(v, float):
            if not (math.isfinite(v) and v.is_integer()):
                raise _bad(where, f"an integer that fits {dt.str}", v)
            v = int(v)
        if not isinstance(v, int):
            raise _bad(where, f"an integer that fits {dt.str}", v)
        lo, hi = _int_range(dt)
        if not lo <= v <= hi:
            raise InvalidArgumentError(f"Expected an integer in [{lo}, {hi}] ({dt.str}) for {where}, got {v}")
        return v, True
    if k == "f":
        if isinstance(v, (bool, int, float)):
            return float(v), True
        raise _bad(where, "a number", v)
    if k == "M":
        unit = np.datetime_data(dt)[0]
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            raise _bad(where, f"a date/time (datetime, pd.Timestamp, np.datetime64, ISO string) for {dt.str}", v)
        try:
            if isinstance(v, datetime.datetime) and v.tzinfo is not None:
                v = v.astimezone(datetime.timezone.utc).replace(tzinfo=None)
            d = np.datetime64(v).astype(f"M8[{unit}]")
        except (ValueError, TypeError) as err:
            raise _bad(where, f"a date/time for {dt.str}", v) from err
        return d, not np.isnat(d)
    if k == "S":
        if isinstance(v, str):
            try:
                v = v.encode("utf-8")
            except UnicodeEncodeError as err:
                raise InvalidArgumentError(f"{where}: {v!r} is not valid Unicode (lone surrogate)") from err
        if not isinstance(v, (bytes, bytearray)):
            raise _bad(where, f"bytes or a str of at most {dt.itemsize} bytes", v)
        if len(v) > dt.itemsize:
            raise InvalidArgumentError(
                f"Expected at most {dt.itemsize} bytes ({dt.str}) for {where}, got {len(v)} ({bytes(v[:20])!r}...): "
                "values are never truncated"
            )
        return bytes(v), True
    raise _bad(where, "a value", v)


def _null_value(dt):
    k = dt.kind
    if k == "f":
        return np.nan
    if k == "M":
        return np.datetime64("NaT")
    if k == "S":
        return b""
    return 0


def _as_numpy(src, n):
    """A numpy array of ``src`` (object dtype when it holds Python objects or Nones)."""
    if isinstance(src, np.ndarray):
        return src
    pd = _pd()
    if pd is not None and isinstance(src, (pd.Series, pd.Index)):
        dt = src.dtype
        if isinstance(dt, np.dtype) and dt.kind in "biufMS":
            return src.to_numpy()
        if getattr(dt, "tz", None) is not None:  # tz-aware datetimes: UTC
            return src.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy() if isinstance(src, pd.Series) else src.tz_convert("UTC").tz_localize(None).to_numpy()
        return src.astype(object).to_numpy()
    if pd is not None and isinstance(src, pd.api.extensions.ExtensionArray):
        return np.asarray(src.astype(object))
    out = np.empty(n, dtype=object)
    out[:] = list(src)
    return out


def stage(c, src, n, where, pandas_nulls=False):
    """Checks and converts ``n`` values of column ``c`` (``src`` None: all null)."""
    s = Staged(c)
    if src is None:
        s.valid = np.zeros(n, bool)
        if c.kind == "fixed":
            s.values = np.full(n, _null_value(c.dt), dtype=c.dt) if c.dt.kind != "S" else np.zeros(n, dtype=c.dt)
        elif c.kind == "utf8":
            s.blob = b""
            s.ends = np.zeros(n, np.int32)
        else:
            s.labels = []
            s.local = np.full(n, -1, np.int32)
        return s
    if is_pandas(src):
        pandas_nulls = True
    if c.kind == "category":
        _stage_labels(s, src, n, where, pandas_nulls)
        return s
    a = _as_numpy(src, n)
    if len(a) != n:
        raise InvalidArgumentError(f"Expected {n} values for column {c.name!r}, got {len(a)}")
    if c.kind == "utf8":
        _stage_utf8(s, a, n, where, pandas_nulls)
    else:
        _stage_fixed(s, a, n, where, pandas_nulls)
    return s


def _stage_fixed(s, a, n, where, pandas_nulls):
    c = s.col
    dt = c.dt
    if a.dtype.kind != "O" and a.dtype.kind in "biufMSU":
        valid = None
        if pandas_nulls and a.dtype.kind == "f":
            nan = np.isnan(a)
            if nan.any():
                valid = ~nan
        if a.dtype.kind == "M":
            nat = np.isnat(a)
            if nat.any():
                valid = ~nat
        s.valid = valid
        s.values = _convert_array(a, dt, valid, where)
        return
    # Python objects: one by one
    out = np.empty(n, dtype=dt)
    valid = np.ones(n, bool)
    null = _null_value(dt)
    any_null = False
    for i in range(n):
        v = a[i]
        if _missing(v, pandas_nulls):
            valid[i] = False
            any_null = True
            out[i] = null
            continue
        stored, ok = convert_scalar(c, v, where(i))
        out[i] = stored
        if not ok:
            valid[i] = False
            any_null = True
    s.values = out
    s.valid = valid if any_null else None


def _convert_array(a, dt, valid, where):
    """Converts a numeric/datetime/bytes numpy array to ``dt``, refusing what does not fit."""
    k = dt.kind
    ak = a.dtype.kind
    sel = a if valid is None else a[valid]

    def first_bad(bad):
        idx = np.flatnonzero(bad)
        i = int(idx[0])
        if valid is not None:
            i = int(np.flatnonzero(valid)[i])
        return i, a[i]

    if k == "M":
        if ak != "M":
            raise InvalidArgumentError(
                f"Expected datetime64 values for {where(0)} ({dt.str}), got an array of {a.dtype}: "
                "convert with arr.astype('M8[ms]') (or .view for raw counts)"
            )
        out = a.astype(dt)
        if valid is not None:
            out[~valid] = np.datetime64("NaT")
        return out
    if k == "S":
        if ak == "U":
            enc = np.char.encode(a, "utf-8")
            width = enc.dtype.itemsize
        elif ak == "S":
            enc = a
            width = a.dtype.itemsize
        else:
            raise InvalidArgumentError(f"Expected bytes or str values for {where(0)} ({dt.str}), got an array of {a.dtype}")
        if width > dt.itemsize:
            lens = np.char.str_len(enc)
            bad = lens > dt.itemsize
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise InvalidArgumentError(
                    f"Expected at most {dt.itemsize} bytes ({dt.str}) for {where(i)}, got {int(lens[i])}: values are never truncated"
                )
        return enc.astype(dt)
    if ak in "MSU":
        raise InvalidArgumentError(f"Expected numbers for {where(0)} ({dt.str}), got an array of {a.dtype}")
    if k == "f":
        out = a.astype(dt)
        if valid is not None:
            out[~valid] = np.nan
        return out
    if k == "b":
        if ak != "b":
            bad = (sel != 0) & (sel != 1)
            if bad.any():
                i, v = first_bad(bad)
                raise InvalidArgumentError(f"Expected a bool (or 0/1) for {where(i)}, got {describe(v.item())}")
        out = np.asarray(a != 0) if ak != "b" else a.astype(bool)
        if valid is not None:
            out = out.copy()
            out[~valid] = False
        return out.astype(dt)
    lo, hi = _int_range(dt)
    if ak == "f":
        bad = ~np.isfinite(sel) | (np.floor(sel) != sel) | (sel < lo) | (sel > hi)
        if bad.any():
            i, v = first_bad(bad)
            raise InvalidArgumentError(f"Expected an integer that fits {dt.str} for {where(i)}, got {describe(float(v))}")
    elif ak in "iu" and not np.can_cast(a.dtype, dt, "safe") and sel.size:
        mn, mx = int(sel.min()), int(sel.max())
        if mn < lo or mx > hi:
            bad = (sel < lo) | (sel > hi)
            i, v = first_bad(bad)
            raise InvalidArgumentError(f"Expected an integer in [{lo}, {hi}] ({dt.str}) for {where(i)}, got {int(v)}")
    out = np.array(a, dtype=dt) if ak != "f" or valid is None else np.where(valid, a, 0).astype(dt)
    if valid is not None:
        out[~valid] = 0
    return out


def _stage_utf8(s, a, n, where, pandas_nulls):
    parts = []
    ends = np.empty(n, np.int32)
    valid = np.ones(n, bool)
    total = 0
    any_null = False
    for i in range(n):
        v = a[i]
        if _missing(v, pandas_nulls):
            valid[i] = False
            any_null = True
        else:
            if isinstance(v, np.str_):
                v = str(v)
            if not isinstance(v, str):
                raise _bad(where(i), "a str (utf8)", v)
            try:
                b = v.encode("utf-8")
            except UnicodeEncodeError as err:
                raise InvalidArgumentError(f"{where(i)}: {v!r} is not valid Unicode (lone surrogate)") from err
            parts.append(b)
            total += len(b)
            if total > 2**31 - 1:
                raise InvalidArgumentError(f"The strings of {where(i)} exceed 2 GiB, the most a utf8 column holds")
        ends[i] = total
    s.blob = b"".join(parts)
    s.ends = ends
    s.valid = valid if any_null else None


def _stage_labels(s, src, n, where, pandas_nulls):
    pd = _pd()
    if pd is not None and (isinstance(src, pd.Categorical) or getattr(getattr(src, "dtype", None), "name", None) == "category"):
        cat = src if isinstance(src, pd.Categorical) else pd.Categorical(src)
        codes = np.asarray(cat.codes, dtype=np.int32)
        if len(codes) != n:
            raise InvalidArgumentError(f"Expected {n} values for column {s.col.name!r}, got {len(codes)}")
        used = np.unique(codes[codes >= 0])
        cats = list(cat.categories)
        remap = np.full(len(cats) + 1, -1, np.int32)
        labels = []
        for k, code in enumerate(used):
            label = cats[int(code)]
            if not isinstance(label, str):
                raise _bad(where(int(np.flatnonzero(codes == code)[0])), "a string label (category)", label)
            remap[int(code)] = k
            labels.append(label)
        s.labels = labels
        s.local = np.where(codes >= 0, remap[codes], -1).astype(np.int32)
        s.valid = codes >= 0 if (codes < 0).any() else None
        return
    a = _as_numpy(src, n)
    if len(a) != n:
        raise InvalidArgumentError(f"Expected {n} values for column {s.col.name!r}, got {len(a)}")
    index = {}
    labels = []
    local = np.empty(n, np.int32)
    valid = np.ones(n, bool)
    any_null = False
    for i in range(n):
        v = a[i]
        if _missing(v, pandas_nulls):
            local[i] = -1
            valid[i] = False
            any_null = True
            continue
        if isinstance(v, np.str_):
            v = str(v)
        if not isinstance(v, str):
            raise _bad(where(i), "a string label (category)", v)
        k = index.get(v)
        if k is None:
            try:
                v.encode("utf-8")
            except UnicodeEncodeError as err:
                raise InvalidArgumentError(f"{where(i)}: {v!r} is not valid Unicode (lone surrogate)") from err
            k = len(labels)
            index[v] = k
            labels.append(v)
        local[i] = k
    s.labels = labels
    s.local = local
    s.valid = valid if any_null else None
