"""BioLogic .mpr: every shared file, checked against EC-Lab's own .mpt exports of the same runs and cellpy."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cellstore.formats.base import FormatError
from cellstore.formats.detect import READERS, detect
from cellstore.formats.families.biologic_mpr import MAGIC
from cellstore.formats.normalise import normalise
from cellstore.processing.validation import validate_series
from tests.formats.text_files import assert_matches_cellpy, read_and_process

FOLDER = "biologic_mpr"
ROWS = {
    "aurora_PEIS.mpr": 244,
    "aurora_test_C01.mpr": 18001,
    "cellpy_biol.mpr": 23561,
    "yadg_cp.mpr": 121,
    "yadg_cv.mpr": 5103,
    "yadg_gcpl.issue_149.mpr": 132,
    "yadg_geis.issue_149.mpr": 84,
    "yadg_mb.issue_95.mpr": 33,
    "yadg_ocv.issue_149.mpr": 43,
    "yadg_peis.mpr": 32,
    "yadg_wait.mpr": 0,
}
PAIRED = [name for name in ROWS if name.startswith("yadg_")]

#: .mpt column -> the column the reader gives it (and the factor from the .mpt value to ours).
CANONICAL = {
    "time/s": ("Time [s]", 1.0),
    "Ewe/V": ("Voltage [V]", 1.0),
    "<Ewe/V>": ("Voltage [V]", 1.0),
    "<Ewe>/V": ("Voltage [V]", 1.0),
    "I/mA": ("Current [A]", -1e-3),
    "<I>/mA": ("Current [A]", -1e-3),
    "freq/Hz": ("Frequency [Hz]", 1.0),
    "Re(Z)/Ohm": ("Z_Re [Ohm]", 1.0),
    "-Im(Z)/Ohm": ("Z_Im [Ohm]", -1.0),
    "Ns": ("Step from cycler", 1.0),
    "cycle number": ("Cycle from cycler", 1.0),
}
#: EC-Lab leaves harmonic analysis out of the export (-1 or 0) where the harmonics pass the bandwidth.
NOT_EXPORTED = re.compile(r"^(THD|NSD|NSR) |^\|(Ewe|I) h\d\|")


def _mpt(path: Path) -> tuple[list[str], list[list[float]]]:
    lines = path.read_bytes().decode("latin-1").splitlines()
    header = int(re.search(r"Nb header lines : (\d+)", "\n".join(lines[:5])).group(1))
    names = lines[header - 1].rstrip("\t").split("\t")
    rows = [
        [float(v.replace(",", ".")) for v in line.rstrip("\t").split("\t")] for line in lines[header:] if line
    ]
    return names, rows


def test_every_shared_file_is_covered(testdata: Path) -> None:
    assert {p.name for p in (testdata / FOLDER).glob("*.mpr")} == set(ROWS)


@pytest.mark.parametrize("name", sorted(ROWS))
def test_detected_and_row_count(testdata: Path, name: str) -> None:
    path = testdata / FOLDER / name
    reader = detect(path)
    assert reader.family == "biologic_mpr"
    assert reader.read(path).frame.height == ROWS[name]


@pytest.mark.parametrize("name", PAIRED)
def test_every_column_matches_the_mpt_export(testdata: Path, name: str) -> None:
    frame = READERS["biologic_mpr"].read(testdata / FOLDER / name).frame
    names, rows = _mpt(testdata / "biologic_mpt" / (Path(name).stem + ".mpt"))
    compared = 0
    for j, column in enumerate(names):
        column = column.replace("\ufffd", "µ").replace("\xb5", "µ")
        ours, factor = CANONICAL.get(column, (column, 1.0))
        if ours not in frame.columns or NOT_EXPORTED.search(column):
            continue
        expected = np.array([row[j] for row in rows]) * factor
        atol = 5e-4 if ours == "Time [s]" else 1e-9
        np.testing.assert_allclose(
            frame[ours].cast(pl.Float64), expected, rtol=2e-6, atol=atol, err_msg=column
        )
        compared += 1
    assert compared >= 4 or not rows


def test_current_of_a_file_without_current_is_the_charge_over_the_interval(testdata: Path) -> None:
    """GCPL keeps dq, not I; EC-Lab's export computes <I> = dq/dt, and so does the reader."""
    frame = READERS["biologic_mpr"].read(testdata / FOLDER / "yadg_gcpl.issue_149.mpr").frame
    names, rows = _mpt(testdata / "biologic_mpt" / "yadg_gcpl.issue_149.mpt")
    expected = -np.array([row[names.index("<I>/mA")] for row in rows]) / 1000
    np.testing.assert_allclose(frame["Current [A]"], expected, atol=1e-9)


def test_cellpy_golden(testdata: Path) -> None:
    raw = READERS["biologic_mpr"].read(testdata / FOLDER / "cellpy_biol.mpr")
    golden = testdata / "references" / "cellpy_goldens" / "loader_biologics_mpr" / "raw.parquet"
    # cellpy keeps current in mA
    frame = raw.frame.with_columns(pl.col("Current [A]") * 1000)
    assert_matches_cellpy(frame, golden, rtol=1e-6)
    ref = pl.read_parquet(golden)
    np.testing.assert_allclose(frame["Frequency [Hz]"], ref["frequency"], rtol=1e-6)
    assert raw.start_time is not None and raw.start_time.isoformat() == "2017-03-15T10:22:54"


def test_start_time_and_technique(testdata: Path) -> None:
    raw = READERS["biologic_mpr"].read(testdata / FOLDER / "yadg_gcpl.issue_149.mpr")
    assert raw.start_time.isoformat(timespec="milliseconds") == "2024-01-10T11:02:29.886"  # as the .mpt says
    assert raw.test_setup["technique"] == "Galvanostatic Cycling with Potential Limitation"


@pytest.mark.parametrize(
    "name", ["yadg_gcpl.issue_149.mpr", "yadg_mb.issue_95.mpr", "cellpy_biol.mpr", "yadg_cp.mpr"]
)
def test_normalised_series_is_processed(testdata: Path, tmp_path: Path, name: str) -> None:
    read_and_process(READERS["biologic_mpr"], testdata / FOLDER / name, tmp_path)


@pytest.mark.parametrize("name", ["yadg_peis.mpr", "aurora_PEIS.mpr", "yadg_geis.issue_149.mpr"])
def test_impedance_series_validate(testdata: Path, name: str) -> None:
    series = normalise(READERS["biologic_mpr"].read(testdata / FOLDER / name))
    checked = validate_series(series.frame.lazy()).collect()
    assert (checked["Z_Im [Ohm]"] < 0).mean() > 0.5  # the capacitive arc, raw Im(Z)


def test_zero_rows_read_empty_and_normalise_refuses(testdata: Path) -> None:
    raw = READERS["biologic_mpr"].read(testdata / FOLDER / "yadg_wait.mpr")
    assert raw.frame.height == 0 and "Time [s]" in raw.frame.columns
    with pytest.raises(FormatError, match="no data rows"):
        normalise(raw)


def test_truncated_file_is_a_format_error(testdata: Path, tmp_path: Path) -> None:
    data = (testdata / FOLDER / "yadg_cp.mpr").read_bytes()
    cut = tmp_path / "cut.mpr"
    cut.write_bytes(data[:9000])
    with pytest.raises(FormatError, match="claims"):
        READERS["biologic_mpr"].read(cut)
    header_only = tmp_path / "header.mpr"
    header_only.write_bytes(data[:200])
    with pytest.raises(FormatError):
        READERS["biologic_mpr"].read(header_only)
    bare = tmp_path / "bare.mpr"
    bare.write_bytes(MAGIC + b" " * 25)
    with pytest.raises(FormatError, match="no data module"):
        READERS["biologic_mpr"].read(bare)


def _data_module(ids: list[int], points: int, record: bytes) -> bytes:
    body = struct.pack("<IB", points, len(ids)) + struct.pack(f"<{len(ids)}H", *ids)
    body += b"\x00" * (0x196 - len(body)) + record * points
    return (
        MAGIC
        + b" " * 25
        + b"MODULE"
        + b"VMP data  "
        + b"VMP data".ljust(25)
        + struct.pack("<II", len(body), 3)
        + b"01/01/24"
        + body
    )


def test_one_unknown_column_is_read_by_its_width_and_two_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "unknown.mpr"
    path.write_bytes(_data_module([4, 9999], 2, struct.pack("<df", 1.5, 2.5)))
    frame = READERS["biologic_mpr"].read(path).frame
    assert frame["column 9999"].to_list() == [2.5, 2.5] and frame["Time [s]"].to_list() == [1.5, 1.5]
    path.write_bytes(_data_module([4, 9998, 9999], 2, struct.pack("<dff", 1.5, 2.5, 3.5)))
    with pytest.raises(FormatError, match="unknown BioLogic column"):
        READERS["biologic_mpr"].read(path)


def test_sniff() -> None:
    reader = READERS["biologic_mpr"]
    assert reader.sniff(MAGIC + b"   ", "x.bin") > 0.95
    assert reader.sniff(b"EC-Lab ASCII FILE", "x.mpr") == 0.0
