"""Extending a series: the byte-level parquet append, and steps recomputed only from the last step on."""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from bench._series import cycling_series
from polars.testing import assert_frame_equal

from cellstore.processing import parquet, pipeline, stream
from cellstore.processing.errors import SeriesError
from cellstore.processing.parquet_append import append_parquet
from cellstore.processing.pipeline import append_series, extend_series, process_series

SCALE = 0.05  # cycles of about 630 rows


def write(frame: pl.DataFrame, path: Path) -> Path:
    frame.write_parquet(path, compression=parquet.COMPRESSION, row_group_size=1000)
    return path


def assert_same_as_whole(
    tmp_path: Path, combined: Path, steps: Path, cycles: Path, rated: float | None
) -> None:
    whole = tmp_path / "whole"
    process_series(combined, whole / "steps.parquet", whole / "cycles.parquet", rated_capacity_ah=rated)
    assert_frame_equal(pl.read_parquet(steps), pl.read_parquet(whole / "steps.parquet"), rel_tol=1e-12)
    assert_frame_equal(pl.read_parquet(cycles), pl.read_parquet(whole / "cycles.parquet"), rel_tol=1e-12)


def test_byte_append_keeps_the_existing_bytes_and_reads_back_whole(tmp_path: Path) -> None:
    base = write(cycling_series(5_000, scale=SCALE), tmp_path / "base.parquet")
    delta = cycling_series(1_234, start=5_000, scale=SCALE)
    out = tmp_path / "out.parquet"
    append_series(base, write(delta, tmp_path / "delta.parquet"), out)
    body = base.read_bytes()
    footer_length = int.from_bytes(body[-8:-4], "little")
    assert out.read_bytes().startswith(body[: len(body) - 8 - footer_length])  # not re-encoded
    assert_frame_equal(pl.read_parquet(out), cycling_series(6_234, scale=SCALE))
    metadata = pq.ParquetFile(out).metadata
    assert (metadata.num_rows, metadata.num_row_groups) == (6_234, 6)
    window = pl.scan_parquet(out).slice(4_990, 20).collect()  # range reads across the seam
    assert_frame_equal(window, cycling_series(20, start=4_990, scale=SCALE))
    assert metadata.row_group(5).column(0).has_offset_index  # page indexes moved with the pages


def test_append_of_a_file_from_another_writer_falls_back_to_rewriting(tmp_path: Path) -> None:
    series = cycling_series(3_000, scale=SCALE)
    base = tmp_path / "base.parquet"
    pq.write_table(series.head(2_000).to_arrow(), base, compression="snappy", row_group_size=700)
    assert not append_parquet(
        base, write(series.tail(1_000), tmp_path / "d0.parquet"), tmp_path / "x.parquet"
    )
    out = tmp_path / "out.parquet"
    append_series(base, write(series.tail(1_000), tmp_path / "delta.parquet"), out)
    assert_frame_equal(pl.read_parquet(out), series)


@pytest.mark.parametrize(
    ("existing_rows", "delta_rows"),
    [
        (5_000, 10),  # the extension continues the last step
        (5_000, 3_000),  # ... and goes on for several cycles
        (4_455, 200),  # the existing series ends exactly at a step boundary
        (1, 50),  # the existing series is a single row
    ],
)
@pytest.mark.parametrize("rated", [5.0, None])
def test_extend_recomputes_the_tail_and_equals_processing_the_whole(
    tmp_path: Path, existing_rows: int, delta_rows: int, rated: float | None
) -> None:
    base = write(cycling_series(existing_rows, scale=SCALE), tmp_path / "base.parquet")
    previous = tmp_path / "previous"
    process_series(base, previous / "steps.parquet", previous / "cycles.parquet", rated_capacity_ah=rated)
    delta = write(cycling_series(delta_rows, start=existing_rows, scale=SCALE), tmp_path / "delta.parquet")
    out, steps, cycles = tmp_path / "out.parquet", tmp_path / "steps.parquet", tmp_path / "cycles.parquet"
    result = extend_series(
        base, delta, out, steps, cycles, previous_steps=previous / "steps.parquet", rated_capacity_ah=rated
    )
    assert result.rows == existing_rows + delta_rows
    assert_same_as_whole(tmp_path, out, steps, cycles, rated)


def test_a_larger_current_in_the_extension_relabels_earlier_steps(tmp_path: Path) -> None:
    """Without a rated capacity the tolerances follow the largest current, which the extension can raise."""
    series = cycling_series(3_000, scale=SCALE)
    base = write(series, tmp_path / "base.parquet")
    process_series(base, tmp_path / "p" / "steps.parquet", tmp_path / "p" / "cycles.parquet")
    spike = cycling_series(5, start=3_000, scale=SCALE).with_columns(pl.lit(900.0).alias("Current [A]"))
    delta = write(spike, tmp_path / "delta.parquet")
    out, steps, cycles = tmp_path / "out.parquet", tmp_path / "steps.parquet", tmp_path / "cycles.parquet"
    extend_series(base, delta, out, steps, cycles, previous_steps=tmp_path / "p" / "steps.parquet")
    assert_same_as_whole(tmp_path, out, steps, cycles, None)


def test_successive_extends(tmp_path: Path) -> None:
    current = write(cycling_series(2_000, scale=SCALE), tmp_path / "v0.parquet")
    previous = tmp_path / "s0.parquet"
    process_series(current, previous, tmp_path / "c0.parquet", rated_capacity_ah=5.0)
    start = 2_000
    for version in range(1, 5):
        delta = write(cycling_series(700, start=start, scale=SCALE), tmp_path / f"d{version}.parquet")
        out, steps = tmp_path / f"v{version}.parquet", tmp_path / f"s{version}.parquet"
        cycles = tmp_path / f"c{version}.parquet"
        extend_series(current, delta, out, steps, cycles, previous_steps=previous, rated_capacity_ah=5.0)
        current, previous, start = out, steps, start + 700
    assert_frame_equal(pl.read_parquet(current), cycling_series(start, scale=SCALE))
    assert_same_as_whole(tmp_path, current, previous, tmp_path / "c4.parquet", 5.0)


def test_a_steps_table_of_another_series_is_not_used(tmp_path: Path) -> None:
    base = write(cycling_series(3_000, scale=SCALE), tmp_path / "base.parquet")
    other = write(cycling_series(2_000, scale=SCALE, seed=9), tmp_path / "other.parquet")
    process_series(other, tmp_path / "other_steps.parquet", tmp_path / "other_cycles.parquet")
    delta = write(cycling_series(100, start=3_000, scale=SCALE), tmp_path / "delta.parquet")
    out, steps, cycles = tmp_path / "out.parquet", tmp_path / "steps.parquet", tmp_path / "cycles.parquet"
    extend_series(base, delta, out, steps, cycles, previous_steps=tmp_path / "other_steps.parquet")
    assert_same_as_whole(tmp_path, out, steps, cycles, None)


@pytest.mark.parametrize("batch_rows", [1, 2, 7, 500])
def test_the_tail_in_small_batches_counts_cycles_on(tmp_path: Path, batch_rows: int) -> None:
    """Cycles change inside the tail; the cycle numbers continue those of the previous steps."""
    base = write(cycling_series(1_500, scale=0.02), tmp_path / "base.parquet")
    previous = tmp_path / "steps.parquet"
    process_series(base, previous, tmp_path / "cycles.parquet")
    out = tmp_path / "out.parquet"
    append_series(base, write(cycling_series(900, start=1_500, scale=0.02), tmp_path / "d.parquet"), out)
    extended = stream.extend_steps(out, pl.read_parquet(previous), 1_500, None, batch_rows=batch_rows)
    assert extended is not None
    steps = extended.steps
    assert steps["Cycle count"].n_unique() > pl.read_parquet(previous)["Cycle count"].n_unique() + 1
    assert_frame_equal(steps, stream.summarize_file(out, None).steps, rel_tol=1e-12)


def _processed(tmp_path: Path, frame: pl.DataFrame) -> tuple[Path, pl.DataFrame]:
    """``frame`` stored and processed: its path and its derived steps."""
    base = write(frame, tmp_path / "base.parquet")
    process_series(base, tmp_path / "steps.parquet", tmp_path / "cycles.parquet", rated_capacity_ah=5.0)
    return base, pl.read_parquet(tmp_path / "steps.parquet")


@pytest.mark.parametrize("in_memory", [True, False], ids=["small extension", "streamed extension"])
def test_the_end_of_the_series_is_taken_from_its_steps_without_reading_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_memory: bool
) -> None:
    base, steps = _processed(tmp_path, cycling_series(5_000, scale=SCALE))
    # the same end as the rows tell
    assert pipeline._end_of_steps(steps, 5_000) == pipeline._end_of(pl.scan_parquet(base), 5_000)
    assert pipeline._end_of_steps(steps, 4_999) is None  # steps of another series
    monkeypatch.setattr(pipeline, "_end_of", lambda *args: pytest.fail("read the rows"))
    if not in_memory:  # as an extension too large to hold is checked and written
        monkeypatch.setattr(pipeline, "SMALL_EXTENSION_ROWS", 0)
    delta = cycling_series(300, start=5_000, scale=SCALE)
    good = write(delta.with_columns(pl.col("Step count").cast(pl.Int32)), tmp_path / "good.parquet")
    segment = pipeline.write_segment(base, good, tmp_path / "segment.parquet", previous_steps=steps)
    assert (segment.previous_rows, segment.rows) == (5_000, 300)
    # in the stored series' dtypes, encoded in memory when small
    assert isinstance(segment.stored, io.BytesIO) == in_memory
    assert_frame_equal(pl.read_parquet(segment.stored), delta)
    # An extension that starts before the stored end, or skips a step, is refused as before.
    backwards = cycling_series(300, start=5_000, scale=SCALE).with_columns(pl.col("Time [s]") - 10.0)
    skipping = cycling_series(300, start=5_000, scale=SCALE).with_columns(pl.col("Step count") + 2)
    for bad, column in ((backwards, "Time [s]"), (skipping, "Step count")):
        with pytest.raises(SeriesError) as raised:
            pipeline.write_segment(
                base, write(bad, tmp_path / "bad.parquet"), tmp_path / "x.parquet", previous_steps=steps
            )
        assert raised.value.column == column


def test_a_series_ending_without_a_time_is_read_for_its_last_time(tmp_path: Path) -> None:
    """EIS rows at the end have no time: the last known time is further back, in the rows."""
    frame = cycling_series(2_000, scale=SCALE)
    eis = frame.tail(5).with_columns(
        pl.lit(None, pl.Float64).alias("Time [s]"), pl.lit(1_000.0).alias("Frequency [Hz]")
    )
    frame = pl.concat([frame.with_columns(pl.lit(None, pl.Float64).alias("Frequency [Hz]")), eis])
    base, steps = _processed(tmp_path, frame)
    assert steps["End time [s]"][-1] is None
    last_time = frame["Time [s]"].drop_nulls()[-1]
    early = frame.tail(1).with_columns(
        pl.lit(last_time - 1.0).alias("Time [s]"), pl.lit(None).alias("Frequency [Hz]")
    )
    with pytest.raises(SeriesError, match="Time"):
        pipeline.write_segment(
            base, write(early, tmp_path / "early.parquet"), tmp_path / "x.parquet", previous_steps=steps
        )
    on_time = early.with_columns(pl.lit(last_time).alias("Time [s]"))
    segment = pipeline.write_segment(
        base, write(on_time, tmp_path / "on_time.parquet"), tmp_path / "y.parquet", previous_steps=steps
    )
    assert segment.rows == 1


@pytest.mark.parametrize("in_memory", [True, False], ids=["rows in memory", "rows read back"])
def test_an_extension_stored_as_a_segment_derives_as_processing_the_whole(
    tmp_path: Path, in_memory: bool
) -> None:
    """The extend job's path: the segment written, then the steps and cycles derived from the
    base and the segment, with the segment's rows taken from memory when write_segment holds them."""
    base, previous = _processed(tmp_path, cycling_series(2_000, scale=SCALE))
    delta = write(cycling_series(1_300, start=2_000, scale=SCALE), tmp_path / "delta.parquet")
    segment_path = tmp_path / "segment.parquet"
    segment = pipeline.write_segment(base, delta, segment_path, previous_steps=previous)
    assert segment.frame is not None and not segment_path.exists()  # a small extension is held
    assert segment.stored == delta  # already as a segment is written: stored as uploaded
    assert_frame_equal(segment.frame, pl.read_parquet(delta))
    if not in_memory:  # as once the segment is stored
        shutil.copyfile(delta, segment_path)
    steps, cycles = tmp_path / "steps_ext.parquet", tmp_path / "cycles_ext.parquet"
    result = pipeline.derive_extended(
        [base, segment_path],
        segment.previous_rows,
        steps,
        cycles,
        previous_steps=previous,
        rated_capacity_ah=5.0,
        extension=segment.frame if in_memory else None,
    )
    assert result.rows == 3_300
    assert append_series(base, delta, tmp_path / "combined.parquet") == 3_300
    assert_same_as_whole(tmp_path, tmp_path / "combined.parquet", steps, cycles, 5.0)


@pytest.mark.parametrize("batch_rows", [1, 7, 500])
def test_rows_in_memory_continue_the_stored_tail_in_any_batches(tmp_path: Path, batch_rows: int) -> None:
    """The stored rows of the last step, read in batches, then the extension's rows from memory."""
    base, previous = _processed(tmp_path, cycling_series(1_500, scale=0.02))
    extension = cycling_series(900, start=1_500, scale=0.02)
    extended = stream.extend_steps(base, previous, 1_500, 5.0, batch_rows=batch_rows, extension=extension)
    assert extended is not None
    whole = write(pl.concat([pl.read_parquet(base), extension]), tmp_path / "whole.parquet")
    assert_frame_equal(extended.steps, stream.summarize_file(whole, 5.0).steps, rel_tol=1e-12)


@pytest.mark.parametrize(
    ("writer", "as_uploaded"),
    [
        (lambda frame, path: frame.write_parquet(path, compression="zstd", row_group_size=100), True),
        (lambda frame, path: frame.write_parquet(path, compression="snappy"), False),
        (lambda frame, path: frame.write_parquet(path, compression="zstd", row_group_size=200_000), False),
        (lambda frame, path: pq.write_table(frame.to_arrow(), path, compression="zstd"), False),
    ],
    ids=["as cellstore writes", "other compression", "larger row groups", "another writer"],
)
def test_an_extension_written_as_cellstore_writes_is_its_own_segment(
    tmp_path: Path, writer: Callable[[pl.DataFrame, Path], object], as_uploaded: bool
) -> None:
    """Not encoded again when it is already as the segment would be; otherwise re-encoded, so that
    every stored part can be joined by copying its row groups."""
    base, previous = _processed(tmp_path, cycling_series(2_000, scale=SCALE))
    extension = cycling_series(150_000, start=2_000, scale=SCALE)
    delta = tmp_path / "delta.parquet"
    writer(extension, delta)
    segment = pipeline.write_segment(base, delta, tmp_path / "s.parquet", previous_steps=previous)
    assert (segment.stored == delta) == as_uploaded
    stored = tmp_path / "segment.parquet"
    content = segment.stored
    stored.write_bytes(content.read_bytes() if isinstance(content, Path) else content.getvalue())
    assert append_parquet(base, stored, tmp_path / "joined.parquet")  # row groups copied, not rewritten
    whole = pl.concat([pl.read_parquet(base), extension])
    assert_frame_equal(pl.read_parquet(tmp_path / "joined.parquet"), whole)
    groups = pq.read_metadata(stored).to_dict()["row_groups"]
    assert max(group["num_rows"] for group in groups) <= parquet.ROW_GROUP_SIZE


def test_the_stored_tail_stands_for_the_rows_of_the_last_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the tail kept from the previous processing, the series itself is not read; the tail
    handed on is the extended series' own."""
    base, previous = _processed(tmp_path, cycling_series(2_000, scale=SCALE))
    tail = stream.read_tail(base, previous, 2_000)
    assert tail is not None and tail.height == 2_000 - stream.tail_start(previous)
    extension = cycling_series(700, start=2_000, scale=SCALE)
    whole = write(pl.concat([pl.read_parquet(base), extension]), tmp_path / "whole.parquet")
    expected = stream.summarize_file(whole, 5.0).steps
    monkeypatch.setattr(stream, "read_batches", lambda *a, **k: pytest.fail("read the series"))
    extended = stream.extend_steps(base, previous, 2_000, 5.0, extension=extension, tail=tail)
    assert extended is not None
    assert_frame_equal(extended.steps, expected, rel_tol=1e-12)
    assert extended.tail is not None
    assert_frame_equal(extended.tail, stream.read_tail(whole, expected, 2_700))


@pytest.mark.parametrize("wrong", ["rows", "dtype", "column"])
def test_a_tail_that_does_not_fit_is_ignored(tmp_path: Path, wrong: str) -> None:
    base, previous = _processed(tmp_path, cycling_series(2_000, scale=SCALE))
    tail = stream.read_tail(base, previous, 2_000)
    assert tail is not None
    spoiled = {
        "rows": tail.slice(1),
        "dtype": tail.with_columns(pl.col("Voltage [V]").cast(pl.Float32)),
        "column": tail.drop("Current [A]"),
    }[wrong]
    extension = cycling_series(700, start=2_000, scale=SCALE)
    extended = stream.extend_steps(base, previous, 2_000, 5.0, extension=extension, tail=spoiled)
    assert extended is not None
    whole = write(pl.concat([pl.read_parquet(base), extension]), tmp_path / "whole.parquet")
    assert_frame_equal(extended.steps, stream.summarize_file(whole, 5.0).steps, rel_tol=1e-12)


def test_a_tail_longer_than_the_limit_is_not_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base, previous = _processed(tmp_path, cycling_series(2_000, scale=SCALE))
    rows = 2_000 - stream.tail_start(previous)
    monkeypatch.setattr(stream, "TAIL_LIMIT", rows - 1)
    assert stream.read_tail(base, previous, 2_000) is None
    extension = cycling_series(5, start=2_000, scale=SCALE)  # continues the last step
    extended = stream.extend_steps(base, previous, 2_000, 5.0, extension=extension)
    assert extended is not None and extended.tail is None
