"""The Battery Data Format (BDF) v1.0 of the Battery Data Alliance, both ways.

BDF columns carry their unit after a slash (``Current / A``) and count current
as positive while *charging*, the opposite of cellstore's §6.1 convention, so the
sign of current and power flips on the way in and out. Its capacity and energy
columns run from the start of the test, where cellstore's reset at each step.
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from cellstore.processing import columns as c

TEST_TIME = "Test Time / s"
VOLTAGE = "Voltage / V"
CURRENT = "Current / A"
UNIX_TIME = "Unix Time / s"
CYCLE_COUNT = "Cycle Count / 1"
STEP_COUNT = "Step Count / 1"
STEP_INDEX = "Step Index / 1"
CHARGING_CAPACITY = "Charging Capacity / Ah"
DISCHARGING_CAPACITY = "Discharging Capacity / Ah"
CHARGING_ENERGY = "Charging Energy / Wh"
DISCHARGING_ENERGY = "Discharging Energy / Wh"
POWER = "Power / W"
SURFACE_TEMPERATURE = "Surface Temperature T1 / degC"

#: cellstore column -> BDF column, for the quantities with the same meaning and sign.
SAME = {
    c.TIME: TEST_TIME,
    c.VOLTAGE: VOLTAGE,
    c.TEMPERATURE: SURFACE_TEMPERATURE,
    c.STEP_COUNT: STEP_COUNT,
    c.CYCLE_COUNT: CYCLE_COUNT,
    c.STEP_FROM_CYCLER: STEP_INDEX,
}
#: ... whose sign flips (BDF: positive = charge).
NEGATED = {c.CURRENT: CURRENT, c.POWER: POWER}
#: ... which run from test start in BDF and per step in cellstore.
CUMULATIVE = {
    c.CHARGE_CAPACITY: CHARGING_CAPACITY,
    c.DISCHARGE_CAPACITY: DISCHARGING_CAPACITY,
    c.CHARGE_ENERGY: CHARGING_ENERGY,
    c.DISCHARGE_ENERGY: DISCHARGING_ENERGY,
}
#: BDF columns that announce a BDF file.
REQUIRED = (TEST_TIME, VOLTAGE, CURRENT)


def from_test_start(frame: pl.DataFrame, column: str) -> pl.Expr:
    """A per-step cumulative column made cumulative from the start of the test."""
    per_step_final = frame.group_by(c.STEP_COUNT, maintain_order=True).agg(pl.col(column).last().fill_null(0))
    offsets = per_step_final.select(
        pl.col(c.STEP_COUNT), pl.col(column).cum_sum().shift(1, fill_value=0).alias("offset")
    )
    by_step = dict(zip(offsets[c.STEP_COUNT].to_list(), offsets["offset"].to_list(), strict=True))
    return pl.col(column) + pl.col(c.STEP_COUNT).replace_strict(by_step, return_dtype=pl.Float64)


def to_bdf(frame: pl.DataFrame, start_time: datetime | None) -> pl.DataFrame:
    """A normalised series (§6.1) as a BDF table; columns BDF does not name keep their own names."""
    mapped: list[pl.Expr] = []
    for ours, theirs in SAME.items():
        if ours in frame.columns:
            mapped.append(pl.col(ours).alias(theirs))
    for ours, theirs in NEGATED.items():
        if ours in frame.columns:
            mapped.append((-pl.col(ours)).alias(theirs))
    for ours, theirs in CUMULATIVE.items():
        if ours in frame.columns and c.STEP_COUNT in frame.columns:
            mapped.append(from_test_start(frame, ours).alias(theirs))
    if start_time is not None and c.TIME in frame.columns:
        mapped.append((pl.col(c.TIME) + start_time.timestamp()).alias(UNIX_TIME))
    produced = {expr.meta.output_name() for expr in mapped}
    known = {*SAME, *NEGATED, *CUMULATIVE, *produced}
    first = [TEST_TIME, VOLTAGE, CURRENT]
    table = frame.select(*mapped, *(pl.col(name) for name in frame.columns if name not in known))
    return table.select(*(name for name in first if name in table.columns), pl.exclude(first))


def bdf_to_series(table: pl.DataFrame) -> tuple[pl.DataFrame, datetime | None]:
    """A BDF table in cellstore's names and signs (capacities still from test start), and its start.

    BDF's step and cycle counters become the cycler's own numbering, from which
    :func:`cellstore.formats.normalise.normalise` derives ``Step count`` and ``Cycle count``.
    """
    missing = [name for name in REQUIRED if name not in table.columns]
    if missing:
        raise ValueError(f"not a BDF table: missing {', '.join(missing)}")
    renames = {theirs: ours for ours, theirs in {**SAME, **CUMULATIVE}.items() if theirs in table.columns}
    if STEP_COUNT in table.columns:
        renames[STEP_COUNT] = c.STEP_FROM_CYCLER
        renames.pop(STEP_INDEX, None)  # kept under its own name
    if CYCLE_COUNT in table.columns:
        renames[CYCLE_COUNT] = c.CYCLE_FROM_CYCLER
    frame = (
        table.rename(renames)
        .with_columns(
            *(
                (-pl.col(theirs).cast(pl.Float64)).alias(ours)
                for ours, theirs in NEGATED.items()
                if theirs in table.columns
            )
        )
        .drop(*(theirs for theirs in NEGATED.values() if theirs in table.columns))
    )
    start_time = None
    if UNIX_TIME in table.columns and table.height and table[UNIX_TIME][0] is not None:
        first_offset = float(table[TEST_TIME][0] or 0.0)
        start_time = datetime.fromtimestamp(float(table[UNIX_TIME][0]) - first_offset, tz=UTC)
    return frame, start_time
