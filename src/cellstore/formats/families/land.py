"""LAND (Lanhe) Excel exports: a record sheet (``Record``/``记录表``) with ``Current/mA``,
``Voltage/V``, ``Capacity/mAh`` … LAND counts charge current as positive (negated here);
capacity and energy are per-step counters."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from cellstore.formats.base import ColumnMap, FormatError, RawSeries, Reader
from cellstore.formats.delimited import numeric
from cellstore.formats.detect import register
from cellstore.formats.normalise import CAPACITY_FROM_CYCLER, ENERGY_FROM_CYCLER, apply_column_maps
from cellstore.formats.spreadsheet import read_sheets, sheet_names
from cellstore.processing import columns as c

COLUMNS = [
    ColumnMap("TestTime/Sec", c.TIME),
    ColumnMap("TestTime", c.TIME),
    ColumnMap("Voltage/V", c.VOLTAGE),
    ColumnMap("Current/mA", c.CURRENT, scale=1e-3, negate=True),
    ColumnMap("Current/A", c.CURRENT, negate=True),
    ColumnMap("Step", c.STEP_FROM_CYCLER),
    ColumnMap("Step Index", c.STEP_FROM_CYCLER),
    ColumnMap("Cycle", c.CYCLE_FROM_CYCLER),
    ColumnMap("Capacity/mAh", CAPACITY_FROM_CYCLER, scale=1e-3),
    ColumnMap("Capacity/Ah", CAPACITY_FROM_CYCLER),
    ColumnMap("Energy/mWh", ENERGY_FROM_CYCLER, scale=1e-3),
    ColumnMap("Energy/Wh", ENERGY_FROM_CYCLER),
]
_RECORD_SHEETS = ("record", "记录表", "record layer")


def _is_record(table: pl.DataFrame) -> bool:
    names = {n.strip() for n in table.columns}
    return "Voltage/V" in names and bool(names & {"Current/mA", "Current/A"})


class LandXlsxReader(Reader):
    family = "land_xlsx"
    label = "LAND (Lanhe) Excel export (.xlsx)"
    extensions = (".xlsx",)

    def sniff(self, head: bytes, name: str) -> float:
        names = sheet_names(head)
        if names is None:
            return 0.0
        return 0.9 if any(n.strip().lower() in _RECORD_SHEETS for n in names) else 0.0

    def read(self, path: Path) -> RawSeries:
        sheets = [(name, table) for name, table in read_sheets(path) if _is_record(table)]
        # The record sheets by name when there are such (a long test spans several); a summary
        # sheet with the same columns is not the record.
        named = [t for name, t in sheets if name.strip().lower().startswith(_RECORD_SHEETS)]
        tables = named or [t for _, t in sheets]
        if not tables:
            raise FormatError(f"{path.name}: no LAND record sheet (with Voltage/V and Current/mA columns).")
        table = numeric(pl.concat(tables, how="diagonal_relaxed"))
        return RawSeries(
            frame=apply_column_maps(table, COLUMNS), family=self.family, test_setup={"cycler": "LAND"}
        )


register(LandXlsxReader())
