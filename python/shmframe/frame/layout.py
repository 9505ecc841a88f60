"""The payload of a frame block (``src/frame/layout.ts`` for Python; read it for the why).

    0      header: 16 int32 words (magic, version, columns, capacity, length, ...)
    64     append reservations: 64 slots of 4 int32 words (owner, first row, end, state)
    1088   column table: 128 bytes per column (16 int32 words, 4 float64 offsets, 8 int32 words)
    ...    column names (UTF-8)
    ...    fixed-width columns, grouped by dtype
    ...    utf8 columns: int32 offsets (capacity + 1) and a byte region of fixed size
    ...    category columns: int32 codes, then a dictionary (int32 offsets and bytes)
    ...    validity bitmaps, one per column (LSB first, 1 = valid)

Offsets in the column table are relative to the payload start; :func:`read_layout` checks every
region against the block's length before any view is made.
"""
import math
import struct

import numpy as np

from ..array import dtype as dtypes
from ..errors import CorruptError, DtypeError, InvalidArgumentError, ShapeError, describe

FRAME_MAGIC = 0x4D524653  # "SFRM"
FRAME_VERSION = 1

F_MAGIC = 0
F_VERSION = 1
F_NCOLS = 2
F_CAPACITY = 3
F_LENGTH = 4
F_RESERVED = 5
F_LOCK = 6
F_INDEX = 7
F_NAMES_BYTES = 8
F_LOCK_WAITERS = 9
F_RESERVATIONS = 16
RESERVE_SLOTS = 64
RESERVE_WORDS = 4
R_OWNER = 0
R_START = 1
R_END = 2
R_STATE = 3
HEADER_WORDS = F_RESERVATIONS + RESERVE_SLOTS * RESERVE_WORDS
HEADER_BYTES = HEADER_WORDS * 4
COLUMN_BYTES = 128
COLUMN_WORDS = COLUMN_BYTES // 4

C_TYPE = 0
C_DTYPE = 1
C_ITEMSIZE = 2
C_UNIT = 3
C_NAME_AT = 4
C_NAME_LEN = 5
C_GROUP = 6
C_POS = 7
C_GROUP_SIZE = 8
C_STRIDE = 9
C_BYTES_CAP = 10
C_BYTES_USED = 11
C_DICT_CAP = 12
C_DICT_COUNT = 13
C_DICT_LOCK = 14
C_EDITS = 15
C_BYTES_PREV = 24
C_DICT_WAITERS = 25
D_DATA = 8
D_VALIDITY = 9
D_BYTES = 10
D_DICT_OFFSETS = 11

MAX_COLUMNS = 65536
MAX_ROWS = 2**31 - 1

TYPE_CODES = {"fixed": 1, "utf8": 2, "category": 3}
_TYPE_NAMES = {1: "fixed", 2: "utf8", 3: "category"}
_UTF8 = {"utf8", "utf-8", "string", "str"}
_CATEGORY = {"category", "categorical", "dictionary"}
I4 = np.dtype("<i4")


class ColumnType:
    """A resolved column type: kind ('fixed', 'utf8', 'category'), the element numpy dtype
    (the value dtype for fixed columns, int32 offsets/codes otherwise) and its schema name."""

    __slots__ = ("kind", "dt", "dtype", "code", "unit")

    def __init__(self, kind, dt, dtype, code, unit):
        self.kind = kind
        self.dt = dt
        self.dtype = dtype
        self.code = code
        self.unit = unit


def column_type(spec, column):
    """Resolves a column dtype: numpy dtypes and names, or 'utf8' / 'category'."""
    if spec is str:
        spec = "utf8"
    if isinstance(spec, str) and spec.strip().lower() in _UTF8:
        return ColumnType("utf8", I4, "utf8", 4, 0)
    if isinstance(spec, str) and spec.strip().lower() in _CATEGORY:
        return ColumnType("category", I4, "category", 4, 0)
    if getattr(spec, "name", None) == "category":  # a pandas CategoricalDtype
        return ColumnType("category", I4, "category", 4, 0)
    try:
        dt, code, _, unit = dtypes.check(spec)
    except DtypeError as err:
        raise DtypeError(
            f"Column {column!r}: {err.message} Frames also take 'utf8' (variable-length strings) and 'category'."
        ) from err
    return ColumnType("fixed", dt, dt.str, code, unit)


def parse_schema(schema, what="schema"):
    """Checks a schema ({name: dtype} or [(name, dtype), ...]) and returns [(name, ColumnType)]."""
    if isinstance(schema, dict):
        pairs = list(schema.items())
    elif isinstance(schema, (list, tuple)):
        pairs = []
        for i, p in enumerate(schema):
            if not isinstance(p, (list, tuple)) or len(p) != 2:
                raise InvalidArgumentError(f"Expected `{what}` entry {i} to be a (name, dtype) pair, got {describe(p)}")
            pairs.append((p[0], p[1]))
    else:
        raise InvalidArgumentError(f"Expected `{what}` to be {{name: dtype}} or [(name, dtype), ...], got {describe(schema)}")
    if len(pairs) > MAX_COLUMNS:
        raise ShapeError(f"Expected at most {MAX_COLUMNS} columns in `{what}`, got {len(pairs)}")
    seen = set()
    out = []
    for name, dt in pairs:
        if not isinstance(name, str):
            raise InvalidArgumentError(f"Expected column names in `{what}` to be strings, got {describe(name)}")
        if name in seen:
            raise InvalidArgumentError(f"Duplicate column name {name!r} in `{what}`: column names must be unique")
        seen.add(name)
        out.append((name, column_type(dt, name)))
    return out


class ColumnLayout:
    __slots__ = (
        "name",
        "type",
        "group",
        "pos",
        "group_size",
        "stride",
        "data",
        "validity",
        "bytes",
        "bytes_cap",
        "dict_offsets",
        "dict_cap",
    )

    def __init__(self, name, ctype):
        self.name = name
        self.type = ctype
        self.group = -1
        self.pos = 0
        self.group_size = 1
        self.stride = 0
        self.data = 0
        self.validity = 0
        self.bytes = 0
        self.bytes_cap = 0
        self.dict_offsets = 0
        self.dict_cap = 0


class FrameLayout:
    __slots__ = ("capacity", "index", "columns", "payload_bytes")

    def __init__(self, capacity, index, columns, payload_bytes):
        self.capacity = capacity
        self.index = index
        self.columns = columns
        self.payload_bytes = payload_bytes


def r64(n):
    return -(-n // 64) * 64


def stride_for(capacity, itemsize):
    q = 64 // math.gcd(itemsize, 64)
    return -(-capacity // q) * q


def plan_layout(requests, capacity, index):
    """Places every region. ``requests``: [(name, ColumnType, string_bytes, categories,
    category_bytes)]. Pure arithmetic."""
    n = len(requests)
    at = r64(HEADER_BYTES + COLUMN_BYTES * n)
    names_bytes = sum(len(r[0].encode("utf-8")) for r in requests)
    at = r64(at + names_bytes)
    columns = [ColumnLayout(r[0], r[1]) for r in requests]
    for c in columns:
        c.stride = capacity
    groups = {}
    for i, r in enumerate(requests):
        if r[1].kind != "fixed":
            continue
        groups.setdefault(r[1].dtype, []).append(i)
    for members in groups.values():
        head = members[0]
        itemsize = requests[head][1].dt.itemsize
        stride = stride_for(capacity, itemsize)
        for pos, c in enumerate(members):
            col = columns[c]
            col.group, col.pos, col.group_size, col.stride, col.data = head, pos, len(members), stride, at
            at += stride * itemsize
    for i, r in enumerate(requests):
        col = columns[i]
        kind = r[1].kind
        if kind == "utf8":
            col.group = i
            col.data = at
            at = r64(at + (capacity + 1) * 4)
            col.bytes = at
            col.bytes_cap = r[2]
            at = r64(at + r[2])
        elif kind == "category":
            col.group = i
            col.data = at
            at = r64(at + capacity * 4)
            col.dict_offsets = at
            col.dict_cap = r[3]
            at = r64(at + (r[3] + 1) * 4)
            col.bytes = at
            col.bytes_cap = r[4]
            at = r64(at + r[4])
    for col in columns:
        col.validity = at
        at = r64(at + -(-capacity // 8))
    return FrameLayout(capacity, index, columns, max(at, 64))


def write_layout(buf, base, layout):
    """Writes the header, column table and names, and zeroes what must start at zero (validity
    bitmaps, first offsets). The magic is stored last (atomically, by the caller's words)."""
    n = len(layout.columns)
    table_end = HEADER_BYTES + COLUMN_BYTES * n
    buf[base : base + table_end] = bytes(table_end)
    struct.pack_into("<i", buf, base + 4 * F_VERSION, FRAME_VERSION)
    struct.pack_into("<i", buf, base + 4 * F_NCOLS, n)
    struct.pack_into("<i", buf, base + 4 * F_CAPACITY, layout.capacity)
    struct.pack_into("<i", buf, base + 4 * F_INDEX, layout.index)
    name_at = 0
    names = bytearray()
    for c, col in enumerate(layout.columns):
        rec = base + HEADER_BYTES + COLUMN_BYTES * c
        t = col.type
        nb = col.name.encode("utf-8")
        struct.pack_into(
            "<10i",
            buf,
            rec,
            TYPE_CODES[t.kind],
            t.code,
            t.dt.itemsize,
            t.unit,
            name_at,
            len(nb),
            col.group,
            col.pos,
            col.group_size,
            col.stride,
        )
        struct.pack_into("<i", buf, rec + 4 * C_BYTES_CAP, col.bytes_cap)
        struct.pack_into("<i", buf, rec + 4 * C_DICT_CAP, col.dict_cap)
        struct.pack_into("<4d", buf, rec + 8 * D_DATA, col.data, col.validity, col.bytes, col.dict_offsets)
        names += nb
        name_at += len(nb)
        if t.kind == "utf8":
            struct.pack_into("<i", buf, base + col.data, 0)
        if t.kind == "category":
            struct.pack_into("<i", buf, base + col.dict_offsets, 0)
    buf[base + table_end : base + table_end + len(names)] = bytes(names)
    if layout.columns:
        first = layout.columns[0].validity
        buf[base + first : base + layout.payload_bytes] = bytes(layout.payload_bytes - first)
    struct.pack_into("<i", buf, base + 4 * F_NAMES_BYTES, name_at)


def _corrupt(why):
    raise CorruptError(f"Frame block is inconsistent: {why}")


def read_layout(buf, base, byte_length, magic):
    """Reads and checks a frame block's layout; never reads past ``byte_length``. ``magic`` and
    ``length`` are read by the caller with atomic loads."""
    if byte_length < HEADER_BYTES:
        _corrupt(f"payload of {byte_length} bytes has no room for a header")
    if magic != FRAME_MAGIC:
        _corrupt("bad magic")
    version, n, capacity, _, _, _, index, names_bytes = struct.unpack_from("<8i", buf, base + 4)
    if version != FRAME_VERSION:
        _corrupt(f"layout version {version}, this shmframe reads {FRAME_VERSION}")
    table_end = HEADER_BYTES + COLUMN_BYTES * n
    if not (0 <= n <= MAX_COLUMNS) or table_end + names_bytes > byte_length or names_bytes < 0:
        _corrupt(f"{n} columns do not fit in {byte_length} bytes")
    if not (0 <= capacity <= MAX_ROWS):
        _corrupt(f"capacity {capacity}")
    if not (-1 <= index < n):
        _corrupt(f"index column {index}")
    names = bytes(buf[base + table_end : base + table_end + names_bytes])

    def region(at, nbytes, what):
        if not (float(at).is_integer() and int(at) % 64 == 0 and at >= table_end and at + nbytes <= byte_length):
            _corrupt(f"{what} region [{at}, +{nbytes}) is outside the {byte_length}-byte payload")

    columns = []
    for c in range(n):
        rec = base + HEADER_BYTES + COLUMN_BYTES * c
        w = struct.unpack_from("<16i", buf, rec)
        d = struct.unpack_from("<4d", buf, rec + 8 * D_DATA)
        name_at, name_len = w[C_NAME_AT], w[C_NAME_LEN]
        if not (name_at >= 0 and name_len >= 0 and name_at + name_len <= names_bytes):
            _corrupt(f"column {c} name")
        name = names[name_at : name_at + name_len].decode("utf-8", "replace")
        kind = _TYPE_NAMES.get(w[C_TYPE])
        if kind is None:
            _corrupt(f"column {c} has type code {w[C_TYPE]}")
        if kind == "fixed":
            dt = dtypes.from_code(w[C_DTYPE], w[C_ITEMSIZE], w[C_UNIT])
            if dt is None:
                _corrupt(f"column {c} has dtype code {w[C_DTYPE]}")
            ctype = column_type(dt, name)
        else:
            ctype = column_type(kind, name)
        col = ColumnLayout(name, ctype)
        col.group, col.pos, col.group_size, col.stride = w[C_GROUP], w[C_POS], w[C_GROUP_SIZE], w[C_STRIDE]
        col.bytes_cap, col.dict_cap = w[C_BYTES_CAP], w[C_DICT_CAP]
        for value in d:
            if not (value >= 0 and float(value).is_integer()):
                _corrupt(f"column {c} offsets")
        col.data, col.validity, col.bytes, col.dict_offsets = (int(x) for x in d)
        region(col.validity, -(-capacity // 8), f"column {c} validity")
        if kind == "fixed":
            if not (capacity <= col.stride <= MAX_ROWS + 64):
                _corrupt(f"column {c} stride")
            if not (0 <= col.pos < col.group_size <= n):
                _corrupt(f"column {c} group position")
            region(col.data, col.stride * ctype.dt.itemsize, f"column {c} data")
        elif kind == "utf8":
            if not (0 <= col.bytes_cap <= MAX_ROWS):
                _corrupt(f"column {c} byte capacity")
            region(col.data, (capacity + 1) * 4, f"column {c} offsets")
            region(col.bytes, col.bytes_cap, f"column {c} bytes")
        else:
            if not (0 <= col.bytes_cap <= MAX_ROWS and 0 <= col.dict_cap <= MAX_ROWS):
                _corrupt(f"column {c} dictionary capacity")
            region(col.data, capacity * 4, f"column {c} codes")
            region(col.dict_offsets, (col.dict_cap + 1) * 4, f"column {c} dictionary offsets")
            region(col.bytes, col.bytes_cap, f"column {c} dictionary bytes")
        columns.append(col)
    for c, col in enumerate(columns):
        if col.type.kind != "fixed":
            continue
        head = columns[col.group] if 0 <= col.group < n else None
        if (
            head is None
            or head.type.dtype != col.type.dtype
            or head.pos != 0
            or head.stride != col.stride
            or head.group_size != col.group_size
            or col.data != head.data + col.pos * col.stride * col.type.dt.itemsize
        ):
            _corrupt(f"column {c} does not sit in its dtype group")
    return FrameLayout(capacity, index, columns, byte_length)


def group_region(layout, head):
    """The element region of the dtype group whose first column is ``head``: (dtype, byte
    offset in the payload, elements)."""
    col = layout.columns[head] if isinstance(head, int) and 0 <= head < len(layout.columns) else None
    if col is None or col.type.kind != "fixed" or col.group != head:
        raise CorruptError(f"Handle names frame column {head!r}, which heads no dtype group")
    size = col.group_size * col.stride
    if col.data + size * col.type.dt.itemsize > layout.payload_bytes:
        raise CorruptError(f"Frame column group {head} reaches past its block")
    return col.type.dt, col.data, size
