"""DOE Battery Data Hub (batterydata.energy.gov) raw CSV: ``Cycle_Index, Step, Time_s, Current_A,
Voltage_V …``. Charge current counts as positive there (negated here)."""

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
    ColumnMap("Time_s", c.TIME),
    ColumnMap("Voltage_V", c.VOLTAGE),
    ColumnMap("Current_A", c.CURRENT, negate=True),
    ColumnMap("Step", c.STEP_FROM_CYCLER),
    ColumnMap("Cycle_Index", c.CYCLE_FROM_CYCLER),
    ColumnMap("Charge_Capacity_Ah", c.CHARGE_CAPACITY),
    ColumnMap("Discharge_Capacity_Ah", c.DISCHARGE_CAPACITY),
    ColumnMap("Charge_Energy_Wh", c.CHARGE_ENERGY),
    ColumnMap("Discharge_Energy_Wh", c.DISCHARGE_ENERGY),
    ColumnMap("Cell_Temperature_C", c.TEMPERATURE),
]
_MARKERS = {"Time_s", "Current_A", "Voltage_V"}


class BatteryDataHubReader(Reader):
    family = "batterydata_doe"
    label = "DOE Battery Data Hub CSV (batterydata.energy.gov)"
    extensions = (".csv",)

    def sniff(self, head: bytes, name: str) -> float:
        names = set(split_header(head_text(head).split("\n", 1)[0], ","))
        return 0.85 if names >= _MARKERS else 0.0

    def read(self, path: Path) -> RawSeries:
        lines = read_text(path).split("\n")
        header = split_header(lines[0], ",")
        if not set(header) >= _MARKERS:
            raise FormatError(f"{path.name}: not a Battery Data Hub raw CSV (needs {sorted(_MARKERS)}).")
        frame = apply_column_maps(parse_table(lines[1:], header, separator=","), COLUMNS)
        return RawSeries(frame=frame, family=self.family, test_setup={"source": "batterydata.energy.gov"})

    def read_batches(self, path: Path, **options: Any) -> Iterator[RawSeries]:
        """:meth:`read` in batches (:mod:`cellstore.formats.stream`)."""
        head = read_head(path)
        header = split_header(head.lines[0], ",")
        if not set(header) >= _MARKERS:
            raise NotStreamable("not a Battery Data Hub header")
        for table in TableStream(
            path, head.offset(1), header, separator=",", encoding=head.encoding, **options
        ):
            frame = apply_column_maps(table, COLUMNS)
            yield RawSeries(frame=frame, family=self.family, test_setup={"source": "batterydata.energy.gov"})


register(BatteryDataHubReader())
