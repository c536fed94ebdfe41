"""DOE Battery Data Hub (batterydata.energy.gov) raw CSV: ``Cycle_Index, Step, Time_s, Current_A,
Voltage_V …``. Charge current counts as positive there (negated here)."""

from __future__ import annotations

from cellstore.formats.base import ColumnMap
from cellstore.formats.detect import register
from cellstore.formats.headered_csv import HeaderedCsvReader
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


class BatteryDataHubReader(HeaderedCsvReader):
    family = "batterydata_doe"
    label = "DOE Battery Data Hub CSV (batterydata.energy.gov)"
    extensions = (".csv",)
    columns = COLUMNS
    markers = frozenset({"Time_s", "Current_A", "Voltage_V"})
    source = "batterydata.energy.gov"
    what = "a Battery Data Hub raw CSV"


register(BatteryDataHubReader())
