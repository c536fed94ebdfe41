"""Checks that a time series can be processed, and its canonical dtypes.

The server never trusts the client's own validation (other clients exist, and the
``ionworks`` client's checks can be skipped), so every series is checked here before
steps are derived from it. The rules are those of the API contract §6.1:

* ``Step count`` is required, integer, never null, starts at 0 and rises by 0 or 1;
* ``Time [s]``, ``Voltage [V]`` and ``Current [A]`` are optional but, when present,
  numeric and never null/NaN/inf (``Time [s]`` may be null on EIS rows, i.e. rows
  whose ``Frequency [Hz]`` is set) and time never goes backwards (tolerance 1e-12).

All row rules are evaluated in one lazy aggregate (one pass over the needed columns
only); the offending rows are fetched in a second query only when a rule fails, so
a good series costs a single scan.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl

from cellstore.processing import columns as c
from cellstore.processing.errors import SeriesError

#: How many offending rows an error message names.
SHOWN_ROWS = 5


@dataclass(frozen=True)
class Boundary:
    """The end of an existing series that an extension must continue."""

    step_count: int
    time: float | None


@dataclass(frozen=True)
class _Rule:
    """One row rule: ``bad`` is true on offending rows; ``describe`` words the error.

    ``describe`` receives the first offending rows (with ``__row`` and the ``detail``
    columns) and the total number of offending rows.
    """

    column: str
    bad: pl.Expr
    detail: tuple[pl.Expr, ...]
    describe: Callable[[list[dict], int], str]


def validate_series(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Check a whole time series and return it with canonical dtypes.

    Counts become Int64 and measured values Float64; other columns are untouched.
    Raises :class:`SeriesError` naming the column and first offending rows.
    """
    return check_series(lf, what="time series")


def check_series(
    lf: pl.LazyFrame,
    *,
    what: str,
    continues: Boundary | None = None,
    required: Sequence[str] = (c.STEP_COUNT,),
) -> pl.LazyFrame:
    """Validate ``lf`` (a whole series, or an extension continuing ``continues``).

    ``what`` names the frame in messages ("time series", "extension"). With
    ``continues`` the first ``Step count`` must equal the existing last step or
    that + 1 and the first time must not precede the existing last time.
    """
    schema = lf.collect_schema()
    check_columns(schema, required)
    rules = _rules(schema, what=what, continues=continues)
    _run(lf, rules, what=what)
    return canonical_dtypes(lf, schema)


def canonical_dtypes(lf: pl.LazyFrame, schema: pl.Schema | None = None) -> pl.LazyFrame:
    """Cast the known count and measured columns present in ``lf`` to their canonical dtypes."""
    casts = canonical_casts(schema if schema is not None else lf.collect_schema())
    return lf.with_columns(casts) if casts else lf


def canonical_casts(schema: pl.Schema) -> list[pl.Expr]:
    """The casts that give the known columns of ``schema`` their canonical dtypes (none if they have them)."""
    return [
        pl.col(name).cast(c.COUNT_DTYPE)
        for name in c.COUNT_COLUMNS
        if name in schema and schema[name] != c.COUNT_DTYPE
    ] + [
        pl.col(name).cast(c.MEASURED_DTYPE)
        for name in c.MEASURED_COLUMNS
        if name in schema and schema[name] != c.MEASURED_DTYPE
    ]


def check_columns(schema: pl.Schema, required: Sequence[str] = (c.STEP_COUNT,)) -> None:
    """Rules that need only the schema: required columns present, known columns numeric."""
    for name in required:
        if name not in schema:
            hint = " (the cumulative 0-based step index)" if name == c.STEP_COUNT else ""
            raise SeriesError(f"Missing required column '{name}'{hint}.", column=name)
    for name in c.COUNT_COLUMNS:
        dtype = schema.get(name)
        if dtype is not None and not (dtype.is_integer() or dtype.is_float() or dtype == pl.Null):
            raise SeriesError(f"{name} must be an integer column, but it holds {dtype}.", column=name)
    for name in c.MEASURED_COLUMNS:
        dtype = schema.get(name)
        if dtype is not None and not (dtype.is_numeric() or dtype == pl.Null):
            raise SeriesError(f"{name} must be a numeric column, but it holds {dtype}.", column=name)


def _as_float(name: str) -> pl.Expr:
    return pl.col(name).cast(pl.Float64)


def _not_finite(name: str) -> pl.Expr:
    """True on null, NaN and ±inf; the cast lets integer columns through unchanged."""
    return ~_as_float(name).is_finite().fill_null(False)


def _rules(schema: pl.Schema, *, what: str, continues: Boundary | None) -> list[_Rule]:
    """The row rules for the columns present, in the order their errors are reported."""
    rules: list[_Rule] = []
    for name in c.NON_NULL_COLUMNS:
        if name in schema:
            rules.append(_non_null_rule(name, schema))
    for name in c.COUNT_COLUMNS:
        if name in schema and schema[name].is_float():
            rules.append(_whole_number_rule(name))
    if c.STEP_COUNT in schema:
        rules.append(_step_rule(what, continues))
    if c.TIME in schema:
        rules.append(_time_rule(continues))
    return rules


def _non_null_rule(name: str, schema: pl.Schema) -> _Rule:
    bad = _not_finite(name)
    eis_note = ""
    if name == c.TIME:
        if c.FREQUENCY in schema:
            # EIS rows carry a frequency and may have no time (§6.1).
            bad = bad & _not_finite(c.FREQUENCY)
            eis_note = f" (only EIS rows, with a {c.FREQUENCY} value, may lack a time)"
        else:
            eis_note = (
                f" (only EIS rows, with a {c.FREQUENCY} value, may lack a time; there is no such column)"
            )

    def describe(rows: list[dict], total: int) -> str:
        return f"{name} is null, NaN or infinite at {_rows_text(rows, total)}{eis_note}."

    return _Rule(name, bad, (), describe)


def _whole_number_rule(name: str) -> _Rule:
    value = _as_float(name)
    bad = (value != value.round()).fill_null(False) & value.is_finite()

    def describe(rows: list[dict], total: int) -> str:
        first = rows[0]
        return (
            f"{name} must hold whole numbers, but row {first['__row']} is {first['value']!r}"
            f" ({_count_text(total)} in all)."
        )

    return _Rule(name, bad, (value.alias("value"),), describe)


def _step_rule(what: str, continues: Boundary | None) -> _Rule:
    step = _as_float(c.STEP_COUNT)
    if continues is None:
        previous = step.shift(1)
        first_bad = (pl.int_range(pl.len()) == 0) & (step != 0)
    else:
        previous = step.shift(1, fill_value=float(continues.step_count))
        first_bad = pl.lit(False)
    rise = step - previous
    bad = (first_bad | (rise < 0) | (rise > 1)).fill_null(False)

    def describe(rows: list[dict], total: int) -> str:
        first = rows[0]
        row, value, before = first["__row"], _int_text(first["value"]), first["previous"]
        if continues is None and row == 0:
            return f"{c.STEP_COUNT} must start at 0, but row 0 is {value}."
        if continues is not None and row == 0:
            return (
                f"{c.STEP_COUNT} of the {what} must start at {continues.step_count} or "
                f"{continues.step_count + 1} to continue the existing series (which ends at step "
                f"{continues.step_count}), but row 0 is {value}."
            )
        return (
            f"{c.STEP_COUNT} must rise by 0 or 1 between rows, but goes from {_int_text(before)} to "
            f"{value} at row {row} of the {what} ({_count_text(total)} like this)."
        )

    return _Rule(c.STEP_COUNT, bad, (step.alias("value"), previous.alias("previous")), describe)


def _time_rule(continues: Boundary | None) -> _Rule:
    # Null times (EIS rows) are skipped by carrying the last known time forward.
    time = _as_float(c.TIME).forward_fill()
    start = None if continues is None else continues.time
    if start is not None:
        time = time.fill_null(start)
        previous = time.shift(1, fill_value=start)
    else:
        previous = time.shift(1)
    bad = (time < previous - c.TIME_TOLERANCE).fill_null(False)

    def describe(rows: list[dict], total: int) -> str:
        first = rows[0]
        if continues is not None and first["__row"] == 0 and start is not None:
            return (
                f"{c.TIME} of the extension starts at {first['value']!r}, before the existing series "
                f"ends ({start!r})."
            )
        return (
            f"{c.TIME} decreases at row {first['__row']} (from {first['previous']!r} to "
            f"{first['value']!r}); time must never go backwards ({_count_text(total)} like this)."
        )

    return _Rule(c.TIME, bad, (time.alias("value"), previous.alias("previous")), describe)


def _run(lf: pl.LazyFrame, rules: list[_Rule], *, what: str) -> None:
    """Count every rule's offending rows in one query; describe the first rule broken."""
    counts = lf.select(
        pl.len().alias("__rows"),
        *(rule.bad.sum().alias(f"__rule{i}") for i, rule in enumerate(rules)),
    ).collect()
    if counts["__rows"][0] == 0:
        raise SeriesError(f"The {what} has no rows.")
    for i, rule in enumerate(rules):
        total = counts[f"__rule{i}"][0]
        if total:
            offending = (
                lf.with_row_index("__row")
                .select(pl.col("__row"), *rule.detail, rule.bad.alias("__bad"))
                .filter(pl.col("__bad"))
                .head(SHOWN_ROWS)
                .collect()
            )
            rows = offending.to_dicts()
            raise SeriesError(rule.describe(rows, total), column=rule.column, rows=[r["__row"] for r in rows])


def _rows_text(rows: list[dict], total: int) -> str:
    shown = ", ".join(str(r["__row"]) for r in rows)
    if total == 1:
        return f"row {shown}"
    more = f" and {total - len(rows)} more" if total > len(rows) else ""
    return f"rows {shown}{more} ({total} rows)"


def _count_text(total: int) -> str:
    return "1 row" if total == 1 else f"{total} rows"


def _int_text(value: float | None) -> str:
    """Show a step count read as float as the integer it is meant to be."""
    if value is None:
        return "null"
    return str(int(value)) if float(value).is_integer() else repr(value)


def plainly_valid(batch: pl.DataFrame, boundary: Boundary | None) -> bool:
    """A fast sufficient test of the row rules: true only if none can fail.

    A few cheap whole-column checks (null counts, sortedness, distinct steps, finite sums);
    batches it does not clear, such as ones with EIS rows whose time is null or with
    float counters, go through the exact rules of :func:`check_series`. The columns
    must have passed :func:`check_columns`.
    """
    names = batch.columns
    if any(name in names and batch.schema[name].is_float() for name in c.COUNT_COLUMNS):
        return False
    if any(batch[name].null_count() for name in c.NON_NULL_COLUMNS if name in names):
        return False
    step = batch[c.STEP_COUNT]
    first = boundary.step_count if boundary is not None else 0
    if not (first <= step[0] <= first + (boundary is not None) and step.is_sorted()):
        return False
    # Non-decreasing, and as many distinct values as the range spans: rises of 0 or 1 only.
    if step[-1] - step[0] != step.set_sorted().n_unique() - 1:
        return False
    if c.TIME in names:
        time = batch[c.TIME]
        after = boundary.time if boundary is not None and boundary.time is not None else -math.inf
        if not time.is_sorted() or time[0] < after:
            return False
    # A sum is finite only if every value is (or it overflowed: then the exact rules decide).
    floats = [name for name in c.NON_NULL_COLUMNS if name in names and batch.schema[name].is_float()]
    return all(math.isfinite(batch[name].sum()) for name in floats)
