"""SharedFrame for Python (``src/frame/shared-frame.ts``, ``factory.ts``, ``build.ts`` and
``view.ts``): a columnar frame in a heap block, shared with Node, viewed by numpy and pandas.

Which columns pandas gets without a copy (``to_pandas()``, pandas 1.5):

- numeric and bool columns without nulls, float columns (nulls are stored as NaN), datetime64[ns]
  columns (nulls are stored as NaT) and ``|S<n>`` columns without nulls: numpy views of the heap;
- int, uint and bool columns with nulls: pandas' nullable ``Int*``/``UInt*``/``boolean`` arrays
  whose values are views of the heap (the mask is a copy of the validity bits);
- datetime64 columns in D, s, ms or us: pandas 1.5 keeps nanoseconds only, so it converts (copies);
- category columns: ``pd.Categorical.from_codes`` over the shared int32 codes; pandas keeps int32
  codes (a view) only when there are more than 32767 categories, and copies them into int8/int16
  codes otherwise;
- utf8 columns: copied into object arrays of ``str`` (None for null): pandas has no layout that
  can view Arrow-style offsets + bytes;
- a null stored as something else than NaN/NaT (rows a dead appender left, published as nulls by
  whoever recovered them, hold zeros), and ``|S<n>`` columns with nulls: copied, with NaN, NaT or
  None at the nulls.
"""
import sys

import numpy as np

from ..array.shared_array import register_array_host
from ..errors import DtypeError, InvalidArgumentError, ShapeError, describe
from ..heap.heap import BlockRef, Heap, resolve
from ..heap.kinds import register_kind
from ..heap.layout import KIND_FRAME
from . import append as appends
from .layout import (
    F_LENGTH,
    F_MAGIC,
    F_RESERVED,
    FRAME_MAGIC,
    group_region,
    parse_schema,
    plan_layout,
    write_layout,
)
from .build import check_rows, index_of, requests_for
from .pandas import infer_type, labels_of, pandas_column, require_pandas, utf8_bytes
from .stage import is_pandas, stage
from .store import store_for

KIND = "frame"


def _heap_arg(heap):
    if not isinstance(heap, Heap):
        raise InvalidArgumentError(f"Expected a shmframe.Heap as the first argument, got {describe(heap)}")
    return heap


class SharedFrame:
    """A frame in a shmframe heap: columns of numpy dtypes, utf8 strings and categories, with
    nulls (validity bitmaps), a capacity and a length that any process may append to.

    Example::

        f = shmframe.SharedFrame.create(heap, {'x': 'f8', 'name': 'utf8'}, capacity=1000)
        f.append({'x': [1.5, 2.5], 'name': ['a', None]})
        f.col('x')[:] *= 2              # a numpy view: Node sees the write
        df = f.to_pandas()              # numeric columns are views of the heap
        print(str(f.handle))            # SharedFrame.attach(text) in Node or Python
        f.close()
    """

    __slots__ = ("_ref", "_store", "_view", "_cols", "__weakref__")

    def __init__(self, ref, store, view=None):
        self._ref = ref
        self._store = store
        self._view = view or {"start": 0}
        cols = self._view.get("columns")
        self._cols = list(cols) if cols is not None else list(range(store.ncols))
        ref.payload()  # arms the safety-net finalizer

    # ------------------------------------------------------------------ factories

    @classmethod
    def _allocate(cls, heap, requests, capacity, index, fill):
        layout = plan_layout(requests, capacity, index)
        ref = BlockRef.allocate(
            heap, KIND_FRAME, layout.payload_bytes, f"a SharedFrame of {len(requests)} columns x {capacity} rows", False
        )
        try:
            buf = heap._segment.mapping
            write_layout(buf, ref.byte_offset, layout)
            heap._core.w.store(ref.byte_offset // 4 + F_MAGIC, FRAME_MAGIC)
            store = store_for(heap, ref.unit, ref.generation, ref.byte_offset, ref.byte_length)
            frame = cls(ref, store)
            fill(frame)
            return frame
        except BaseException:
            ref.release()
            raise

    @classmethod
    def create(cls, heap, schema, capacity=None, *, length=0, index=None, string_bytes=None, categories=None, category_bytes=None):
        """An empty frame (or ``length`` zero-filled rows) with room for ``capacity`` rows.

        ``schema``: ``{name: dtype}`` or ``[(name, dtype), ...]``, dtypes as numpy names
        ('f8', 'int32', 'bool', 'M8[ms]', 'S10'...) or 'utf8' / 'category'. Frames never grow:
        size ``capacity`` (and ``string_bytes`` for utf8 columns: bytes of text per column,
        default 16 per row) for every row you will append.
        """
        _heap_arg(heap)
        cols = parse_schema(schema)
        length = check_rows(length, "length")
        if capacity is None and length == 0:
            raise InvalidArgumentError(
                "Expected `capacity` (the rows the frame can hold; frames do not grow), got None: "
                "SharedFrame.create(heap, schema, capacity=1000)"
            )
        capacity = length if capacity is None else check_rows(capacity, "capacity")
        if length > capacity:
            raise InvalidArgumentError(f"Expected `length` ({length}) to be at most `capacity` ({capacity})")
        requests = requests_for(cols, capacity, 0, string_bytes, categories, category_bytes)
        idx = index_of(index, [n for n, _ in cols])

        def fill(frame):
            if length > 0:
                frame._zero_rows(length)

        return cls._allocate(heap, requests, capacity, idx, fill)

    def _zero_rows(self, n):
        store = self._store
        payload = self._ref.payload()
        for i in range(store.ncols):
            c = store.column(i)
            if c.kind == "fixed":
                store.values(payload, c, 0, n).view(np.uint8)[:] = 0
                store.write_validity(payload, c, 0, n, None)
            elif c.kind == "category":
                store.values(payload, c, 0, n)[:] = -1
            else:
                store.values(payload, c, 0, n + 1)[:] = 0
        store.w.set(store.hw + F_RESERVED, n)
        store.w.store(store.hw + F_LENGTH, n)

    @classmethod
    def from_pandas(cls, heap, df, *, capacity=None, schema=None, index=None, string_bytes=None, categories=None, category_bytes=None):
        """A frame holding a copy of DataFrame ``df`` (its columns; the row index is not kept:
        ``df.reset_index()`` first to keep it). dtypes follow the columns (``schema`` overrides
        some or all): numbers, bool, datetime64 (UTC for time zones), category, strings (utf8),
        bytes (``|S<n>``), nullable Int/boolean/string. pandas' missing values become nulls."""
        pd = require_pandas("SharedFrame.from_pandas")
        _heap_arg(heap)
        if not isinstance(df, pd.DataFrame):
            raise InvalidArgumentError(f"Expected a pandas DataFrame, got {describe(df)}")
        names = list(df.columns)
        for n in names:
            if not isinstance(n, str):
                raise InvalidArgumentError(f"Expected column names to be strings, got {describe(n)}: rename the columns")
        if len(set(names)) != len(names):
            raise InvalidArgumentError("Duplicate column names: column names must be unique")
        given = dict(parse_schema(schema, "schema")) if schema is not None else {}
        for n in given:
            if n not in names:
                raise InvalidArgumentError(f"`schema` names the unknown column {n!r}")
        cols = []
        measured = {}
        for n in names:
            s = df[n]
            t = given.get(n) or infer_type(s, n)
            cols.append((n, t))
            if t.kind == "utf8":
                measured[n] = {"string_bytes": utf8_bytes(s)}
            elif t.kind == "category":
                labels = labels_of(s)
                measured[n] = {"labels": len(labels), "label_bytes": sum(len(l.encode("utf-8")) for l in labels)}
        rows = len(df)
        capacity = rows if capacity is None else check_rows(capacity, "capacity")
        if capacity < rows:
            raise InvalidArgumentError(f"Expected `capacity` to be at least the {rows} rows given, got {capacity}")
        requests = requests_for(cols, capacity, rows, string_bytes, categories, category_bytes, measured)
        idx = index_of(index, names)

        def fill(frame):
            frame._append_columns({n: df[n] for n in names}, rows, pandas_nulls=True)

        return cls._allocate(heap, requests, capacity, idx, fill)

    @classmethod
    def attach(cls, handle):
        """Attaches a handle string of a frame (from Node or Python)."""
        return cls._attach(resolve(handle) if isinstance(handle, str) else handle)

    @classmethod
    def _attach(cls, r):
        ref = BlockRef.adopt(r, KIND, KIND_FRAME, "SharedFrame")
        try:
            store = store_for(ref.heap, ref.unit, ref.generation, ref.byte_offset, ref.byte_length)
            return cls(ref, store, _check_frame_view(r.handle.view, store))
        except BaseException:
            ref.release()
            raise

    # ------------------------------------------------------------------ properties

    def _check(self):
        self._ref.check("This SharedFrame")

    @property
    def length(self):
        """Committed rows (they grow as any process appends), or a slice's rows."""
        self._check()
        v = self._view
        end = v.get("end")
        return self._store.length() - v["start"] if end is None else end - v["start"]

    def __len__(self):
        return self.length

    @property
    def capacity(self):
        v = self._view
        return self._store.capacity - v["start"] if v.get("end") is None else self.length

    @property
    def columns(self):
        return [self._store.layout.columns[i].name for i in self._cols]

    @property
    def schema(self):
        """[(name, dtype)]: numpy typestrs, 'utf8', 'category'."""
        return [(self._store.layout.columns[i].name, self._store.layout.columns[i].type.dtype) for i in self._cols]

    @property
    def index(self):
        i = self._store.layout.index
        return self._store.layout.columns[i].name if i >= 0 and i in self._cols else None

    @property
    def heap(self):
        return self._ref.heap

    @property
    def closed(self):
        return self._ref.closed

    @property
    def _is_view(self):
        return "columns" in self._view or self._view.get("start", 0) != 0 or "end" in self._view

    # ------------------------------------------------------------------ columns and cells

    def _col(self, name):
        self._check()
        return self._store.col(name, None if "columns" not in self._view else self._cols)

    def _row(self, row):
        n = self.length
        if not isinstance(row, (int, np.integer)) or isinstance(row, bool):
            raise ShapeError(f"Expected `row` to be an integer, got {describe(row)}")
        r = row + n if row < 0 else row
        if not 0 <= r < n:
            raise ShapeError(
                f"Row {row} is out of range for a frame of {n} row{'' if n == 1 else 's'}"
                + (" (append rows first)" if n == 0 else f" (valid: 0..{n - 1}, or negative from the end)")
            )
        return self._view["start"] + int(r)

    def col(self, name):
        """A numpy view of column ``name``'s rows (no copy; writes are seen everywhere):
        numbers, bool, datetime64 and ``|S<n>`` bytes; the int32 codes of a category column
        (-1 for null; labels in ``categories(name)``). utf8 columns cannot be viewed by numpy
        (variable-length strings): use ``strings(name)`` or ``to_pandas()``. The view shows the
        rows that exist now: call ``col`` again after appends."""
        c = self._col(name)
        if c.kind == "utf8":
            raise DtypeError(
                f"Column {c.name!r} is utf8 (variable-length strings), which numpy cannot view without a copy: "
                "use frame.strings(name) for a list, or frame.to_pandas() for an object column"
            )
        return self._store.values(self._ref.payload(), c, self._view["start"], self.length)

    def codes(self, name):
        """The int32 codes of a category column (a view; -1 for null)."""
        c = self._col(name)
        if c.kind != "category":
            raise DtypeError(f"Column {c.name!r} is {c.dtype}, not a category column")
        return self._store.values(self._ref.payload(), c, self._view["start"], self.length)

    def categories(self, name):
        """The labels of a category column, in code order (a snapshot)."""
        c = self._col(name)
        if c.kind != "category":
            raise DtypeError(f"Column {c.name!r} is {c.dtype}, not a category column")
        return c.dict.labels()

    def strings(self, name):
        """The values of a utf8 (or category) column as a list of str, None for null (a copy)."""
        c = self._col(name)
        n = self.length
        start = self._view["start"]
        payload = self._ref.payload()
        valid = self._store.valid_bits(payload, c, start, n)
        if c.kind == "category":
            labels = c.dict.labels()
            codes = self._store.values(payload, c, start, n)
            return [labels[k] if ok else None for k, ok in zip(codes.tolist(), valid.tolist())]
        if c.kind != "utf8":
            raise DtypeError(f"Column {c.name!r} is {c.dtype}: use col(name) for a numpy view")
        offsets = self._store.values(payload, c, start, n + 1).tolist()
        at = self._store.base + c.layout.bytes
        raw = bytes(self._store.buf[at + offsets[0] : at + offsets[-1]])
        base = offsets[0]
        return [
            raw[offsets[i] - base : offsets[i + 1] - base].decode("utf-8") if valid[i] else None for i in range(n)
        ]

    def valid(self, name):
        """Which rows of column ``name`` hold a value (a bool array, a copy of the bitmap)."""
        c = self._col(name)
        return self._store.valid_bits(self._ref.payload(), c, self._view["start"], self.length)

    def is_null(self, row, name):
        c = self._col(name)
        return not self._store.is_valid(c, self._row(row))

    def get(self, row, name):
        """One cell: None for null; int, float, bool, numpy datetime64, bytes (|S) or str."""
        c = self._col(name)
        return self._store.read_cell(self._ref.payload(), c, self._row(row))

    def set(self, row, name, value):
        """Writes one cell in place (None clears it). utf8 cells are immutable; a value that does
        not fit the dtype is refused and nothing changes."""
        c = self._col(name)
        r = self._row(row)
        self._store.write_cell(self._ref.payload(), c, r, value, f"row {row} of column {c.name!r}")

    def values(self, columns=None):
        """Columns of one fixed-width dtype, evenly spaced in schema order, as one 2-D numpy view
        (column-major: shape (rows, columns)), like Node's ``frame.values()``."""
        names = self.columns if columns is None else list(columns)
        cs = [self._col(n) for n in names]
        if not cs:
            raise ShapeError("A frame without columns has no values")
        dts = {c.dtype for c in cs}
        if len(dts) > 1 or cs[0].kind != "fixed":
            raise DtypeError(
                f"values() needs columns of one fixed-width dtype to view them without copying, got {', '.join(sorted(dts))}: "
                "pass the columns of one dtype"
            )
        pos = [c.layout.pos for c in cs]
        step = pos[1] - pos[0] if len(pos) > 1 else 1
        if step <= 0 or any(p != pos[0] + k * step for k, p in enumerate(pos)):
            raise ShapeError(
                f"values() cannot view columns {names} as one array: they are not evenly spaced in schema order among "
                f"the {cs[0].dtype} columns"
            )
        first = cs[0].layout
        itemsize = cs[0].dt.itemsize
        start = self._view["start"]
        return np.ndarray(
            (self.length, len(cs)),
            dtype=cs[0].dt,
            buffer=self._ref.payload(),
            offset=first.data + start * itemsize,
            strides=(itemsize, step * first.stride * itemsize),
        )

    # ------------------------------------------------------------------ appends

    def append(self, data):
        """Appends rows: a dict of one row ({column: value}), a dict of columns ({column:
        sequence}), a list of row dicts, or a pandas DataFrame. Missing columns are null.
        Returns the first new row's position. Safe with any number of concurrent appenders in
        any process (Node's too); past capacity raises HeapFullError and appends nothing."""
        self._check()
        if "columns" in self._view or self._view.get("start", 0) != 0 or "end" in self._view:
            raise InvalidArgumentError("Cannot append through a view (select/slice): append to the whole frame")
        pandas_nulls = False
        pd = sys.modules.get("pandas")
        if pd is not None and isinstance(data, pd.DataFrame):
            columns = {str(k): data[k] for k in data.columns}
            n = len(data)
            pandas_nulls = True
        elif isinstance(data, (list, tuple)):
            n = len(data)
            keys = []
            for i, row in enumerate(data):
                if not isinstance(row, dict):
                    raise InvalidArgumentError(f"Expected row {i} to be a dict of column values, got {describe(row)}")
                for k in row:
                    if k not in keys:
                        keys.append(k)
            columns = {k: [row.get(k) for row in data] for k in keys}
        elif isinstance(data, dict):
            arrays = [k for k, v in data.items() if _is_sequence(v)]
            if arrays and len(arrays) != len(data):
                raise InvalidArgumentError(
                    "Expected either one row ({column: value}) or columns ({column: sequence}), got a mix of sequences and values"
                )
            if arrays:
                lengths = {k: len(v) for k, v in data.items()}
                n = next(iter(lengths.values()))
                for k, m in lengths.items():
                    if m != n:
                        first = next(iter(lengths))
                        raise ShapeError(f"Columns differ in length: {first!r} has {n} values, {k!r} has {m}")
                columns = dict(data)
            else:
                n = 1
                columns = {k: [v] for k, v in data.items()}
        else:
            raise InvalidArgumentError(f"Expected a row dict, a list of row dicts, a dict of columns or a DataFrame, got {describe(data)}")
        return self._append_columns(columns, n, pandas_nulls)

    def _append_columns(self, columns, n, pandas_nulls=False):
        store = self._store
        for k in columns:
            store.col(k)
        staged = []
        for i in range(store.ncols):
            c = store.column(i)
            src = columns.get(c.name)
            where = lambda k, name=c.name: f"value {k} of column {name!r}"  # noqa: E731
            staged.append(stage(c, src, n, where, pandas_nulls))
        return appends.append_staged(store, self._ref.payload(), staged, n)

    # ------------------------------------------------------------------ pandas

    def to_pandas(self, columns=None):
        """A pandas DataFrame of the frame's rows now, built with ``pd.DataFrame(dict,
        copy=False)``: numeric, bool, datetime64[ns] and |S<n> columns are views of the heap
        (see the module docstring for exactly which columns are copied and why).

        ``df.loc[:, 'x'] *= 2`` writes through to the heap (Node and other processes see it).
        Operations that consolidate columns (``df.values``, adding a column with ``df[c] =``)
        may copy; ``frame.col(name)`` is the safe path for writes."""
        pd = require_pandas("SharedFrame.to_pandas()")
        names = self.columns if columns is None else list(columns)
        n = self.length
        start = self._view["start"]
        payload = self._ref.payload()
        store = self._store
        data = {}
        for name in names:
            c = self._col(name)
            all_valid = store.all_valid(payload, c, start, n)
            valid = None if all_valid else store.valid_bits(payload, c, start, n)
            if c.kind == "utf8":
                data[name] = np.array(self.strings(name), dtype=object)
                continue
            view = store.values(payload, c, start, n)
            if c.kind == "category":
                data[name] = pd.Categorical.from_codes(view, categories=c.dict.labels())
                continue
            data[name] = pandas_column(pd, c.dt.kind, view, valid, all_valid)
        return pd.DataFrame(data, copy=False)

    # ------------------------------------------------------------------ handles and lifetime

    @property
    def handle(self):
        """A handle carrying a new reference: ``str(handle)`` is its string form."""
        self._check()
        return self._ref.reuse_handle(self._share)

    def _share(self):
        return self._ref.share(KIND, dict(self._view) if self._is_view else None)

    def close(self):
        """Drops this process's reference; the last one (in any process) frees the frame."""
        self._ref.release()

    detach = close

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __reduce__(self):
        return (_attach_pickled, (str(self._share()),))

    def __repr__(self):
        if self.closed:
            return "SharedFrame(closed)"
        return f"SharedFrame({self.length} of {self.capacity} rows, {self.schema})"


def _is_sequence(v):
    return isinstance(v, (list, tuple, np.ndarray)) or is_pandas(v)


def _check_frame_view(view, store):
    if view is None:
        return {"start": 0}
    n = store.ncols
    length = store.length()
    ok = (
        isinstance(view, dict)
        and isinstance(view.get("start"), int)
        and view["start"] >= 0
        and (
            view["start"] <= length
            if view.get("end") is None
            else isinstance(view["end"], int) and view["start"] <= view["end"] <= length
        )
        and (
            view.get("columns") is None
            or (
                isinstance(view["columns"], list)
                and all(isinstance(c, int) and 0 <= c < n for c in view["columns"])
                and len(set(view["columns"])) == len(view["columns"])
            )
        )
    )
    if not ok:
        from ..errors import CorruptError

        raise CorruptError(f"Handle carries an invalid frame view: {view!r}")
    out = {"start": view["start"]}
    if view.get("end") is not None:
        out["end"] = view["end"]
    if view.get("columns") is not None:
        out["columns"] = list(view["columns"])
    return out


def _attach_pickled(text):
    from ..heap.heap import attach

    return attach(text)


def _host(ref, spec):
    group = spec.get("group") if isinstance(spec, dict) else None
    store = store_for(ref.heap, ref.unit, ref.generation, ref.byte_offset, ref.byte_length)
    dt, data, size = group_region(store.layout, group)
    return dt, ref.byte_offset + data, size


register_array_host(KIND_FRAME, _host)
register_kind(KIND, KIND_FRAME, lambda r: SharedFrame._attach(r))
