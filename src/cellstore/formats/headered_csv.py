"""Readers of comma-separated exports with one header row of known names and nothing else: the
shape of the public data archives' files. A family declares its columns, the names that mark
its header and where it comes from; reading, whole or in batches, is the same for all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cellstore.formats.base import ColumnMap, FormatError, RawSeries, Reader
from cellstore.formats.delimited import (
    TableStream,
    head_text,
    parse_table,
    read_head,
    read_text,
    split_header,
)
from cellstore.formats.normalise import apply_column_maps
from cellstore.formats.stream import NotStreamable


class HeaderedCsvReader(Reader):
    """A family whose header holds every name of ``markers`` and none of ``excludes``."""

    columns: list[ColumnMap]
    markers: frozenset[str]
    excludes: frozenset[str] = frozenset()
    keep_text: tuple[str, ...] = ()
    #: Goes into the measurement's ``test_setup`` as ``source``.
    source: str
    #: Completes "not a ..." in the message about a file whose header does not fit.
    what: str

    def _fits(self, names: set[str]) -> bool:
        return names >= self.markers and not names & self.excludes

    def sniff(self, head: bytes, name: str) -> float:
        names = set(split_header(head_text(head).split("\n", 1)[0], ","))
        return 0.85 if self._fits(names) else 0.0

    def _series(self, table: Any) -> RawSeries:
        frame = apply_column_maps(table, self.columns)
        return RawSeries(frame=frame, family=self.family, test_setup={"source": self.source})

    def read(self, path: Path) -> RawSeries:
        lines = read_text(path).split("\n")
        header = split_header(lines[0], ",")
        if not self._fits(set(header)):
            raise FormatError(f"{path.name}: not {self.what} (needs {sorted(self.markers)}).")
        return self._series(parse_table(lines[1:], header, separator=",", keep_text=self.keep_text))

    def read_batches(self, path: Path, **options: Any) -> Iterator[RawSeries]:
        """:meth:`read` in batches (:mod:`cellstore.formats.stream`)."""
        head = read_head(path)
        header = split_header(head.lines[0], ",")
        if not self._fits(set(header)):
            raise NotStreamable(f"not {self.what}")
        stream = TableStream(
            path,
            head.offset(1),
            header,
            separator=",",
            keep_text=self.keep_text,
            encoding=head.encoding,
            **options,
        )
        for table in stream:
            yield self._series(table)
