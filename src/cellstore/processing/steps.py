"""One summary row per step of a time series (API contract §6.5).

A step is a contiguous run of equal ``Step count``. The summary follows
``ionworksdata.steps.summarize`` (0.20.2) column for column, because the client and
``ionworksdata.DataLoader.from_db`` read it: row offsets (``Start index``/``End index``,
0-based inclusive, the offsets ``row_range`` uses), start/end values, per-step
capacity and energy from the cumulative columns, statistics, the ``Step type``
label and per-cycle sums. The equality is tested against ``ionworksdata`` itself
(``tests/processing/test_reference.py``). Additions: ``Min/Max/Mean temperature
[degC]`` when the series has ``Temperature [degC]``; and where ``ionworksdata``
raises (no ``Voltage [V]``, no x-axis column) the summary still exists with null
columns.

The work is split so that it can run over a series one batch of rows at a time
(:mod:`~cellstore.processing.stream`): :func:`prepare` adds the row offset, cycle
number and power to a batch, :func:`aggregate` reduces it to one row per step, and
:func:`finish` labels the per-step frame and adds the cycle sums.
:func:`summarize_steps` is the three in a row on a whole frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
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
TEMPERATURE_STATS = ("Min temperature [degC]", "Max temperature [degC]", "Mean temperature [degC]")

#: Series columns the summary reads; a scan of a wide parquet reads only these.
USED_COLUMNS = (
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
    c.CAPACITY,
)

STEP_TYPE = "Step type"
ROW = "__row"
CYCLE = "__cycle"


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
        cap = max_abs_current / 100
        return Tolerances(min(rest, cap), min(cc, cap))
    return Tolerances(rest, cc)


def used_columns(schema: pl.Schema) -> list[str]:
    """The columns of ``schema`` that the summary reads, in a fixed order."""
    return [name for name in USED_COLUMNS if name in schema]


def summarize_steps(
    series: pl.LazyFrame | pl.DataFrame, rated_capacity_ah: float | None = None
) -> pl.DataFrame:
    """Summarise a (validated) time series into one row per step.

    ``series`` should have passed :func:`~cellstore.processing.validation.validate_series`
    (so each ``Step count`` value is one contiguous run); only the presence of ``Step
    count`` is re-checked here. Columns absent from the series give null summary
    columns (frequency statistics give 0, as in ``ionworksdata``).
    """
    schema = series.collect_schema()
    if c.STEP_COUNT not in schema:
        raise SeriesError(f"Missing required column '{c.STEP_COUNT}'.", column=c.STEP_COUNT)
    has = set(used_columns(schema))
    frame = series.lazy().select(used_columns(schema)).collect()
    per_step = aggregate(prepare(frame, has), has)
    return finish(per_step, has, rated_capacity_ah)


@dataclass(frozen=True)
class Carry:
    """What a batch of rows needs from the rows before it; the defaults say "none"."""

    rows: int = 0  # offset of the batch's first row
    cycler_cycle: int | None = None  # Cycle from cycler of the row before
    cycle: int = 0  # cycle number reached at the row before
    capacity: float = 0.0  # Capacity [A.h] of the row before (ionworksdata differences from 0)
    discharge: float = 0.0  # running discharge/charge capacity split from Capacity [A.h]
    charge: float = 0.0

    def after(self, prepared: pl.DataFrame, has: set[str]) -> Carry:
        """The carry for the batch that follows ``prepared`` (this carry's batch)."""
        last = prepared.tail(1)
        split = splits_capacity(has)
        return Carry(
            rows=self.rows + prepared.height,
            cycler_cycle=last[c.CYCLE_FROM_CYCLER][0] if c.CYCLE_FROM_CYCLER in has else None,
            cycle=last[CYCLE][0],
            capacity=last[c.CAPACITY][0] if split else 0.0,
            discharge=last[c.DISCHARGE_CAPACITY][0] if split else 0.0,
            charge=last[c.CHARGE_CAPACITY][0] if split else 0.0,
        )


def splits_capacity(has: set[str]) -> bool:
    """Whether the step capacities come from splitting ``Capacity [A.h]`` by the current's sign.

    As in ionworksdata (``transform.set_capacity``): with ``Capacity [A.h]`` and
    ``Current [A]`` but not both counters, its row-to-row changes are summed into a
    discharge counter while the current is positive and a charge counter (absolute
    changes) while it is negative.
    """
    return {c.CAPACITY, c.CURRENT} <= has and not {c.DISCHARGE_CAPACITY, c.CHARGE_CAPACITY} <= has


def prepare(frame: pl.DataFrame, has: set[str], carry: Carry | None = None) -> pl.DataFrame:
    """Add the row offset, the cycle number and power (V·I) to rows of the series.

    For a batch that continues earlier rows, ``carry`` holds what it needs of them
    (:meth:`Carry.after` of the batch before), so the result equals that of the whole
    series. The cycle number counts the changes of ``Cycle from cycler`` (0 without
    that column); power is always V·I, even when the series has ``Power [W]``; and a
    ``Capacity [A.h]`` column is split into the two counters (:func:`splits_capacity`).
    """
    carry = carry or Carry()
    if c.CYCLE_FROM_CYCLER in has:
        cycler_cycle = pl.col(c.CYCLE_FROM_CYCLER)
        if frame[c.CYCLE_FROM_CYCLER].null_count():
            # A change to or from null is no change (null != x is null, read as false).
            before = cycler_cycle.shift(1, fill_value=carry.cycler_cycle)
            changes = (cycler_cycle != before).fill_null(False).cast(pl.Int64).cum_sum()
        else:
            # Without nulls the run id counts the changes; the batch's first row may be one too.
            first = frame[c.CYCLE_FROM_CYCLER][0]
            changed = int(carry.cycler_cycle is not None and first != carry.cycler_cycle)
            changes = cycler_cycle.rle_id().cast(pl.Int64) + changed
        cycle = changes + carry.cycle
    else:
        cycle = pl.lit(0, dtype=pl.Int64)
    extra = [
        pl.int_range(carry.rows, carry.rows + frame.height, dtype=pl.Int64).alias(ROW),
        cycle.alias(CYCLE),
    ]
    if {c.VOLTAGE, c.CURRENT} <= has:
        extra.append((pl.col(c.VOLTAGE) * pl.col(c.CURRENT)).alias(c.POWER))
    if splits_capacity(has):
        capacity, current = pl.col(c.CAPACITY), pl.col(c.CURRENT)
        change = capacity - capacity.shift(1, fill_value=carry.capacity)
        first_row = pl.int_range(pl.len()) == 0
        for name, moving, value, start in (
            (c.DISCHARGE_CAPACITY, current > 0, change, carry.discharge),
            (c.CHARGE_CAPACITY, current < 0, change.abs(), carry.charge),
        ):
            # The running sum continues the batch before's exactly as one cumulative sum would.
            step = pl.when(moving).then(value).otherwise(0.0) + pl.when(first_row).then(start).otherwise(0.0)
            extra.append(step.cum_sum().alias(name))
    return frame.with_columns(extra)


def aggregate(prepared: pl.DataFrame, has: set[str]) -> pl.DataFrame:
    """One row per ``Step count`` of a prepared frame, in row order (before labelling).

    The frame must hold whole steps: a step cut by the end of a batch is aggregated
    only once all its rows are together.
    """
    derived = {c.POWER} if {c.VOLTAGE, c.CURRENT} <= has else set()
    if splits_capacity(has):
        derived |= {c.DISCHARGE_CAPACITY, c.CHARGE_CAPACITY}
    has = has | derived
    counts = prepared[c.STEP_COUNT]
    if counts.flags["SORTED_ASC"] or counts.is_sorted():
        # A validated Step count never decreases; telling polars so makes the grouping
        # a scan of run boundaries instead of a hash table (ten times faster).
        prepared = prepared.with_columns(counts.set_sorted())
    # Lazily: the same plan costs a fifth less CPU than the eager group_by.
    return prepared.lazy().group_by(c.STEP_COUNT, maintain_order=True).agg(_step_aggregates(has)).collect()


def finish(
    per_step: pl.DataFrame,
    has: set[str],
    rated_capacity_ah: float | None,
    *,
    tolerances: Tolerances | None = None,
    measured: set[str] | None = None,
) -> pl.DataFrame:
    """Label the aggregated steps and add durations and cycle sums, in the stored column order.

    ``tolerances`` and ``measured`` (the cycle sums with a value anywhere) default to those of
    ``per_step`` itself; :func:`refinish` passes those of the whole series when it finishes only
    its last cycles. Eagerly and in few operations: the frame has one row per step, and on so
    few rows each polars query costs more in planning than in work.
    """
    if tolerances is None:
        tolerances = step_tolerances(rated_capacity_ah, _max_abs_current(has, per_step))
    labelled = per_step.with_columns(
        (pl.col("End time [s]") - pl.col("Start time [s]")).alias("Duration [s]"),
        step_type(tolerances).alias(STEP_TYPE),
    )
    if measured is None:
        measured = _measured_sums(labelled)
    # Indexing by names, not select(): a plain projection, without a pass through the query planner.
    return labelled.hstack(_cycle_sums(labelled, measured))[output_columns(has)]


def refinish(
    previous: pl.DataFrame, redone: pl.DataFrame, has: set[str], rated_capacity_ah: float | None
) -> pl.DataFrame:
    """The finished steps of an extended series: ``previous``, its finished steps before the
    extension, with the last one replaced by ``redone``, that step and those after it aggregated
    anew (:func:`aggregate`, not finished).

    Only the cycle ``redone`` starts in and ``redone`` are finished again, when the whole series
    has the tolerances and measured cycle sums that ``previous`` was finished with: every
    earlier step then keeps its label and its cycle's sums, and finishing thousands of steps
    again for a few new ones is most of an extend's work. When the new rows change either
    (no rated capacity and a larger current, or a first measured counter), all steps are
    finished again. Either way the result equals :func:`finish` over all the steps.
    """
    kept = previous.head(previous.height - 1)
    first_cycle = redone[c.CYCLE_COUNT][0]
    tolerances = step_tolerances(rated_capacity_ah, _max_abs_current(has, kept, redone))
    unchanged = tolerances == step_tolerances(rated_capacity_ah, _max_abs_current(has, previous))
    measured = _measured_sums(kept, redone)
    unchanged = (
        unchanged
        and measured == {alias for alias in _CYCLE_SUMS if previous[alias].null_count() < previous.height}
        and kept[c.CYCLE_COUNT].is_sorted()
    )
    # Cycle counts never decrease, so the steps of the first redone step's cycle start here.
    # (numpy's search: polars' costs about 0.2 ms on any column, numpy's microseconds.)
    start = int(np.searchsorted(kept[c.CYCLE_COUNT].to_numpy(), first_cycle)) if unchanged else 0
    touched = pl.concat([kept.slice(start)[redone.columns], redone], how="vertical_relaxed")
    finished = finish(touched, has, rated_capacity_ah, tolerances=tolerances, measured=measured)
    return pl.concat([kept.head(start), finished], how="vertical_relaxed") if start else finished


def _max_abs_current(has: set[str], *steps: pl.DataFrame) -> float | None:
    """The largest |current| of aggregated steps, in one frame or several (what the tolerances
    without a rated capacity scale with)."""
    if c.CURRENT not in has:
        return None
    extremes = [
        value
        for frame in steps
        if frame.height
        for value in (frame["Min current [A]"].min(), frame["Max current [A]"].max())
    ]
    return max((abs(value) for value in extremes if value is not None), default=None)


def _measured_sums(*steps: pl.DataFrame) -> set[str]:
    """The cycle sums whose step column has a value on some step, in one frame or several (the
    others are null throughout)."""
    rows = sum(frame.height for frame in steps)
    return {
        alias
        for alias, source in _CYCLE_SUMS.items()
        if sum(frame[source].null_count() for frame in steps) < rows
    }


def _first_or_null(name: str, has: set[str], alias: str, dtype: pl.DataType) -> pl.Expr:
    return pl.col(name).first().alias(alias) if name in has else pl.lit(None, dtype=dtype).alias(alias)


def _last_or_null(name: str, has: set[str], alias: str) -> pl.Expr:
    return pl.col(name).last().alias(alias) if name in has else pl.lit(None, dtype=pl.Float64).alias(alias)


def _step_aggregates(has: set[str]) -> list[pl.Expr]:
    exprs = [
        pl.col(ROW).first().alias("Start index"),
        pl.col(ROW).last().alias("End index"),
        _first_or_null(c.TIME, has, "Start time [s]", pl.Float64),
        _last_or_null(c.TIME, has, "End time [s]"),
        _first_or_null(c.VOLTAGE, has, "Start voltage [V]", pl.Float64),
        _last_or_null(c.VOLTAGE, has, "End voltage [V]"),
    ]
    # As in ionworksdata, capacities need both counters; energies are 0 when only the
    # capacities exist, and null when neither does.
    has_capacity = {c.DISCHARGE_CAPACITY, c.CHARGE_CAPACITY} <= has
    # With Capacity [A.h] and current, ionworksdata resets the counters at each step
    # and takes their absolute value, so a step's capacity is |last - first|.
    absolute = {c.CAPACITY, c.CURRENT} <= has
    for name in _CUMULATIVE:
        is_capacity = name in (c.DISCHARGE_CAPACITY, c.CHARGE_CAPACITY)
        if name in has and (has_capacity or not is_capacity):
            change = pl.col(name).last() - pl.col(name).first()
            exprs.append((change.abs() if absolute and is_capacity else change).alias(name))
        elif not is_capacity and has_capacity:
            exprs.append(pl.lit(0.0).alias(name))
        else:
            exprs.append(pl.lit(None, dtype=pl.Float64).alias(name))
    for source, label in _STAT_SOURCES:
        exprs.extend(_statistics(source, label, has))
    if c.TEMPERATURE in has:
        temperature = pl.col(c.TEMPERATURE)
        exprs += [
            temperature.min().alias(TEMPERATURE_STATS[0]),
            temperature.max().alias(TEMPERATURE_STATS[1]),
            temperature.mean().alias(TEMPERATURE_STATS[2]),
        ]
    exprs += [
        _first_or_null(c.STEP_FROM_CYCLER, has, c.STEP_FROM_CYCLER, pl.Int64),
        _first_or_null(c.CYCLE_FROM_CYCLER, has, c.CYCLE_FROM_CYCLER, pl.Int64),
        pl.col(CYCLE).first().fill_null(0).alias(c.CYCLE_COUNT),
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
    std = value.std() if source == c.FREQUENCY else _trimmed(value).std()
    return [
        value.min().alias(names[0]),
        value.max().alias(names[1]),
        value.mean().alias(names[2]),
        std.fill_null(0.0).alias(names[3]),
    ]


def _trimmed(value: pl.Expr) -> pl.Expr:
    """The step's values without its first sample (past two) and its last (past three).

    The first sample often carries the previous step's setpoint and some cyclers log
    the next step's first sample as a step's last; either would push a constant
    step's spread past its tolerance. Same slice as ionworksdata's ``_trimmed_std``.
    """
    n = value.len()
    head = (n > 2).cast(pl.UInt32)
    tail = (n > 3).cast(pl.UInt32)
    return value.slice(head, n - head - tail)


def step_type(tolerances: Tolerances) -> pl.Expr:
    """The §6.5 labelling rules, as an expression over a per-step frame.

    Exactly ionworksdata's ``_infer_step_type_expr``: a null comparison counts as
    false, so a step without current but with a steady voltage is a "Constant
    voltage charge".
    """
    mean_current = pl.col("Mean current [A]")
    direction = pl.when(mean_current > 0).then(pl.lit("discharge")).otherwise(pl.lit("charge"))

    def typed(kind: str) -> pl.Expr:
        return pl.concat_str(pl.lit(f"Constant {kind} "), direction)

    return (
        pl.when(pl.col("Mean frequency [Hz]") > EIS_FREQUENCY_TOL)
        .then(pl.lit("EIS"))
        .when(mean_current.abs() < tolerances.rest)
        .then(pl.lit("Rest"))
        .when(pl.col("Std current [A]") < tolerances.constant_current)
        .then(typed("current"))
        .when(pl.col("Std voltage [V]").abs() < CV_VOLTAGE_STD_TOL)
        .then(typed("voltage"))
        .when(pl.col("Std power [W]").abs() < CP_POWER_STD_TOL)
        .then(typed("power"))
        .otherwise(pl.lit("Unknown step type"))
    )


def _cycle_sums(steps: pl.DataFrame, measured: set[str]) -> list[pl.Series]:
    """Per-cycle sums of the step capacities/energies, repeated on each step of the cycle.

    A column null on every step of the series (not in ``measured``) sums to null
    (ionworksdata sees it as a column of nulls); otherwise nulls count as nothing. A
    grouped sum gathered back onto the steps (cycle numbers never decrease, so a step's
    cycle is the run it is in), not a window: the window's summation order varies from
    run to run in the last bit, and a job run twice must store the same table.
    """
    if not measured:
        return [pl.Series(alias, [None] * steps.height, dtype=pl.Float64) for alias in _CYCLE_SUMS]
    cycle = steps[c.CYCLE_COUNT].rle_id().alias("__cycle_run")
    sums = steps.group_by(cycle, maintain_order=True).agg(
        pl.col(source).sum().alias(alias)
        if alias in measured
        else pl.lit(None, dtype=pl.Float64).alias(alias)
        for alias, source in _CYCLE_SUMS.items()
    )
    return sums.drop(cycle.name)[cycle].get_columns()


def output_columns(has: set[str]) -> list[str]:
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
    if c.TEMPERATURE in has:
        order += TEMPERATURE_STATS
    if c.FRAME in has:
        order.append(c.FRAME)
    return order + list(_CYCLE_SUMS)
