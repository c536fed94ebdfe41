"""One row of metrics per cycle, from the steps table (API contract §6.6).

Follows ``ionworksdata.cycle_metrics.get_cycle_metrics`` (which the platform uses)
except that the key stays ``Cycle count`` as the contract names it. Working from
the steps rather than the time series keeps this cheap: a 50M-row series has at
most a few hundred thousand steps.

Ratios whose denominator is zero or missing are null, never inf or NaN, since the
JSON endpoints must send ``null`` for them anyway.
"""

from __future__ import annotations

import polars as pl

from cellstore.processing import columns as c

_FLOAT = pl.Float64


def cycle_metrics(steps: pl.DataFrame) -> pl.DataFrame:
    """Per-cycle capacities, energies, efficiencies, retention, fade and throughput.

    ``steps`` is a steps table (:func:`~cellstore.processing.steps.summarize_steps`
    or an uploaded one). A table without ``Cycle count`` is one cycle, 0, as the
    step labeller counts it; any other absent input gives a null output column.
    """
    if c.CYCLE_COUNT not in steps.columns:
        steps = steps.with_columns(pl.lit(0, dtype=pl.Int64).alias(c.CYCLE_COUNT))
    lf = steps.lazy().with_columns(_ensure_float_columns(steps.columns))
    per_cycle = (
        lf.group_by(c.CYCLE_COUNT)
        .agg(_cycle_aggregates())
        .sort(c.CYCLE_COUNT)
        .with_columns(pl.col(c.CYCLE_COUNT).cast(pl.Int64))
    )
    return per_cycle.with_columns(_derived()).select(_OUTPUT).collect()


#: Steps columns read here; absent ones are added as nulls so every expression applies.
CYCLE_INPUTS = (
    c.DISCHARGE_CAPACITY,
    c.CHARGE_CAPACITY,
    c.DISCHARGE_ENERGY,
    c.CHARGE_ENERGY,
    "Min voltage [V]",
    "Max voltage [V]",
    "Duration [s]",
    "Start time [s]",
    "Mean current [A]",
    "Mean temperature [degC]",
)

_OUTPUT = (
    c.CYCLE_COUNT,
    c.DISCHARGE_CAPACITY,
    c.CHARGE_CAPACITY,
    "Coulombic efficiency",
    "Capacity retention",
    "Capacity fade",
    c.DISCHARGE_ENERGY,
    c.CHARGE_ENERGY,
    "Energy efficiency",
    "Energy retention",
    "Energy fade",
    "Min voltage [V]",
    "Max voltage [V]",
    "Cycle duration [s]",
    "Start time [s]",
    "Mean discharge current [A]",
    "Discharge duration [s]",
    "Mean charge current [A]",
    "Charge duration [s]",
    "Mean temperature [degC]",
    "Capacity throughput [A.h]",
    "Energy throughput [W.h]",
)


def _ensure_float_columns(present: list[str]) -> list[pl.Expr]:
    return [
        pl.col(name).cast(_FLOAT) if name in present else pl.lit(None, dtype=_FLOAT).alias(name)
        for name in CYCLE_INPUTS
    ]


def _sum_or_null(expr: pl.Expr) -> pl.Expr:
    """Sum that stays null when every value is null (polars would say 0)."""
    return pl.when(expr.is_not_null().any()).then(expr.sum())


def _weighted_mean(value: pl.Expr, weight: pl.Expr) -> pl.Expr:
    total = _sum_or_null(weight.filter(value.is_not_null()))
    return _ratio(_sum_or_null(value * weight), total)


def _ratio(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """``numerator / denominator``, null unless the denominator is positive.

    Every denominator here (a capacity, an energy, a duration) is positive when it
    means anything; as in ``ionworksdata``, zero or negative gives null.
    """
    return pl.when(denominator > 0).then(numerator / denominator)


def _cycle_aggregates() -> list[pl.Expr]:
    duration = pl.col("Duration [s]")
    current = pl.col("Mean current [A]")
    # Positive current = discharge, negative = charge (§6.1); rests count for neither.
    discharging = current > 0
    charging = current < 0
    return [
        _sum_or_null(pl.col(c.DISCHARGE_CAPACITY)).alias(c.DISCHARGE_CAPACITY),
        _sum_or_null(pl.col(c.CHARGE_CAPACITY)).alias(c.CHARGE_CAPACITY),
        _sum_or_null(pl.col(c.DISCHARGE_ENERGY)).alias(c.DISCHARGE_ENERGY),
        _sum_or_null(pl.col(c.CHARGE_ENERGY)).alias(c.CHARGE_ENERGY),
        pl.col("Min voltage [V]").min(),
        pl.col("Max voltage [V]").max(),
        _sum_or_null(duration).alias("Cycle duration [s]"),
        pl.col("Start time [s]").min(),
        _weighted_mean(current.filter(discharging), duration.filter(discharging)).alias(
            "Mean discharge current [A]"
        ),
        _sum_or_null(duration.filter(discharging)).alias("Discharge duration [s]"),
        _weighted_mean(current.filter(charging), duration.filter(charging)).alias("Mean charge current [A]"),
        _sum_or_null(duration.filter(charging)).alias("Charge duration [s]"),
        _weighted_mean(pl.col("Mean temperature [degC]"), duration).alias("Mean temperature [degC]"),
    ]


def _derived() -> list[pl.Expr]:
    discharge = pl.col(c.DISCHARGE_CAPACITY)
    charge = pl.col(c.CHARGE_CAPACITY)
    discharge_energy = pl.col(c.DISCHARGE_ENERGY)
    charge_energy = pl.col(c.CHARGE_ENERGY)
    capacity_retention = _ratio(discharge, discharge.first())
    energy_retention = _ratio(discharge_energy, discharge_energy.first())
    return [
        _ratio(discharge, charge).alias("Coulombic efficiency"),
        capacity_retention.alias("Capacity retention"),
        (1.0 - capacity_retention).alias("Capacity fade"),
        _ratio(discharge_energy, charge_energy).alias("Energy efficiency"),
        energy_retention.alias("Energy retention"),
        (1.0 - energy_retention).alias("Energy fade"),
        _throughput(discharge, charge).alias("Capacity throughput [A.h]"),
        _throughput(discharge_energy, charge_energy).alias("Energy throughput [W.h]"),
    ]


def _throughput(discharge: pl.Expr, charge: pl.Expr) -> pl.Expr:
    """Cumulative discharge + charge, null throughout when neither was measured."""
    measured = discharge.is_not_null().any() | charge.is_not_null().any()
    return pl.when(measured).then((discharge.fill_null(0.0) + charge.fill_null(0.0)).cum_sum())
