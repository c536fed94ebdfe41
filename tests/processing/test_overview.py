"""The multi-resolution overview and the downsampled windows read from it, checked against brute force.

Bucket sizes are shrunk (finest 2**4 rows, levels 2**4, 2**6, 2**8, ...) so that a few thousand
rows exercise every level, the ragged window ends and the chunked build.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cellstore.processing import overview as ov

ROWS = 5_003


@pytest.fixture(autouse=True)
def small_buckets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ov, "FINEST", 4)
    monkeypatch.setattr(ov, "LEVEL_STEP", 2)
    monkeypatch.setattr(ov, "CHUNK_ROWS", 1 << 10)
    monkeypatch.setattr(ov, "RAW_LIMIT", 300)


def frame_of(start: int, stop: int) -> pl.DataFrame:
    rng = np.random.default_rng(start)
    row = np.arange(start, stop)
    voltage = 3.7 + 0.4 * np.sin(row / 300) + rng.normal(0, 0.01, row.size)
    voltage[(row % 977) == 5] = 5.0  # isolated spikes a plot must not lose
    voltage[(row % 1231) == 9] = 2.0
    current = np.where((row // 500) % 2 == 0, 1.0, -1.0)
    temperature = np.where(row % 50 == 0, np.nan, 25 + row / 1000)
    return pl.DataFrame(
        {
            "Time [s]": row * 0.5,
            "Voltage [V]": voltage,
            "Current [A]": current,
            "Step count": row // 500,
            "Temperature [degC]": temperature,
            "Label": ["x"] * row.size,
        }
    ).with_columns(
        pl.when(pl.col("Step count") == 3).then(None).otherwise(pl.col("Current [A]")).alias("Current [A]")
    )


@pytest.fixture
def stored(tmp_path: Path) -> tuple[Path, pl.DataFrame]:
    frame = frame_of(0, ROWS)
    path = tmp_path / "series.parquet"
    frame.write_parquet(path, row_group_size=700)
    return path, frame


def test_build_keeps_every_numeric_column_at_every_level(stored: tuple[Path, pl.DataFrame]) -> None:
    path, frame = stored
    overview = ov.build_overview(path)
    assert overview.rows == ROWS
    assert overview.columns == ("Time [s]", "Voltage [V]", "Current [A]", "Step count", "Temperature [degC]")
    assert overview.monotonic == (True, False, False, True, True)  # NaN and null are skipped
    assert sorted(overview.levels) == [4, 6, 8, 10, 12]
    v = frame["Voltage [V]"].to_numpy()
    for level, buckets in overview.levels.items():
        size = 1 << level
        assert buckets.height == -(-ROWS // size)
        for b in (0, buckets.height // 2, buckets.height - 1):
            part = v[b * size : (b + 1) * size]
            got = buckets.row(b, named=True)
            assert (got["row_first"], got["row_last"]) == (b * size, min((b + 1) * size, ROWS) - 1)
            assert (got["c1_first"], got["c1_last"]) == (part[0], part[-1])
            assert (got["c1_min"], got["c1_max"]) == (part.min(), part.max())
            assert (got["c1_argmin"], got["c1_argmax"]) == (
                b * size + part.argmin(),
                b * size + part.argmax(),
            )


def test_nulls_and_nan_are_left_out_of_min_and_max(stored: tuple[Path, pl.DataFrame]) -> None:
    overview = ov.build_overview(stored[0])
    finest = overview.levels[4]
    temperature = finest.row(0, named=True)  # row 0 is NaN
    assert temperature["c4_first"] is None
    assert temperature["c4_min"] == pytest.approx(25.001) and temperature["c4_argmin"] == 1
    current = finest.filter(pl.col("row_first") == 1504).row(0, named=True)  # step 3: all null
    assert current["c2_min"] is None and current["c2_argmin"] is None


def test_update_after_an_extend_equals_a_full_build(tmp_path: Path) -> None:
    first, whole = tmp_path / "first.parquet", tmp_path / "whole.parquet"
    frame_of(0, 3_001).write_parquet(first)
    pl.concat([frame_of(0, 3_001), frame_of(3_001, ROWS)]).write_parquet(whole)
    updated = ov.update_overview(ov.build_overview(first), whole)
    rebuilt = ov.build_overview(whole)
    assert (updated.rows, updated.columns, updated.monotonic) == (
        rebuilt.rows,
        rebuilt.columns,
        rebuilt.monotonic,
    )
    assert sorted(updated.levels) == sorted(rebuilt.levels)
    for level in rebuilt.levels:
        assert_frame_equal(updated.levels[level], rebuilt.levels[level])


def test_an_extend_that_goes_backwards_clears_monotonic(tmp_path: Path) -> None:
    first, whole = tmp_path / "first.parquet", tmp_path / "whole.parquet"
    head = frame_of(0, 1_000)
    head.write_parquet(first)
    pl.concat([head, frame_of(1_000, 1_100).with_columns(pl.col("Time [s]") - 100)]).write_parquet(whole)
    assert ov.update_overview(ov.build_overview(first), whole).monotonic[0] is False


def test_write_and_read_round_trip(stored: tuple[Path, pl.DataFrame], tmp_path: Path) -> None:
    overview = ov.build_overview(stored[0])
    ov.write_overview(overview, tmp_path / "overview.parquet")
    back = ov.read_overview(tmp_path / "overview.parquet")
    assert back is not None
    assert (back.rows, back.columns, back.dtypes, back.monotonic) == (
        overview.rows,
        overview.columns,
        overview.dtypes,
        overview.monotonic,
    )
    for level in overview.levels:
        assert_frame_equal(back.levels[level], overview.levels[level])
    pl.DataFrame({"a": [1]}).write_parquet(tmp_path / "other.parquet")
    assert ov.read_overview(tmp_path / "other.parquet") is None


WINDOWS = [(0, ROWS), (0, 40), (17, 290), (123, 4_321), (1_000, 1_016), (2_047, 5_000), (4_990, ROWS), (7, 7)]


@pytest.mark.parametrize("window", WINDOWS, ids=[f"{a}-{b}" for a, b in WINDOWS])
@pytest.mark.parametrize("max_points", [8, 50, 400])
def test_windows_keep_the_true_extremes_within_bounds(
    stored: tuple[Path, pl.DataFrame], window: tuple[int, int], max_points: int
) -> None:
    path, frame = stored
    overview = ov.build_overview(path)
    start, stop = window
    got = ov.downsample(overview, path, "Time [s]", ["Voltage [V]", "Current [A]"], max_points, start, stop)
    assert (got.row_start, got.row_end) == window
    for column in ("Voltage [V]", "Current [A]"):
        rows, xs, ys = got.points[column]
        assert len(rows) <= max_points
        truth = frame[column].slice(start, stop - start)
        if truth.drop_nulls().is_empty():
            assert len(rows) == 0
            continue
        assert rows.min() >= start and rows.max() < stop
        assert np.all(np.diff(rows) > 0)
        assert ys.max() == truth.max() and ys.min() == truth.min()
        assert np.array_equal(ys, frame[column].gather(rows).to_numpy())  # true values at true rows
        assert np.allclose(xs, rows * 0.5)  # uniform time: interpolated x is right too
    if stop - start <= max_points:
        assert got.source == "raw" and got.exact and got.bucket_rows == 1


def test_the_source_follows_the_window_size(stored: tuple[Path, pl.DataFrame]) -> None:
    path, _ = stored
    overview = ov.build_overview(path)
    whole = ov.downsample(overview, path, "Time [s]", ["Voltage [V]"], 40, 0, ROWS)
    assert (whole.source, whole.exact) == ("overview", False)
    assert whole.level == 8 and whole.bucket_rows % (1 << whole.level) == 0
    small = ov.downsample(overview, path, "Time [s]", ["Voltage [V]"], 20, 100, 150)  # buckets < 2**4
    assert (small.source, small.exact) == ("raw", True)


def test_integer_columns_stay_integers(stored: tuple[Path, pl.DataFrame]) -> None:
    path, _ = stored
    overview = ov.build_overview(path)
    got = ov.downsample(overview, path, "Time [s]", ["Step count"], 40)
    values = ov.window_columns(got, "Time [s]")["Step count"]["Step count"]
    assert all(isinstance(v, int) for v in values) and max(values) == (ROWS - 1) // 500


def test_x_windows_by_value(stored: tuple[Path, pl.DataFrame]) -> None:
    path, _ = stored
    overview = ov.build_overview(path)
    assert ov.rows_of_x_window(overview, path, "Time [s]", 10.2, 100.0) == (21, 201)
    assert ov.rows_of_x_window(overview, path, "Time [s]", None, None) == (0, ROWS)
    assert ov.rows_of_x_window(overview, path, "Time [s]", 1e9, None) == (ROWS, ROWS)
    assert ov.rows_of_x_window(overview, path, "Time [s]", None, -1.0) == (0, 0)
    assert ov.rows_of_x_window(overview, path, "Step count", 2, 3) == (1_000, 2_000)
    with pytest.raises(ov.OverviewError, match="not monotonic"):
        ov.rows_of_x_window(overview, path, "Voltage [V]", 3.0, 4.0)


def test_bad_columns_are_refused(stored: tuple[Path, pl.DataFrame]) -> None:
    path, _ = stored
    overview = ov.build_overview(path)
    with pytest.raises(ov.OverviewError, match="'Nope'"):
        ov.downsample(overview, path, "Time [s]", ["Nope"], 100)
    with pytest.raises(ov.OverviewError, match="'Label'"):
        ov.downsample(overview, path, "Label", ["Voltage [V]"], 100)


def test_level_sizes() -> None:
    assert ov.level_sizes(0) == [4]
    assert ov.level_sizes(16) == [4]
    assert ov.level_sizes(17) == [4]
    assert ov.level_sizes(65) == [4, 6]
