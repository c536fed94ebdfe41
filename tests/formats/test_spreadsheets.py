"""Excel exports (Arbin, LAND): workbooks written here in each vendor's layout, since the shared test
data holds none. The Arbin workbook carries the rows of a real Arbin CSV export, so both dialects must
give the same series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
import xlsxwriter
from polars.testing import assert_frame_equal

from cellstore.formats.base import FormatError
from cellstore.formats.detect import detect
from cellstore.formats.normalise import normalise
from tests.formats.conftest import TESTDATA

ARBIN_CSV = TESTDATA / "arbin_csv" / "beep_FastCharge_000025_CH8.csv"
#: The same quantities under the column names of Arbin's Excel export.
ARBIN_XLSX_NAMES = {
    "Test_Time": "Test_Time(s)",
    "Step_Time": "Step_Time(s)",
    "Current": "Current(A)",
    "Voltage": "Voltage(V)",
    "Charge_Capacity": "Charge_Capacity(Ah)",
    "Discharge_Capacity": "Discharge_Capacity(Ah)",
    "Charge_Energy": "Charge_Energy(Wh)",
    "Discharge_Energy": "Discharge_Energy(Wh)",
}


def workbook(path: Path, sheets: dict[str, pl.DataFrame]) -> Path:
    with xlsxwriter.Workbook(path) as book:
        for name, table in sheets.items():
            table.write_excel(book, worksheet=name)
    return path


def test_an_arbin_workbook_reads_as_the_same_series_as_its_csv(tmp_path: Path) -> None:
    if not ARBIN_CSV.is_file():
        pytest.skip(f"{ARBIN_CSV} not found")
    rows = pl.read_csv(ARBIN_CSV).drop("DateTime")
    info = pl.DataFrame({"Channel": ["CH8"], "Schedule_File_Name": ["20170512-4_4C-80PER_4_4C.SDU"]})
    path = workbook(
        tmp_path / "arbin export.xlsx", {"Global_Info": info, "Channel_1_8": rows.rename(ARBIN_XLSX_NAMES)}
    )
    reader = detect(path)
    assert reader.family == "arbin_xlsx"
    from_xlsx = normalise(reader.read(path)).frame
    from_csv = normalise(detect(ARBIN_CSV).read(ARBIN_CSV)).frame
    common = ["Time [s]", "Voltage [V]", "Current [A]", "Step count", "Cycle count",
              "Discharge capacity [A.h]", "Charge capacity [A.h]"]  # fmt: skip
    assert_frame_equal(from_xlsx.select(common), from_csv.select(common), check_dtypes=False, rel_tol=1e-9)
    assert from_xlsx.height == 248


def land_record(rows: int = 300, per_step: int = 100) -> pl.DataFrame:
    """LAND's record sheet: charge current positive, in mA; capacity and energy counted per step."""
    index = np.arange(rows)
    step = index // per_step
    current_ma = np.array([-500.0, 0.0, 500.0])[step % 3]  # discharge, rest, charge (LAND's sign)
    in_step = (index % per_step).astype(float)
    return pl.DataFrame(
        {
            "Index": index + 1,
            "TestTime/Sec": index.astype(float),
            "StepTime/Sec": in_step,
            "Voltage/V": 3.7 + 0.001 * in_step * np.sign(current_ma),
            "Current/mA": current_ma,
            "Capacity/mAh": np.abs(current_ma) * in_step / 3600,
            "Energy/mWh": np.abs(current_ma) * 3.7 * in_step / 3600,
            "Step": step + 1,
            "Cycle": step // 3 + 1,
        }
    )


def test_a_land_workbook_flips_the_current_and_splits_the_counters(tmp_path: Path) -> None:
    record = land_record()
    steps = record.group_by("Step", maintain_order=True).agg(
        pl.col("Voltage/V").first().alias("StartVolt/V"),
        pl.col("Voltage/V").last().alias("EndVolt/V"),
        pl.col("Capacity/mAh").last(),
    )
    # A summary sheet with the record's columns too, which must not be read as data.
    path = workbook(tmp_path / "land.xlsx", {"Record": record, "Step": steps, "Cycle": record.head(3)})
    reader = detect(path)
    assert reader.family == "land_xlsx"
    series = normalise(reader.read(path)).frame
    assert series["Current [A]"].to_list() == (-record["Current/mA"] / 1000).to_list()
    assert series["Step count"].to_list() == (record["Step"] - 1).to_list()
    discharge = series.filter(pl.col("Step count") == 0)["Discharge capacity [A.h]"]
    charge = series.filter(pl.col("Step count") == 2)["Charge capacity [A.h]"]
    assert discharge[-1] == pytest.approx(0.5 * 99 / 3600)
    assert charge[-1] == pytest.approx(0.5 * 99 / 3600)
    assert series.filter(pl.col("Step count") == 0)["Charge capacity [A.h]"].max() == 0


def test_a_workbook_without_a_record_sheet_is_refused_in_words(tmp_path: Path) -> None:
    path = workbook(tmp_path / "notes.xlsx", {"Record": pl.DataFrame({"Remark": ["nothing here"]})})
    with pytest.raises(FormatError, match="record sheet"):
        detect(path).read(path)
