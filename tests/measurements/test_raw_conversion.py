"""Raw files converted on the server into time-series measurements (``POST /raw_data/{id}/convert``).

Run on both deployments (SQLite with local files, PostgreSQL with SeaweedFS): the
request reads only the file's first bytes from storage to recognise it, the job
parses it, and the ordinary processing takes over. The files here are the ones
cellstore writes itself (BDF and its own CSV), so that a round trip can be checked
value by value; the instrument families have their own tests in ``tests/formats``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cellstore.formats.bdf import to_bdf
from tests.measurements.conftest import StoreServer, cycling
from tests.support import LOCAL_CLOCK_FILE, Api, Tenant, assert_error

START = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)


def wait_settled(http: Api, measurement_id: str, seconds: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        measurement = http.get(f"/cell_measurements/{measurement_id}").json()
        if measurement["processing_status"] in ("ready", "failed") or time.monotonic() > deadline:
            return measurement
        time.sleep(0.2)


def upload_raw(iw: Any, project_id: str, path: Path) -> str:
    return str(iw.raw_data.upload(project_id, str(path)).id)


def convert(http: Api, raw_id: str, instance_id: str, **measurement: Any) -> Any:
    body: dict[str, Any] = {"cell_instance_id": instance_id}
    if measurement:
        body["measurement"] = measurement
    return http.post(f"/raw_data/{raw_id}/convert", json=body)


@pytest.fixture
def http(store_server: StoreServer, store_tenant: Tenant) -> Api:
    return store_server.http(store_tenant.api_key)


def test_a_bdf_file_becomes_the_series_it_was_exported_from(
    store_server: StoreServer,
    store_tenant: Tenant,
    iw: Any,
    http: Api,
    make_cell: Callable[..., str],
    tmp_path: Path,
) -> None:
    series = cycling(0, 1_200, 100)
    path = tmp_path / "cell.bdf.csv"
    to_bdf(series, START).write_csv(path)
    raw_id = upload_raw(iw, store_tenant.project_id, path)
    instance_id = make_cell()

    answered = convert(http, raw_id, instance_id, tags=["from-bdf"])
    assert answered.status_code == 200, answered.text
    created = answered.json()
    assert created["name"] == "cell.bdf.csv"  # the raw data's name
    assert created["processing_status"] == "pending"
    assert created["tags"] == ["from-bdf"]

    measurement = wait_settled(http, created["id"])
    assert measurement["processing_status"] == "ready", measurement["processing_error"]
    assert measurement["start_time"] == "2026-03-01T08:30:00Z"
    assert measurement["test_setup"]["format"] == "bdf_csv"
    stored = iw.cell_measurement.time_series(created["id"])
    stored = pl.from_pandas(stored) if not isinstance(stored, pl.DataFrame) else stored
    for column in (
        "Time [s]",
        "Voltage [V]",
        "Current [A]",
        "Discharge capacity [A.h]",
        "Charge capacity [A.h]",
    ):
        assert_frame_equal(stored.select(column), series.select(column), check_dtypes=False, rel_tol=1e-9)
    assert stored["Step count"].to_list() == series["Step count"].to_list()
    assert len(iw.cell_measurement.steps(created["id"])) == 12
    assert list(iw.raw_data.list_measurements(raw_id)) == [created["id"]]


def test_cellstore_own_csv_is_read_as_is(
    store_tenant: Tenant, iw: Any, http: Api, make_cell: Callable[..., str], tmp_path: Path
) -> None:
    series = cycling(0, 800, 200)
    path = tmp_path / "notebook export.csv"
    series.write_csv(path)
    raw_id = upload_raw(iw, store_tenant.project_id, path)
    created = convert(http, raw_id, make_cell(), name="From a notebook").json()
    measurement = wait_settled(http, created["id"])
    assert measurement["processing_status"] == "ready", measurement["processing_error"]
    assert measurement["name"] == "From a notebook"
    assert measurement["test_setup"]["format"] == "cellstore_csv"
    assert len(iw.cell_measurement.steps(created["id"])) == 4


def test_a_file_no_reader_knows_is_refused_with_the_formats_cellstore_reads(
    store_tenant: Tenant, iw: Any, http: Api, make_cell: Callable[..., str], tmp_path: Path
) -> None:
    path = tmp_path / "photo.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    raw_id = upload_raw(iw, store_tenant.project_id, path)
    instance_id = make_cell()
    error = assert_error(convert(http, raw_id, instance_id), 400, "BAD_REQUEST")
    assert "photo.png" in error["message"]
    assert "Battery Data Format" in error["message"]
    assert "Battery Data Format (.bdf, .bdf.csv)" in error["detail"]["supported_formats"]
    assert iw.cell_instance.get(instance_id).measurement_ids == []  # nothing was created


def test_a_damaged_file_fails_with_a_reason_and_leaves_the_rest_alone(
    store_tenant: Tenant, iw: Any, http: Api, make_cell: Callable[..., str], tmp_path: Path
) -> None:
    series = cycling(0, 400, 100)
    backwards = series.with_columns(
        pl.when(pl.int_range(pl.len()) == 250).then(1.0).otherwise(pl.col("Time [s]")).alias("Time [s]")
    )
    path = tmp_path / "backwards.bdf.csv"
    to_bdf(backwards, START).write_csv(path)
    raw_id = upload_raw(iw, store_tenant.project_id, path)
    instance_id = make_cell()
    good = iw.cell_measurement.create(
        instance_id, {"measurement": {"name": "Good"}, "time_series": series}
    ).id
    answered = convert(http, raw_id, instance_id)
    assert answered.status_code == 200, answered.text
    measurement = wait_settled(http, answered.json()["id"])
    assert measurement["processing_status"] == "failed"
    assert "Time [s]" in measurement["processing_error"]
    assert "backwards.bdf.csv" in measurement["processing_error"]
    assert http.get(f"/cell_measurements/{good}").json()["processing_status"] in (
        "pending",
        "running",
        "ready",
    )
    assert wait_settled(http, good)["processing_status"] == "ready"


def test_the_instance_must_be_writable_and_in_the_raw_data_project(
    store_server: StoreServer,
    store_tenant: Tenant,
    iw: Any,
    http: Api,
    make_cell: Callable[..., str],
    tmp_path: Path,
) -> None:
    path = tmp_path / "cell.csv"
    cycling(0, 100, 50).write_csv(path)
    raw_id = upload_raw(iw, store_tenant.project_id, path)
    other_project = http.post("/projects", json={"name": "Elsewhere"}).json()["id"]
    other_client = store_server.client(store_tenant, project_id=other_project)
    spec = other_client.cell_spec.create({"name": "Elsewhere spec"})
    elsewhere = other_client.cell_instance.create(spec.id, {"name": "Elsewhere cell"}).id
    assert_error(convert(http, raw_id, elsewhere), 409, "CONFLICT")

    stranger = store_server.new_tenant("Stranger")
    with store_server.http(stranger.api_key) as theirs:
        assert_error(convert(theirs, raw_id, make_cell()), 404, "NOT_FOUND")  # their view: no such file
    assert_error(convert(http, raw_id, "00000000-0000-4000-8000-000000000000"), 404, "NOT_FOUND")


def test_a_series_exports_to_bdf_csv_and_parquet_and_the_bdf_comes_back_whole(
    store_tenant: Tenant, iw: Any, http: Api, make_cell: Callable[..., str], tmp_path: Path
) -> None:
    series = cycling(0, 900, 150)
    instance_id = make_cell()
    source = iw.cell_measurement.create(
        instance_id,
        {"measurement": {"name": "Source", "start_time": "2026-02-01T00:00:00Z"}, "time_series": series},
    ).id
    assert wait_settled(http, source)["processing_status"] == "ready"
    exported: dict[str, pl.DataFrame] = {}
    for export_format in ("bdf.csv", "bdf.parquet", "csv", "parquet"):
        response = http.get(f"/cell_measurements/{source}/time_series/export?format={export_format}")
        assert response.status_code == 200, (export_format, response.text[:300])
        path = tmp_path / f"export.{export_format}"
        path.write_bytes(response.content)
        exported[export_format] = (
            pl.read_csv(path) if export_format.endswith("csv") else pl.read_parquet(path)
        )

    bdf = exported["bdf.parquet"]
    assert bdf.columns[:3] == ["Test Time / s", "Voltage / V", "Current / A"]
    assert bdf["Current / A"].to_list() == (-series["Current [A]"]).to_list()  # positive = charge in BDF
    charged = bdf["Charging Capacity / Ah"]
    assert (charged.diff().drop_nulls() >= -1e-12).all()  # cumulative from the start of the test
    per_step_total = (
        series.group_by("Step count")
        .agg(pl.col("Charge capacity [A.h]").max())["Charge capacity [A.h]"]
        .sum()
    )
    assert charged[-1] == pytest.approx(per_step_total)
    assert bdf["Unix Time / s"][0] == pytest.approx(datetime(2026, 2, 1, tzinfo=UTC).timestamp())
    assert_frame_equal(exported["bdf.csv"], bdf, check_dtypes=False, rel_tol=1e-12)
    for own in ("csv", "parquet"):
        assert_frame_equal(exported[own].select(series.columns), series, check_dtypes=False, rel_tol=1e-12)

    # ... and a BDF file read back is the series it came from.
    path = tmp_path / "round trip.bdf.parquet"
    bdf.write_parquet(path)
    back = convert(http, upload_raw(iw, store_tenant.project_id, path), instance_id).json()
    assert wait_settled(http, back["id"])["processing_status"] == "ready"
    assert http.get(f"/cell_measurements/{back['id']}").json()["start_time"] == "2026-02-01T00:00:00Z"
    again = iw.cell_measurement.time_series(back["id"])
    again = pl.from_pandas(again) if not isinstance(again, pl.DataFrame) else again
    for column in (
        "Time [s]",
        "Voltage [V]",
        "Current [A]",
        "Charge capacity [A.h]",
        "Discharge capacity [A.h]",
    ):
        assert_frame_equal(again.select(column), series.select(column), check_dtypes=False, rel_tol=1e-9)


def test_export_refuses_what_it_cannot_write(
    store_server: StoreServer, iw: Any, http: Api, make_cell: Callable[..., str]
) -> None:
    instance_id = make_cell()
    props = iw.cell_measurement.create_properties(
        instance_id, "Props", {"mass": {"value": 1, "unit": "g"}}
    ).id
    assert_error(http.get(f"/cell_measurements/{props}/time_series/export"), 400, "BAD_REQUEST")
    source = iw.cell_measurement.create(
        instance_id, {"measurement": {"name": "S"}, "time_series": cycling(0, 100, 50)}
    ).id
    assert_error(http.get(f"/cell_measurements/{source}/time_series/export?format=xlsx"), 422)
    stranger = store_server.new_tenant("Stranger")
    with store_server.http(stranger.api_key) as theirs:
        assert_error(theirs.get(f"/cell_measurements/{source}/time_series/export"), 404, "NOT_FOUND")


def test_a_local_clock_is_read_in_the_instrument_zone_when_it_is_given(
    store_tenant: Tenant, iw: Any, http: Api, make_cell: Callable[..., str]
) -> None:
    raw_id = upload_raw(iw, store_tenant.project_id, LOCAL_CLOCK_FILE)
    instance_id = make_cell()
    made = {}
    for name, zone in (("as UTC", None), ("in Berlin", "Europe/Berlin"), ("in New York", "America/New_York")):
        body: dict[str, Any] = {"cell_instance_id": instance_id, "measurement": {"name": name}}
        if zone:
            body["timezone"] = zone
        answered = http.post(f"/raw_data/{raw_id}/convert", json=body)
        assert answered.status_code == 200, answered.text
        made[name] = wait_settled(http, answered.json()["id"])
        assert made[name]["processing_status"] == "ready", made[name]["processing_error"]

    def start(name: str) -> datetime:
        return datetime.fromisoformat(made[name]["start_time"].replace("Z", "+00:00"))

    assert made["as UTC"]["start_time"] == "2024-09-20T08:32:34.558000Z"  # the clock reading as is
    assert start("as UTC") - start("in Berlin") == timedelta(hours=2)  # CEST in September
    assert start("in New York") - start("as UTC") == timedelta(hours=4)  # EDT
    assert made["in Berlin"]["test_setup"]["timezone"] == "Europe/Berlin"
    assert "timezone" not in made["as UTC"]["test_setup"]
    # Only the start moves: the rows are relative to it.
    series = [iw.cell_measurement.time_series(made[name]["id"])["Time [s]"].to_list() for name in made]
    assert series[0] == series[1] == series[2]

    for zone in ("Mars/Olympus_Mons", "../etc/passwd", ""):
        body = {"cell_instance_id": instance_id, "timezone": zone}
        error = assert_error(http.post(f"/raw_data/{raw_id}/convert", json=body), 422, "VALIDATION_ERROR")
        assert "timezone" in error["message"]
