"""Excel workbooks (.xlsx): which sheets a file has, from its first bytes, and their tables.

Sniffing sees only the first bytes of a file, so :func:`sheet_names` walks the zip's
local entries in those bytes and inflates ``xl/workbook.xml`` (which Excel and most
writers store near the start). Tables are read with ``fastexcel``.
"""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import polars as pl

from cellstore.formats.base import FormatError

_LOCAL_ENTRY = b"PK\x03\x04"


def sheet_names(head: bytes) -> list[str] | None:
    """Sheet names of an xlsx starting with ``head``; ``[]`` if the list is beyond it; None if not an xlsx."""
    if not head.startswith(_LOCAL_ENTRY):
        return None
    position, is_xlsx = 0, False
    while head.startswith(_LOCAL_ENTRY, position) and position + 30 <= len(head):
        method, size, name_length, extra_length = struct.unpack_from("<8xH8xI4xHH", head, position)
        name = head[position + 30 : position + 30 + name_length].decode("utf-8", errors="replace")
        start = position + 30 + name_length + extra_length
        is_xlsx = is_xlsx or name.startswith("xl/") or name == "[Content_Types].xml"
        if name == "xl/workbook.xml":
            body = head[start : start + size] if size else head[start:]
            try:
                xml = zlib.decompressobj(-15).decompress(body) if method == 8 else body
            except zlib.error:
                return []
            return re.findall(
                r'<(?:\w+:)?sheet\b[^>]*\bname="([^"]*)"', xml.decode("utf-8", errors="replace")
            )
        if size == 0:  # sizes in a data descriptor after the entry: cannot walk further
            break
        position = start + size
    return [] if is_xlsx else None


def read_sheets(path: Path) -> list[tuple[str, pl.DataFrame]]:
    """Every sheet as (name, table), the first row as the header."""
    try:
        import fastexcel
    except ImportError as error:  # pragma: no cover - a declared dependency
        raise FormatError("reading .xlsx files needs the 'fastexcel' package.") from error
    try:
        reader = fastexcel.read_excel(path)
        return [(name, reader.load_sheet_by_name(name).to_polars()) for name in reader.sheet_names]
    except Exception as error:  # fastexcel raises its own exception types for damaged workbooks
        raise FormatError(f"{path.name}: not a readable Excel workbook ({error}).") from error
