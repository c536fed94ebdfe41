"""Impedance files of every vendor in the shared EIS folder (and BioLogic's binary PEIS)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cellstore.formats.base import FormatError
from cellstore.formats.detect import READERS, detect
from cellstore.formats.normalise import normalise
from cellstore.processing.validation import validate_series

FOLDER = "eis"
# name -> (family, rows, (frequency, Z_Re, Z_Im) of the first row as written, with Z_Im as raw Im(Z))
FILES = {
    "impedancepy_exampleData.csv": (
        "eis_csv",
        66,
        (3.1623e-03, 4.949989776405060160e-02, -2.043869854441892481e-02),
    ),
    "impedancepy_exampleDataAutolab.txt": ("autolab_z60w", 41, (10000, 0.013785863964281, 0.007191946305823)),
    "impedancepy_exampleDataBioLogic.mpt": ("biologic_mpt", 43, (1.0003201e3, 6.5470886e1, -3.8998979e-1)),
    "impedancepy_exampleDataCHInstruments.txt": ("chi_eis", 73, (9.961e4, 9.891e1, -2.748)),
    "impedancepy_exampleDataGamry.DTA": ("gamry_dta", 72, None),
    "impedancepy_exampleDataParstat.txt": (
        "parstat_eis",
        31,
        (10000, -0.00049816280376104, 0.0175143479976367),
    ),
    "impedancepy_exampleDataVersaStudio.par": ("versastudio_par", 61, (100000, 55.31571, 4.575431)),
    "impedancepy_exampleDataZPlot.z": ("zplot", 21, (3.0e5, 1.4777e2, -1.1335e1)),
}


def test_every_shared_file_is_covered(testdata: Path) -> None:
    assert {p.name for p in (testdata / FOLDER).iterdir()} == set(FILES)


@pytest.mark.parametrize("name", sorted(FILES))
def test_detected_rows_first_point_and_sign(testdata: Path, name: str) -> None:
    family, rows, first = FILES[name]
    path = testdata / FOLDER / name
    reader = detect(path)
    assert reader.family == family
    frame = reader.read(path).frame
    assert frame.height == rows
    if first is not None:
        got = (frame["Frequency [Hz]"][0], frame["Z_Re [Ohm]"][0], frame["Z_Im [Ohm]"][0])
        np.testing.assert_allclose(got, first, rtol=1e-6)
    # the capacitive arc: most points below the real axis
    assert (frame["Z_Im [Ohm]"] < 0).mean() > 0.6
    series = normalise(reader.read(path))
    validate_series(series.frame.lazy()).collect()
    assert series.frame["Step count"].unique().to_list() == [0]


def test_gamry_values_and_header(testdata: Path) -> None:
    raw = READERS["gamry_dta"].read(testdata / FOLDER / "impedancepy_exampleDataGamry.DTA")
    last = raw.frame.tail(1)
    # "71	861	0.0158898	17007.49	-6635.557 ..." is the ZCURVE table's last row
    assert last["Frequency [Hz]"][0] == pytest.approx(0.0158898)
    assert last["Z_Re [Ohm]"][0] == pytest.approx(17007.49)
    assert last["Z_Im [Ohm]"][0] == pytest.approx(-6635.557)
    assert last["Time [s]"][0] == 861
    assert raw.start_time.isoformat() == "2018-04-23T16:43:15"
    assert raw.test_setup["potentiostat"] == "REF3000-34128"


def test_parstat_keeps_only_impedance_rows(testdata: Path) -> None:
    raw = READERS["parstat_eis"].read(testdata / FOLDER / "impedancepy_exampleDataParstat.txt")
    assert (raw.frame["Frequency [Hz]"] > 0).all()
    assert raw.test_setup["dc_rows_skipped"] == 812 - 31


def test_time_is_null_where_the_instrument_keeps_none(testdata: Path) -> None:
    raw = READERS["chi_eis"].read(testdata / FOLDER / "impedancepy_exampleDataCHInstruments.txt")
    assert raw.frame["Time [s]"].null_count() == raw.frame.height
    zplot = READERS["zplot"].read(testdata / FOLDER / "impedancepy_exampleDataZPlot.z")
    assert zplot.frame["Time [s]"][0] == pytest.approx(2.67)


@pytest.mark.parametrize(
    ("family", "text"),
    [
        ("gamry_dta", "EXPLAIN\nTAG\tEISPOT\n"),
        ("autolab_z60w", '"Z60W Data File: Version 1.1"\n""\n'),
        ("chi_eis", "Feb. 20, 2020\nA.C. Impedance\n"),
        ("parstat_eis", "Potential (V)\tCurrent (A)\n1\t2\n"),
        ("versastudio_par", "<Application>\nName=VersaStudio\n</Application>\n"),
        ("zplot", "ZPLOT2 ASCII\n  Date: 1\n"),
        ("eis_csv", "1,2,3\nnot numbers\n"),
    ],
)
def test_files_without_a_sweep_are_format_errors(tmp_path: Path, family: str, text: str) -> None:
    path = tmp_path / "cut"
    path.write_text(text)
    with pytest.raises(FormatError):
        READERS[family].read(path)


def test_generic_csv_needs_a_monotonic_sweep() -> None:
    reader = READERS["eis_csv"]
    assert reader.sniff(b"1,2,3\n2,3,4\n3,4,5\n", "a.csv") == 0.6
    assert reader.sniff(b"1,2,3\n3,3,4\n2,4,5\n", "a.csv") == 0.0
    assert reader.sniff(b"time,v,i\n1,2,3\n", "a.csv") == 0.0
