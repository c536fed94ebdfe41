"""One row of metrics per cycle, from the steps table (API contract §6.6).

Follows ``ionworksdata.cycle_metrics.get_cycle_metrics`` (0.20.2) column for column;
``tests/processing/test_reference.py`` checks it against ionworksdata itself. Working
from the steps rather than the time series keeps this cheap: a 50M-row series has
at most a few hundred thousand steps.

The deliberate differences: every §6.6 column is always present (null when its
inputs are absent, where ionworksdata leaves the column out or raises); and a ratio
whose denominator is zero is null where ionworksdata's duration-weighted means give
NaN, since the JSON endpoints must send ``null`` (§6.6 "Division by zero → null").
As in ionworksdata, a sum over steps whose values are all null is 0 unless the
column is null on every step, which means "not measured" and gives null.
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
    measured = {name for name in CYCLE_INPUTS if name in steps.columns and _measured(steps[name])}
    # Eagerly and in few operations: on one row per step, each polars query costs more in
    # planning than in work. Derived steps are in cycle order, which grouping keeps.
    in_order = steps[c.CYCLE_COUNT].is_sorted()
    per_cycle = (
        steps.with_columns(_ensure_float_columns(steps.columns))
        .group_by(c.CYCLE_COUNT, maintain_order=in_order)
        .agg(_cycle_aggregates(measured))
    )
    if not in_order:
        per_cycle = per_cycle.sort(c.CYCLE_COUNT)
    derived = {expr.meta.output_name(): expr for expr in _derived()}
    return per_cycle.select(
        pl.col(c.CYCLE_COUNT).cast(pl.Int64),
        *(derived.get(name, pl.col(name)) for name in _OUTPUT[1:]),
    )


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


def _measured(column: pl.Series) -> bool:
    """A steps column with at least one value (ionworksdata reads an all-null one as absent)."""
    return column.dtype != pl.Null and column.null_count() < column.len()


def _weighted_mean(value: pl.Expr, weight: pl.Expr) -> pl.Expr:
    """Σ value·weight / Σ weight, as ionworksdata; null (not NaN) when Σ weight is 0."""
    return _ratio((value * weight).sum(), weight.sum())


def _ratio(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """``numerator / denominator``, null unless the denominator is positive.

    Every denominator here (a capacity, an energy, a duration) is positive when it
    means anything; as in ``ionworksdata``, zero or negative gives null.
    """
    return pl.when(denominator > 0).then(numerator / denominator)


def _cycle_aggregates(measured: set[str]) -> list[pl.Expr]:
    def total(name: str) -> pl.Expr:
        return pl.col(name).sum() if name in measured else pl.lit(None, dtype=_FLOAT)

    duration = pl.col("Duration [s]")
    current = pl.col("Mean current [A]")
    # Positive current = discharge, negative = charge (§6.1); rests count for neither.
    discharging = current > 0
    charging = current < 0

    def by_direction(steps: pl.Expr, value: pl.Expr) -> pl.Expr:
        # A cycle without such steps has no value (ionworksdata's left join).
        return pl.when(steps.any()).then(value)

    timed = "Duration [s]" in measured
    exprs = [
        total(c.DISCHARGE_CAPACITY).alias(c.DISCHARGE_CAPACITY),
        total(c.CHARGE_CAPACITY).alias(c.CHARGE_CAPACITY),
        total(c.DISCHARGE_ENERGY).alias(c.DISCHARGE_ENERGY),
        total(c.CHARGE_ENERGY).alias(c.CHARGE_ENERGY),
        pl.col("Min voltage [V]").min(),
        pl.col("Max voltage [V]").max(),
        total("Duration [s]").alias("Cycle duration [s]"),
        pl.col("Start time [s]").min(),
    ]
    if timed and "Mean current [A]" in measured:
        exprs += [
            by_direction(
                discharging, _weighted_mean(current.filter(discharging), duration.filter(discharging))
            ).alias("Mean discharge current [A]"),
            by_direction(discharging, duration.filter(discharging).sum()).alias("Discharge duration [s]"),
            by_direction(charging, _weighted_mean(current.filter(charging), duration.filter(charging))).alias(
                "Mean charge current [A]"
            ),
            by_direction(charging, duration.filter(charging).sum()).alias("Charge duration [s]"),
        ]
    else:
        names = ("Mean discharge current [A]", "Discharge duration [s]", "Mean charge current [A]")
        exprs += [pl.lit(None, dtype=_FLOAT).alias(name) for name in (*names, "Charge duration [s]")]
    if timed and "Mean temperature [degC]" in measured:
        exprs.append(
            _weighted_mean(pl.col("Mean temperature [degC]"), duration).alias("Mean temperature [degC]")
        )
    else:
        exprs.append(pl.lit(None, dtype=_FLOAT).alias("Mean temperature [degC]"))
    return exprs


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
    """Cumulative discharge + charge (null where either is)."""
    return (discharge + charge).cum_sum()
