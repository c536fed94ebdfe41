"""BiologicMptReader: real files parse, normalise and process, with the manifest's row count."""

from __future__ import annotations

import pytest

from cellstore.formats.families.biologic import BiologicCsvReader, BiologicMptReader
from tests.formats.text_files import check_real_file, files_of, read_and_process

READER = BiologicMptReader()


@pytest.mark.parametrize("name", files_of("biologic_mpt"))
def test_real_file(testdata, tmp_path, name):
    check_real_file(READER, testdata, tmp_path, name)


def test_csv_export_with_its_log(testdata, tmp_path):
    path = testdata / "biologic_csv" / "beep_test_loopsnewoutput_MB_CE1_short10k.csv"
    reader = BiologicCsvReader()
    assert reader.sniff(path.read_bytes()[:65536], path.name) >= 0.5
    series = read_and_process(reader, path, tmp_path)
    assert series.frame.height == 9999
    assert series.test_setup["channel_number"].startswith("E1")
    assert series.start_time is not None and series.start_time.year == 2021


def test_decimal_comma_export_equals_the_decimal_point_one(testdata):
    point = READER.read(testdata / "biologic_mpt" / "yadg_mb.issue_95.mpt").frame
    comma = READER.read(testdata / "biologic_mpt" / "yadg_mb.issue_95.de.mpt").frame
    for column in ("Time [s]", "Voltage [V]", "Current [A]"):
        assert comma[column].to_list() == pytest.approx(point[column].to_list())


def test_impedance_rows_keep_frequency_and_im_z_sign(testdata):
    frame = READER.read(testdata / "biologic_mpt" / "yadg_peis.mpt").frame
    assert frame["Frequency [Hz]"][0] == pytest.approx(1.9999814e5)
    assert frame["Z_Im [Ohm]"][0] == pytest.approx(-7.3047662e-1)
