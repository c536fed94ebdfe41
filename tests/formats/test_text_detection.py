"""detect() picks the right text-export family for every real file, and refuses what is not a series."""

from __future__ import annotations

import pytest

from cellstore.formats.base import FormatError
from cellstore.formats.detect import UnknownFormat, detect
from cellstore.formats.families.arbin import ArbinCsvReader
from cellstore.formats.families.batteryarchive import BatteryArchiveReader
from cellstore.formats.families.batterydata_doe import BatteryDataHubReader
from cellstore.formats.families.maccor import MaccorTextReader
from cellstore.formats.normalise import normalise
from tests.formats.text_files import MANIFEST_ROWS

FAMILY = {"maccor_txt": "maccor_txt", "arbin_csv": "arbin_csv"}
COMPANIONS = [
    "arbin_csv/beep_2017-05-09_test-TC-contact_CH33_Metadata.csv",
    "arbin_csv/beep_FastCharge_000025_CH8_Metadata.csv",
    "biologic_csv/beep_test_loopsnewoutput_MB_CE1_short10k.mpl",
    "novonix/beep_test_Nova_Form-CH01-01_short_metadata.csv",
]


@pytest.mark.parametrize("name", sorted(MANIFEST_ROWS))
def test_detects_the_family(testdata, name):
    folder, _ = MANIFEST_ROWS[name]
    assert detect(testdata / folder / name).family == folder


@pytest.mark.parametrize("name", COMPANIONS)
def test_companion_files_are_not_series(testdata, name):
    with pytest.raises(UnknownFormat, match=r"Supported formats: .*Maccor"):
        detect(testdata / name)


def test_random_text_and_png_are_unknown(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("shopping list\neggs, milk\n")
    png = tmp_path / "plot.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    for path in (text, png):
        with pytest.raises(UnknownFormat, match=r"Supported formats: .*Arbin CSV export"):
            detect(path)


def test_bom_and_rows_wider_than_the_header(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(
        "\ufeffData_Point,Test_Time,Step_Index,Cycle_Index,Current,Voltage\n"
        "1,0,1,1,0.5,3.5,99\n2,1,1,1,0.5,3.6,98\n".encode()
    )
    assert detect(path).family == "arbin_csv"
    frame = ArbinCsvReader().read(path).frame
    assert frame["Current [A]"].to_list() == [-0.5, -0.5]
    assert frame["column_6"].to_list() == [99, 98]


def test_non_monotonic_time_is_a_format_error(tmp_path):
    path = tmp_path / "back.csv"
    path.write_text(
        "Data_Point,Test_Time,Step_Index,Cycle_Index,Current,Voltage\n1,5,1,1,0,3.5\n2,4,1,1,0,3.5\n"
    )
    with pytest.raises(FormatError, match="backwards"):
        normalise(ArbinCsvReader().read(path))


def test_empty_and_header_only_files(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(UnknownFormat):
        detect(empty)
    with pytest.raises(FormatError):
        MaccorTextReader().read(empty)
    header_only = tmp_path / "header.csv"
    header_only.write_text("Data_Point,Test_Time,Step_Index,Cycle_Index,Current,Voltage\n")
    with pytest.raises(FormatError, match="no data rows"):
        normalise(ArbinCsvReader().read(header_only))


def test_batteryarchive_csv(tmp_path):
    path = tmp_path / "CALCE_timeseries.csv"
    path.write_text(
        "Date_Time,Test_Time (s),Cycle_Index,Current (A),Voltage (V),Charge_Capacity (Ah),"
        "Discharge_Capacity (Ah)\n"
        "2010-01-01 00:00:00,0,1,0.5,3.9,0.0,0\n2010-01-01 00:00:01,1,1,0.5,4.0,0.1,0\n"
        "2010-01-01 00:00:02,2,1,-0.5,3.9,0.1,0.1\n2010-01-01 00:00:03,3,2,0.5,3.8,0.2,0.1\n"
    )
    assert detect(path).family == "batteryarchive"
    series = normalise(BatteryArchiveReader().read(path))
    assert series.frame["Step count"].to_list() == [0, 0, 1, 2]
    assert series.frame["Cycle count"].to_list() == [0, 0, 0, 1]
    assert series.frame["Charge capacity [A.h]"].to_list() == pytest.approx([0, 0.1, 0, 0])


def test_battery_data_hub_csv(tmp_path):
    path = tmp_path / "p492-13-raw.csv"
    path.write_text("Cycle_Index,Step,Time_s,Current_A,Voltage_V\n1,1,0,1.0,3.5\n1,2,1,-1.0,3.4\n")
    assert detect(path).family == "batterydata_doe"
    series = normalise(BatteryDataHubReader().read(path))
    assert series.frame["Current [A]"].to_list() == [-1.0, 1.0]
    assert series.frame["Step count"].to_list() == [0, 1]
