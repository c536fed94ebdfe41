"""batteryarchive.org time-series CSV (``Date_Time, Test_Time (s), Cycle_Index, Current (A) …``).

The archive's files carry no step number (steps follow the current's direction within a
cycle) and count charge current as positive (negated here).
"""

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
from cellstore.formats.detect import register
from cellstore.formats.normalise import apply_column_maps
from cellstore.formats.stream import NotStreamable
from cellstore.processing import columns as c

COLUMNS = [
    ColumnMap("Test_Time (s)", c.TIME),
    ColumnMap("Voltage (V)", c.VOLTAGE),
    ColumnMap("Current (A)", c.CURRENT, negate=True),
    ColumnMap("Cycle_Index", c.CYCLE_FROM_CYCLER),
    ColumnMap("Charge_Capacity (Ah)", c.CHARGE_CAPACITY),
    ColumnMap("Discharge_Capacity (Ah)", c.DISCHARGE_CAPACITY),
    ColumnMap("Charge_Energy (Wh)", c.CHARGE_ENERGY),
    ColumnMap("Discharge_Energy (Wh)", c.DISCHARGE_ENERGY),
    ColumnMap("Cell_Temperature (C)", c.TEMPERATURE),
]
_MARKERS = {"Test_Time (s)", "Cycle_Index", "Current (A)", "Voltage (V)"}


class BatteryArchiveReader(Reader):
    family = "batteryarchive"
    label = "batteryarchive.org time-series CSV"
    extensions = (".csv",)

    def sniff(self, head: bytes, name: str) -> float:
        names = set(split_header(head_text(head).split("\n", 1)[0], ","))
        return 0.85 if names >= _MARKERS and "Data_Point" not in names else 0.0

    def read(self, path: Path) -> RawSeries:
        lines = read_text(path).split("\n")
        header = split_header(lines[0], ",")
        if not set(header) >= _MARKERS:
            raise FormatError(
                f"{path.name}: not a batteryarchive.org time series (needs {sorted(_MARKERS)})."
            )
        table = parse_table(lines[1:], header, separator=",", keep_text=("Date_Time",))
        frame = apply_column_maps(table, COLUMNS)
        return RawSeries(frame=frame, family=self.family, test_setup={"source": "batteryarchive.org"})

    def read_batches(self, path: Path, **options: Any) -> Iterator[RawSeries]:
        """:meth:`read` in batches (:mod:`cellstore.formats.stream`)."""
        head = read_head(path)
        header = split_header(head.lines[0], ",")
        if not set(header) >= _MARKERS:
            raise NotStreamable("not a batteryarchive.org header")
        stream = TableStream(
            path,
            head.offset(1),
            header,
            separator=",",
            keep_text=("Date_Time",),
            encoding=head.encoding,
            **options,
        )
        for table in stream:
            frame = apply_column_maps(table, COLUMNS)
            yield RawSeries(frame=frame, family=self.family, test_setup={"source": "batteryarchive.org"})


register(BatteryArchiveReader())
