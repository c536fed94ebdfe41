"""Indigo HDF5 time series (read with h5py)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from cellstore.formats.base import FormatError
from cellstore.formats.detect import READERS, detect
from tests.formats.text_files import read_and_process

NAME = "indigo/beep_indigo_test_sample.h5"


def test_detected_rows_and_values(testdata: Path) -> None:
    path = testdata / NAME
    reader = detect(path)
    assert reader.family == "indigo_h5"
    raw = reader.read(path)
    with h5py.File(path) as file:  # the pandas block layout, read directly as the reference
        group = file["time_series_data"]
        rows = group["axis1"].shape[0]
        floats = dict(
            zip([n.decode() for n in group["block2_items"][:]], group["block2_values"][:].T, strict=True)
        )
    assert raw.frame.height == rows == 20000
    np.testing.assert_allclose(raw.frame["Voltage [V]"], floats["cell_voltage_v"], rtol=1e-7)
    np.testing.assert_allclose(raw.frame["Current [A]"], -floats["cell_current_a"], rtol=1e-7)
    np.testing.assert_allclose(raw.frame["Time [s]"], floats["time_s"], rtol=1e-7)
    assert raw.start_time.isoformat().startswith("2019-10-10T22:26:03")
    assert raw.test_setup == {"cell_id": 452}


def test_normalised_series_is_processed(testdata: Path, tmp_path: Path) -> None:
    series = read_and_process(READERS["indigo_h5"], testdata / NAME, tmp_path)
    assert series.frame["Step count"].max() > 10


def test_other_hdf5_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as file:
        file["x"] = [1, 2, 3]
    assert READERS["indigo_h5"].sniff(path.read_bytes()[:65536], "other.h5") < 0.5
    with pytest.raises(FormatError, match="not an Indigo file"):
        READERS["indigo_h5"].read(path)
    broken = tmp_path / "broken.h5"
    broken.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 64)
    with pytest.raises(FormatError):
        READERS["indigo_h5"].read(broken)
