"""The Battery Data Format both ways: signs, cumulative capacities, start time, other columns."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cellstore.formats import bdf
from cellstore.formats.detect import detect
from cellstore.formats.export import write_export
from cellstore.formats.normalise import normalise

START = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)


def series(rows: int = 600, per_step: int = 100) -> pl.DataFrame:
    index = np.arange(rows)
    step = index // per_step
    current = np.array([2.0, 0.0, -1.0])[step % 3]
    in_step = (index % per_step).astype(float)
    voltage = 3.7 + 0.001 * in_step * np.sign(-current)
    return pl.DataFrame(
        {
            "Time [s]": index.astype(float),
            "Voltage [V]": voltage,
            "Current [A]": current,
            "Step count": step,
            "Cycle count": step // 3,
            "Discharge capacity [A.h]": np.where(current > 0, in_step * 2 / 3600, 0.0),
            "Charge capacity [A.h]": np.where(current < 0, in_step / 3600, 0.0),
            "Discharge energy [W.h]": np.where(current > 0, in_step * 7.4 / 3600, 0.0),
            "Charge energy [W.h]": np.where(current < 0, in_step * 3.7 / 3600, 0.0),
            "Power [W]": voltage * current,
            "Temperature [degC]": 25 + 0.01 * in_step,
            "Operator note": ["ok"] * rows,
        }
    )


def test_export_flips_current_and_power_and_counts_capacity_from_the_start() -> None:
    ours = series()
    table = bdf.to_bdf(ours, START)
    assert table.columns[:3] == [bdf.TEST_TIME, bdf.VOLTAGE, bdf.CURRENT]
    assert table[bdf.CURRENT].to_list() == (-ours["Current [A]"]).to_list()
    assert table[bdf.POWER].to_list() == (-ours["Power [W]"]).to_list()
    assert table[bdf.UNIX_TIME][0] == START.timestamp()
    charged = table[bdf.CHARGING_CAPACITY]
    assert (charged.diff().drop_nulls() >= 0).all()
    per_step_final = ours.group_by("Step count").agg(pl.col("Charge capacity [A.h]").last())
    assert charged[-1] == pytest.approx(per_step_final["Charge capacity [A.h]"].sum())
    assert table[bdf.SURFACE_TEMPERATURE].to_list() == ours["Temperature [degC]"].to_list()
    assert table["Operator note"].to_list() == ["ok"] * ours.height


@pytest.mark.parametrize("export_format", ["bdf.csv", "bdf.parquet"])
def test_a_bdf_file_reads_back_as_the_series_it_was_made_from(tmp_path: Path, export_format: str) -> None:
    ours = series()
    path = tmp_path / f"cell.{export_format}"
    write_export(ours, START, export_format, path)  # type: ignore[arg-type]
    reader = detect(path)
    assert reader.family == export_format.replace(".", "_")
    back = normalise(reader.read(path))
    assert back.start_time == START
    restored = back.frame.select(ours.columns)
    assert_frame_equal(restored, ours, check_dtypes=False, rel_tol=1e-12, abs_tol=1e-12)


def test_a_table_without_the_required_columns_is_not_bdf() -> None:
    with pytest.raises(ValueError, match="Current / A"):
        bdf.bdf_to_series(pl.DataFrame({bdf.TEST_TIME: [0.0], bdf.VOLTAGE: [3.7]}))
