"""One summary row per step of a time series (API contract §6.5).

A step is a contiguous run of equal ``Step count``. The summary follows
``ionworksdata.steps.summarize`` column for column, because the client and
``ionworksdata.DataLoader.from_db`` read it: row offsets (``Start index``/``End index``,
0-based inclusive, the offsets ``row_range`` uses), start/end values, per-step
capacity and energy from the cumulative columns, statistics, the ``Step type``
label and per-cycle sums.

The heavy part is one lazy ``group_by`` over only the columns it needs (so a scan
of a wide parquet reads just those); labelling and cycle sums then work on the
small per-step frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from cellstore.processing import columns as c
from cellstore.processing.errors import SeriesError

# Fixed tolerances of the step labeller (ionworksdata settings defaults).
EIS_FREQUENCY_TOL = 1e-8
REST_CURRENT_TOL = 1e-3
CC_CURRENT_STD_TOL = 1e-2
CV_VOLTAGE_STD_TOL = 1e-2
CP_POWER_STD_TOL = 1e-2

#: Statistics columns: (source column, the name used in "Min <name>" etc.).
_STAT_SOURCES = (
    (c.VOLTAGE, "voltage [V]"),
    (c.CURRENT, "current [A]"),
    (c.POWER, "power [W]"),
    (c.FREQUENCY, "frequency [Hz]"),
)
_CUMULATIVE = (c.DISCHARGE_CAPACITY, c.CHARGE_CAPACITY, c.DISCHARGE_ENERGY, c.CHARGE_ENERGY)
_CYCLE_SUMS = {
    "Cycle charge capacity [A.h]": c.CHARGE_CAPACITY,
    "Cycle discharge capacity [A.h]": c.DISCHARGE_CAPACITY,
    "Cycle charge energy [W.h]": c.CHARGE_ENERGY,
    "Cycle discharge energy [W.h]": c.DISCHARGE_ENERGY,
}

STEP_TYPE = "Step type"
_ROW = "__row"
_STEP = "__step"
_CYCLE = "__cycle"


@dataclass(frozen=True)
class Tolerances:
    """Current tolerances for labelling rest and constant-current steps, in A."""

    rest: float
    constant_current: float


def step_tolerances(rated_capacity_ah: float | None, max_abs_current: float | None) -> Tolerances:
    """Rest 1e-3 A and CC 1e-2 A, capped at C/1000 and C/200 of the rated capacity.

    Without a rated capacity both are capped at 1 % of the largest |current| seen,
    so a coin cell cycled at a few mA is not labelled "Rest" throughout.
    """
    rest, cc = REST_CURRENT_TOL, CC_CURRENT_STD_TOL
    if rated_capacity_ah is not None and rated_capacity_ah > 0:
        return Tolerances(min(rest, rated_capacity_ah / 1000), min(cc, rated_capacity_ah / 200))
    if max_abs_current:
        cap = 0.01 * max_abs_current
        return Tolerances(min(rest, cap), min(cc, cap))
    return Tolerances(rest, cc)


def summarize_steps(series: pl.LazyFrame, rated_capacity_ah: float | None = None) -> pl.DataFrame:
    """Summarise a (validated) time series into one row per step.

    ``series`` should have passed :func:`~cellstore.processing.validation.validate_series`;
    only ``Step count`` is re-checked here. Columns absent from the series give null
    summary columns (frequency statistics give 0, as in ``ionworksdata``).
    """
    schema = series.collect_schema()
    if c.STEP_COUNT not in schema:
        raise SeriesError(f"Missing required column '{c.STEP_COUNT}'.", column=c.STEP_COUNT)
    per_step = _aggregate(series, schema).collect()
    max_abs_current = per_step.select(
        pl.max_horizontal(pl.col("Min current [A]").abs().max(), pl.col("Max current [A]").abs().max())
    ).item()
    tolerances = step_tolerances(rated_capacity_ah, max_abs_current)
    return (
        per_step.lazy()
        .with_columns(step_type(tolerances).alias(STEP_TYPE))
        .with_columns(_cycle_sums(schema))
        .select(_output_order(schema))
        .collect()
    )


def _aggregate(series: pl.LazyFrame, schema: pl.Schema) -> pl.LazyFrame:
    """Per-step aggregates, lazily, over only the columns the summary uses."""
    used = [
        name
        for name in (
            c.STEP_COUNT,
            c.TIME,
            c.VOLTAGE,
            c.CURRENT,
            c.FREQUENCY,
            c.TEMPERATURE,
            c.STEP_FROM_CYCLER,
            c.CYCLE_FROM_CYCLER,
            c.FRAME,
            *_CUMULATIVE,
        )
        if name in schema
    ]
    has = set(used)
    if c.CYCLE_FROM_CYCLER in has:
        cycler_cycle = pl.col(c.CYCLE_FROM_CYCLER)
        cycle = (cycler_cycle != cycler_cycle.shift(1)).fill_null(False).cast(pl.Int64).cum_sum()
    else:
        cycle = pl.lit(0, dtype=pl.Int64)
    # Power is always V·I here, even when the series has its own Power [W] column.
    power = pl.col(c.VOLTAGE) * pl.col(c.CURRENT) if {c.VOLTAGE, c.CURRENT} <= has else None
    frame = (
        series.select(used)
        .with_row_index(_ROW)
        .with_columns(
            pl.col(c.STEP_COUNT).rle_id().alias(_STEP),
            cycle.alias(_CYCLE),
            *([power.alias(c.POWER)] if power is not None else []),
        )
    )
    if power is not None:
        has.add(c.POWER)
    return (
        frame.group_by(_STEP)
        .agg(_step_aggregates(has))
        .sort("Start index")
        .with_columns((pl.col("End time [s]") - pl.col("Start time [s]")).alias("Duration [s]"))
        .drop(_STEP)
    )


def _first_or_null(name: str, has: set[str], alias: str, dtype: pl.DataType) -> pl.Expr:
    return pl.col(name).first().alias(alias) if name in has else pl.lit(None, dtype=dtype).alias(alias)


def _last_or_null(name: str, has: set[str], alias: str) -> pl.Expr:
    return pl.col(name).last().alias(alias) if name in has else pl.lit(None, dtype=pl.Float64).alias(alias)


def _step_aggregates(has: set[str]) -> list[pl.Expr]:
    exprs = [
        pl.col(c.STEP_COUNT).first().cast(pl.Int64),
        pl.col(_ROW).first().cast(pl.Int64).alias("Start index"),
        pl.col(_ROW).last().cast(pl.Int64).alias("End index"),
        _first_or_null(c.TIME, has, "Start time [s]", pl.Float64),
        _last_or_null(c.TIME, has, "End time [s]"),
        _first_or_null(c.VOLTAGE, has, "Start voltage [V]", pl.Float64),
        _last_or_null(c.VOLTAGE, has, "End voltage [V]"),
    ]
    has_capacity = bool({c.DISCHARGE_CAPACITY, c.CHARGE_CAPACITY} & has)
    for name in _CUMULATIVE:
        if name in has:
            exprs.append((pl.col(name).last() - pl.col(name).first()).alias(name))
        elif name in (c.DISCHARGE_ENERGY, c.CHARGE_ENERGY) and has_capacity:
            exprs.append(pl.lit(0.0).alias(name))  # ionworksdata's default when only capacity exists
        else:
            exprs.append(pl.lit(None, dtype=pl.Float64).alias(name))
    for source, label in _STAT_SOURCES:
        exprs.extend(_statistics(source, label, has))
    if c.TEMPERATURE in has:
        temperature = pl.col(c.TEMPERATURE)
        exprs += [
            temperature.min().alias("Min temperature [degC]"),
            temperature.max().alias("Max temperature [degC]"),
            temperature.mean().alias("Mean temperature [degC]"),
        ]
    exprs += [
        _first_or_null(c.STEP_FROM_CYCLER, has, c.STEP_FROM_CYCLER, pl.Int64),
        _first_or_null(c.CYCLE_FROM_CYCLER, has, c.CYCLE_FROM_CYCLER, pl.Int64),
        pl.col(_CYCLE).first().alias(c.CYCLE_COUNT),
    ]
    if c.FRAME in has:
        exprs.append(pl.col(c.FRAME).first())
    return exprs


def _statistics(source: str, label: str, has: set[str]) -> list[pl.Expr]:
    names = [f"{kind} {label}" for kind in ("Min", "Max", "Mean", "Std")]
    if source not in has:
        # Frequency is 0 when absent so that "Mean frequency > tol" never labels EIS.
        fill = 0.0 if source == c.FREQUENCY else None
        return [pl.lit(fill, dtype=pl.Float64).alias(name) for name in names]
    value = pl.col(source)
    row = pl.col(_ROW)
    # The first sample (and, past three samples, the last) often belongs to the
    # transition into or out of the step; leaving them out keeps one switching
    # sample from turning a constant-current step into an "Unknown" one.
    inner = (row > row.min()) & ((pl.len() <= 3) | (row < row.max()))
    return [
        value.min().alias(names[0]),
        value.max().alias(names[1]),
        value.mean().alias(names[2]),
        value.filter(inner).std().fill_null(0.0).alias(names[3]),
    ]


def step_type(tolerances: Tolerances) -> pl.Expr:
    """The §6.5 labelling rules, as an expression over a per-step frame."""
    mean_current = pl.col("Mean current [A]")
    direction = pl.when(mean_current > 0).then(pl.lit("discharge")).otherwise(pl.lit("charge"))

    def typed(kind: str) -> pl.Expr:
        return pl.concat_str(pl.lit(f"Constant {kind} "), direction)

    return (
        pl.when(pl.col("Mean frequency [Hz]") > EIS_FREQUENCY_TOL)
        .then(pl.lit("EIS"))
        .when(mean_current.is_null())
        .then(pl.lit("Unknown step type"))
        .when(mean_current.abs() < tolerances.rest)
        .then(pl.lit("Rest"))
        .when(pl.col("Std current [A]") < tolerances.constant_current)
        .then(typed("current"))
        .when(pl.col("Std voltage [V]") < CV_VOLTAGE_STD_TOL)
        .then(typed("voltage"))
        .when(pl.col("Std power [W]") < CP_POWER_STD_TOL)
        .then(typed("power"))
        .otherwise(pl.lit("Unknown step type"))
    )


def _cycle_sums(schema: pl.Schema) -> list[pl.Expr]:
    """Per-cycle sums of the step capacities/energies, repeated on each step of the cycle."""
    has_capacity = c.DISCHARGE_CAPACITY in schema or c.CHARGE_CAPACITY in schema
    exprs = []
    for alias, source in _CYCLE_SUMS.items():
        # A sum over an absent column would read 0; null says "not measured".
        known = source in schema or (has_capacity and source in (c.DISCHARGE_ENERGY, c.CHARGE_ENERGY))
        if known:
            exprs.append(pl.col(source).sum().over(c.CYCLE_COUNT).alias(alias))
        else:
            exprs.append(pl.lit(None, dtype=pl.Float64).alias(alias))
    return exprs


def _output_order(schema: pl.Schema) -> list[str]:
    """Column order of ``steps.parquet``: identity, position, values, statistics, cycle sums."""
    order = [
        c.STEP_COUNT,
        c.CYCLE_COUNT,
        c.STEP_FROM_CYCLER,
        c.CYCLE_FROM_CYCLER,
        STEP_TYPE,
        "Start index",
        "End index",
        "Start time [s]",
        "End time [s]",
        "Duration [s]",
        "Start voltage [V]",
        "End voltage [V]",
        *_CUMULATIVE,
    ]
    for _, label in _STAT_SOURCES:
        order += [f"{kind} {label}" for kind in ("Min", "Max", "Mean", "Std")]
    if c.TEMPERATURE in schema:
        order += ["Min temperature [degC]", "Max temperature [degC]", "Mean temperature [degC]"]
    if c.FRAME in schema:
        order.append(c.FRAME)
    return order + list(_CYCLE_SUMS)
