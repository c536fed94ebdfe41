"""Neware .nda / .ndax through fastnda: every shared file, checked against BTSDA and NewareNDA outputs."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cellstore.formats.base import FormatError
from cellstore.formats.detect import READERS, detect
from cellstore.formats.normalise import normalise
from tests.formats.text_files import read_and_process

# Per file: (folder, data rows as the MANIFEST counts them).
ROWS = {
    "fastnda_nda8.nda": ("neware_nda", 46805),
    "fastnda_nda_v22.nda": ("neware_nda", 1380),
    "fastnda_nda_v8.nda": ("neware_nda", 21),
    "newarenda_2-1-6_61_07005012.nda": ("neware_nda", 15567),
    "newarenda_TestFile.nda": ("neware_nda", 6670),
    "aurora_nw4-120-6-1-36.ndax": ("neware_ndax", 7257),
    "cellpy_20260302_IFE_BTS85_2_9_8_1.ndax": ("neware_ndax", 252951),
    "fastnda_21_10_7_85.ndax": ("neware_ndax", 141),
    "fastnda_46_1_5_60_bts16.ndax": ("neware_ndax", 84),
    "fastnda_TESTCELL0001-Test_Data_Collection_Ndc17.ndax": ("neware_ndax", 80),
    "fastnda_Unit27_Example_Corrupt.ndax": ("neware_ndax", 301),
    "fastnda_Unit27_Example_Data_File.ndax": ("neware_ndax", 301),
    "fastnda_empty.ndax": ("neware_ndax", 0),
    "fastnda_nw4-120-1-6-53.ndax": ("neware_ndax", 18700),
    "fastnda_scrubbed_ndc2.ndax": ("neware_ndax", 28),
    "fastnda_test_2.ndax": ("neware_ndax", 108563),
}

# BTSDA exports (Neware's own software): current in µA, voltage in mV, capacity in mA.s, unsigned.
BTSDA = [name for name in ROWS if (name.startswith("fastnda_") and name != "fastnda_empty.ndax")]
NEWARENDA = ["newarenda_2-1-6_61_07005012.nda", "newarenda_TestFile.nda"]


def _path(testdata: Path, name: str) -> Path:
    return testdata / ROWS[name][0] / name


def test_every_shared_file_is_covered(testdata: Path) -> None:
    present = {
        p.name
        for folder in ("neware_nda", "neware_ndax")
        for p in (testdata / folder).iterdir()
        if p.is_file()
    }
    assert present == set(ROWS)


@pytest.mark.parametrize("name", sorted(ROWS))
def test_detected_and_row_count(testdata: Path, name: str) -> None:
    path = _path(testdata, name)
    reader = detect(path)
    assert reader.family == ROWS[name][0]
    series = reader.read(path)
    assert series.frame.height == ROWS[name][1]
    assert series.capacity_per_step


@pytest.mark.parametrize("name", BTSDA)
def test_values_match_btsda_export(testdata: Path, name: str) -> None:
    path = _path(testdata, name)
    ref = pl.read_parquet(path.parent / "reference" / (path.stem + ".parquet"))
    frame = detect(path).read(path).frame
    assert frame.height == ref.height
    np.testing.assert_allclose(frame["Voltage [V]"], ref["Voltage(mV)"].cast(pl.Float64) / 1000, atol=1e-4)
    # BTSDA counts charge current positive; §6.1 discharge
    np.testing.assert_allclose(
        frame["Current [A]"], -ref["Current(uA)"].cast(pl.Float64) / 1e6, atol=1e-6, rtol=1e-5
    )
    np.testing.assert_allclose(frame["Time [s]"], ref["Total Time"], atol=1e-3)
    capacity = (frame["Charge capacity [A.h]"] + frame["Discharge capacity [A.h]"]) * 3.6e6  # mA.s
    # some exports round capacity to whole mA.s
    np.testing.assert_allclose(capacity, ref["Capacity(mAs)"].cast(pl.Float64), rtol=1e-4, atol=1.0)
    assert (frame["Step from cycler"].cast(pl.Int64) == ref["Step Count"].cast(pl.Int64)).all()
    if name != "fastnda_test_2.ndax":  # exported with BTSDA's "charge starts a cycle" renumbering
        assert (frame["Cycle from cycler"].cast(pl.Int64) == ref["Cycle Index"].cast(pl.Int64)).all()


@pytest.mark.parametrize("name", NEWARENDA)
def test_values_match_newarenda(testdata: Path, name: str) -> None:
    path = _path(testdata, name)
    ref = pl.read_ipc(path.parent / "reference" / (path.stem + ".ftr"))
    frame = detect(path).read(path).frame
    np.testing.assert_allclose(frame["Voltage [V]"], ref["Voltage"], atol=1e-5)
    np.testing.assert_allclose(frame["Current [A]"], -ref["Current(mA)"].cast(pl.Float64) / 1000, atol=1e-6)
    np.testing.assert_allclose(frame["Charge capacity [A.h]"] * 1000, ref["Charge_Capacity(mAh)"], atol=1e-3)
    np.testing.assert_allclose(
        frame["Discharge capacity [A.h]"] * 1000, -ref["Discharge_Capacity(mAh)"].abs() * -1, atol=1e-3
    )
    # NewareNDA counts time within each step; the first step starts the test
    first = ref["Step"] == ref["Step"][0]
    np.testing.assert_allclose(frame["Time [s]"].filter(first), ref["Time"].filter(first), atol=1e-2)


def test_metadata_and_start_time(testdata: Path) -> None:
    series = detect(_path(testdata, "fastnda_nw4-120-1-6-53.ndax")).read(
        _path(testdata, "fastnda_nw4-120-1-6-53.ndax")
    )
    assert series.test_setup["ChlID"] == "6"
    assert series.test_setup["Barcode"] == "250403_kigr_gen9_06"
    assert "Step_Info" in series.protocol["neware_step_file"]
    assert series.start_time is not None and series.start_time.tzinfo is not None
    ref = pl.read_parquet(
        _path(testdata, "fastnda_nw4-120-1-6-53.ndax").parent / "reference" / "fastnda_nw4-120-1-6-53.parquet"
    )
    local = ref["Date"][0]  # BTSDA's local clock, in a time zone the file does not name
    offset = (local - series.start_time.replace(tzinfo=None)).total_seconds()
    assert abs(offset - round(offset / 3600) * 3600) < 1 and abs(offset) <= 14 * 3600


def test_aux_temperature_becomes_temperature(testdata: Path) -> None:
    path = _path(testdata, "fastnda_Unit27_Example_Data_File.ndax")
    frame = detect(path).read(path).frame
    ref = pl.read_parquet(path.parent / "reference" / "fastnda_Unit27_Example_Data_File.parquet")
    np.testing.assert_allclose(frame["Temperature [degC]"], ref["T1(?)"], atol=0.051)  # BTSDA: 0.1 degC


def test_empty_ndax_reads_empty_and_normalise_refuses_it(testdata: Path) -> None:
    path = _path(testdata, "fastnda_empty.ndax")
    series = detect(path).read(path)
    assert series.frame.height == 0
    with pytest.raises(FormatError, match="no data rows"):
        normalise(series)


@pytest.mark.parametrize("name", ["fastnda_nda_v22.nda", "fastnda_21_10_7_85.ndax", "fastnda_test_2.ndax"])
def test_normalised_series_is_processed(testdata: Path, tmp_path: Path, name: str) -> None:
    path = _path(testdata, name)
    series = read_and_process(detect(path), path, tmp_path)
    assert series.frame["Time [s]"][0] == 0


def test_upload_without_extension_is_read(testdata: Path, tmp_path: Path) -> None:
    copy = tmp_path / "upload.bin"
    copy.write_bytes(_path(testdata, "fastnda_nda_v8.nda").read_bytes())
    reader = detect(copy, "upload.bin")
    assert reader.family == "neware_nda"
    assert reader.read(copy).frame.height == 21


def test_damaged_files_are_format_errors(tmp_path: Path) -> None:
    truncated = tmp_path / "cut.ndax"
    with zipfile.ZipFile(truncated, "w") as archive:
        archive.writestr("data.ndc", b"\x00" * 10)
    with pytest.raises(FormatError):
        READERS["neware_ndax"].read(truncated)
    garbage = tmp_path / "bad.nda"
    garbage.write_bytes(b"NEWARE" + b"\xff" * 300)
    with pytest.raises(FormatError):
        READERS["neware_nda"].read(garbage)
    not_zip = tmp_path / "bad.ndax"
    not_zip.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(FormatError):
        READERS["neware_ndax"].read(not_zip)


def test_sniff_confidences() -> None:
    nda, ndax = READERS["neware_nda"], READERS["neware_ndax"]
    assert nda.sniff(b"NEWARE20200128", "x") > 0.9
    assert ndax.sniff(b"PK\x03\x04....data.ndc", "x.zip") > 0.9
    assert ndax.sniff(b"PK\x03\x04....", "run.ndax") == 0.6
    assert ndax.sniff(b"PK\x03\x04....", "book.xlsx") == 0.0
    assert nda.sniff(b"Date,Voltage", "x.nda") == 0.0
