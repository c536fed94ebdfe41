"""Canonical column names of a time series (API contract §6.1) and their dtypes.

Units are part of the names, so these strings are the vocabulary shared by the
client, the stored parquet and every processing function; spelling them once here
keeps a typo from silently turning a column into an "unknown" one.
"""

from __future__ import annotations

import polars as pl

STEP_COUNT = "Step count"
CYCLE_COUNT = "Cycle count"
STEP_FROM_CYCLER = "Step from cycler"
CYCLE_FROM_CYCLER = "Cycle from cycler"

TIME = "Time [s]"
VOLTAGE = "Voltage [V]"
CURRENT = "Current [A]"
POWER = "Power [W]"
TEMPERATURE = "Temperature [degC]"
FREQUENCY = "Frequency [Hz]"
Z_RE = "Z_Re [Ohm]"
Z_IM = "Z_Im [Ohm]"
DISCHARGE_CAPACITY = "Discharge capacity [A.h]"
CHARGE_CAPACITY = "Charge capacity [A.h]"
DISCHARGE_ENERGY = "Discharge energy [W.h]"
CHARGE_ENERGY = "Charge energy [W.h]"
CAPACITY = "Capacity [A.h]"
STOICHIOMETRY = "Stoichiometry"
SOC = "SOC"
FRAME = "Frame"

#: Integer counters; a float column holding only whole numbers is accepted and cast.
COUNT_COLUMNS: tuple[str, ...] = (STEP_COUNT, CYCLE_COUNT, STEP_FROM_CYCLER, CYCLE_FROM_CYCLER)

#: Measured quantities, stored as Float64 whatever numeric type the client sent.
MEASURED_COLUMNS: tuple[str, ...] = (
    TIME,
    VOLTAGE,
    CURRENT,
    POWER,
    TEMPERATURE,
    FREQUENCY,
    Z_RE,
    Z_IM,
    DISCHARGE_CAPACITY,
    CHARGE_CAPACITY,
    DISCHARGE_ENERGY,
    CHARGE_ENERGY,
    CAPACITY,
    STOICHIOMETRY,
    SOC,
)

#: Columns that may not hold null/NaN when present (``Time [s]`` is allowed null on EIS rows).
NON_NULL_COLUMNS: tuple[str, ...] = (STEP_COUNT, TIME, VOLTAGE, CURRENT)

COUNT_DTYPE = pl.Int64
MEASURED_DTYPE = pl.Float64

#: Tolerance for ``Time [s]`` going backwards between rows (§6.1).
TIME_TOLERANCE = 1e-12
