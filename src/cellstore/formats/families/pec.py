"""PEC SBT test-regime CSV exports: ``Key:,Value`` metadata lines, then the data table.

PEC counts charge current as positive (negated here); charge and discharge capacities
are separate cumulative counters; older exports label the energy columns ``Capacity (mWh)``.
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
from cellstore.formats.normalise import apply_column_maps
from cellstore.formats.stream import NotStreamable
from cellstore.processing import columns as c

COLUMNS = [
    ColumnMap("Total Time (Seconds)", c.TIME),
    ColumnMap("Total Time (Hours in hh:mm:ss.xxx)", c.TIME),
    ColumnMap("Voltage (V)", c.VOLTAGE),
    ColumnMap("Voltage (mV)", c.VOLTAGE, scale=1e-3),
    ColumnMap("Current (A)", c.CURRENT, negate=True),
    ColumnMap("Current (mA)", c.CURRENT, scale=1e-3, negate=True),
    ColumnMap("Step", c.STEP_FROM_CYCLER),
    ColumnMap("Cycle", c.CYCLE_FROM_CYCLER),
    ColumnMap("Charge Capacity (mAh)", c.CHARGE_CAPACITY, scale=1e-3),
    ColumnMap("Discharge Capacity (mAh)", c.DISCHARGE_CAPACITY, scale=1e-3),
    ColumnMap("Charge Energy (mWh)", c.CHARGE_ENERGY, scale=1e-3),
    ColumnMap("Discharge Energy (mWh)", c.DISCHARGE_ENERGY, scale=1e-3),
    ColumnMap("Charge Capacity (mWh)", c.CHARGE_ENERGY, scale=1e-3),
    ColumnMap("Discharge Capacity (mWh)", c.DISCHARGE_ENERGY, scale=1e-3),
    ColumnMap("Cell surface temperature (°C)", c.TEMPERATURE),
]
_DATE_FORMATS = ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M:%S%.f", "%Y-%m-%d %H:%M:%S")
_TIME_TEXT = ("Total Time (Hours in hh:mm:ss.xxx)", "Real Time", "Position Start Time")


def _header_index(lines: list[str]) -> int:
    for i, line in enumerate(lines[:200]):
        if line.startswith("Test,Cell,") and "Step" in line and "Voltage" in line:
            return i
    return -1


class PecReader(Reader):
    family = "pec"
    label = "PEC SBT CSV export"
    extensions = (".csv",)

    def sniff(self, head: bytes, name: str) -> float:
        lines = head_text(head).split("\n")
        if _header_index(lines) >= 0 and any(
            line.startswith(("Test:,", "TestRegime Name:,")) for line in lines[:60]
        ):
            return 0.95
        return 0.7 if _header_index(lines) >= 0 else 0.0

    def read(self, path: Path) -> RawSeries:
        lines = read_text(path).split("\n")
        index = _header_index(lines)
        if index < 0:
            raise FormatError(f"{path.name}: no PEC data header ('Test,Cell,…,Step,…,Voltage').")
        table = parse_table(
            lines[index + 1 :], split_header(lines[index], ","), separator=",", keep_text=_TIME_TEXT
        )
        return self._raw(table, lines[:index])

    def read_batches(self, path: Path, **options: Any) -> Iterator[RawSeries]:
        """:meth:`read` in batches (:mod:`cellstore.formats.stream`)."""
        head = read_head(path)
        index = _header_index(head.lines)
        if index < 0 or index + 1 >= len(head.lines):
            raise NotStreamable("no PEC header in the first megabyte")
        header = split_header(head.lines[index], ",")
        stream = TableStream(
            path,
            head.offset(index + 1),
            header,
            separator=",",
            keep_text=_TIME_TEXT,
            encoding=head.encoding,
            **options,
        )
        first = self._raw(stream.sample, head.lines[:index])
        for table in stream:
            yield RawSeries(
                frame=apply_column_maps(table, COLUMNS),
                family=self.family,
                start_time=first.start_time,
                test_setup=first.test_setup,
                protocol=first.protocol,
            )

    def _raw(self, table: pl.DataFrame, preamble: list[str]) -> RawSeries:
        frame = apply_column_maps(table, COLUMNS)
        meta = {}
        for line in preamble:
            key, sep, value = line.partition(":,")
            if sep and value.strip(", "):
                meta.setdefault(key.strip(), value.strip(", "))
        start = None
        text = meta.get("Start Time") or (
            table["Real Time"][0] if "Real Time" in table.columns and table.height else None
        )
        if text:
            try:
                start = parse_datetime(pl.Series([text]), _DATE_FORMATS)[0]
            except FormatError:
                start = None
        setup = {"cycler": "PEC"}
        if "Test" in meta:
            setup["test_id"] = meta["Test"]
        for column, target in (("Rack", "rack"), ("Position", "channel_number")):
            if column in table.columns and table.height:
                setup[target] = str(table[column][0])
        protocol = {"name": meta["TestRegime Name"]} if meta.get("TestRegime Name") else {}
        return RawSeries(
            frame=frame, family=self.family, start_time=start, test_setup=setup, protocol=protocol
        )


register(PecReader())
