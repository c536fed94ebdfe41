"""The edge of the processing package: parquet files in, parquet files out.

This is what the measurements job calls: it reads the stored time series lazily,
validates it, derives (or checks an uploaded) steps table, computes cycle metrics
and writes ``steps.parquet`` and ``cycles.parquet``; or it stitches an extension
onto a series. Everything else in the package is a pure frame function; only this
module touches files. Any problem with the data is a :class:`SeriesError` whose
message can be stored as the measurement's ``processing_error``.
"""

from __future__ import annotations

import io
import shutil
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from cellstore.processing import columns as c
from cellstore.processing import parquet, stream
from cellstore.processing.cycles import cycle_metrics
from cellstore.processing.errors import SeriesError
from cellstore.processing.parquet_append import append_parquet
from cellstore.processing.uploaded_steps import check_uploaded_steps_against
from cellstore.processing.validation import Boundary, check_columns, check_series, plainly_valid

SERIES = parquet.SERIES
EXTENSION = "extension"
#: Rows read from the end of a series to find where an extension must continue it.
END_SEARCH_ROWS = 1 << 16
#: An extension of at most this many rows is checked and written in memory (one batch of processing).
SMALL_EXTENSION_ROWS = stream.BATCH_ROWS
REQUIRED_IN_EXTENSION = (c.STEP_COUNT, c.TIME)


@dataclass(frozen=True)
class ProcessingResult:
    """What processing produced: series rows, step and cycle counts, series columns, and whether
    the series' tail was written to ``tail_out`` (not when it is too long to keep)."""

    rows: int
    steps: int
    cycles: int
    columns: list[str]
    kept_tail: bool = False


def process_series(
    series_path: Path,
    steps_out: parquet.Target,
    cycles_out: parquet.Target,
    *,
    rated_capacity_ah: float | None = None,
    uploaded_steps: Path | None = None,
    tail_out: parquet.Target | None = None,
) -> ProcessingResult:
    """Validate a stored series and write its steps and cycles tables (to files or buffers).

    With ``uploaded_steps`` the client's own steps table is checked against the
    series and stored instead of derived ones. ``tail_out`` receives the series' tail
    (:func:`~cellstore.processing.stream.read_tail`), from which an extend continues the
    derived steps without reading the series. ``series_path`` is only read.
    """
    summary = stream.summarize_file(series_path, rated_capacity_ah)
    steps = summary.steps
    if uploaded_steps is not None:
        steps = check_uploaded_steps_against(summary.steps, uploaded_steps)
    cycles = write_tables(steps, steps_out, cycles_out)
    tail = None
    if tail_out is not None and uploaded_steps is None:
        tail = stream.read_tail(series_path, steps, summary.rows)
        if tail is not None:
            parquet.write_table(tail, tail_out)
    return ProcessingResult(
        rows=summary.rows,
        steps=steps.height,
        cycles=cycles.height,
        columns=summary.columns,
        kept_tail=tail is not None,
    )


def write_tables(steps: pl.DataFrame, steps_out: parquet.Target, cycles_out: parquet.Target) -> pl.DataFrame:
    """Write the steps table and the cycle metrics computed from it; answers the cycles.

    One after the other: writing the steps on a thread while the cycles are computed was
    measured slower in the extend job, where polars' two threads are already busy.
    """
    cycles = cycle_metrics(steps)
    parquet.write_table(steps, steps_out)
    parquet.write_table(cycles, cycles_out)
    return cycles


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
        boundary = _end_of(existing, existing.select(pl.len()).collect().item())
    with parquet.reading(delta_path, EXTENSION):
        checked = check_series(delta, what=EXTENSION, continues=boundary, required=REQUIRED_IN_EXTENSION)
        aligned = _aligned(checked, target, offered)
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


@dataclass(frozen=True)
class Segment:
    """An extension written as a segment: the rows of the series it follows, its own, and where
    its parquet is (``stored``: the file :func:`write_segment` was given, or a buffer).

    A small extension is checked and encoded in memory: ``stored`` is then a buffer to store as
    the object, and ``frame`` holds its rows, so that deriving its steps need not read them back
    (:func:`derive_extended`).
    """

    previous_rows: int
    rows: int
    stored: Path | io.BytesIO
    frame: pl.DataFrame | None = None


def write_segment(
    previous: parquet.Source,
    delta_path: Path,
    segment_path: Path,
    *,
    previous_steps: pl.DataFrame | None = None,
    previous_rows: int | None = None,
) -> Segment:
    """Check the extension against the stored series ``previous`` and write it as a segment.

    The rules are those of :func:`append_series`; the segment holds the extension's rows with the
    series' dtypes (and its missing optional columns as nulls), so ``previous`` followed by the
    segment reads as the extended series. Of ``previous`` only the footers are read (none but the
    first when the caller knows its ``previous_rows``), and its last rows unless
    ``previous_steps``, the steps derived from it, tell where it ends. An extension
    larger than one batch of processing is streamed to ``segment_path``; a smaller one is encoded
    into memory, or is its own segment when it is already as the segment would be written
    (:attr:`Segment.stored`), and ``segment_path`` is not written.
    """
    existing = _scan_existing(previous)
    delta = parquet.scan(delta_path, EXTENSION)
    target = existing.collect_schema()
    offered = delta.collect_schema()
    _check_compatible(target, offered)
    with parquet.reading(_name_of(previous), "existing time series"):
        if previous_rows is None:
            previous_rows = parquet.source_rows(previous, existing)
        boundary = _end_of_steps(previous_steps, previous_rows) or _end_of(existing, previous_rows)
    with parquet.reading(delta_path, EXTENSION):
        footer = parquet.footer(delta_path)
        if footer.num_rows <= SMALL_EXTENSION_ROWS:
            as_uploaded = delta_path if parquet.written_as_stored(footer) else None
            return _write_small_segment(delta, boundary, target, previous_rows, as_uploaded)
        checked = check_series(delta, what=EXTENSION, continues=boundary, required=REQUIRED_IN_EXTENSION)
        parquet.sink(_aligned(checked, target, offered), segment_path)
    return Segment(previous_rows, parquet.row_count(segment_path, EXTENSION), segment_path)


def _write_small_segment(
    delta: pl.LazyFrame, boundary: Boundary, target: pl.Schema, previous_rows: int, as_uploaded: Path | None
) -> Segment:
    """:func:`write_segment` for an extension that fits in memory: read once, cleared by the fast
    test of the row rules (the exact rules only when it fails), encoded from memory into memory.
    Most extends are small, and for them the passes over the file cost more than the work.

    ``as_uploaded``, the extension's file when it was written as cellstore writes
    (:func:`~cellstore.processing.parquet.written_as_stored`), is the segment itself if it also
    has the series' columns and dtypes: encoding the same rows again would only cost time.
    """
    frame = delta.collect()
    check_columns(frame.schema, REQUIRED_IN_EXTENSION)
    if not (frame.height and plainly_valid(frame, boundary)):
        check_series(frame.lazy(), what=EXTENSION, continues=boundary, required=REQUIRED_IN_EXTENSION)
    if frame.schema == target and as_uploaded is not None:
        return Segment(previous_rows, frame.height, as_uploaded, frame)
    aligned = frame if frame.schema == target else _aligned(frame.lazy(), target, frame.schema).collect()
    encoded = io.BytesIO()
    parquet.write(aligned, encoded)
    return Segment(previous_rows, aligned.height, encoded, aligned)


def derive_extended(
    series: parquet.Source,
    previous_rows: int,
    steps_out: parquet.Target,
    cycles_out: parquet.Target,
    *,
    rows: int | None = None,
    previous_steps: pl.DataFrame | None = None,
    rated_capacity_ah: float | None = None,
    extension: pl.DataFrame | None = None,
    previous_tail: Path | None = None,
    tail_out: parquet.Target | None = None,
) -> ProcessingResult:
    """The steps and cycles of an extended series stored in parts (a base and its segments).

    As :func:`extend_series` without writing the series: with ``previous_steps`` (the derived
    steps of its first ``previous_rows`` rows) only the rows from the start of their last step
    on are read, from ``previous_tail`` (the tail :func:`process_series` or the extend before
    wrote with those steps) when it is given and fits; otherwise the whole series is processed.
    ``rows``, the series' length when the caller knows it, saves counting it. ``extension``,
    the rows of the last part when they are in memory (:attr:`Segment.frame`), stands for that
    part, which is then not read (and need not be a file yet). ``tail_out`` receives the
    extended series' tail, for the next extend.
    """
    parts = [series] if isinstance(series, (str, Path)) else list(series)
    held = extension is not None and len(parts) > 1
    read = _scan_existing(parts[:-1] if held else series)  # what is read from storage
    extended = None
    if previous_steps is not None:
        if rows is None:
            with parquet.reading(_name_of(series), SERIES):
                rows = read.select(pl.len()).collect().item() + (extension.height if held else 0)
        extended = stream.extend_steps(
            read,
            previous_steps,
            previous_rows,
            rated_capacity_ah,
            rows=rows,
            extension=extension if held else None,
            tail=_stored_tail(previous_tail) if previous_tail is not None else None,
        )
    if extended is None:
        whole = pl.concat([read, extension.lazy()]) if held else read
        summary = stream.summarize_file(whole, rated_capacity_ah)
        steps, rows = summary.steps, summary.rows
        tail = stream.read_tail(whole, steps, rows) if tail_out is not None else None
    else:
        steps, tail = extended.steps, extended.tail
    cycles = write_tables(steps, steps_out, cycles_out)
    if tail_out is not None and tail is not None:
        parquet.write_table(tail, tail_out)
    columns = read.collect_schema().names()
    return ProcessingResult(
        rows=rows,
        steps=steps.height,
        cycles=cycles.height,
        columns=columns,
        kept_tail=tail_out is not None and tail is not None,
    )


def _stored_tail(path: Path) -> pl.DataFrame | None:
    """A stored tail; None when it cannot be read (the rows are then read from the series)."""
    try:
        with parquet.reading(path, "previous tail"):
            return pl.read_parquet(path)
    except SeriesError:
        return None


def join_parquet(parts: list[Path], out_path: Path) -> int:
    """Write the series stored in ``parts`` (a base and its segments) as one file; return its rows.

    The parts' bytes are copied, not decoded (:mod:`~cellstore.processing.parquet_append`);
    parts of another physical schema are rewritten the ordinary way.
    """
    if not parts:
        raise ValueError("nothing to join")
    with parquet.atomic(out_path) as tmp:
        scratch: list[Path] = []
        try:
            current, joined = parts[0], True
            if len(parts) == 1:
                shutil.copyfile(current, tmp)
            for i, part in enumerate(parts[1:], start=2):
                target = tmp if i == len(parts) else tmp.with_name(f"{tmp.name}.{i}")
                if target != tmp:
                    scratch.append(target)
                if not append_parquet(current, part, target):
                    joined = False
                    break
                current = target
            if not joined:
                parquet.scan_source(parts).sink_parquet(
                    tmp,
                    compression=parquet.COMPRESSION,
                    row_group_size=parquet.ROW_GROUP_SIZE,
                    maintain_order=True,
                )
        finally:
            for path in scratch:
                path.unlink(missing_ok=True)
    return parquet.row_count(out_path, SERIES)


def read_steps(path: Path) -> pl.DataFrame:
    """A stored steps table, with a read failure worded for a person."""
    with parquet.reading(path, "previous steps table"):
        return pl.read_parquet(path)


def _name_of(source: parquet.Source) -> Path | str:
    """How messages name a stored series (its first file)."""
    if isinstance(source, (str, Path)):
        return source if isinstance(source, Path) else "time_series.parquet"
    first = next(iter(source), "time_series.parquet")
    return first if isinstance(first, Path) else "time_series.parquet"


def _scan_existing(source: parquet.Source) -> pl.LazyFrame:
    with parquet.reading(_name_of(source), "existing time series"):
        lf = parquet.scan_source(source)
        lf.collect_schema()
    return lf


def _aligned(checked: pl.LazyFrame, target: pl.Schema, offered: pl.Schema) -> pl.LazyFrame:
    """The extension's rows in the existing series' columns and dtypes."""
    return checked.select(
        pl.col(name).cast(dtype) if name in offered else pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in target.items()
    )


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
        extended = stream.extend_steps(out_path, read_steps(previous_steps), existing_rows, rated_capacity_ah)
        steps = extended.steps if extended is not None else None
    if steps is None:
        return process_series(out_path, steps_path, cycles_path, rated_capacity_ah=rated_capacity_ah)
    cycles = write_tables(steps, steps_path, cycles_path)
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


def _end_of(existing: pl.LazyFrame, rows: int) -> Boundary:
    """Last step count and last known time of the existing series of ``rows`` rows.

    Only its last rows are read, unless none of them has a time (EIS rows at the end)."""
    start = max(rows - END_SEARCH_ROWS, 0)
    while True:
        end = (
            existing.slice(start)
            .select(
                pl.col(c.STEP_COUNT).last().alias("step"),
                pl.col(c.TIME).cast(pl.Float64).drop_nulls().last().alias("time"),
            )
            .collect()
        )
        if end["time"][0] is not None or start == 0:
            break
        start = 0
    step = end["step"][0]
    if step is None:
        raise SeriesError(
            "The existing series is empty or its last Step count is null; it cannot be extended."
        )
    return Boundary(step_count=int(step), time=end["time"][0])


def _end_of_steps(steps: pl.DataFrame | None, rows: int) -> Boundary | None:
    """Where the series ends, from the steps derived from it: its last step and that step's end
    time. None when ``steps`` does not describe a series of ``rows`` rows, or its last step
    ends without a time (EIS rows): then the rows themselves are read."""
    if (
        steps is None
        or steps.height == 0
        or not {c.STEP_COUNT, "End index", "End time [s]"} <= set(steps.columns)
    ):
        return None
    last = steps.row(steps.height - 1, named=True)
    if last["End index"] != rows - 1 or last[c.STEP_COUNT] is None or last["End time [s]"] is None:
        return None
    return Boundary(step_count=int(last[c.STEP_COUNT]), time=float(last["End time [s]"]))
