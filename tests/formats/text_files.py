"""Shared checks for the text-export readers' tests: a real file read, normalised and processed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cellstore.formats.base import FormatError, Reader
from cellstore.formats.normalise import NormalisedSeries, normalise
from cellstore.processing.pipeline import process_series

# Per file: (folder, name, data rows as the MANIFEST counts them).
MANIFEST_ROWS: dict[str, tuple[str, int]] = {
    "beep_2017-05-09_test-TC-contact_CH33.csv": ("arbin_csv", 287),
    "beep_FastCharge_000025_CH8.csv": ("arbin_csv", 248),
    "pyprobe_sample_data_arbin.csv": ("arbin_csv", 13),
    "pyprobe_sample_data_basytec.txt": ("basytec", 74),
    "beep_test_loopsnewoutput_MB_CE1_short10k.csv": ("biologic_csv", 9999),
    "pyprobe_Sample_data_biologic_CA1.txt": ("biologic_mpt", 1397),
    "pyprobe_Sample_data_biologic_no_header.mpt": ("biologic_mpt", 13),
    "pyprobe_Sample_data_biologic_timestamped.txt": ("biologic_mpt", 8),
    "yadg_cp.mpt": ("biologic_mpt", 121),
    "yadg_cv.mpt": ("biologic_mpt", 5103),
    "yadg_gcpl.issue_149.mpt": ("biologic_mpt", 132),
    "yadg_geis.issue_149.mpt": ("biologic_mpt", 84),
    "yadg_mb.issue_95.de.mpt": ("biologic_mpt", 33),
    "yadg_mb.issue_95.mpt": ("biologic_mpt", 33),
    "yadg_ocv.issue_149.mpt": ("biologic_mpt", 43),
    "yadg_peis.mpt": ("biologic_mpt", 32),
    "yadg_wait.mpt": ("biologic_mpt", 0),
    "cellpy_maccor_001.txt": ("maccor_txt", 6704),
    "cellpy_maccor_002.txt": ("maccor_txt", 7446),
    "cellpy_maccor_three.txt": ("maccor_txt", 4009),
    "pyprobe_sample_data_maccor.csv": ("maccor_txt", 15),
    "cellpy_neware_uio.csv": ("neware_csv", 9065),
    "cellpy_nw_regular_export_ife_example.csv": ("neware_csv", 9295),
    "beep_test_Nova_Form-CH01-01_short.csv": ("novonix", 3942),
    "pyprobe_sample_data_novonix.csv": ("novonix", 207),
    "cellpy_Test25195.csv": ("pec", 19),
    "cellpy_Test25209.csv": ("pec", 281),
    "cellpy_pec.csv": ("pec", 16255),
}


def files_of(folder: str) -> list[str]:
    return [name for name, (where, _) in MANIFEST_ROWS.items() if where == folder]


def read_and_process(reader: Reader, path: Path, tmp_path: Path) -> NormalisedSeries:
    """Read, normalise, and run the processing pipeline on the result; returns the normalised series."""
    series = normalise(reader.read(path))
    series_path = tmp_path / "series.parquet"
    series.frame.write_parquet(series_path)
    result = process_series(series_path, tmp_path / "steps.parquet", tmp_path / "cycles.parquet")
    assert result.rows == series.frame.height
    assert pl.read_parquet(tmp_path / "steps.parquet").height == series.frame["Step count"].max() + 1
    return series


def check_real_file(reader: Reader, testdata: Path, tmp_path: Path, name: str) -> None:
    """One real file of the family: recognised, read, normalised and processed, with the
    manifest's row count; a file without data rows is refused by normalise in words."""
    folder, rows = MANIFEST_ROWS[name]
    path = testdata / folder / name
    assert reader.sniff(path.read_bytes()[:65536], name) >= 0.5
    if rows == 0:
        assert reader.read(path).frame.height == 0
        with pytest.raises(FormatError, match="no data rows"):
            normalise(reader.read(path))
        return
    assert read_and_process(reader, path, tmp_path).frame.height == rows


def assert_matches_cellpy(raw_frame: pl.DataFrame, golden: Path, *, rtol: float = 1e-6) -> None:
    """Time, voltage and current as cellpy's golden loader read them (cellpy: charge positive)."""
    ref = pl.read_parquet(golden)
    assert raw_frame.height == ref.height
    pairs = (
        ("Time [s]", "test_time", 1.0),
        ("Voltage [V]", "voltage", 1.0),
        ("Current [A]", "current", -1.0),
    )
    for ours, theirs, sign in pairs:
        mine = raw_frame[ours].cast(pl.Float64).to_numpy()
        expected = sign * ref[theirs].cast(pl.Float64).to_numpy()
        np.testing.assert_allclose(mine, expected, rtol=rtol, atol=1e-9, err_msg=ours)
