"""Handles and their string form (``src/heap/handle.ts`` and the end of ``src/heap/heap.ts``).

A handle names a block and carries one reference to it; its string form, which Node's
``attach`` parses too, is::

    shmframe:1:<kind>:<heap id hex>:<where>:<unit>:<generation>:<ticket>:<serial>[:<view>]

where ``<where>`` says how to reach the heap (``n<name>``, ``f<base64url path>``,
``m<pid>.<fd>`` for a memfd held by process pid as fd) and ``<view>`` is the base64url JSON of a
view (an array's offset/shape/strides, a frame's columns/rows).
"""
import base64
import json
import re

from ..errors import InvalidArgumentError

TAG = "shmframe"
VERSION = "1"
_HEX = re.compile(r"^[0-9a-f]{1,14}$")
_NUM = re.compile(r"^-?\d{1,10}$")
_KIND = re.compile(r"^[a-z]+$")


def b64(text):
    return base64.urlsafe_b64encode(text.encode("utf-8")).rstrip(b"=").decode("ascii")


def unb64(text):
    pad = "=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(text + pad).decode("utf-8")


class Handle:
    """A handle: ``str(handle)`` is its string form, which ``attach`` accepts in any process
    (Node or Python) that can reach the heap. It carries one reference until attached."""

    __slots__ = ("kind", "heap_id", "unit", "generation", "ticket", "serial", "view", "where")

    def __init__(self, kind, heap_id, unit, generation, ticket, serial, view=None, where=None):
        self.kind = kind
        self.heap_id = heap_id
        self.unit = unit
        self.generation = generation
        self.ticket = ticket
        self.serial = serial
        self.view = view
        self.where = where  # a callable giving the heap reference part, or a string

    def __str__(self):
        where = self.where() if callable(self.where) else (self.where or "t")
        view = "" if self.view is None else ":" + b64(json.dumps(self.view, separators=(",", ":")))
        return (
            f"{TAG}:{VERSION}:{self.kind}:{self.heap_id:x}:{where}:{self.unit}:{self.generation}:"
            f"{self.ticket}:{self.serial}{view}"
        )

    def __repr__(self):
        return f"Handle({str(self)!r})"


def bad_handle(text, why):
    return InvalidArgumentError(
        "Expected a handle string like 'shmframe:1:array:<heap>:<where>:<unit>:<generation>:<ticket>:<serial>', "
        f"got {text[:120]!r}: {why}"
    )


def parse(text):
    """Splits a handle string: (kind, heap id, where, unit, generation, ticket, serial, view)."""
    if not isinstance(text, str):
        raise InvalidArgumentError(
            f"Expected a handle string (str(obj.handle) from Node or Python), got a {type(text).__name__}"
        )
    parts = text.split(":")
    if len(parts) < 9 or len(parts) > 10 or parts[0] != TAG:
        raise bad_handle(text, "wrong number of fields")
    if parts[1] != VERSION:
        raise bad_handle(text, f"version {parts[1]} is not {VERSION}")
    kind, id_hex, where = parts[2], parts[3], parts[4]
    nums = parts[5:9]
    if not _HEX.match(id_hex) or not all(_NUM.match(x) for x in nums) or not _KIND.match(kind):
        raise bad_handle(text, "a field is not a number")
    view = None
    if len(parts) == 10:
        try:
            view = json.loads(unb64(parts[9]))
        except (ValueError, UnicodeDecodeError) as err:
            raise bad_handle(text, "its view is not readable") from err
    unit, gen, ticket, serial = (int(x) for x in nums)
    return kind, int(id_hex, 16), where, unit, gen, ticket, serial, view
