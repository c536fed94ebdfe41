"""Normalising a reader's table batch by batch, so a file of any size converts in bounded memory.

A reader that can stream offers ``read_batches(path)``: the file's table as a sequence of
:class:`~cellstore.formats.base.RawSeries` with one schema, in row order, the first one
carrying what the file says about the test. :class:`StreamNormaliser` turns each into
its part of the §6.1 series, carrying across batch boundaries everything
:func:`~cellstore.formats.normalise.normalise` computes over the whole table: the time
origin and ``start_time``, the last step and cycle numbers with the running ``Step count``
and ``Cycle count``, each step's first capacity and energy values, the direction of the
current, and the data row number that a "goes backwards" error names. Concatenated, the
batches are exactly ``normalise(reader.read(path)).frame``; the tests hold them to that.

:func:`write_parquet` writes the batches as they come into the stored parquet layout
(:mod:`cellstore.processing.parquet`: zstd, row groups of ``ROW_GROUP_SIZE``), on a
second thread so that parsing and writing overlap.

Some decisions of the whole-file readers look at the whole table (a column is a number
only if every value is one; the file's encoding). The streaming readers take them from a
sample at the start, and raise :class:`NotStreamable` as soon as a later part of the file
contradicts the sample; the conversion then reads the file whole, so the result never
depends on the path taken.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from cellstore.formats.base import FormatError, RawSeries
from cellstore.formats.normalise import (
    _PER_STEP,
    _SPLIT,
    REST_CURRENT,
    NormalisedSeries,
    _ordered,
    as_utc,
    duration_seconds,
    normalise,
    reads_local_clock,
)
from cellstore.processing import columns as c
from cellstore.processing import parquet


class NotStreamable(Exception):
    """This file (or a part of it met later) has to be read whole; the whole-file reader decides."""


class BatchReader(Protocol):
    """A reader that can also hand its table over in batches."""

    family: str

    def read_batches(self, path: Path) -> Iterator[RawSeries]:
        """The table in batches (the first carries the file's metadata); :class:`NotStreamable` when
        the file cannot be streamed, :class:`FormatError` where ``read`` would raise it."""
        ...


def can_stream(reader: object) -> bool:
    return callable(getattr(reader, "read_batches", None))


# --- carried state -------------------------------------------------------------------------


@dataclass
class _Carry:
    """What one batch leaves for the next."""

    rows: int = 0
    time_dtype: pl.DataType | None = None
    origin: Any = None  # first absolute timestamp, when time is a timestamp
    offset: float | None = None  # first known time in seconds
    last_time: float | None = None  # last known (forward-filled) relative time
    start_time: datetime | None = None
    #: Last forward-filled value of each column whose changes count steps or cycles.
    last_filled: dict[str, Any] = field(default_factory=dict)
    step: int | None = None  # Step count of the last row
    step_before: int | None = None  # ... of the previous batch's last row, while a batch is worked on
    cycle_changes: int = 0  # cycle changes counted so far (``Cycle count`` before taking each step's first)
    #: Per column: the values at each step's first row (only the last step when steps are derived).
    step_firsts: dict[str, pl.DataFrame] = field(default_factory=dict)
    #: Throughput counters: the last raw value and the running per-step sums of the split columns.
    last_raw: dict[str, Any] = field(default_factory=dict)
    split_sums: dict[str, float] = field(default_factory=dict)
    #: Per-step columns: last non-null value (what a forward fill carries over).
    last_known: dict[str, Any] = field(default_factory=dict)


_CARRY = "__carry__"
_VALUE = "__value__"


def _per_million(microseconds: pl.Expr, height: int, rows_before: int) -> pl.Expr:
    """Microseconds as seconds, rounded as the whole-table division rounds them.

    Polars divides a column of more than one row by a literal as a multiplication by its
    reciprocal, and a single row by a true division; a one-row batch inside a longer table
    has to take the former.
    """
    value = microseconds.cast(pl.Float64)
    if height == 1 and rows_before == 0:
        return value / 1e6
    return value * (1.0 / 1e6)


class StreamNormaliser:
    """:func:`~cellstore.formats.normalise.normalise`, one batch at a time."""

    def __init__(self) -> None:
        self._carry = _Carry()
        self._family: str | None = None
        self._meta: RawSeries | None = None
        self._schema: pl.Schema | None = None
        self._raw_schema: pl.Schema | None = None
        self._derived = True

    # -- public ---------------------------------------------------------------------------

    def push(self, raw: RawSeries) -> pl.DataFrame:
        """The normalised rows of ``raw``, the next batch of the table (possibly none)."""
        frame = raw.frame
        if self._meta is None:
            self._meta = raw
            self._family = raw.family
            self._raw_schema = frame.schema
            self._carry.start_time = as_utc(raw.start_time)
            self._derived = c.STEP_COUNT not in frame.columns
        elif frame.schema != self._raw_schema:
            raise NotStreamable(f"the columns changed after row {self._carry.rows}")
        if frame.height == 0:
            return self._empty(frame)
        if self._carry.time_dtype is None:
            if c.TIME not in frame.columns:
                raise FormatError(f"{raw.family}: no column could be read as {c.TIME}.")
            self._carry.time_dtype = frame.schema[c.TIME]
        self._carry.step_before = self._carry.step
        out = self._time(frame)
        out = self._counts(out)
        out = self._split(out)
        out = self._per_step(out)
        out = out.with_columns(
            [pl.col(n).cast(c.MEASURED_DTYPE) for n in c.MEASURED_COLUMNS if n in out.columns]
            + [pl.col(n).cast(c.COUNT_DTYPE) for n in c.COUNT_COLUMNS if n in out.columns]
        )
        out = out.select(_ordered(out.columns))
        if self._schema is None:
            self._schema = out.schema
        elif out.schema != self._schema:
            raise NotStreamable(f"the normalised columns changed after row {self._carry.rows}")
        self._carry.rows += frame.height
        return out

    @property
    def rows(self) -> int:
        return self._carry.rows

    def finish(self) -> NormalisedSeries:
        """The series' context once every batch is in (its ``frame`` holds no rows, only the columns)."""
        if self._meta is None or self._carry.rows == 0:
            family = self._family or "file"
            raise FormatError(f"{family}: the file holds no data rows.")
        return NormalisedSeries(
            frame=pl.DataFrame(schema=self._schema),
            family=self._meta.family,
            start_time=self._carry.start_time,
            local_clock=reads_local_clock(self._meta),
            test_setup={"format": self._meta.family, **self._meta.test_setup},
            protocol=dict(self._meta.protocol),
        )

    # -- the steps of normalise, carried --------------------------------------------------

    def _empty(self, frame: pl.DataFrame) -> pl.DataFrame:
        return frame.clear() if self._schema is None else pl.DataFrame(schema=self._schema)

    def _time(self, frame: pl.DataFrame) -> pl.DataFrame:
        carry, dtype, time = self._carry, self._carry.time_dtype, pl.col(c.TIME)
        if isinstance(dtype, pl.Datetime):
            if carry.origin is None:
                known = frame[c.TIME].drop_nulls()
                if known.len():
                    carry.origin = known[0]
                    carry.start_time = as_utc(carry.origin)
            if carry.origin is None:
                seconds = pl.lit(None, dtype=pl.Float64)
            else:
                origin = pl.lit(carry.origin, dtype=dtype)
                seconds = _per_million((time - origin).dt.total_microseconds(), frame.height, carry.rows)
        elif isinstance(dtype, pl.Duration):
            seconds = _per_million(time.dt.total_microseconds(), frame.height, carry.rows)
        elif dtype == pl.String:
            seconds = duration_seconds(time)
        else:
            seconds = time.cast(pl.Float64)
        frame = frame.with_columns(seconds.alias(c.TIME))
        if carry.offset is None:
            known = frame[c.TIME].drop_nulls()
            if not known.len():
                return frame
            carry.offset = known[0]
            if carry.offset and carry.start_time is not None and not isinstance(dtype, pl.Datetime):
                carry.start_time = carry.start_time + timedelta(seconds=carry.offset)
        frame = frame.with_columns(pl.col(c.TIME) - carry.offset)
        self._check_monotonic(frame[c.TIME])
        return frame

    def _check_monotonic(self, time: pl.Series) -> None:
        carry = self._carry
        filled = time.fill_null(strategy="forward")
        if carry.last_time is not None:
            filled = filled.fill_null(carry.last_time)
        before = filled.shift(1, fill_value=carry.last_time)
        back = (filled < before - c.TIME_TOLERANCE).fill_null(False)
        if back.any():
            row = int(back.arg_max())
            previous = filled[row - 1] if row else carry.last_time
            raise FormatError(
                f"{self._family}: {c.TIME} goes backwards at data row {carry.rows + row} (from "
                f"{previous!r} to {filled[row]!r}); cellstore does not reorder rows, so the file "
                "cannot be imported as is."
            )
        if filled.len() and filled[-1] is not None:
            carry.last_time = filled[-1]

    def _changes(self, frame: pl.DataFrame, expr: pl.Expr, key: str) -> pl.Series:
        """``normalise._changes`` continued from the previous batch (its last forward-filled value)."""
        carry = self._carry
        values = frame.select(expr.alias(_VALUE)).to_series()
        dtype = values.dtype
        filled = values.forward_fill()
        previous = carry.last_filled.get(key)
        if previous is not None:
            filled = filled.fill_null(pl.Series([previous], dtype=dtype))
            shifted = pl.concat([pl.Series([previous], dtype=dtype), filled.slice(0, filled.len() - 1)])
        else:
            shifted = filled.shift(1)
        change = filled.ne_missing(shifted).fill_null(False)
        if carry.rows == 0:
            change = change & (pl.int_range(filled.len(), eager=True) > 0)
        if filled.len():
            carry.last_filled[key] = filled[-1] if filled[-1] is not None else previous
        return change

    def _counts(self, frame: pl.DataFrame) -> pl.DataFrame:
        columns, carry = frame.columns, self._carry
        if not self._derived:
            step = pl.col(c.STEP_COUNT)
        else:
            if c.STEP_FROM_CYCLER in columns:
                change = self._changes(frame, pl.col(c.STEP_FROM_CYCLER), "step")
                if c.CYCLE_FROM_CYCLER in columns:
                    change = change | self._changes(frame, pl.col(c.CYCLE_FROM_CYCLER), "cycle-step")
            elif c.CURRENT in columns:
                current = pl.col(c.CURRENT).cast(pl.Float64)
                direction = pl.when(current > REST_CURRENT).then(1).when(current < -REST_CURRENT).then(-1)
                change = self._changes(frame, direction.otherwise(0), "direction")
            else:
                change = pl.Series([False] * frame.height)
            if c.STEP_FROM_CYCLER not in columns and c.CYCLE_FROM_CYCLER in columns:
                change = change | self._changes(frame, pl.col(c.CYCLE_FROM_CYCLER), "cycle-step")
            step = change.cast(pl.Int64).cum_sum() + (carry.step or 0)
            frame = frame.with_columns(step.alias(c.STEP_COUNT))
            carry.step = step[-1]
        if c.CYCLE_FROM_CYCLER in columns and c.CYCLE_COUNT not in columns:
            cycle = self._changes(frame, pl.col(c.CYCLE_FROM_CYCLER), "cycle").cast(pl.Int64).cum_sum()
            frame = frame.with_columns((cycle + carry.cycle_changes).alias(c.CYCLE_COUNT))
            carry.cycle_changes = frame[c.CYCLE_COUNT][-1]
            firsts = self._step_firsts(frame, pl.col(c.CYCLE_COUNT), c.CYCLE_COUNT)
            frame = frame.with_columns(firsts.alias(c.CYCLE_COUNT))
        return frame

    def _step_firsts(self, frame: pl.DataFrame, expr: pl.Expr, key: str) -> pl.Series:
        """``expr.first().over(Step count)`` where a step may have begun in an earlier batch.

        The first value of every step seen so far is remembered (only the last step's when
        steps are derived, since those never come back); a remembered null is still open.
        """
        values = frame.select(pl.col(c.STEP_COUNT), expr.alias(_VALUE))
        firsts = values.group_by(c.STEP_COUNT, maintain_order=True).agg(pl.col(_VALUE).first())
        known = self._carry.step_firsts.get(key)
        if known is not None:
            firsts = firsts.join(
                known, on=c.STEP_COUNT, how="left", nulls_equal=True, suffix=_CARRY, maintain_order="left"
            ).select(c.STEP_COUNT, pl.coalesce(f"{_VALUE}{_CARRY}", _VALUE).alias(_VALUE))
        if self._derived:
            self._carry.step_firsts[key] = firsts.tail(1)
        elif known is None:
            self._carry.step_firsts[key] = firsts
        else:
            merged = pl.concat([known, firsts], how="vertical_relaxed")
            self._carry.step_firsts[key] = merged.unique(c.STEP_COUNT, keep="last", maintain_order=True)
        joined = values.select(c.STEP_COUNT).join(
            firsts, on=c.STEP_COUNT, how="left", nulls_equal=True, maintain_order="left"
        )
        return joined[_VALUE]

    def _split(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``normalise._split_throughput``, with the previous batch's last row put in front.

        The carried row holds the running sums, so each step's cumulative sum continues in
        exactly the order (and with exactly the rounding) of the whole-table one.
        """
        if c.CURRENT not in frame.columns:
            return frame
        todo = [
            (source, discharge, charge)
            for source, discharge, charge in _SPLIT
            if source in frame.columns and not (discharge in frame.columns and charge in frame.columns)
        ]
        if not todo:
            return frame
        if not self._derived:
            raise NotStreamable("throughput counters split under the file's own step count")
        carry = self._carry
        first_batch = carry.rows == 0
        current = pl.col(c.CURRENT).cast(pl.Float64)
        carried = pl.col(_CARRY)
        for source, discharge, charge in todo:
            value = pl.col(source).cast(pl.Float64)
            part = frame.select(
                pl.col(c.STEP_COUNT),
                value.alias(source),
                current.alias(c.CURRENT),
                pl.lit(False).alias(_CARRY),
            )
            wanted = [n for n in (discharge, charge) if n not in frame.columns]
            if not first_batch:
                head = {
                    c.STEP_COUNT: [carry.step_before],
                    source: [carry.last_raw.get(source)],
                    c.CURRENT: [None],
                    _CARRY: [True],
                }
                for name in wanted:
                    head[name] = [carry.split_sums.get(name, 0.0)]
                head_frame = pl.DataFrame(head, schema={**part.schema, **dict.fromkeys(wanted, pl.Float64)})
                part = pl.concat(
                    [head_frame, part.with_columns(pl.lit(None, pl.Float64).alias(n) for n in wanted)]
                )
            rise = (pl.col(source) - pl.col(source).shift(1)).abs().fill_null(0.0).over(c.STEP_COUNT)
            rise = pl.when(pl.int_range(pl.len()).over(c.STEP_COUNT) == 0).then(0.0).otherwise(rise)
            current_part = pl.col(c.CURRENT)
            exprs = []
            for name, sign in ((discharge, current_part > 0), (charge, current_part < 0)):
                if name not in wanted:
                    continue
                step_rise = pl.when(sign).then(rise).otherwise(0.0)
                if not first_batch:
                    step_rise = pl.when(carried).then(pl.col(name)).otherwise(step_rise)
                exprs.append(step_rise.cum_sum().over(c.STEP_COUNT).alias(name))
            part = part.with_columns(exprs)
            if not first_batch:
                part = part.slice(1)
            for name in wanted:
                carry.split_sums[name] = part[name][-1]
            carry.last_raw[source] = part[source][-1]
            frame = frame.with_columns(part[wanted].get_columns())
        return frame

    def _per_step(self, frame: pl.DataFrame) -> pl.DataFrame:
        exprs = []
        for name in _PER_STEP:
            if name not in frame.columns:
                continue
            value = frame[name].cast(pl.Float64)
            filled = value.forward_fill()
            last = self._carry.last_known.get(name)
            if last is not None:
                filled = filled.fill_null(last)
            known = value.drop_nulls()
            if known.len():
                self._carry.last_known[name] = known[-1]
            start = self._step_firsts(
                frame.with_columns(filled.backward_fill().alias(_VALUE)), pl.col(_VALUE), name
            )
            exprs.append((pl.col(name).cast(pl.Float64) - start).abs().alias(name))
        return frame.with_columns(exprs) if exprs else frame


def normalise_batches(
    batches: Iterable[RawSeries], normaliser: StreamNormaliser | None = None
) -> Iterator[pl.DataFrame]:
    """The normalised batches of ``batches`` (see :class:`StreamNormaliser`; ``finish`` it afterwards)."""
    normaliser = normaliser or StreamNormaliser()
    for raw in batches:
        out = normaliser.push(raw)
        if out.height:
            yield out
    if normaliser.rows == 0:
        normaliser.finish()  # refuses the empty table


# --- writing ---------------------------------------------------------------------------------


def write_parquet(batches: Iterable[pl.DataFrame], path: Path) -> int:
    """Write ``batches`` (one schema) to ``path`` atomically in the stored layout; returns the rows.

    Rows are gathered into row groups of :data:`~cellstore.processing.parquet.ROW_GROUP_SIZE`;
    the writing runs on its own thread, at most two row groups behind the batches.
    """
    with parquet.atomic(path) as tmp:
        writer = _Writer(tmp)
        try:
            pending: list[pl.DataFrame] = []
            buffered = 0
            for frame in batches:
                pending.append(frame)
                buffered += frame.height
                if buffered >= parquet.ROW_GROUP_SIZE:
                    whole = pl.concat(pending, rechunk=False)
                    cut = buffered - buffered % parquet.ROW_GROUP_SIZE
                    writer.put(whole.slice(0, cut))
                    rest = whole.slice(cut)
                    pending, buffered = ([rest], rest.height) if rest.height else ([], 0)
            if pending:
                writer.put(pl.concat(pending, rechunk=False))
        except BaseException:
            writer.abort()
            raise
        return writer.close()


class _Writer:
    """A ``pyarrow.parquet.ParquetWriter`` fed through a short queue by another thread."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._queue: queue.Queue[pl.DataFrame | None] = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._rows = 0
        self._thread = threading.Thread(target=self._run, name="cellstore-parquet-writer", daemon=True)
        self._thread.start()

    def put(self, frame: pl.DataFrame) -> None:
        while True:
            if self._error is not None:
                raise self._error
            try:
                self._queue.put(frame, timeout=0.5)
                return
            except queue.Full:
                continue

    def close(self) -> int:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._rows

    def abort(self) -> None:
        while True:  # make room for the end mark even if the writer has stopped taking
            try:
                self._queue.put_nowait(None)
                break
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self._queue.get_nowait()
        self._thread.join()

    def _run(self) -> None:
        writer: pq.ParquetWriter | None = None
        try:
            while (frame := self._queue.get()) is not None:
                table = frame.to_arrow(compat_level=pl.CompatLevel.oldest())
                if writer is None:
                    strings = [f.name for f in table.schema if pa.types.is_large_string(f.type)]
                    writer = pq.ParquetWriter(
                        self._path, table.schema, compression=parquet.COMPRESSION, use_dictionary=strings
                    )
                elif table.schema != writer.schema:
                    table = table.cast(writer.schema)
                writer.write_table(table, row_group_size=parquet.ROW_GROUP_SIZE)
                self._rows += table.num_rows
        except BaseException as exc:  # handed to the producing thread
            self._error = exc
            while self._queue.get() is not None:  # let the producer finish putting
                pass
        finally:
            if writer is not None:
                writer.close()


def convert(
    reader: Any,
    path: Path,
    out: Path,
    *,
    read_whole: Callable[[], NormalisedSeries] | None = None,
) -> NormalisedSeries:
    """Read ``path`` with ``reader``, normalise it and write the series to ``out`` (parquet).

    Streams when the reader can (``read_batches``) and the file lets it; otherwise, or when
    the file turns out not to be streamable part-way, reads it whole.
    """
    if can_stream(reader):
        normaliser = StreamNormaliser()
        try:
            write_parquet(normalise_batches(reader.read_batches(path), normaliser), out)
        except NotStreamable:
            pass  # read whole below; the half-written file is gone
        else:
            return normaliser.finish()

    series = read_whole() if read_whole is not None else normalise(reader.read(path))
    parquet.write(series.frame, out)
    return series
