"""Arbin .res (Access databases read with mdbtools): the shared files, checked against cellpy's golden."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cellstore.formats.base import FormatError
from cellstore.formats.detect import READERS, detect
from tests.formats.text_files import assert_matches_cellpy, read_and_process

pytestmark = pytest.mark.skipif(shutil.which("mdb-export") is None, reason="mdbtools is not installed")

FOLDER = "arbin_res"
ROWS = {"cellpy_20160805_test001_45_cc_01.res": 10261, "cellpy_aux_one_x_dx.res": 7235}


def test_every_shared_file_is_covered(testdata: Path) -> None:
    assert {p.name for p in (testdata / FOLDER).iterdir()} == set(ROWS)


@pytest.mark.parametrize("name", sorted(ROWS))
def test_detected_and_row_count(testdata: Path, name: str) -> None:
    path = testdata / FOLDER / name
    reader = detect(path)
    assert reader.family == "arbin_res"
    assert reader.read(path).frame.height == ROWS[name]


def test_values_match_cellpy_golden(testdata: Path) -> None:
    raw = READERS["arbin_res"].read(testdata / FOLDER / "cellpy_20160805_test001_45_cc_01.res")
    golden = testdata / "references" / "cellpy_goldens" / "loader_arbin_res" / "raw.parquet"
    assert_matches_cellpy(raw.frame, golden, rtol=1e-7)
    ref = pl.read_parquet(golden)
    for ours, theirs in (
        ("Charge capacity [A.h]", "charge_capacity"),
        ("Discharge capacity [A.h]", "discharge_capacity"),
        ("Step from cycler", "step_index"),
        ("Cycle from cycler", "cycle_index"),
    ):
        np.testing.assert_allclose(raw.frame[ours].cast(pl.Float64), ref[theirs].cast(pl.Float64), rtol=1e-7)
    assert raw.start_time.isoformat() == "2016-08-05T16:16:23"  # cellpy: start_datetime 42587.67804398148
    assert raw.test_setup["Channel_Index"] == "3" and raw.test_setup["Creator"] == "hfa"
    assert raw.protocol["schedule_file"].endswith("24h_rest_3cyc_C20_100cyc_c10_MR.sdu")
    assert not raw.capacity_per_step


def test_auxiliary_temperature(testdata: Path) -> None:
    frame = READERS["arbin_res"].read(testdata / FOLDER / "cellpy_aux_one_x_dx.res").frame
    assert frame["Temperature [degC]"].null_count() == 0
    assert 15 < frame["Temperature [degC]"].mean() < 40
    assert frame["Temperature [degC]"][0] == pytest.approx(24.406582)  # Auxiliary_Table, data point 1


@pytest.mark.parametrize("name", sorted(ROWS))
def test_normalised_series_is_processed(testdata: Path, tmp_path: Path, name: str) -> None:
    read_and_process(READERS["arbin_res"], testdata / FOLDER / name, tmp_path)


def test_damaged_database_is_a_format_error(testdata: Path, tmp_path: Path) -> None:
    data = (testdata / FOLDER / "cellpy_aux_one_x_dx.res").read_bytes()
    cut = tmp_path / "cut.res"
    cut.write_bytes(data[:4096])
    with pytest.raises(FormatError):
        READERS["arbin_res"].read(cut)
    other = tmp_path / "other.res"
    other.write_bytes(b"\x00\x01\x00\x00" + b"something else" + b"\x00" * 100)
    with pytest.raises(FormatError, match="not an Access database"):
        READERS["arbin_res"].read(other)


def test_sniff() -> None:
    reader = READERS["arbin_res"]
    head = b"\x00\x01\x00\x00Standard Jet DB\x00"
    assert reader.sniff(head, "run.res") == 0.9
    assert reader.sniff(head, "upload") == 0.6
    assert reader.sniff(b"Test_ID,Data_Point", "run.res") == 0.0
