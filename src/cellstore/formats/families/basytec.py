"""BaSyTec Battery Test System result files: ``~`` comment preamble, tab-separated table.

BaSyTec counts charge current as positive (negated here); ``Line`` is the test-plan line
(the cycler's step), ``Cyc-Count`` the cycle; ``Ah[Ah]``/``Wh[Wh]`` are signed counters.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl

from cellstore.formats.base import ColumnMap, FormatError, RawSeries, Reader
from cellstore.formats.delimited import (
    TableStream,
    head_text,
    parse_datetime,
    parse_table,
    read_head,
    read_text,
    split_header,
)
from cellstore.formats.detect import register
from cellstore.formats.normalise import CAPACITY_FROM_CYCLER, ENERGY_FROM_CYCLER, apply_column_maps
from cellstore.formats.stream import NotStreamable
from cellstore.processing import columns as c

COLUMNS = [
    ColumnMap("Time[s]", c.TIME),
    ColumnMap("Time[h]", c.TIME, scale=3600.0),
    ColumnMap("U[V]", c.VOLTAGE),
    ColumnMap("I[A]", c.CURRENT, negate=True),
    ColumnMap("I[mA]", c.CURRENT, scale=1e-3, negate=True),
    ColumnMap("Line", c.STEP_FROM_CYCLER),
    ColumnMap("Cyc-Count", c.CYCLE_FROM_CYCLER),
    ColumnMap("Ah[Ah]", CAPACITY_FROM_CYCLER),
    ColumnMap("Wh[Wh]", ENERGY_FROM_CYCLER),
    ColumnMap("P[W]", c.POWER, negate=True),
    ColumnMap("T1[°C]", c.TEMPERATURE),
]


def _header_index(lines: list[str]) -> int:
    for i, line in enumerate(lines[:100]):
        if line.startswith("~") and "\t" in line and ("U[V]" in line or "I[A]" in line):
            return i
    return -1


class BasytecReader(Reader):
    family = "basytec"
    label = "BaSyTec result file (.txt)"
    extensions = (".txt",)

    def sniff(self, head: bytes, name: str) -> float:
        text = head_text(head)
        if not text.startswith("~"):
            return 0.0
        return 0.95 if "basytec" in text[:500].lower() or _header_index(text.split("\n")) >= 0 else 0.0

    def read(self, path: Path) -> RawSeries:
        lines = read_text(path).split("\n")
        index = _header_index(lines)
        if index < 0:
            raise FormatError(f"{path.name}: no BaSyTec column header ('~Time[s]  …  U[V]  I[A]').")
        header = [n.replace("\ufffd", "°") for n in split_header(lines[index][1:], "\t")]
        table = parse_table(lines[index + 1 :], header, separator="\t")
        return self._raw(apply_column_maps(table, COLUMNS), lines[:index])

    def read_batches(self, path: Path, **options: Any) -> Iterator[RawSeries]:
        """:meth:`read` in batches (:mod:`cellstore.formats.stream`)."""
        head = read_head(path)
        index = _header_index(head.lines)
        if index < 0 or index + 1 >= len(head.lines):
            raise NotStreamable("no BaSyTec header in the first megabyte")
        header = [n.replace("\ufffd", "°") for n in split_header(head.lines[index][1:], "\t")]
        stream = TableStream(
            path, head.offset(index + 1), header, separator="\t", encoding=head.encoding, **options
        )
        first = self._raw(pl.DataFrame(), head.lines[:index])
        for table in stream:
            first.frame = apply_column_maps(table, COLUMNS)
            yield first
            first = RawSeries(frame=first.frame, family=self.family)

    def _raw(self, frame: pl.DataFrame, preamble: list[str]) -> RawSeries:
        meta = {}
        for line in preamble:
            key, _, value = line.lstrip("~").partition(":")
            if value.strip():
                meta[key.strip()] = value.strip()
        start = None
        if "Start of Test" in meta:
            try:
                start = parse_datetime(pl.Series([meta["Start of Test"]]), ("%d.%m.%Y %H:%M:%S",))[0]
            except FormatError:
                start = None
        setup = {"cycler": "BaSyTec"}
        for key, target in (
            ("Testchannel", "channel_number"),
            ("Name of Test", "test_name"),
            ("Battery", "cell"),
        ):
            if key in meta:
                setup[target] = meta[key]
        protocol = {"name": meta["Testplan"]} if "Testplan" in meta else {}
        return RawSeries(
            frame=frame, family=self.family, start_time=start, test_setup=setup, protocol=protocol
        )


register(BasytecReader())
