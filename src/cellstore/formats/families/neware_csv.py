"""Neware BTSDA CSV exports: the flat record table and the "regular" three-level export.

The regular export stacks cycle rows, step rows (prefixed ``,``) and record rows (prefixed
``,,``) under three header lines; the records are kept and given their cycle and step.
Neware writes discharge current as negative (negated here); capacities are per step.
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
    parse_table,
    read_head,
    read_text,
    split_header,
)
from cellstore.formats.detect import register
from cellstore.formats.normalise import (
    CAPACITY_FROM_CYCLER,
    ENERGY_FROM_CYCLER,
    apply_column_maps,
    duration_seconds,
)
from cellstore.formats.stream import NotStreamable
from cellstore.processing import columns as c

COLUMNS = [
    ColumnMap("Cumulative Time", c.TIME),
    ColumnMap("Total Time", c.TIME),
    ColumnMap("Voltage(V)", c.VOLTAGE),
    ColumnMap("Current(A)", c.CURRENT, negate=True),
    ColumnMap("Current(mA)", c.CURRENT, scale=1e-3, negate=True),
    ColumnMap("Step Index", c.STEP_FROM_CYCLER),
    ColumnMap("Cycle Index", c.CYCLE_FROM_CYCLER),
    ColumnMap("Chg. Cap.(Ah)", c.CHARGE_CAPACITY),
    ColumnMap("DChg. Cap.(Ah)", c.DISCHARGE_CAPACITY),
    ColumnMap("Chg. Energy(Wh)", c.CHARGE_ENERGY),
    ColumnMap("DChg. Energy(Wh)", c.DISCHARGE_ENERGY),
    ColumnMap("Capacity(Ah)", CAPACITY_FROM_CYCLER),
    ColumnMap("Capacity(mAh)", CAPACITY_FROM_CYCLER, scale=1e-3),
    ColumnMap("Energy(Wh)", ENERGY_FROM_CYCLER),
    ColumnMap("Power(W)", c.POWER, negate=True),
    ColumnMap("T1(°C)", c.TEMPERATURE),
]
_TEXT = ("Time", "Cumulative Time", "Total Time", "Date", "Step Type")


def _flat(first: str) -> bool:
    names = {n.strip() for n in first.split(",")}
    return {"DataPoint", "Cycle Index", "Step Index"} <= names and "Voltage(V)" in names


def _regular(lines: list[str]) -> bool:
    return (
        len(lines) > 2
        and lines[0].startswith("Cycle Index,")
        and lines[1].startswith(",Step Index,")
        and lines[2].startswith(",,DataPoint,")
    )


def _read_regular(lines: list[str]) -> pl.DataFrame:
    header = ["Cycle Index", "Step Index", "Step Type", *split_header(lines[2], ",")[2:]]
    records: list[str] = []
    cycle = step = step_type = ""
    for line in lines[3:]:
        if line.startswith(",,"):
            records.append(f"{cycle},{step},{step_type},{line[2:]}")
        elif line.startswith(","):
            fields = line.split(",")
            step, step_type = fields[1], fields[3] if len(fields) > 3 else ""
        elif line.strip():
            cycle = line.split(",", 1)[0]
    return parse_table(records, header, separator=",", keep_text=_TEXT)


class NewareCsvReader(Reader):
    family = "neware_csv"
    label = "Neware BTSDA CSV export"
    extensions = (".csv",)

    def sniff(self, head: bytes, name: str) -> float:
        lines = head_text(head).split("\n", 3)
        return 0.9 if _flat(lines[0]) or _regular(lines) else 0.0

    def read(self, path: Path) -> RawSeries:
        lines = read_text(path).split("\n")
        if _regular(lines):
            table = _read_regular(lines)
        elif lines and _flat(lines[0]):
            table = parse_table(lines[1:], split_header(lines[0], ","), separator=",", keep_text=_TEXT)
        else:
            raise FormatError(f"{path.name}: not a Neware BTSDA CSV export (no DataPoint/Cycle/Step header).")
        return self._raw(table)

    def read_batches(self, path: Path, **options: Any) -> Iterator[RawSeries]:
        """:meth:`read` in batches (:mod:`cellstore.formats.stream`); the flat export only."""
        head = read_head(path)
        if _regular(head.lines) or not _flat(head.lines[0]):
            raise NotStreamable("the three-level export is read whole")
        header = split_header(head.lines[0], ",")
        stream = TableStream(
            path, head.offset(1), header, separator=",", keep_text=_TEXT, encoding=head.encoding, **options
        )
        start = self._raw(stream.sample).start_time
        for table in stream:
            yield RawSeries(
                frame=_frame(table), family=self.family, start_time=start, test_setup={"cycler": "Neware"}
            )

    def _raw(self, table: pl.DataFrame) -> RawSeries:
        frame = _frame(table)
        start = None
        if "Date" in frame.columns and frame.height:
            # Wall-clock time of every record: its first one, less the record's test time, starts the test.
            date = frame["Date"].str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S", strict=False)
            if date[0] is not None:
                seconds = frame[c.TIME][0] or 0.0
                start = pl.select(pl.lit(date[0]) - pl.duration(seconds=seconds)).item()
        return RawSeries(frame=frame, family=self.family, start_time=start, test_setup={"cycler": "Neware"})


def _frame(table: pl.DataFrame) -> pl.DataFrame:
    table = table.rename({n: n.replace("?", "°") for n in table.columns if "(?)" in n})
    frame = apply_column_maps(table, COLUMNS)
    if frame.schema.get(c.TIME) == pl.String:
        frame = frame.with_columns(duration_seconds(pl.col(c.TIME)).alias(c.TIME))
    return frame


register(NewareCsvReader())
