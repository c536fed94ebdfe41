"""Every instrument family cellstore reads goes from a file on disk to a ready measurement whose steps
and cycles are served, through ``cellstore ingest`` and so through ``POST /raw_data/{id}/convert``.

One real file per family from the shared test data (the smallest that holds data rows), all in one
``cellstore ingest`` run, as a lab would hand over a folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from cellstore.formats.detect import UnknownFormat, detect
from tests.formats.conftest import TESTDATA
from tests.formats.test_every_file import EMPTY, data_files
from tests.formats.test_spreadsheets import land_record, workbook
from tests.remote.test_ingest import make_instance, remote_env
from tests.support import LiveServer, Tenant
from tests.test_cli import cli


def one_file_per_family() -> dict[str, Path]:
    chosen: dict[str, Path] = {}
    for path in data_files():
        if path.name in EMPTY:
            continue
        try:
            family = detect(path).family
        except UnknownFormat:
            continue  # a companion file (metadata, log)
        if family not in chosen or path.stat().st_size < chosen[family].stat().st_size:
            chosen[family] = path
    return chosen


def test_one_file_of_every_family_ingests_to_a_ready_measurement(server: LiveServer, tenant: Tenant) -> None:
    if not TESTDATA.is_dir():
        pytest.skip(f"real instrument files not found at {TESTDATA}")
    files = one_file_per_family()
    assert len(files) >= 20, sorted(files)
    instance_id = make_instance(server, tenant)
    paths = [str(path) for path in files.values()]
    result = cli("ingest", *paths, "--instance", instance_id, env=remote_env(server, tenant), check=False)
    lines = {line["file"]: line for line in map(json.loads, result.stdout.splitlines())}
    outcome = {family: lines[str(path)] for family, path in files.items()}
    failed = {family: line for family, line in outcome.items() if line["status"] != "ready"}
    assert not failed, failed
    assert result.returncode == 0, result.stderr[-2000:]

    client = server.client(tenant)
    for family, path in files.items():
        measurement = client.cell_measurement.get(lines[str(path)]["measurement_id"])
        assert measurement.test_setup["format"] == family
        steps = client.cell_measurement.steps(measurement.id)
        cycles = client.cell_measurement.cycles(measurement.id)
        assert len(steps) >= 1 and len(cycles) >= 1, family


def synthetic_exports(directory: Path) -> dict[str, Path]:
    """Files of the families the shared test data has no example of, in their vendors' layouts."""
    record = land_record()
    arbin = record.select(
        pl.col("Index").alias("Data_Point"),
        pl.col("TestTime/Sec").alias("Test_Time(s)"),
        pl.col("Step").alias("Step_Index"),
        pl.col("Cycle").alias("Cycle_Index"),
        (pl.col("Current/mA") / 1000).alias("Current(A)"),  # Arbin: charge positive, like LAND
        pl.col("Voltage/V").alias("Voltage(V)"),
        (pl.when(pl.col("Current/mA") > 0).then(pl.col("Capacity/mAh")).otherwise(0) / 1000).alias(
            "Charge_Capacity(Ah)"
        ),
        (pl.when(pl.col("Current/mA") < 0).then(pl.col("Capacity/mAh")).otherwise(0) / 1000).alias(
            "Discharge_Capacity(Ah)"
        ),
    )
    archive = arbin.select(
        (pl.col("Test_Time(s)").cast(pl.Int64) * 1_000_000)
        .cast(pl.Datetime("us"))
        .dt.strftime("%Y-%m-%d %H:%M:%S")
        .alias("Date_Time"),
        pl.col("Test_Time(s)").alias("Test_Time (s)"),
        pl.col("Cycle_Index"),
        pl.col("Current(A)").alias("Current (A)"),
        pl.col("Voltage(V)").alias("Voltage (V)"),
        pl.col("Charge_Capacity(Ah)").alias("Charge_Capacity (Ah)"),
        pl.col("Discharge_Capacity(Ah)").alias("Discharge_Capacity (Ah)"),
    )
    hub = arbin.select(
        pl.col("Cycle_Index"),
        pl.col("Step_Index").alias("Step"),
        pl.col("Test_Time(s)").alias("Time_s"),
        pl.col("Current(A)").alias("Current_A"),
        pl.col("Voltage(V)").alias("Voltage_V"),
    )
    files = {
        "arbin_xlsx": workbook(
            directory / "arbin export.xlsx", {"Global_Info": hub.head(1), "Channel_1_1": arbin}
        ),
        "land_xlsx": workbook(directory / "land export.xlsx", {"Record": record}),
        "batteryarchive": directory / "CALCE_CX2_timeseries.csv",
        "batterydata_doe": directory / "p492-13-raw.csv",
    }
    archive.write_csv(files["batteryarchive"])
    hub.write_csv(files["batterydata_doe"])
    return files


def test_the_families_without_a_shared_example_ingest_too(
    server: LiveServer, tenant: Tenant, tmp_path: Path
) -> None:
    files = synthetic_exports(tmp_path)
    instance_id = make_instance(server, tenant)
    paths = [str(path) for path in files.values()]
    result = cli("ingest", *paths, "--instance", instance_id, env=remote_env(server, tenant), check=False)
    lines = {line["file"]: line for line in map(json.loads, result.stdout.splitlines())}
    assert {line["status"] for line in lines.values()} == {"ready"}, lines
    assert result.returncode == 0
    client = server.client(tenant)
    for family, path in files.items():
        measurement_id = lines[str(path)]["measurement_id"]
        assert client.cell_measurement.get(measurement_id).test_setup["format"] == family
        assert len(client.cell_measurement.steps(measurement_id)) == 3, family
