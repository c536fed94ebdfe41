"""Parsing of the HTTP ``Range`` header (RFC 9110 §14), for one range at a time.

Readers of parquet over HTTP (polars, pyarrow) ask for one range per request:
``bytes=a-b`` for a row group, ``bytes=-n`` for the footer (polars 2 asks for
more than a small file holds and expects the whole file back as 206). A
header that does not parse, or asks for several ranges, is ignored as the RFC
allows, and the whole object is sent.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ByteRange:
    """Bytes ``start`` to ``end`` inclusive, as ``Content-Range`` writes them."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


class RangeNotSatisfiable(Exception):
    """A well-formed range that selects no byte of the object (answered 416)."""


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one range ``header`` selects from an object of ``size`` bytes.

    None means "send the whole object" (no header, or one to ignore);
    :class:`RangeNotSatisfiable` means 416.
    """
    if header is None:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    first, last = first.strip(), last.strip()
    if not dash or not _digits(first or "0") or not _digits(last or "0") or not (first or last):
        return None
    if not first:  # suffix: the last n bytes, all of them when n exceeds the size
        count = int(last)
        if count == 0 or size == 0:
            raise RangeNotSatisfiable
        return ByteRange(max(size - count, 0), size - 1)
    start = int(first)
    if last and int(last) < start:
        return None  # an invalid range-spec: the header is ignored
    if start >= size:
        raise RangeNotSatisfiable
    return ByteRange(start, min(int(last), size - 1) if last else size - 1)


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()
