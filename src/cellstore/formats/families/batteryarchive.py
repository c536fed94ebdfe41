"""batteryarchive.org time-series CSV (``Date_Time, Test_Time (s), Cycle_Index, Current (A) …``).

The archive's files carry no step number (steps follow the current's direction within a
cycle) and count charge current as positive (negated here).
"""

from __future__ import annotations

from cellstore.formats.base import ColumnMap
from cellstore.formats.detect import register
from cellstore.formats.headered_csv import HeaderedCsvReader
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


class BatteryArchiveReader(HeaderedCsvReader):
    family = "batteryarchive"
    label = "batteryarchive.org time-series CSV"
    extensions = (".csv",)
    columns = COLUMNS
    markers = frozenset({"Test_Time (s)", "Cycle_Index", "Current (A)", "Voltage (V)"})
    excludes = frozenset({"Data_Point"})  # an Arbin CSV export, whose names these resemble
    keep_text = ("Date_Time",)
    source = "batteryarchive.org"
    what = "a batteryarchive.org time series"


register(BatteryArchiveReader())
