"""pandas for SharedFrame: which columns to_pandas() hands over as views (see the table in
docs/python.md), and the column types from_pandas() infers from a DataFrame's dtypes."""
import numpy as np

from ..errors import DtypeError, MissingDependencyError, describe


def require_pandas(what):
    try:
        import pandas as pd

        return pd
    except ImportError as err:
        raise MissingDependencyError(
            f"{what} needs pandas, which is not installed: pip install pandas (Debian: apt-get install python3-pandas)",
            {"package": "pandas"},
        ) from err


def pandas_column(pd, k, view, valid, all_valid):
    """One fixed-width column for pandas: the view itself when pandas can take it as is."""
    if k == "M":
        if not all_valid and not np.isnat(view[~valid]).all():
            view = np.where(valid, view, np.datetime64("NaT"))
        if not _fits_ns(view, valid):
            # pandas 1.5 holds datetime64[ns] only: dates outside 1677-2262 stay objects.
            objects = np.empty(len(view), dtype=object)
            objects[:] = list(view)
            if valid is not None:
                objects[~valid] = None
            return pd.array(objects, dtype=object)
        return view
    if all_valid:
        return view
    if k in "iu":
        return pd.arrays.IntegerArray(view, ~valid)
    if k == "b":
        return pd.arrays.BooleanArray(view, ~valid)
    if k == "f":
        return view if bool(np.isnan(view[~valid]).all()) else np.where(valid, view, np.nan)
    out = view.astype(object)  # |S<n> with nulls
    out[~valid] = None
    return out


_NS_MIN = np.datetime64(-(2**63) + 1, "ns")
_NS_MAX = np.datetime64(2**63 - 1, "ns")


def _fits_ns(values, valid):
    """Whether the valid datetimes fit pandas 1.5's nanosecond range."""
    if values.dtype == np.dtype("<M8[ns]"):
        return True
    v = values[valid] if valid is not None else values
    if v.size == 0:
        return True
    unit = np.datetime_data(values.dtype)[0]
    lo = _NS_MIN.astype(f"M8[{unit}]")
    hi = _NS_MAX.astype(f"M8[{unit}]")
    return bool(((v >= lo) & (v <= hi)).all())


def infer_type(s, name):
    """The column type of a pandas Series."""
    from .layout import column_type

    dt = s.dtype
    dname = getattr(dt, "name", str(dt))
    if dname == "category":
        return column_type("category", name)
    if isinstance(dt, np.dtype):
        if dt.kind == "O":
            return _infer_objects(s, name)
        if dt.kind == "M":
            return column_type(dt, name)
        if dt.kind == "U":
            return column_type("utf8", name)
        return column_type(dt, name)
    if getattr(dt, "tz", None) is not None:
        return column_type("M8[ns]", name)
    if dname in ("string", "str"):
        return column_type("utf8", name)
    if dname == "boolean":
        return column_type("bool", name)
    numpy_dt = getattr(dt, "numpy_dtype", None)
    if numpy_dt is not None:
        return column_type(numpy_dt, name)
    raise DtypeError(f"Column {name!r} has pandas dtype {dname}, which a SharedFrame cannot hold: convert it first")


def _infer_objects(s, name):
    from .layout import column_type
    from .stage import _missing

    kinds = set()
    width = 1
    for v in s.tolist():
        if _missing(v, True):
            continue
        if isinstance(v, str):
            kinds.add("str")
        elif isinstance(v, (bytes, bytearray)):
            kinds.add("bytes")
            width = max(width, len(v))
        elif isinstance(v, bool):
            kinds.add("bool")
        else:
            raise DtypeError(
                f"Cannot infer a dtype for column {name!r}: it holds {describe(v)}. Values must be str, bytes or "
                "None (or give the column's dtype in `schema`)"
            )
    if len(kinds) > 1:
        raise DtypeError(f"Column {name!r} mixes {' and '.join(sorted(kinds))} values: give its dtype in `schema`")
    kind = kinds.pop() if kinds else "str"
    if kind == "bytes":
        return column_type(f"S{width}", name)
    if kind == "bool":
        return column_type("bool", name)
    return column_type("utf8", name)


def utf8_bytes(s):
    total = 0
    for v in s.tolist():
        if isinstance(v, str):
            total += len(v.encode("utf-8", "surrogatepass"))
    return total


def labels_of(s):
    pd = require_pandas("from_pandas")
    if getattr(s.dtype, "name", "") == "category":
        return [c for c in s.cat.categories if isinstance(c, str)]
    seen = []
    known = set()
    for v in s.tolist():
        if isinstance(v, str) and v not in known:
            known.add(v)
            seen.append(v)
    del pd
    return seen


