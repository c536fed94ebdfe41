"""The file edge: process_series, append_series (extend continuity) and to_columns."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

from cellstore.processing import pipeline
from cellstore.processing.errors import SeriesError
from cellstore.processing.frames import to_columns
from cellstore.processing.parquet import ROW_GROUP_SIZE
from cellstore.processing.parquet import write as write_table
from cellstore.processing.pipeline import ProcessingResult, append_series, process_series
from cellstore.processing.steps import summarize_steps
from tests.processing.test_steps import cycling_series


def write(df: pl.DataFrame, path: Path) -> Path:
    df.write_parquet(path)
    return path


def outputs(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "out" / "steps.parquet", tmp_path / "out" / "cycles.parquet"


def row_groups(path: Path) -> list[int]:
    meta = pq.ParquetFile(path).metadata
    return [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]


def compression(path: Path) -> str:
    return pq.ParquetFile(path).metadata.row_group(0).column(0).compression


# --- process_series -------------------------------------------------------------------------


def test_process_series_writes_steps_and_cycles(tmp_path: Path) -> None:
    df = cycling_series()
    series_path = write(df, tmp_path / "time_series.parquet")
    before = series_path.read_bytes()
    steps_path, cycles_path = outputs(tmp_path)

    result = process_series(series_path, steps_path, cycles_path, rated_capacity_ah=1.0)

    assert result == ProcessingResult(rows=df.height, steps=10, cycles=2, columns=df.columns)
    steps = pl.read_parquet(steps_path)
    assert_frame_equal(steps, summarize_steps(df.lazy(), rated_capacity_ah=1.0))
    cycles = pl.read_parquet(cycles_path)
    assert cycles["Cycle count"].to_list() == [0, 1]
    assert compression(steps_path) == compression(cycles_path) == "ZSTD"
    assert series_path.read_bytes() == before  # the series is only read
    assert sorted(p.name for p in steps_path.parent.iterdir()) == ["cycles.parquet", "steps.parquet"]


def test_derived_tables_are_written_without_statistics(tmp_path: Path) -> None:
    """Read whole, in one row group: the series' per-column statistics would serve no reader."""
    series_path = write(cycling_series(), tmp_path / "time_series.parquet")
    steps_path, cycles_path = outputs(tmp_path)
    process_series(series_path, steps_path, cycles_path)
    for path in (steps_path, cycles_path):
        group = pq.ParquetFile(path).metadata.row_group(0)
        assert not any(group.column(i).is_stats_set for i in range(group.num_columns))
    stored = pq.ParquetFile(series_path).metadata.row_group(0)
    assert stored.column(0).is_stats_set  # the series keeps them


def test_result_columns_are_the_series_columns_in_order(tmp_path: Path) -> None:
    df = pl.DataFrame({"Comment": ["x", "y"], "Step count": [0, 1], "Time [s]": [0, 1]})
    result = process_series(write(df, tmp_path / "s.parquet"), *outputs(tmp_path))
    assert result.columns == ["Comment", "Step count", "Time [s]"]
    assert (result.rows, result.steps, result.cycles) == (2, 2, 1)


def test_invalid_series_fails_and_writes_nothing(tmp_path: Path) -> None:
    series_path = write(pl.DataFrame({"Time [s]": [0.0, 1.0]}), tmp_path / "s.parquet")
    steps_path, cycles_path = outputs(tmp_path)
    with pytest.raises(SeriesError, match="Missing required column 'Step count'"):
        process_series(series_path, steps_path, cycles_path)
    assert not steps_path.exists()
    assert not cycles_path.exists()


def test_non_parquet_input_is_not_a_readable_parquet_file(tmp_path: Path) -> None:
    csv = tmp_path / "time_series.parquet"
    csv.write_text("Step count,Time [s]\n0,0\n")
    with pytest.raises(
        SeriesError, match=r"^The time series \(time_series.parquet\) is not a readable parquet file"
    ):
        process_series(csv, *outputs(tmp_path))


def test_missing_input_is_not_a_readable_parquet_file(tmp_path: Path) -> None:
    with pytest.raises(SeriesError, match="is not a readable parquet file"):
        process_series(tmp_path / "nothing.parquet", *outputs(tmp_path))


def test_damaged_parquet_is_not_a_readable_parquet_file(tmp_path: Path) -> None:
    whole = write(cycling_series(), tmp_path / "whole.parquet").read_bytes()
    damaged = tmp_path / "damaged.parquet"
    # Keep the header and the footer (so the schema reads) but cut the data pages short.
    damaged.write_bytes(whole[:64] + whole[-len(whole) // 4 :])
    with pytest.raises(SeriesError, match=r"is not a readable parquet file: .*(damaged|out of spec)"):
        process_series(damaged, *outputs(tmp_path))


def test_paths_with_glob_characters_are_read_literally(tmp_path: Path) -> None:
    folder = tmp_path / "run[1]"
    folder.mkdir()
    series_path = write(pl.DataFrame({"Step count": [0, 0, 1]}), folder / "time_series.parquet")
    assert process_series(series_path, *outputs(tmp_path)).rows == 3


# --- uploaded steps -------------------------------------------------------------------------


def simple_series(tmp_path: Path) -> Path:
    df = pl.DataFrame(
        {
            "Step count": [0, 0, 1, 1, 1, 2],
            "Time [s]": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
            "Current [A]": [0.0, 0.0, 1.0, 1.0, 1.0, 0.0],
        }
    )
    return write(df, tmp_path / "time_series.parquet")


def test_uploaded_steps_are_stored_with_row_offsets_added(tmp_path: Path) -> None:
    uploaded = pl.DataFrame(
        {
            "Step count": [0.0, 1.0, 2.0],
            "Step type": ["Rest", "My discharge", "Rest"],
            "Cycle count": [0, 0, 1],
            "Discharge capacity [A.h]": [0.0, 1.0, 0.0],
            "Charge capacity [A.h]": [0.0, 0.0, 0.0],
        }
    )
    steps_path, cycles_path = outputs(tmp_path)
    result = process_series(
        simple_series(tmp_path),
        steps_path,
        cycles_path,
        uploaded_steps=write(uploaded, tmp_path / "u.parquet"),
    )
    expected = uploaded.with_columns(
        pl.col("Step count").cast(pl.Int64),
        pl.Series("Start index", [0, 2, 5]),
        pl.Series("End index", [1, 4, 5]),
    )
    assert_frame_equal(pl.read_parquet(steps_path), expected)
    assert (result.steps, result.cycles) == (3, 2)
    assert pl.read_parquet(cycles_path)["Discharge capacity [A.h]"].to_list() == [1.0, 0.0]


def test_uploaded_steps_with_matching_row_offsets_are_accepted(tmp_path: Path) -> None:
    uploaded = pl.DataFrame({"Step count": [0, 1, 2], "Start index": [0, 2, 5], "End index": [1, 4, 5]})
    steps_path, cycles_path = outputs(tmp_path)
    process_series(
        simple_series(tmp_path),
        steps_path,
        cycles_path,
        uploaded_steps=write(uploaded, tmp_path / "u.parquet"),
    )
    assert_frame_equal(pl.read_parquet(steps_path), uploaded)
    assert pl.read_parquet(cycles_path)["Cycle count"].to_list() == [0]


@pytest.mark.parametrize(
    ("uploaded", "message"),
    [
        ({"Step": [0, 1, 2]}, "The uploaded steps table has no 'Step count' column"),
        ({"Step count": ["0", "1", "2"]}, "must be integer, not String"),
        ({"Step count": [0.0, 1.5, 2.0]}, "must hold whole numbers"),
        ({"Step count": [0, 1, 2], "Cycle count": [0.0, None, 1.0]}, "Cycle count .* but row 1 does not"),
        (
            {"Step count": [0, 1, 2], "Duration [s]": ["1", "2", "3"]},
            r"Duration \[s\] of the uploaded steps table must be numeric",
        ),
        ({"Step count": [0, 1]}, r"does not match the time series \(3 steps\): it has no row for steps 2\.$"),
        ({"Step count": [0, 1, 2, 7]}, "rows for steps 7 that the series does not have"),
        ({"Step count": [0, 1, 1, 2]}, "more than one row for steps 1"),
        (
            {"Step count": [0, 1, 2], "Start index": [0, 3, 5]},
            r"Start index of step 1 in the uploaded steps table is 3, but that step starts at row 2",
        ),
        (
            {"Step count": [0, 1, 2], "End index": [1, 4, None]},
            "End index of step 2 .* is None, but that step ends at row 5",
        ),
    ],
)
def test_uploaded_steps_must_match_the_series(tmp_path: Path, uploaded: dict, message: str) -> None:
    steps_path, cycles_path = outputs(tmp_path)
    path = write(pl.DataFrame(uploaded), tmp_path / "u.parquet")
    with pytest.raises(SeriesError, match=message):
        process_series(simple_series(tmp_path), steps_path, cycles_path, uploaded_steps=path)
    assert not steps_path.exists()


def test_unreadable_uploaded_steps(tmp_path: Path) -> None:
    junk = tmp_path / "steps.parquet"
    junk.write_bytes(b"not parquet at all")
    with pytest.raises(
        SeriesError, match=r"^The uploaded steps table \(steps.parquet\) is not a readable parquet"
    ):
        process_series(simple_series(tmp_path), *outputs(tmp_path), uploaded_steps=junk)


# --- append_series --------------------------------------------------------------------------


EXISTING = pl.DataFrame(
    {
        "Step count": [0, 0, 1, 1],
        "Time [s]": [0.0, 1.0, 2.0, 3.0],
        "Voltage [V]": [4.0, 4.0, 3.9, 3.8],
        "Current [A]": [0.0, 0.0, 1.0, 1.0],
        "Temperature [degC]": [25.0, 25.0, 26.0, 26.0],
    }
)


Extend = Callable[..., pl.DataFrame]


@pytest.fixture(params=["append", "segment", "segment, end from steps", "segment streamed"])
def extend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Extend:
    """The extended series, made the way ``request.param`` names: appended to a new file, or
    written as a segment (in memory or streamed; the series' end read from its rows or from its
    derived steps). Every way applies the same rules."""
    way = str(request.param)
    if way == "segment streamed":
        monkeypatch.setattr(pipeline, "SMALL_EXTENSION_ROWS", 0)

    def run(tmp_path: Path, delta: dict, existing: pl.DataFrame = EXISTING) -> pl.DataFrame:
        existing_path = write(existing, tmp_path / "existing.parquet")
        delta_path = write(pl.DataFrame(delta), tmp_path / "delta.parquet")
        out_path = tmp_path / "out.parquet"
        if way == "append":
            rows = append_series(existing_path, delta_path, out_path)
            out = pl.read_parquet(out_path)
        else:
            steps = None
            if way != "segment":
                process_series(existing_path, tmp_path / "steps.parquet", tmp_path / "cycles.parquet")
                steps = pl.read_parquet(tmp_path / "steps.parquet")
            segment = pipeline.write_segment(existing_path, delta_path, out_path, previous_steps=steps)
            assert segment.previous_rows == existing.height
            rows = existing.height + segment.rows
            out = pl.concat([pl.read_parquet(existing_path), pl.read_parquet(segment.stored)])
        assert rows == out.height
        return out

    return run


def delta() -> dict:
    return {
        "Step count": [1, 2],
        "Time [s]": [4.0, 5.0],
        "Voltage [V]": [3.7, 3.6],
        "Current [A]": [1.0, 0.0],
        "Temperature [degC]": [26.5, 26.0],
    }


def test_append_writes_existing_rows_then_the_extension(tmp_path: Path) -> None:
    existing_path = write(EXISTING, tmp_path / "existing.parquet")
    before = existing_path.read_bytes()
    out_path = tmp_path / "out.parquet"
    rows = append_series(existing_path, write(pl.DataFrame(delta()), tmp_path / "d.parquet"), out_path)
    assert rows == 6
    assert_frame_equal(pl.read_parquet(out_path), pl.concat([EXISTING, pl.DataFrame(delta())]))
    assert existing_path.read_bytes() == before


def test_extension_may_continue_the_last_step_and_repeat_the_last_time(
    extend: Extend, tmp_path: Path
) -> None:
    out = extend(
        tmp_path,
        {"Step count": [1, 1], "Time [s]": [3.0, 4.0], "Voltage [V]": [3.8, 3.7], "Current [A]": [1.0, 1.0]},
    )
    assert out["Step count"].to_list() == [0, 0, 1, 1, 1, 1]


def test_missing_optional_columns_become_null_and_dtypes_follow_the_existing_series(
    extend: Extend, tmp_path: Path
) -> None:
    out = extend(tmp_path, {"Step count": [2], "Time [s]": [4], "Voltage [V]": [3.7], "Current [A]": [0]})
    assert out["Temperature [degC]"].to_list() == [25.0, 25.0, 26.0, 26.0, None]
    assert out.schema == EXISTING.schema


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"Step count": [3, 3]},
            r"must start at 1 or 2 to continue the existing series \(which ends at step 1\), but row 0 is 3",
        ),
        ({"Step count": [0, 1]}, "must start at 1 or 2 .* but row 0 is 0"),
        ({"Step count": [1, 3]}, "goes from 1 to 3 at row 1 of the extension"),
        (
            {"Time [s]": [2.5, 5.0]},
            r"Time \[s\] of the extension starts at 2\.5, before the existing series ends \(3\.0\)",
        ),
        ({"Time [s]": [5.0, 4.0]}, r"Time \[s\] decreases at row 1 \(from 5\.0 to 4\.0\)"),
        ({"Voltage [V]": [3.7, math.nan]}, r"Voltage \[V\] is null, NaN or infinite at row 1"),
        ({"Cell id": ["a", "b"]}, "The extension has columns the existing series does not: Cell id"),
        (
            {"Temperature [degC]": ["hot", "cold"]},
            r"Temperature \[degC\] holds String in the extension but Float64",
        ),
    ],
)
def test_extension_must_continue_the_series(
    extend: Extend, tmp_path: Path, changes: dict, message: str
) -> None:
    with pytest.raises(SeriesError, match=message):
        extend(tmp_path, {**delta(), **changes})
    assert not (tmp_path / "out.parquet").exists()


@pytest.mark.parametrize("column", ["Step count", "Time [s]"])
def test_extension_needs_time_and_step_count(extend: Extend, tmp_path: Path, column: str) -> None:
    data = delta()
    del data[column]
    with pytest.raises(SeriesError, match=f"^Missing required column '{re.escape(column)}' in the extension"):
        extend(tmp_path, data)


def test_extension_may_not_drop_a_never_null_column(extend: Extend, tmp_path: Path) -> None:
    data = delta()
    del data["Voltage [V]"]
    with pytest.raises(
        SeriesError, match=r"The extension lacks Voltage \[V\], which the existing series has"
    ):
        extend(tmp_path, data)


def test_empty_extension_is_refused(extend: Extend, tmp_path: Path) -> None:
    with pytest.raises(SeriesError, match=r"^The extension has no rows"):
        extend(tmp_path, {k: [] for k in delta()} | {"Step count": pl.Series([], dtype=pl.Int64)})


def test_append_refuses_to_overwrite_the_existing_file(tmp_path: Path) -> None:
    existing_path = write(EXISTING, tmp_path / "existing.parquet")
    with pytest.raises(ValueError, match="out_path must differ"):
        append_series(existing_path, write(pl.DataFrame(delta()), tmp_path / "d.parquet"), existing_path)


def test_append_streams_into_small_row_groups(tmp_path: Path) -> None:
    n_existing, n_delta = 200_000, 100_000
    existing = pl.DataFrame(
        {
            "Step count": pl.zeros(n_existing, dtype=pl.Int64, eager=True),
            "Time [s]": pl.arange(0, n_existing, eager=True).cast(pl.Float64),
        }
    )
    extension = pl.DataFrame(
        {
            "Step count": pl.ones(n_delta, dtype=pl.Int64, eager=True),
            "Time [s]": pl.arange(n_existing, n_existing + n_delta, eager=True).cast(pl.Float64),
        }
    )
    existing_path = write(existing, tmp_path / "existing.parquet")
    out_path = tmp_path / "out.parquet"
    assert append_series(existing_path, write(extension, tmp_path / "d.parquet"), out_path) == 300_000
    groups = row_groups(out_path)
    assert sum(groups) == 300_000
    assert max(groups) <= ROW_GROUP_SIZE
    assert compression(out_path) == "ZSTD"
    assert_frame_equal(pl.read_parquet(out_path), pl.concat([existing, extension]))


# --- to_columns -----------------------------------------------------------------------------


def test_to_columns_is_column_oriented_with_nan_and_inf_as_none() -> None:
    df = pl.DataFrame(
        {
            "Step count": [0, 1, 2],
            "Mean current [A]": [1.5, math.nan, -math.inf],
            "Coulombic efficiency": [None, 0.99, math.inf],
            "Step type": ["Rest", None, "EIS"],
        }
    )
    original = df.clone()
    data = to_columns(df)
    assert data == {
        "Step count": [0, 1, 2],
        "Mean current [A]": [1.5, None, None],
        "Coulombic efficiency": [None, 0.99, None],
        "Step type": ["Rest", None, "EIS"],
    }
    json.dumps(data, allow_nan=False)  # strict JSON: would raise on a NaN left behind
    assert_frame_equal(df, original)


def test_to_columns_of_an_empty_frame_and_of_dates() -> None:
    assert to_columns(pl.DataFrame()) == {}
    assert to_columns(pl.DataFrame({"a": []}, schema={"a": pl.Float64})) == {"a": []}
    stamped = to_columns(
        pl.DataFrame(
            {
                "at": [dt.datetime(2025, 1, 2, 3, 4, 5)],
                "utc": [dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)],
                "on": [dt.date(2025, 1, 2)],
            }
        )
    )
    assert stamped == {
        "at": ["2025-01-02T03:04:05"],
        "utc": ["2025-01-02T03:04:05+00:00"],
        "on": ["2025-01-02"],
    }


def test_written_tables_use_small_row_groups(tmp_path: Path) -> None:
    big = pl.DataFrame({"Step count": pl.arange(0, 300_000, eager=True)})
    path = tmp_path / "big.parquet"
    write_table(big, path)
    assert max(row_groups(path)) <= ROW_GROUP_SIZE
    assert compression(path) == "ZSTD"
    assert_frame_equal(pl.read_parquet(path), big)
