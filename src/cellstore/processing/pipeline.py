"""The edge of the processing package: parquet files in, parquet files out.

This is what the measurements job calls: it reads the stored time series lazily,
validates it, derives (or checks an uploaded) steps table, computes cycle metrics
and writes ``steps.parquet`` and ``cycles.parquet``; or it stitches an extension
onto a series. Everything else in the package is a pure frame function; only this
module touches files. Any problem with the data is a :class:`SeriesError` whose
message can be stored as the measurement's ``processing_error``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from cellstore.processing import columns as c
from cellstore.processing import parquet, stream
from cellstore.processing.cycles import cycle_metrics
from cellstore.processing.errors import SeriesError
from cellstore.processing.parquet_append import append_parquet
from cellstore.processing.uploaded_steps import check_uploaded_steps_against
from cellstore.processing.validation import Boundary, check_series

SERIES = parquet.SERIES
EXTENSION = "extension"


@dataclass(frozen=True)
class ProcessingResult:
    """What processing produced: series rows, step and cycle counts, series columns."""

    rows: int
    steps: int
    cycles: int
    columns: list[str]


def process_series(
    series_path: Path,
    steps_path: Path,
    cycles_path: Path,
    *,
    rated_capacity_ah: float | None = None,
    uploaded_steps: Path | None = None,
) -> ProcessingResult:
    """Validate a stored series and write its steps and cycles tables.

    With ``uploaded_steps`` the client's own steps table is checked against the
    series and stored instead of derived ones. ``series_path`` is only read.
    """
    summary = stream.summarize_file(series_path, rated_capacity_ah)
    steps = summary.steps
    if uploaded_steps is not None:
        steps = check_uploaded_steps_against(summary.steps, uploaded_steps)
    cycles = cycle_metrics(steps)
    parquet.write(steps, steps_path)
    parquet.write(cycles, cycles_path)
    return ProcessingResult(
        rows=summary.rows, steps=steps.height, cycles=cycles.height, columns=summary.columns
    )


def append_series(existing_path: Path, delta_path: Path, out_path: Path) -> int:
    """Write the existing series followed by the extension to ``out_path``; return its rows.

    The extension must be non-empty, have ``Time [s]`` and ``Step count``, pass the
    same row rules as a whole series, and continue the existing one: its first
    ``Step count`` equals the existing last step or that + 1, and its times do not
    precede the existing last time. Columns the extension lacks are null in its rows
    (except those that may never be null); columns the existing series lacks are
    refused. The output keeps the existing schema and ``existing_path`` is only read.

    The existing rows are not decoded: their bytes are copied and the extension's row
    groups added after them (:mod:`~cellstore.processing.parquet_append`); only a
    series written with another physical schema (another writer) is rewritten whole.
    """
    if out_path.resolve() == existing_path.resolve():
        raise ValueError("append_series writes a new file; out_path must differ from existing_path")
    existing = parquet.scan(existing_path, "existing time series")
    delta = parquet.scan(delta_path, EXTENSION)
    target = existing.collect_schema()
    offered = delta.collect_schema()
    _check_compatible(target, offered)
    with parquet.reading(existing_path, "existing time series"):
        boundary = _end_of(existing)
    with parquet.reading(delta_path, EXTENSION):
        checked = check_series(delta, what=EXTENSION, continues=boundary, required=(c.STEP_COUNT, c.TIME))
        aligned = checked.select(
            pl.col(name).cast(dtype) if name in offered else pl.lit(None, dtype=dtype).alias(name)
            for name, dtype in target.items()
        )
        with parquet.atomic(out_path) as tmp:
            # Fast path: the existing bytes as they are, then the extension's row groups.
            delta_file = tmp.with_name(tmp.name + ".delta")
            try:
                aligned.sink_parquet(
                    delta_file,
                    compression=parquet.COMPRESSION,
                    row_group_size=parquet.ROW_GROUP_SIZE,
                    maintain_order=True,
                )
                appended = append_parquet(existing_path, delta_file, tmp)
            finally:
                delta_file.unlink(missing_ok=True)
            if not appended:  # written by another writer: rewrite the whole series once
                pl.concat([existing, aligned], how="vertical").sink_parquet(
                    tmp,
                    compression=parquet.COMPRESSION,
                    row_group_size=parquet.ROW_GROUP_SIZE,
                    maintain_order=True,
                )
    return parquet.row_count(out_path, SERIES)


def extend_series(
    existing_path: Path,
    delta_path: Path,
    out_path: Path,
    steps_path: Path,
    cycles_path: Path,
    *,
    previous_steps: Path | None = None,
    rated_capacity_ah: float | None = None,
) -> ProcessingResult:
    """Append the extension (:func:`append_series`) and write the steps and cycles of the result.

    With ``previous_steps``, the derived steps table of the existing series, only the
    steps from the existing last one on are recomputed; without it (or if it does not
    describe the existing series) the whole result is processed as by
    :func:`process_series`. Never pass a client's uploaded steps table: it would be
    kept for the existing rows.
    """
    existing_rows = parquet.row_count(existing_path, "existing time series")
    rows = append_series(existing_path, delta_path, out_path)
    steps = None
    if previous_steps is not None:
        with parquet.reading(previous_steps, "previous steps table"):
            previous = pl.read_parquet(previous_steps)
        steps = stream.extend_steps(out_path, previous, existing_rows, rated_capacity_ah)
    if steps is None:
        return process_series(out_path, steps_path, cycles_path, rated_capacity_ah=rated_capacity_ah)
    cycles = cycle_metrics(steps)
    parquet.write(steps, steps_path)
    parquet.write(cycles, cycles_path)
    columns = parquet.scan(out_path, SERIES).collect_schema().names()
    return ProcessingResult(rows=rows, steps=steps.height, cycles=cycles.height, columns=columns)


def _check_compatible(target: pl.Schema, offered: pl.Schema) -> None:
    """The extension may leave optional columns out, but not add or retype any."""
    for name in (c.STEP_COUNT, c.TIME):
        if name not in offered:
            raise SeriesError(f"Missing required column '{name}' in the extension.", column=name)
    unknown = [name for name in offered if name not in target]
    if unknown:
        raise SeriesError(
            f"The extension has columns the existing series does not: {', '.join(unknown)}.",
            column=unknown[0],
        )
    for name in (c.STEP_COUNT, c.TIME):
        if name not in target:
            raise SeriesError(f"The existing series has no '{name}' column, so it cannot be extended.")
    never_null = [name for name in c.NON_NULL_COLUMNS if name in target and name not in offered]
    if never_null:
        raise SeriesError(
            f"The extension lacks {', '.join(never_null)}, which the existing series has and which "
            "may not be null.",
            column=never_null[0],
        )
    for name, dtype in offered.items():
        wanted = target[name]
        if dtype != wanted and dtype != pl.Null and not (dtype.is_numeric() and wanted.is_numeric()):
            raise SeriesError(
                f"{name} holds {dtype} in the extension but {wanted} in the existing series.", column=name
            )


def _end_of(existing: pl.LazyFrame) -> Boundary:
    """Last step count and last known time of the existing series."""
    end = existing.select(
        pl.col(c.STEP_COUNT).last().alias("step"),
        pl.col(c.TIME).cast(pl.Float64).drop_nulls().last().alias("time"),
    ).collect()
    step = end["step"][0]
    if step is None:
        raise SeriesError(
            "The existing series is empty or its last Step count is null; it cannot be extended."
        )
    return Boundary(step_count=int(step), time=end["time"][0])
