"""Maccor MIMS data files (.0NN) and the AC-impedance sidecar (.EDA0001.0NN)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cellstore.formats.base import FormatError
from cellstore.formats.detect import READERS, detect
from cellstore.formats.normalise import normalise
from cellstore.processing.validation import validate_series
from tests.formats.text_files import read_and_process

FOLDER = "maccor_raw"
ROWS = {
    "bdtk_maccor_example.002": 8,
    "beep_PreDiag_000229_000229_truncated.034": 4061,
    "beep_PredictionDiagnostics_000151_test.052": 333,
    "beep_maccor_test_file_4267-66-6519.041": 74,
    "beep_xTESLADIAG_000019_CH70.070": 11669,
}
FRA = "beep_maccor_test_file_4267-66-6519.EDA0001.041"


def test_every_shared_file_is_covered(testdata: Path) -> None:
    assert {p.name for p in (testdata / FOLDER).iterdir()} == set(ROWS) | {FRA}


@pytest.mark.parametrize("name", sorted(ROWS))
def test_detected_and_row_count(testdata: Path, name: str) -> None:
    path = testdata / FOLDER / name
    reader = detect(path)
    assert reader.family == "maccor_raw"
    raw = reader.read(path)
    assert raw.frame.height == ROWS[name]
    assert raw.capacity_per_step


@pytest.mark.parametrize("name", sorted(ROWS))
def test_values_follow_the_file(testdata: Path, name: str) -> None:
    """Independent of the reader: the tab-separated records parsed with the csv module."""
    path = testdata / FOLDER / name
    lines = path.read_text(encoding="latin-1").splitlines()
    names = lines[1].split("\t")
    records = [line.split("\t") for line in lines[2:] if line.strip()]
    column = {n: [r[i] for r in records] for i, n in enumerate(names)}
    frame = READERS["maccor_raw"].read(path).frame
    amps = np.array(column["Amps"], dtype=float)
    state = np.array(column["State"])
    expected = np.where(state == "D", np.abs(amps), np.where(state == "C", -np.abs(amps), -amps))
    np.testing.assert_allclose(frame["Current [A]"], expected)
    np.testing.assert_allclose(frame["Voltage [V]"], np.array(column["Volts"], dtype=float))
    assert frame["Step from cycler"].to_list() == [int(v) for v in column["Step"]]
    amp_hr = np.array(column["Amp-hr"], dtype=float)
    np.testing.assert_allclose(frame["Discharge capacity [A.h]"], np.where(state == "D", amp_hr, 0.0))
    if "Test (Sec)" in column:
        np.testing.assert_allclose(frame["Time [s]"], np.array(column["Test (Sec)"], dtype=float))
    # discharge current is positive once read
    assert (frame.filter(pl.col("State") == "D")["Current [A]"] >= 0).all()


def test_time_formats_and_header(testdata: Path) -> None:
    minutes = READERS["maccor_raw"].read(testdata / FOLDER / "bdtk_maccor_example.002")
    assert minutes.frame["Time [s]"][1] == pytest.approx(0.1667 * 60)
    assert minutes.test_setup["procedure"].startswith("ABRHV-NCM523-Form-4p1.000")
    assert minutes.start_time.isoformat() == "2016-04-01T16:05:31"
    clock = READERS["maccor_raw"].read(testdata / FOLDER / "beep_maccor_test_file_4267-66-6519.041")
    assert clock.frame["Time [s]"][:3].to_list() == [0.0, 1.0, 2.0]  # "  0d 00:00:01.0000"
    mid_test = READERS["maccor_raw"].read(testdata / FOLDER / "beep_PredictionDiagnostics_000151_test.052")
    assert mid_test.frame["Time [s]"][0] == pytest.approx(769267.24)


@pytest.mark.parametrize(
    "name", ["beep_xTESLADIAG_000019_CH70.070", "beep_PreDiag_000229_000229_truncated.034"]
)
def test_normalised_series_is_processed(testdata: Path, tmp_path: Path, name: str) -> None:
    read_and_process(READERS["maccor_raw"], testdata / FOLDER / name, tmp_path)


def test_impedance_sidecar(testdata: Path) -> None:
    path = testdata / FOLDER / FRA
    reader = detect(path)
    assert reader.family == "maccor_fra"
    raw = reader.read(path)
    assert raw.frame.height == 60  # 72 lines less the 12 of the header
    assert raw.frame["Frequency [Hz]"][0] == pytest.approx(999999.0)
    assert raw.frame["Z_Im [Ohm]"][0] == pytest.approx(-0.849201)  # Z''(b) as written: raw Im(Z)
    assert raw.frame["Z_Re [Ohm]"][0] == pytest.approx(0.773446)
    validate_series(normalise(raw).frame.lazy()).collect()


def test_binary_and_damaged_files(tmp_path: Path) -> None:
    binary = tmp_path / "TEST.001"
    binary.write_bytes(b"\x01\x00\x02\x00" + bytes(range(256)) * 4)
    reader = detect(binary)
    assert reader.family == "maccor_raw"
    with pytest.raises(FormatError, match="binary Maccor data file"):
        reader.read(binary)
    headless = tmp_path / "TEST.002"
    headless.write_text("Rec#\tCyc#\n1\t0\n")
    with pytest.raises(FormatError):
        READERS["maccor_raw"].read(headless)
    columns_missing = tmp_path / "TEST.003"
    columns_missing.write_text(
        "Today's Date 04/04/2016  Date of Test:\t04/01/2016\t Procedure: x\nRec#\tCyc#\n1\t0\n"
    )
    with pytest.raises(FormatError, match="no 'Amps' column"):
        READERS["maccor_raw"].read(columns_missing)
    only_header = tmp_path / "TEST.004"
    only_header.write_text(
        "Today's Date 04/04/2016  Date of Test:\t04/01/2016\t Procedure: x\n"
        "Rec#\tAmps\tVolts\tState\tTest (Sec)\n"
    )
    assert READERS["maccor_raw"].read(only_header).frame.height == 0


def test_sniff_prefers_the_native_reader_for_run_files(testdata: Path) -> None:
    head = (testdata / FOLDER / "bdtk_maccor_example.002").read_bytes()[:65536]
    assert READERS["maccor_raw"].sniff(head, "x.002") == 0.95
    assert READERS["maccor_raw"].sniff(head, "x.txt") == 0.8
    assert READERS["maccor_raw"].sniff(b"Rec,Cycle", "x.txt") == 0.0
