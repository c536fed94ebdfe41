"""What every reader's table becomes: a series the processing pipeline accepts (§6.1).

A reader renames the columns it understands (:func:`apply_column_maps`) and hands
over a :class:`~cellstore.formats.base.RawSeries`; :func:`normalise` then does the
same for every family:

* ``Time [s]``: absolute timestamps become seconds since the first one (which becomes
  ``start_time``, aware UTC; naive timestamps are taken as UTC, or read in the
  instrument's zone by :func:`in_zone` when it is known); relative times are
  shifted to start at 0 (``start_time`` moves with them). Null times are kept (EIS rows);
  a time that goes backwards is a :class:`FormatError`, since sorting would reorder rows.
* ``Step count``: 0-based, +1 whenever ``Step from cycler`` changes between rows, or
  ``Cycle from cycler`` changes under the same step number. Without a step number from
  the cycler, a step is a run of rows with the same current direction (rest, charge,
  discharge) within one cycle.
* ``Cycle count``: 0-based, +1 whenever ``Cycle from cycler`` changes; constant within a step.
* Capacities and energies: cumulative per step, 0 at each step start (the value at the
  step's first row is subtracted, whatever the instrument counted from). A single
  throughput counter (:data:`CAPACITY_FROM_CYCLER`, :data:`ENERGY_FROM_CYCLER`) is split
  into the charge and discharge columns by the sign of the current.

Every other column is kept under its own name; rows are never reordered or dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from cellstore.formats.base import ColumnMap, FormatError, RawSeries
from cellstore.processing import columns as c

#: A reader's target for an instrument's single capacity counter (charge and discharge in one).
CAPACITY_FROM_CYCLER = "Capacity from cycler [A.h]"
#: Same for energy.
ENERGY_FROM_CYCLER = "Energy from cycler [W.h]"

#: Below this magnitude (A) a current counts as rest when steps are derived from the current.
REST_CURRENT = 1e-9

_PER_STEP = (c.DISCHARGE_CAPACITY, c.CHARGE_CAPACITY, c.DISCHARGE_ENERGY, c.CHARGE_ENERGY)
_SPLIT = (
    (CAPACITY_FROM_CYCLER, c.DISCHARGE_CAPACITY, c.CHARGE_CAPACITY),
    (ENERGY_FROM_CYCLER, c.DISCHARGE_ENERGY, c.CHARGE_ENERGY),
)


@dataclass
class NormalisedSeries:
    """A series ready for :func:`cellstore.processing.validation.validate_series`, and its context."""

    frame: pl.DataFrame
    family: str
    start_time: datetime | None = None
    test_setup: dict[str, Any] = field(default_factory=dict)
    protocol: dict[str, Any] = field(default_factory=dict)
    #: ``start_time`` came from a clock reading without a zone, and was taken as UTC.
    local_clock: bool = False


def normalise(raw: RawSeries) -> NormalisedSeries:
    """Turn a reader's table into a §6.1 series; ``raw`` is not changed."""
    frame = raw.frame
    if frame.height == 0:
        raise FormatError(f"{raw.family}: the file holds no data rows.")
    frame, start_time = _relative_time(frame, raw.start_time, raw.family)
    frame = _counts(frame)
    frame = _split_throughput(frame)
    frame = _per_step(frame)
    frame = frame.with_columns(
        [pl.col(n).cast(c.MEASURED_DTYPE) for n in c.MEASURED_COLUMNS if n in frame.columns]
        + [pl.col(n).cast(c.COUNT_DTYPE) for n in c.COUNT_COLUMNS if n in frame.columns]
    )
    test_setup = {"format": raw.family, **raw.test_setup}
    return NormalisedSeries(
        frame=frame.select(_ordered(frame.columns)),
        family=raw.family,
        start_time=start_time,
        local_clock=reads_local_clock(raw),
        test_setup=test_setup,
        protocol=dict(raw.protocol),
    )


# --- helpers for readers ---------------------------------------------------------------------


def unique_names(names: Iterable[str]) -> list[str]:
    """Header names made unique and non-empty: blanks become ``column_<i>``, repeats get `` (2)``, …"""
    seen: dict[str, int] = {}
    out: list[str] = []
    for i, name in enumerate(names):
        base = name.strip() or f"column_{i}"
        candidate, n = base, 1
        while candidate in seen:
            n += 1
            candidate = f"{base} ({n})"
        seen[candidate] = 1
        out.append(candidate)
    return out


def _key(name: str) -> str:
    return "".join(name.split()).lower()


def apply_column_maps(frame: pl.DataFrame, maps: Sequence[ColumnMap]) -> pl.DataFrame:
    """Rename, scale and negate the columns ``maps`` name; every other column is kept as it is.

    Headers match case-insensitively ignoring spaces; the first map of a target whose
    source exists wins (list the preferred spelling first). A kept column whose name
    collides with a target is renamed ``<name> (original)``.
    """
    by_key = {_key(name): name for name in frame.columns}
    chosen: dict[str, tuple[str, ColumnMap]] = {}
    for column_map in maps:
        source = by_key.get(_key(column_map.source))
        if source is not None and column_map.target not in chosen:
            if source in {s for s, _ in chosen.values()}:
                continue
            chosen[column_map.target] = (source, column_map)
    used = {source for source, _ in chosen.values()}
    exprs: list[pl.Expr] = []
    for name in frame.columns:
        if name in used:
            continue
        alias = f"{name} (original)" if name in chosen else name
        exprs.append(pl.col(name).alias(alias))
    for target, (source, column_map) in chosen.items():
        expr = pl.col(source)
        if frame.schema[source] == pl.String and column_map.target != c.TIME:  # time may be a timestamp
            expr = expr.str.strip_chars().cast(pl.Float64, strict=False)
        if column_map.scale != 1.0 or column_map.negate:
            expr = expr.cast(pl.Float64) * (-column_map.scale if column_map.negate else column_map.scale)
        exprs.append(expr.alias(target))
    return frame.select(exprs)


_DURATION = r"^(?:(\d+)\s*d\s*|(\d+)[.-])?(\d+):(\d{1,2}):(\d{1,2}(?:\.\d*)?)$"
#: The common cases of :data:`_DURATION` (no days; ``Nd hh:mm:ss``), which splits read faster than its groups.
_CLOCK = r"^\d+:\d{1,2}:\d{1,2}(?:\.\d*)?$"
_DAYS_CLOCK = r"^\d+\s*d\s*\d+:\d{1,2}:\d{1,2}(?:\.\d*)?$"


def duration_seconds(expr: pl.Expr) -> pl.Expr:
    """Seconds from duration text: ``hh:mm:ss[.f]``, ``d.hh:mm:ss``, ``1d 02:03:04`` or plain seconds."""
    return expr.cast(pl.String).map_batches(_duration, return_dtype=pl.Float64, is_elementwise=True)


def _clock_parts(clock: pl.Expr, days: pl.Expr) -> list[pl.Expr]:
    """The groups of :data:`_DURATION` for text known to match it with ``days`` in the first group."""
    parts = clock.str.split_exact(":", 2).struct
    return [
        days.alias("1"),
        pl.lit(None, dtype=pl.String).alias("2"),
        *(parts.field(f"field_{i}").alias(str(3 + i)) for i in range(3)),
    ]


def _duration(values: pl.Series) -> pl.Series:
    frame = values.str.strip_chars().alias("text").to_frame()
    text = pl.col("text")
    if frame.select(text.str.contains(_CLOCK).fill_null(True).all()).item():
        frame = frame.with_columns(_clock_parts(text, pl.lit(None, dtype=pl.String)))
    elif frame.select(text.str.contains(_DAYS_CLOCK).fill_null(True).all()).item():
        days, clock = (
            text.str.split_exact("d", 1).struct.field(f"field_{i}").str.strip_chars() for i in (0, 1)
        )
        frame = frame.with_columns(_clock_parts(clock, days))
    else:
        frame = frame.with_columns(text.str.extract_groups(_DURATION).struct.unnest())
    days = pl.coalesce(pl.col("1"), pl.col("2")).cast(pl.Float64).fill_null(0.0)
    clock = (
        days * 86400.0
        + pl.col("3").cast(pl.Float64) * 3600.0
        + pl.col("4").cast(pl.Float64) * 60.0
        + pl.col("5").cast(pl.Float64)
    )
    seconds = pl.coalesce(clock, pl.col("text").cast(pl.Float64, strict=False))
    return frame.select(seconds).to_series().alias(values.name)


def reads_local_clock(raw: RawSeries) -> bool:
    """Whether the file gives its absolute time as a clock reading without a zone (as most cyclers
    do: the computer's local time), which is taken as UTC unless the instrument's zone is given."""
    dtype = raw.frame.schema.get(c.TIME)
    if isinstance(dtype, pl.Datetime):
        return dtype.time_zone is None
    return raw.start_time is not None and raw.start_time.tzinfo is None


def zone_named(name: str) -> ZoneInfo:
    """The time zone of an IANA name; ValueError, in words, for one that does not exist."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}; give an IANA name such as Europe/Berlin") from None


def in_zone(series: NormalisedSeries, zone: ZoneInfo) -> NormalisedSeries:
    """``series`` with its start time read on a clock in ``zone`` rather than in UTC, when the file
    gave it without a zone; the zone is kept in ``test_setup``. Times relative to the start,
    which are all the series holds, do not change."""
    if not series.local_clock or series.start_time is None:
        return series
    wall = series.start_time.replace(tzinfo=None)
    return replace(
        series,
        start_time=wall.replace(tzinfo=zone).astimezone(UTC),
        test_setup={**series.test_setup, "timezone": zone.key},
    )


def as_utc(moment: datetime | None) -> datetime | None:
    """``moment`` as an aware UTC datetime (naive ones are taken to be UTC)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# --- the steps of normalise ----------------------------------------------------------------


def _relative_time(
    frame: pl.DataFrame, start_time: datetime | None, family: str
) -> tuple[pl.DataFrame, datetime | None]:
    start_time = as_utc(start_time)
    if c.TIME not in frame.columns:
        raise FormatError(f"{family}: no column could be read as {c.TIME}.")
    dtype = frame.schema[c.TIME]
    time = pl.col(c.TIME)
    if isinstance(dtype, pl.Datetime):
        first = frame[c.TIME].drop_nulls()
        if first.len():
            moment = first[0]
            start_time = as_utc(moment)
        seconds = (time - time.drop_nulls().first()).dt.total_microseconds().cast(pl.Float64) / 1e6
    elif isinstance(dtype, pl.Duration):
        seconds = time.dt.total_microseconds().cast(pl.Float64) / 1e6
    elif dtype == pl.String:
        seconds = duration_seconds(time)
    else:
        seconds = time.cast(pl.Float64)
    frame = frame.with_columns(seconds.alias(c.TIME))
    values = frame[c.TIME]
    known = values.drop_nulls()
    if known.len():
        offset = known[0]
        if offset and start_time is not None and not isinstance(dtype, pl.Datetime):
            start_time = start_time + timedelta(seconds=offset)
        frame = frame.with_columns(pl.col(c.TIME) - offset)
        _check_monotonic(frame[c.TIME], family)
    return frame, start_time


def _check_monotonic(time: pl.Series, family: str) -> None:
    filled = time.fill_null(strategy="forward")
    back = (filled < filled.shift(1) - c.TIME_TOLERANCE).fill_null(False)
    if back.any():
        row = int(back.arg_max())
        raise FormatError(
            f"{family}: {c.TIME} goes backwards at data row {row} (from {filled[row - 1]!r} to "
            f"{filled[row]!r}); cellstore does not reorder rows, so the file cannot be imported as is."
        )


def _changes(expr: pl.Expr) -> pl.Expr:
    """True where a (forward-filled) value differs from the row before; false on the first row."""
    filled = expr.forward_fill()
    return filled.ne_missing(filled.shift(1)).fill_null(False) & (pl.int_range(pl.len()) > 0)


def _counts(frame: pl.DataFrame) -> pl.DataFrame:
    columns = frame.columns
    if c.STEP_COUNT in columns:
        step = pl.col(c.STEP_COUNT)
    else:
        if c.STEP_FROM_CYCLER in columns:
            change = _changes(pl.col(c.STEP_FROM_CYCLER))
            if c.CYCLE_FROM_CYCLER in columns:
                change = change | _changes(pl.col(c.CYCLE_FROM_CYCLER))
        elif c.CURRENT in columns:
            current = pl.col(c.CURRENT).cast(pl.Float64)
            direction = pl.when(current > REST_CURRENT).then(1).when(current < -REST_CURRENT).then(-1)
            change = _changes(direction.otherwise(0))
        else:
            change = pl.repeat(False, pl.len())
        if c.STEP_FROM_CYCLER not in columns and c.CYCLE_FROM_CYCLER in columns:
            change = change | _changes(pl.col(c.CYCLE_FROM_CYCLER))
        step = change.cast(pl.Int64).cum_sum()
        frame = frame.with_columns(step.alias(c.STEP_COUNT))
        step = pl.col(c.STEP_COUNT)
    if c.CYCLE_FROM_CYCLER in columns and c.CYCLE_COUNT not in columns:
        cycle = _changes(pl.col(c.CYCLE_FROM_CYCLER)).cast(pl.Int64).cum_sum()
        frame = frame.with_columns(cycle.alias(c.CYCLE_COUNT))
        frame = frame.with_columns(pl.col(c.CYCLE_COUNT).first().over(step))
    return frame


def _split_throughput(frame: pl.DataFrame) -> pl.DataFrame:
    """Charge and discharge columns from a single counter, by the direction of the current."""
    if c.CURRENT not in frame.columns:
        return frame
    current = pl.col(c.CURRENT).cast(pl.Float64)
    for source, discharge, charge in _SPLIT:
        if source not in frame.columns or (discharge in frame.columns and charge in frame.columns):
            continue
        value = pl.col(source).cast(pl.Float64)
        rise = (value - value.shift(1)).abs().fill_null(0.0).over(c.STEP_COUNT)
        rise = pl.when(pl.int_range(pl.len()).over(c.STEP_COUNT) == 0).then(0.0).otherwise(rise)
        exprs = []
        if discharge not in frame.columns:
            exprs.append(
                pl.when(current > 0).then(rise).otherwise(0.0).cum_sum().over(c.STEP_COUNT).alias(discharge)
            )
        if charge not in frame.columns:
            exprs.append(
                pl.when(current < 0).then(rise).otherwise(0.0).cum_sum().over(c.STEP_COUNT).alias(charge)
            )
        frame = frame.with_columns(exprs)
    return frame


def _per_step(frame: pl.DataFrame) -> pl.DataFrame:
    """Each cumulative column minus its value at the step's first row (as a magnitude)."""
    exprs = []
    for name in _PER_STEP:
        if name in frame.columns:
            value = pl.col(name).cast(pl.Float64)
            start = value.forward_fill().backward_fill().first().over(c.STEP_COUNT)
            exprs.append((value - start).abs().alias(name))
    return frame.with_columns(exprs) if exprs else frame


_ORDER = (
    c.TIME,
    c.VOLTAGE,
    c.CURRENT,
    c.STEP_COUNT,
    c.CYCLE_COUNT,
    c.STEP_FROM_CYCLER,
    c.CYCLE_FROM_CYCLER,
    c.DISCHARGE_CAPACITY,
    c.CHARGE_CAPACITY,
    c.DISCHARGE_ENERGY,
    c.CHARGE_ENERGY,
    c.POWER,
    c.TEMPERATURE,
    c.FREQUENCY,
    c.Z_RE,
    c.Z_IM,
)


def _ordered(columns: list[str]) -> list[str]:
    """Known columns first in §6.1 order, then the others in the file's order."""
    known = [name for name in _ORDER if name in columns]
    return known + [name for name in columns if name not in known]
