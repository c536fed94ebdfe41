"""The streaming pass: batches give the same steps as the whole frame, and the same errors."""

from __future__ import annotations

import threading
from pathlib import Path

import polars as pl
import pytest
from bench._series import cycling_series
from polars.testing import assert_frame_equal

from cellstore.processing import stream
from cellstore.processing.errors import SeriesError
from cellstore.processing.steps import summarize_steps
from cellstore.processing.validation import validate_series


@pytest.mark.parametrize("batch_rows", [1, 2, 3, 7, 100, 631, 10_000])
def test_any_batch_size_gives_the_steps_of_the_whole_series(tmp_path: Path, batch_rows: int) -> None:
    series = cycling_series(2_000, scale=0.02)
    path = tmp_path / "series.parquet"
    series.write_parquet(path, row_group_size=333)
    summary = stream.summarize_file(path, 5.0, batch_rows=batch_rows)
    assert summary.rows == 2_000
    assert summary.columns == series.columns
    assert_frame_equal(summary.steps, summarize_steps(series.lazy(), 5.0))


def bad_series(**change: object) -> pl.DataFrame:
    series = cycling_series(3_000, scale=0.02)
    return (
        series.with_row_index("i")
        .with_columns(
            pl.when(pl.col("i") == 2_100).then(pl.lit(value)).otherwise(pl.col(name)).alias(name)
            for name, value in change.items()
        )
        .drop("i")
    )


@pytest.mark.parametrize(
    "change",
    [
        {"Step count": 999},  # jumps
        {"Time [s]": 5.0},  # goes back in time
        {"Voltage [V]": float("nan")},
        {"Current [A]": None},
    ],
    ids=["step", "time", "voltage", "current"],
)
def test_a_bad_row_in_a_later_batch_gives_the_whole_series_error(tmp_path: Path, change: dict) -> None:
    series = bad_series(**change)
    path = tmp_path / "series.parquet"
    series.write_parquet(path)
    with pytest.raises(SeriesError) as whole:
        validate_series(series.lazy())
    with pytest.raises(SeriesError) as streamed:
        stream.summarize_file(path, None, batch_rows=500)
    assert str(streamed.value) == str(whole.value)
    assert streamed.value.rows == whole.value.rows


def test_eis_rows_without_time_pass_through_the_exact_rules(tmp_path: Path) -> None:
    series = pl.DataFrame(
        {
            "Time [s]": [0.0, 1.0, None, None, 4.0, 5.0],
            "Voltage [V]": [4.0, 4.0, 4.0, 4.0, 3.9, 3.8],
            "Current [A]": [0.0, 0.0, 0.0, 0.0, 1.0, 1.0],
            "Frequency [Hz]": [None, None, 1e3, 1e2, None, None],
            "Step count": [0, 0, 1, 1, 2, 2],
        }
    )
    path = tmp_path / "series.parquet"
    series.write_parquet(path)
    steps = stream.summarize_file(path, None, batch_rows=3).steps
    assert steps["Step type"].to_list() == ["Rest", "EIS", "Constant current discharge"]
    assert_frame_equal(steps, summarize_steps(series.lazy()))


def test_the_reader_thread_stops_when_the_consumer_does(tmp_path: Path) -> None:
    path = tmp_path / "series.parquet"
    cycling_series(5_000, scale=0.02).write_parquet(path)
    before = threading.active_count()
    batches = stream.read_batches(pl.scan_parquet(path), 5_000, 100)
    assert next(batches).height == 100
    batches.close()
    assert threading.active_count() == before
    assert [b.height for b in stream.read_batches(pl.scan_parquet(path), 5_000, 2_000, start=1_000)] == [
        2_000
    ] * 2


def test_unread_columns_keep_their_rules_and_casts(tmp_path: Path) -> None:
    series = cycling_series(500, scale=0.02).with_columns(
        (pl.col("Voltage [V]") * pl.col("Current [A]")).cast(pl.Float32).alias("Power [W]"),
        pl.col("Cycle count").cast(pl.Int32),
        pl.col("Voltage [V]").cast(pl.Float32),
        pl.lit(1, dtype=pl.Int16).alias("Z_Re [Ohm]"),
    )
    path = tmp_path / "series.parquet"
    series.write_parquet(path)
    expected = summarize_steps(validate_series(series.lazy()), 5.0)
    assert_frame_equal(stream.summarize_file(path, 5.0, batch_rows=64).steps, expected)

    texty = series.with_columns(pl.col("Power [W]").cast(pl.String))
    texty.write_parquet(path)
    with pytest.raises(SeriesError, match="Power \\[W\\] must be a numeric column"):
        stream.summarize_file(path, 5.0)
    floaty = series.with_columns(pl.col("Cycle count").cast(pl.Float64) + 0.5)
    floaty.write_parquet(path)
    with pytest.raises(SeriesError, match="Cycle count must hold whole numbers"):
        stream.summarize_file(path, 5.0)
