"""Factory plumbing shared by SharedFrame.create and from_pandas (``src/frame/build.ts``):
option checks and the default sizes of string and dictionary regions (options first, then what
the data measured, then defaults)."""
import numpy as np

from ..errors import InvalidArgumentError, describe
from .layout import MAX_ROWS


def check_rows(value, what):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or not 0 <= value <= MAX_ROWS:
        raise InvalidArgumentError(f"Expected `{what}` to be an integer in [0, {MAX_ROWS}], got {describe(value)}")
    return int(value)


def _size_for(option, name, what, fallback):
    if option is None:
        return fallback
    v = option.get(name) if isinstance(option, dict) else option
    if v is None:
        return fallback
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= MAX_ROWS:
        raise InvalidArgumentError(f"Expected `{what}` to be an integer in [0, {MAX_ROWS}], got {describe(v)}")
    return v


def requests_for(cols, capacity, rows, string_bytes, categories, category_bytes, measured=None):
    """Column requests with their region sizes: options first, then measured needs, then
    defaults (build.ts requestsFor)."""
    names = {n for n, _ in cols}
    for key, opt in (("string_bytes", string_bytes), ("categories", categories), ("category_bytes", category_bytes)):
        if isinstance(opt, dict):
            for n in opt:
                if n not in names:
                    raise InvalidArgumentError(f"`{key}` names the unknown column {n!r}")
        elif opt is not None and (not isinstance(opt, int) or isinstance(opt, bool)):
            raise InvalidArgumentError(f"Expected `{key}` to be a number or {{column: number}}, got {describe(opt)}")
    extra = capacity - rows
    out = []
    for i, (name, t) in enumerate(cols):
        m = (measured or {}).get(name, {})
        sb = m.get("string_bytes")
        avg = -(-sb // rows) if rows > 0 and sb is not None else 16
        strings = max(64, 16 * capacity) if sb is None else sb + avg * extra
        ml = m.get("labels")
        labels = min(65536, max(16, capacity)) if ml is None else max(2 * ml, ml + 16)
        mb = m.get("label_bytes")
        label_bytes = 16 * labels if mb is None else max(2 * mb, mb + 256)
        cats = _size_for(categories, name, "categories", labels)
        out.append(
            (
                name,
                t,
                _size_for(string_bytes, name, "string_bytes", min(MAX_ROWS, strings)) if t.kind == "utf8" else 0,
                cats if t.kind == "category" else 0,
                _size_for(category_bytes, name, "category_bytes", label_bytes)
                if t.kind == "category"
                else 0,
            )
        )
    return out


def index_of(index, names):
    if index is None:
        return -1
    if index not in names:
        raise InvalidArgumentError(f"Expected `index` to name a column, got {describe(index)}; the columns are {names}")
    return names.index(index)


