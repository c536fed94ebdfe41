"""Incremental capacity (dQ/dV against voltage) of one cycle or one step.

Method: within each charge or discharge step the capacity passed between two
consecutive rows is put in the voltage bin of their mean voltage, on a uniform grid
of ``voltage_step`` volts. The running sum of those bins is Q resampled against V
(the capacity passed below each grid voltage on charge, above it on discharge); its
difference per bin divided by the bin width is dQ/dV, which is then smoothed with a
Gaussian kernel of ``smoothing`` volts. Binning row increments rather than
interpolating Q(V) keeps the method sound when the voltage is noisy or briefly runs
backwards, and a row pair at one voltage adds to one bin instead of dividing by a
zero dV.

Which rows: the steps of the cycle (or the one step) that pass charge, found in the
steps table by ``Start index``/``End index``. Rests pass none, and constant-voltage
holds pass their charge at a fixed voltage, which is a delta, not incremental
capacity; both are left out and listed as skipped. dQ/dV is given as a positive
magnitude for both directions, with voltage ascending.

Capacity comes from the cumulative ``Charge capacity [A.h]`` / ``Discharge capacity
[A.h]`` columns (reset at each step) when the series has them, else from |Current|
integrated over ``Time [s]`` (trapezoids).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from cellstore.processing import columns as c
from cellstore.processing import parquet

CHARGE, DISCHARGE = "charge", "discharge"
VOLTAGE_OUT = "Voltage [V]"
CAPACITY_OUT = "Capacity [A.h]"
DQDV_OUT = "dQ/dV [A.h/V]"
#: Most bins one curve may have (voltage range / voltage_step).
MAX_BINS = 200_000
START_INDEX, END_INDEX, STEP_TYPE = "Start index", "End index", "Step type"
MEAN_CURRENT = "Mean current [A]"
SKIPPED_TYPES = ("Rest", "EIS")

Source = parquet.Source


class SelectionNotFound(LookupError):
    """The steps table has no such cycle or step."""


class DqdvError(ValueError):
    """The series cannot give dQ/dV (missing columns, bad parameters); the message says why."""


@dataclass(frozen=True)
class Selection:
    """The steps that make the charge and discharge curves, and those left out."""

    charge: pl.DataFrame
    discharge: pl.DataFrame
    skipped: list[int]


def direction_of(step_type: str | None, mean_current: float | None) -> str | None:
    """``charge``, ``discharge`` or None (no dQ/dV: rest, EIS, constant voltage)."""
    kind = step_type or ""
    if kind.startswith(SKIPPED_TYPES) or kind.startswith("Constant voltage"):
        return None
    if kind.endswith("discharge"):
        return DISCHARGE
    if kind.endswith("charge"):
        return CHARGE
    if mean_current is None or math.isnan(mean_current) or mean_current == 0:
        return None
    return DISCHARGE if mean_current > 0 else CHARGE  # positive current discharges (§6.1)


def select_steps(steps: pl.DataFrame, *, cycle: int | None = None, step: int | None = None) -> Selection:
    """The steps of cycle ``cycle`` (its ``Cycle count``) or step ``step`` (its ``Step count``)."""
    if (cycle is None) == (step is None):
        raise DqdvError("give exactly one of cycle and step")
    key, value = (c.CYCLE_COUNT, cycle) if cycle is not None else (c.STEP_COUNT, step)
    for needed in (key, c.STEP_COUNT, START_INDEX, END_INDEX):
        if needed not in steps.columns:
            raise DqdvError(f"the steps table has no {needed!r} column")
    chosen = steps.filter(pl.col(key) == value)
    if chosen.is_empty():
        raise SelectionNotFound(f"{'Cycle' if cycle is not None else 'Step'} {value}")
    types = chosen[STEP_TYPE].to_list() if STEP_TYPE in chosen.columns else [None] * chosen.height
    means = chosen[MEAN_CURRENT].to_list() if MEAN_CURRENT in chosen.columns else [None] * chosen.height
    directions = [direction_of(t, m) for t, m in zip(types, means, strict=True)]
    rows = chosen.select(c.STEP_COUNT, START_INDEX, END_INDEX).with_columns(
        pl.Series("direction", directions, dtype=pl.String)
    )
    skipped = rows.filter(pl.col("direction").is_null())[c.STEP_COUNT].to_list()
    return Selection(
        rows.filter(pl.col("direction") == CHARGE),
        rows.filter(pl.col("direction") == DISCHARGE),
        [int(s) for s in skipped],
    )


def read_increments(source: Source, steps: pl.DataFrame, direction: str) -> tuple[np.ndarray, np.ndarray]:
    """The mean voltage and the capacity passed (A.h) of every pair of consecutive rows within the
    given steps; only those steps' rows are read (each step is a slice of the parquet file)."""
    if steps.is_empty():
        return np.empty(0), np.empty(0)
    lf = parquet.scan_source(source)
    schema = lf.collect_schema()
    capacity = c.CHARGE_CAPACITY if direction == CHARGE else c.DISCHARGE_CAPACITY
    if c.VOLTAGE not in schema:
        raise DqdvError(f"the series has no {c.VOLTAGE!r} column")
    if capacity in schema:
        wanted = [c.VOLTAGE, capacity]
    elif c.CURRENT in schema and c.TIME in schema:
        wanted = [c.VOLTAGE, c.CURRENT, c.TIME]
    else:
        raise DqdvError(f"dQ/dV needs {capacity!r}, or {c.CURRENT!r} and {c.TIME!r}")
    parts = [
        lf.slice(int(start), int(end) - int(start) + 1)
        .select(wanted)
        .with_columns(pl.lit(int(number), pl.Int64).alias("_step"))
        for number, start, end in steps.select(c.STEP_COUNT, START_INDEX, END_INDEX).iter_rows()
    ]
    rows = pl.concat(parts, how="vertical").collect()
    if capacity in wanted:
        passed = pl.col(capacity).diff().over("_step")
    else:  # trapezoids of |I| dt, in A.h
        current = pl.col(c.CURRENT).abs()
        passed = ((current + current.shift()) / 2 * pl.col(c.TIME).diff() / 3600).over("_step")
    voltage = ((pl.col(c.VOLTAGE) + pl.col(c.VOLTAGE).shift()) / 2).over("_step")
    pairs = rows.select(voltage.alias("v"), passed.alias("q")).filter(
        pl.col("v").is_finite() & pl.col("q").is_finite()
    )
    return pairs["v"].to_numpy(), pairs["q"].to_numpy()


def gaussian_smooth(values: np.ndarray, sigma_bins: float) -> np.ndarray:
    """Gaussian smoothing that renormalises at the ends (no pull towards zero there)."""
    if sigma_bins <= 0 or values.size < 2:
        return values.copy()
    half = max(1, math.ceil(4 * sigma_bins))
    offsets = np.arange(-half, half + 1)
    kernel = np.exp(-0.5 * (offsets / sigma_bins) ** 2)
    weighted = np.convolve(values, kernel)[half : half + values.size]
    weights = np.convolve(np.ones_like(values), kernel)[half : half + values.size]
    return weighted / weights


def incremental_capacity(
    voltage: np.ndarray, passed: np.ndarray, direction: str, *, voltage_step: float, smoothing: float
) -> dict[str, list[float]]:
    """dQ/dV on a uniform voltage grid from row-pair increments (see the module doc).

    Answers ``{"Voltage [V]": bin centres, "Capacity [A.h]": Q resampled there, "dQ/dV [A.h/V]": ...}``
    with voltage ascending and dQ/dV positive.
    """
    if voltage_step <= 0:
        raise DqdvError("voltage_step must be positive")
    if voltage.size == 0:
        return {VOLTAGE_OUT: [], CAPACITY_OUT: [], DQDV_OUT: []}
    low = math.floor(float(voltage.min()) / voltage_step)
    high = math.floor(float(voltage.max()) / voltage_step) + 1
    if high - low > MAX_BINS:
        raise DqdvError(
            f"the voltage range {voltage.min():.4g}..{voltage.max():.4g} V needs more than {MAX_BINS} "
            f"bins of {voltage_step} V; use a larger voltage_step"
        )
    index = np.clip(np.floor(voltage / voltage_step).astype(np.int64) - low, 0, high - low - 1)
    per_bin = np.bincount(index, weights=passed, minlength=high - low)
    centres = (np.arange(low, high) + 0.5) * voltage_step
    # Q resampled at the bin centres: charge passed below each voltage (charge) or above it (discharge).
    if direction == CHARGE:
        q = np.cumsum(per_bin) - per_bin / 2
    else:
        q = np.cumsum(per_bin[::-1])[::-1] - per_bin / 2
    dqdv = gaussian_smooth(per_bin / voltage_step, smoothing / voltage_step)
    return {VOLTAGE_OUT: centres.tolist(), CAPACITY_OUT: q.tolist(), DQDV_OUT: dqdv.tolist()}


def dqdv(
    source: Source,
    steps: pl.DataFrame,
    *,
    cycle: int | None = None,
    step: int | None = None,
    voltage_step: float = 0.005,
    smoothing: float = 0.01,
) -> dict[str, Any]:
    """Both curves of a cycle (or the one curve of a step), with the steps used and skipped."""
    selection = select_steps(steps, cycle=cycle, step=step)
    body: dict[str, Any] = {
        "cycle": cycle,
        "step": step,
        "voltage_step": voltage_step,
        "smoothing": smoothing,
    }
    for direction, chosen in ((CHARGE, selection.charge), (DISCHARGE, selection.discharge)):
        voltage, passed = read_increments(source, chosen, direction)
        body[direction] = incremental_capacity(
            voltage, passed, direction, voltage_step=voltage_step, smoothing=smoothing
        )
        body[f"{direction}_steps"] = [int(s) for s in chosen[c.STEP_COUNT].to_list()]
    body["skipped_steps"] = selection.skipped
    return body
