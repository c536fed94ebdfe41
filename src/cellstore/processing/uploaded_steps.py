"""Checking a client-uploaded steps table against its time series.

A client may upload its own ``steps.parquet`` (for example with hand-checked step
labels). The server stores it instead of deriving one, but only if it describes
the series it came with: consumers slice the series with its ``Start index`` and
``End index``, so a table for another series would silently return wrong rows.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from cellstore.processing import columns as c
from cellstore.processing import parquet
from cellstore.processing.cycles import CYCLE_INPUTS
from cellstore.processing.errors import SeriesError

WHAT = "uploaded steps table"
_INDEX_COLUMNS = ("Start index", "End index")


def check_uploaded_steps(series: pl.LazyFrame, steps_path: Path) -> pl.DataFrame:
    """Read the uploaded steps and check them against the (validated) ``series``.

    The table needs one row per step of the series, keyed by ``Step count``; if it
    has ``Start index``/``End index`` they must be the step's first/last row offset,
    and if it lacks them they are added from the series. Other columns are kept as
    uploaded.
    """
    bounds = (
        series.select(pl.col(c.STEP_COUNT))
        .with_row_index("__row")
        .group_by(c.STEP_COUNT)
        .agg(pl.col("__row").min().alias("Start index"), pl.col("__row").max().alias("End index"))
        .sort(c.STEP_COUNT)
        .collect()
    )
    return check_uploaded_steps_against(bounds, steps_path)


def check_uploaded_steps_against(bounds: pl.DataFrame, steps_path: Path) -> pl.DataFrame:
    """:func:`check_uploaded_steps` given the series' steps as ``Step count``, ``Start index``, ``End index``.

    ``bounds`` may be the derived steps table itself, which saves a second pass over the series.
    """
    lf = parquet.scan(steps_path, WHAT)
    with parquet.reading(steps_path, WHAT):
        steps = lf.collect()
    steps = _with_checked_dtypes(steps)
    bounds = bounds.select(
        pl.col(c.STEP_COUNT),
        pl.col("Start index").cast(pl.Int64).alias("__start"),
        pl.col("End index").cast(pl.Int64).alias("__end"),
    )
    _check_same_steps(steps, bounds)
    return _check_or_add_indexes(steps, bounds)


def _with_checked_dtypes(steps: pl.DataFrame) -> pl.DataFrame:
    """Step and cycle counts must be whole numbers; the columns cycle metrics read, numeric."""
    if c.STEP_COUNT not in steps.columns:
        raise SeriesError(f"The {WHAT} has no '{c.STEP_COUNT}' column.", column=c.STEP_COUNT)
    for name in CYCLE_INPUTS:
        dtype = steps.schema.get(name)
        if dtype is not None and not (dtype.is_numeric() or dtype == pl.Null):
            raise SeriesError(f"{name} of the {WHAT} must be numeric, not {dtype}.", column=name)
    counts = [name for name in (c.STEP_COUNT, c.CYCLE_COUNT) if name in steps.columns]
    for name in counts:
        _check_whole_numbers(steps[name])
    return steps.with_columns(pl.col(counts).cast(pl.Int64))


def _check_whole_numbers(values: pl.Series) -> None:
    name = values.name
    if not (values.dtype.is_integer() or values.dtype.is_float()):
        raise SeriesError(f"{name} of the {WHAT} must be integer, not {values.dtype}.", column=name)
    as_float = values.cast(pl.Float64)
    bad = ~as_float.is_finite().fill_null(False) | (as_float != as_float.round()).fill_null(False)
    if bad.any():
        rows = bad.arg_true().head(5).to_list()
        raise SeriesError(
            f"{name} of the {WHAT} must hold whole numbers (no nulls), but "
            f"{'row' if len(rows) == 1 else 'rows'} {', '.join(map(str, rows))} "
            f"{'does' if len(rows) == 1 else 'do'} not.",
            column=name,
            rows=rows,
        )


def _check_same_steps(steps: pl.DataFrame, bounds: pl.DataFrame) -> None:
    uploaded = steps[c.STEP_COUNT]
    repeated = uploaded.filter(uploaded.is_duplicated()).unique().sort().to_list()
    if repeated:
        raise SeriesError(
            f"The {WHAT} has more than one row for steps {_listed(repeated)}.", column=c.STEP_COUNT
        )
    have = set(uploaded.to_list())
    want = set(bounds[c.STEP_COUNT].to_list())
    extra, missing = sorted(have - want), sorted(want - have)
    if extra or missing:
        parts = []
        if missing:
            parts.append(f"no row for steps {_listed(missing)}")
        if extra:
            parts.append(f"rows for steps {_listed(extra)} that the series does not have")
        raise SeriesError(
            f"The {WHAT} does not match the time series ({len(want)} steps): it has {' and '.join(parts)}.",
            column=c.STEP_COUNT,
        )


def _check_or_add_indexes(steps: pl.DataFrame, bounds: pl.DataFrame) -> pl.DataFrame:
    # A left join keyed on Step count; maintain_order keeps the uploaded row order.
    joined = steps.join(bounds, on=c.STEP_COUNT, how="left", maintain_order="left")
    for name, truth in zip(_INDEX_COLUMNS, ("__start", "__end"), strict=True):
        if name not in joined.columns:
            joined = joined.with_columns(pl.col(truth).alias(name))
            continue
        wrong = joined.filter(pl.col(name).cast(pl.Int64, strict=False).ne_missing(pl.col(truth)))
        if wrong.height:
            first = wrong.row(0, named=True)
            raise SeriesError(
                f"{name} of step {first[c.STEP_COUNT]} in the {WHAT} is {first[name]!r}, but that step "
                f"{'starts' if name == 'Start index' else 'ends'} at row {first[truth]} of the time series "
                f"({wrong.height} steps disagree).",
                column=name,
            )
    return joined.drop("__start", "__end")


def _listed(values: list[int], shown: int = 10) -> str:
    text = ", ".join(str(v) for v in values[:shown])
    return text + (f" and {len(values) - shown} more" if len(values) > shown else "")
