"""One pass over a stored series, a batch of rows at a time: validation and step summaries together.

Reading the parquet is most of the cost of processing a series, so it is read once,
in batches of half a million rows (the next one decoded on a thread while this one is
worked on), and each batch is checked (the row rules of
:mod:`~cellstore.processing.validation`, continuing from the end of the batch before)
and reduced to one row per step. Peak memory is then about two batches plus the open
step, not the series (under 400 MB at 50M rows): a step cut by the end of a batch
stays open (its rows kept) until the batch where it ends, and is aggregated whole, so
every statistic is computed exactly as on the whole series. The price is that one
step of many millions of rows is held whole; cycler data has nothing like it.

When a batch breaks a rule the whole series is validated the ordinary way, so the
error names the same rows and counts as :func:`~cellstore.processing.validation.validate_series`.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from cellstore.processing import columns as c
from cellstore.processing import parquet
from cellstore.processing import steps as s
from cellstore.processing.errors import SeriesError
from cellstore.processing.validation import (
    Boundary,
    canonical_casts,
    check_columns,
    check_series,
    plainly_valid,
    validate_series,
)

#: Rows per batch: large enough that per-batch overheads vanish, small enough to keep memory flat.
BATCH_ROWS = 1 << 19
#: The longest tail of a series (:func:`tail_start`) kept beside its steps for the next extend.
TAIL_LIMIT = 1 << 16


@dataclass(frozen=True)
class Summary:
    """The steps of a series (labelled, with cycle sums), its row count and column names."""

    steps: pl.DataFrame
    rows: int
    columns: list[str]


@dataclass
class _Accumulator:
    """Steps aggregated so far, and the rows of the step still open at the end of the last batch."""

    has: set[str]
    parts: list[pl.DataFrame] = field(default_factory=list)
    open_rows: pl.DataFrame | None = None

    def add(self, prepared: pl.DataFrame, *, last: bool = False) -> None:
        """Take a prepared batch whose rows follow those already added (``last``: and end the series).

        The open step's rows go in front of the batch (as chunks, not copied), so that each
        batch is one aggregation: a second one for the open step alone costs as much as a
        batch's, whatever its rows. The batch's own last step stays open, unless ``last``
        says that nothing follows to continue it.
        """
        if self.open_rows is not None:
            prepared = pl.concat([self.open_rows, prepared], rechunk=False)
            self.open_rows = None
        if last:
            self.parts.append(s.aggregate(prepared, self.has))
            return
        counts = prepared[c.STEP_COUNT]
        start = counts.search_sorted(counts[-1], side="left")
        if start:
            self.parts.append(s.aggregate(prepared.slice(0, start), self.has))
        self.open_rows = prepared.slice(start)

    def per_step(self) -> pl.DataFrame:
        """Every step added, the open one closed."""
        if self.open_rows is not None:
            self.parts.append(s.aggregate(self.open_rows, self.has))
            self.open_rows = None
        return pl.concat(self.parts) if len(self.parts) > 1 else self.parts[0]


def summarize_file(
    path: Path | pl.LazyFrame, rated_capacity_ah: float | None, *, batch_rows: int = BATCH_ROWS
) -> Summary:
    """Validate the parquet series at ``path`` (or a scan of it, e.g. of its base and segments) and
    summarise its steps, in one streaming pass."""
    series, name = _open(path)
    schema = series.collect_schema()
    check_columns(schema)
    with parquet.reading(name, parquet.SERIES):
        rows = series.select(pl.len()).collect().item()
        batches = read_batches(series.select(_read_columns(schema)), rows, batch_rows)
        per_step, rows = _summarize_batches(batches, schema, whole=series)
    return Summary(s.finish(per_step, set(s.used_columns(schema)), rated_capacity_ah), rows, schema.names())


def read_batches(
    lf: pl.LazyFrame, rows: int, batch_rows: int = BATCH_ROWS, *, start: int = 0
) -> Iterator[pl.DataFrame]:
    """Rows ``start`` to ``rows`` of a parquet scan in order, ``batch_rows`` at a time, reading ahead by one.

    Each batch is a slice of the scan, so polars reads only the row groups it needs.
    A thread reads the next batch while the caller works on this one (polars releases
    the GIL), but never further ahead, so memory stays at about two batches however
    fast the file can be read.
    """
    if rows - start <= batch_rows:  # one batch (an extend's tail, a small series): no thread
        if rows > start:
            yield lf.slice(start, rows - start).collect()
        return
    ahead: queue.SimpleQueue[tuple[pl.DataFrame | None, BaseException | None]] = queue.SimpleQueue()
    may_read = threading.Semaphore(1)
    stop = threading.Event()

    def produce() -> None:
        try:
            for offset in range(start, rows, batch_rows):
                may_read.acquire()
                if stop.is_set():
                    return
                ahead.put((lf.slice(offset, batch_rows).collect(), None))
            ahead.put((None, None))
        except BaseException as exc:  # handed to the consumer, which raises it
            ahead.put((None, exc))

    thread = threading.Thread(target=produce, name="cellstore-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            batch, error = ahead.get()
            may_read.release()
            if error is not None:
                raise error
            if batch is None:
                return
            yield batch
            del batch
    finally:
        stop.set()
        may_read.release()
        thread.join()


@dataclass(frozen=True)
class Extended:
    """The steps of an extended series, and its tail (:func:`tail_start`) when that was in memory
    and at most ``TAIL_LIMIT`` rows."""

    steps: pl.DataFrame
    tail: pl.DataFrame | None


def tail_start(steps: pl.DataFrame) -> int:
    """The first row of a series' tail, the rows an extend reads again: the row before its last
    step (that step's cycle number is counted against it), to the end."""
    return max(int(steps["Start index"][-1]) - 1, 0)


def read_tail(series: Path | pl.LazyFrame, steps: pl.DataFrame, rows: int) -> pl.DataFrame | None:
    """The tail of a series of ``rows`` rows whose steps are ``steps``, in the columns the steps are
    made from; None when it is longer than ``TAIL_LIMIT`` rows (a step that long is read again)."""
    scan, name = _open(series)
    begin = tail_start(steps) if steps.height else rows
    if rows - begin > TAIL_LIMIT:
        return None
    with parquet.reading(name, parquet.SERIES):
        return scan.select(s.used_columns(scan.collect_schema())).slice(begin, rows - begin).collect()


def extend_steps(
    path: Path | pl.LazyFrame,
    previous: pl.DataFrame,
    previous_rows: int,
    rated_capacity_ah: float | None,
    *,
    rows: int | None = None,
    batch_rows: int = BATCH_ROWS,
    extension: pl.DataFrame | None = None,
    tail: pl.DataFrame | None = None,
) -> Extended | None:
    """The steps of the (validated) series at ``path`` (or a scan of it), given ``previous``, those
    of its first rows; ``rows`` is the series' length if the caller knows it. With ``extension``
    (validated rows in memory, in the series' dtypes) the series is ``path`` followed by them.

    ``previous`` summarises the first ``previous_rows`` rows. Only the rows from the
    start of its last step on are read and aggregated (that step may continue in the
    new rows); the earlier steps are kept as they are, and only the cycle of the first
    re-aggregated step is finished again (:func:`~cellstore.processing.steps.refinish`).
    ``tail``, those rows as :func:`read_tail` gave them for the previous steps, spares reading
    them; one that does not fit is ignored. Returns None when ``previous`` is not a derived
    steps table ending at row ``previous_rows - 1`` (an uploaded table, another version's, or
    one of another schema); the caller then processes the whole series.
    """
    series, name = _open(path)
    schema = series.collect_schema()
    used = s.used_columns(schema)
    has = set(used)
    if previous.columns != s.output_columns(has) or previous.height == 0:
        return None
    if previous["End index"][-1] != previous_rows - 1 or previous[c.STEP_COUNT].null_count():
        return None
    last_start, last_cycle = int(previous["Start index"][-1]), int(previous[c.CYCLE_COUNT][-1])
    begin = tail_start(previous)
    casts = _casts(schema, used)
    accumulator = _Accumulator(has)
    # Counting cycles on from the last step's: the shift below is then 0 unless that step began a cycle.
    carry, skip, shift = s.Carry(rows=begin, cycle=last_cycle), last_start - begin, None
    last_batch, last_batch_start = None, begin
    with parquet.reading(name, parquet.SERIES):
        added = extension.height if extension is not None else 0
        total = series.select(pl.len()).collect().item() + added if rows is None else rows
        if _fits(tail, previous_rows - begin, schema, used):
            batches: Iterator[pl.DataFrame] = iter([tail[used]])
        else:
            batches = read_batches(series.select(used), total - added, batch_rows, start=begin)
        if extension is not None:
            batches = _followed_by(batches, extension[used])
        for batch in batches:
            if batch.height == 0:
                continue
            last_batch, last_batch_start = batch, carry.rows
            prepared = s.prepare(batch.with_columns(casts) if casts else batch, has, carry)
            carry = carry.after(prepared, has)  # unshifted: it feeds the next batch's prepare
            last = carry.rows >= total
            dropped = min(skip, prepared.height)
            prepared, skip = prepared.slice(dropped), skip - dropped
            if prepared.height == 0:
                continue
            if shift is None:  # the last previous step's cycle number is known: count on from it
                shift = last_cycle - prepared[s.CYCLE][0]
            if shift:
                prepared = prepared.with_columns(pl.col(s.CYCLE) + shift)
            accumulator.add(prepared, last=last)
    if accumulator.open_rows is None and not accumulator.parts:
        return None
    steps = s.refinish(previous, accumulator.per_step(), has, rated_capacity_ah)
    # The next extend's tail, when the last batch holds it.
    new_begin = tail_start(steps)
    kept = last_batch is not None and new_begin >= last_batch_start and total - new_begin <= TAIL_LIMIT
    return Extended(steps, last_batch.slice(new_begin - last_batch_start) if kept else None)


def _fits(tail: pl.DataFrame | None, rows: int, schema: pl.Schema, used: list[str]) -> bool:
    """Whether ``tail`` can stand for the ``rows`` rows of a series' tail: as many, with its dtypes."""
    if tail is None or tail.height != rows or not set(used) <= set(tail.columns):
        return False
    return all(tail.schema[name] == schema[name] for name in used)


def _followed_by(batches: Iterator[pl.DataFrame], rows: pl.DataFrame) -> Iterator[pl.DataFrame]:
    """``batches`` with ``rows`` (in their dtypes) appended to the last one: an extension's rows
    and the stored tail before them are prepared and aggregated as one batch, not two."""
    last = None
    for batch in batches:
        if last is not None:
            yield last
        last = batch
    yield rows if last is None else pl.concat([last, rows], rechunk=False)


def _open(path: Path | pl.LazyFrame) -> tuple[pl.LazyFrame, Path | str]:
    """A scan of the series and how messages name it."""
    if isinstance(path, pl.LazyFrame):
        return path, "time_series.parquet"
    return parquet.scan(path, parquet.SERIES), path


def summarize_frames(
    batches: Iterable[pl.DataFrame], schema: pl.Schema, rated_capacity_ah: float | None
) -> pl.DataFrame:
    """:func:`summarize_file` over frames already in memory (tests: any batch boundaries)."""
    batches = list(batches)
    whole = pl.concat(batches).lazy() if batches else pl.LazyFrame(schema=schema)
    per_step, _ = _summarize_batches(batches, schema, whole=whole)
    return s.finish(per_step, set(s.used_columns(schema)), rated_capacity_ah)


def _casts(schema: pl.Schema, read: list[str]) -> list[pl.Expr]:
    """The canonical-dtype casts of the columns read (the others are not in the batches)."""
    return canonical_casts(pl.Schema({name: schema[name] for name in read}))


def _read_columns(schema: pl.Schema) -> list[str]:
    """What the summary and the row rules read (``Cycle count`` only for the whole-number rule of floats)."""
    extra = [c.CYCLE_COUNT] if c.CYCLE_COUNT in schema and schema[c.CYCLE_COUNT].is_float() else []
    return s.used_columns(schema) + extra


def _summarize_batches(
    batches: Iterable[pl.DataFrame], schema: pl.Schema, *, whole: pl.LazyFrame
) -> tuple[pl.DataFrame, int]:
    used = s.used_columns(schema)
    has = set(used)
    casts = _casts(schema, _read_columns(schema))
    accumulator = _Accumulator(has)
    boundary, carry = None, s.Carry()
    for batch in batches:
        if batch.height == 0:
            continue
        checked = _checked(batch, boundary, casts, whole)
        prepared = s.prepare(checked[used], has, carry)
        accumulator.add(prepared)
        boundary = _end(prepared, boundary)
        carry = carry.after(prepared, has)
    if carry.rows == 0:
        validate_series(whole)  # raises "has no rows"
    return accumulator.per_step(), carry.rows


def _checked(
    batch: pl.DataFrame, boundary: Boundary | None, casts: list[pl.Expr], whole: pl.LazyFrame
) -> pl.DataFrame:
    """The batch with canonical dtypes, once it passes the row rules (continuing ``boundary``)."""
    if not plainly_valid(batch, boundary):
        try:
            check_series(batch.lazy(), what=parquet.SERIES, continues=boundary)
        except SeriesError:
            validate_series(whole)  # the same error, worded for the whole series
            raise
    checked = batch.with_columns(casts) if casts else batch
    # Checked to never decrease: saying so spares the steps' grouping another look.
    return checked.with_columns(checked[c.STEP_COUNT].set_sorted())


def _end(prepared: pl.DataFrame, before: Boundary | None) -> Boundary:
    """Where the next batch must continue from: the last step and the last known time."""
    time = before.time if before is not None else None
    if c.TIME in prepared.columns:
        known = prepared[c.TIME].drop_nulls()
        if known.len():
            time = known[-1]
    return Boundary(step_count=int(prepared[c.STEP_COUNT][-1]), time=time)
