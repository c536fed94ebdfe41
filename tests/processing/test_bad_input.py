"""The awkward series of issue 4, through the whole pipeline: each processes with defined results or
fails with a :class:`SeriesError` that names the problem (never another exception)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cellstore.processing.errors import SeriesError
from cellstore.processing.frames import to_columns
from cellstore.processing.pipeline import process_series


def run(frame: pl.DataFrame, tmp_path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    series = tmp_path / "series.parquet"
    frame.write_parquet(series)
    steps, cycles = tmp_path / "steps.parquet", tmp_path / "cycles.parquet"
    process_series(series, steps, cycles, rated_capacity_ah=5.0)
    return pl.read_parquet(steps), pl.read_parquet(cycles)


def cycling(rows: int, rows_per_step: int) -> pl.DataFrame:
    index = np.arange(rows)
    step = index // rows_per_step
    current = np.array([1.0, 0.0, -1.0, 0.0])[step % 4]
    return pl.DataFrame(
        {
            "Time [s]": index.astype(float),
            "Voltage [V]": 3.7 + 0.1 * np.sin(index / 50),
            "Current [A]": current,
            "Step count": step,
        }
    )


def test_a_single_row_is_one_step_and_one_cycle(tmp_path: Path) -> None:
    steps, cycles = run(cycling(1, 10), tmp_path)
    assert steps.height == 1 and cycles.height == 1
    assert steps["Duration [s]"].to_list() == [0.0]


def test_a_single_step(tmp_path: Path) -> None:
    steps, _ = run(cycling(500, 1000), tmp_path)
    assert steps["Step type"].to_list() == ["Constant current discharge"]


def test_only_rest_has_no_efficiency_rather_than_a_division_by_zero(tmp_path: Path) -> None:
    steps, cycles = run(cycling(400, 100).with_columns(pl.lit(0.0).alias("Current [A]")), tmp_path)
    assert set(steps["Step type"]) == {"Rest"}
    assert cycles["Coulombic efficiency"].to_list() == [None]


def test_no_current(tmp_path: Path) -> None:
    steps, cycles = run(cycling(400, 100).drop("Current [A]"), tmp_path)
    assert steps.height == 4 and cycles.height == 1
    assert steps["Mean current [A]"].null_count() == 4


def test_capacity_instead_of_time(tmp_path: Path) -> None:
    frame = cycling(400, 100).drop("Time [s]").with_columns((pl.int_range(400) / 400).alias("Capacity [A.h]"))
    steps, _ = run(frame, tmp_path)
    assert steps.height == 4
    assert steps["Duration [s]"].null_count() == 4


def test_eis_rows_with_null_time(tmp_path: Path) -> None:
    frame = cycling(300, 100).with_columns(
        pl.when(pl.col("Step count") == 1).then(None).otherwise(pl.col("Time [s]")).alias("Time [s]"),
        pl.when(pl.col("Step count") == 1).then(1000.0).otherwise(None).alias("Frequency [Hz]"),
    )
    steps, _ = run(frame, tmp_path)
    assert steps["Step type"][1] == "EIS"


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_or_infinity_in_a_required_column_names_it_and_the_row(tmp_path: Path, bad: float) -> None:
    frame = cycling(300, 100).with_columns(
        pl.when(pl.int_range(300) == 123).then(bad).otherwise(pl.col("Voltage [V]")).alias("Voltage [V]")
    )
    with pytest.raises(SeriesError, match=r"Voltage \[V\].*123"):
        run(frame, tmp_path)


def test_infinity_in_an_optional_column_reaches_only_its_own_step_statistics(tmp_path: Path) -> None:
    """A glitch of a temperature sensor does not refuse the test: the step's statistics say infinity
    (served as null in JSON, which has no infinity), the other steps are untouched."""
    frame = cycling(300, 100).with_columns(
        pl.when(pl.int_range(300) == 10).then(math.inf).otherwise(25.0).alias("Temperature [degC]")
    )
    steps, _ = run(frame, tmp_path)
    assert steps["Max temperature [degC]"].to_list() == [math.inf, 25.0, 25.0]
    assert steps["Min temperature [degC]"].to_list() == [25.0, 25.0, 25.0]
    assert to_columns(steps)["Max temperature [degC]"] == [None, 25.0, 25.0]


def test_a_step_count_jumping_by_two_names_the_row(tmp_path: Path) -> None:
    frame = cycling(300, 100).with_columns(
        pl.when(pl.int_range(300) >= 200).then(pl.col("Step count") + 1).otherwise(pl.col("Step count"))
    )
    with pytest.raises(SeriesError, match=r"Step count.*200"):
        run(frame, tmp_path)


def test_a_hundred_thousand_one_row_steps(tmp_path: Path) -> None:
    steps, cycles = run(cycling(100_000, 1), tmp_path)
    assert steps.height == 100_000
    assert steps["Start index"].to_list()[:3] == [0, 1, 2]
    assert cycles.height >= 1
