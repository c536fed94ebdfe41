"""The analysis endpoints on a live server: dQ/dV of a cycle and downsampled /series windows.

The series is the synthetic cell of ``tests.processing.test_dqdv`` (CC discharge, rest, CC charge,
CV hold, rest; an OCV with a plateau), uploaded and extended with the real ``ionworks`` client.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from cellstore.measurements import analysis, keys
from cellstore.processing import overview as ov
from cellstore.storage.local import LocalObjectStore
from tests.measurements.conftest import StoreServer
from tests.processing.test_dqdv import PLATEAU_V, RESISTANCE, peak_voltage, synthetic_cycles
from tests.support import Api, LiveServer, Tenant, assert_error

CYCLES = 3


@dataclass
class Uploaded:
    tenant: Tenant
    client: Any
    api: Api
    measurement_id: str
    frame: pl.DataFrame  # what is stored now
    full: pl.DataFrame  # the frame once the last cycle is appended


@pytest.fixture(scope="module")
def uploaded(server: LiveServer) -> Uploaded:
    """Two cycles uploaded and processed; the third is appended by the extend test."""
    tenant = server.new_tenant()
    client = server.client(tenant)
    spec = client.cell_spec.create(
        {"name": "Plateau cell", "ratings": {"capacity": {"value": 2, "unit": "A.h"}}}
    )
    instance = client.cell_instance.create(spec.id, {"name": "P-001"})
    full = synthetic_cycles(CYCLES)
    frame = full.filter(pl.col("Cycle from cycler") < CYCLES)
    created = client.cell_measurement.create(
        instance.id, {"measurement": {"name": "Cycling"}, "time_series": frame}
    )
    assert client.cell_measurement.get(created.id).processing_status == "ready"
    return Uploaded(tenant, client, server.http(tenant.api_key), created.id, frame, full)


def get(uploaded: Uploaded, path: str, **params: Any) -> Any:
    response = uploaded.api.get(f"/cell_measurements/{uploaded.measurement_id}{path}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def overview_path(server: LiveServer, uploaded: Uploaded, version: int) -> Path:
    """Where local storage keeps the overview of one version of the series."""
    key = keys.overview_key(uploaded.tenant.organization_id, uploaded.measurement_id, version)
    return server.settings.data_dir / "objects" / key


# -- dQ/dV -----------------------------------------------------------------------------------------


def test_dqdv_peaks_where_the_ocv_has_its_plateau(uploaded: Uploaded) -> None:
    steps = uploaded.client.cell_measurement.steps(uploaded.measurement_id)
    assert steps["Step type"].to_list()[:5] == [
        "Constant current discharge",
        "Rest",
        "Constant current charge",
        "Constant voltage charge",
        "Rest",
    ]
    for cycle in (0, 1):
        body = get(uploaded, "/analysis/dqdv", cycle=cycle)
        assert body["cycle"] == cycle and body["step"] is None
        assert body["discharge_steps"] == [5 * cycle] and body["charge_steps"] == [5 * cycle + 2]
        assert body["skipped_steps"] == [5 * cycle + 1, 5 * cycle + 3, 5 * cycle + 4]
        for direction, expected in (
            ("discharge", PLATEAU_V - RESISTANCE),
            ("charge", PLATEAU_V + RESISTANCE),
        ):
            curve = body[direction]
            assert set(curve) == {"Voltage [V]", "Capacity [A.h]", "dQ/dV [A.h/V]"}
            assert len({len(v) for v in curve.values()}) == 1
            assert peak_voltage(curve) == pytest.approx(expected, abs=0.006)


def test_dqdv_of_one_step_and_its_parameters(uploaded: Uploaded) -> None:
    coarse = get(uploaded, "/analysis/dqdv", step=2, voltage_step=0.02, smoothing=0)
    assert coarse["voltage_step"] == 0.02 and coarse["smoothing"] == 0
    assert coarse["charge_steps"] == [2] and coarse["discharge"]["Voltage [V]"] == []
    fine = get(uploaded, "/analysis/dqdv", step=2)
    assert len(fine["charge"]["Voltage [V]"]) > 3 * len(coarse["charge"]["Voltage [V]"])
    passed = uploaded.frame.filter(pl.col("Step count") == 2)["Charge capacity [A.h]"].max()
    assert sum(coarse["charge"]["dQ/dV [A.h/V]"]) * 0.02 == pytest.approx(passed, rel=1e-6)


def test_dqdv_refuses_unknown_cycles_and_bad_parameters(uploaded: Uploaded) -> None:
    api, base = uploaded.api, f"/cell_measurements/{uploaded.measurement_id}/analysis/dqdv"
    body = assert_error(api.get(base, params={"cycle": 99}), 404, "NOT_FOUND")
    assert "Cycle 99" in body["message"]
    assert_error(api.get(base, params={"step": 1234}), 404, "NOT_FOUND")
    assert "exactly one" in assert_error(api.get(base), 400, "BAD_REQUEST")["message"]
    assert_error(api.get(base, params={"cycle": 0, "step": 0}), 400, "BAD_REQUEST")
    assert_error(api.get(base, params={"cycle": 0, "voltage_step": 0}), 422)
    assert_error(api.get(base, params={"cycle": "first"}), 422)


# -- /series ---------------------------------------------------------------------------------------


def test_series_full_range_keeps_the_true_extremes(uploaded: Uploaded) -> None:
    frame = uploaded.frame
    for max_points in (60, 2000):
        body = get(uploaded, "/series", y=["Voltage [V]", "Current [A]"], max_points=max_points)
        assert (body["x"], body["y"]) == ("Time [s]", ["Voltage [V]", "Current [A]"])
        assert (body["rows"], body["row_start"], body["row_end"]) == (frame.height, 0, frame.height)
        assert body["source"] == ("overview" if max_points == 60 else "raw")
        for column in ("Voltage [V]", "Current [A]"):
            points = body["series"][column]
            assert set(points) == {"row", "Time [s]", column}
            assert len(points[column]) <= max_points
            assert max(points[column]) == frame[column].max()
            assert min(points[column]) == frame[column].min()
            assert points["row"] == sorted(points["row"])
            assert points[column] == frame[column].gather(points["row"]).to_list()


def test_series_windows_by_time_and_by_rows(uploaded: Uploaded) -> None:
    frame = uploaded.frame
    start, end = 5_000.5, 17_000.0
    body = get(uploaded, "/series", y="Voltage [V]", start=start, end=end, max_points=100)
    inside = frame.filter(pl.col("Time [s]").is_between(start, end))
    points = body["series"]["Voltage [V]"]
    assert len(points["Voltage [V]"]) <= 100
    assert min(points["Time [s]"]) >= start and max(points["Time [s]"]) <= end
    assert (body["row_start"], body["row_end"]) == (5_001, 17_001)
    assert max(points["Voltage [V]"]) == inside["Voltage [V]"].max()
    assert min(points["Voltage [V]"]) == inside["Voltage [V]"].min()

    rows = get(uploaded, "/series", y="Current [A]", row_start=100, row_end=150, max_points=100)
    assert (rows["source"], rows["exact"], rows["bucket_rows"]) == ("raw", True, 1)
    assert rows["series"]["Current [A]"]["row"] == list(range(100, 150))
    assert rows["series"]["Current [A]"]["Time [s]"] == frame["Time [s]"][100:150].to_list()

    by_voltage = get(uploaded, "/series", x="Voltage [V]", y="Current [A]", row_start=0, row_end=20_000)
    assert by_voltage["row_end"] == 20_000 and len(by_voltage["series"]["Current [A]"]["row"]) <= 2000


def test_series_refuses_bad_parameters(uploaded: Uploaded) -> None:
    api, base = uploaded.api, f"/cell_measurements/{uploaded.measurement_id}/series"
    body = assert_error(api.get(base, params={"y": "Voltage"}), 400, "BAD_REQUEST")
    assert "'Voltage'" in body["message"] and "Voltage [V]" in body["message"]
    assert_error(api.get(base, params={"y": "Voltage [V]", "x": "Nope [s]"}), 400, "BAD_REQUEST")
    assert_error(api.get(base), 422)  # y is required
    assert_error(api.get(base, params={"y": "Voltage [V]", "max_points": 0}), 422)
    assert_error(api.get(base, params={"y": "Voltage [V]", "max_points": 1_000_000}), 422)
    body = assert_error(api.get(base, params={"y": "Voltage [V]", "start": 10, "end": 5}), 400, "BAD_REQUEST")
    assert "after" in body["message"]
    assert_error(api.get(base, params={"y": "Voltage [V]", "row_start": 10, "row_end": 5}), 400)
    assert_error(api.get(base, params={"y": "Voltage [V]", "start": 1, "row_end": 5}), 400)
    body = assert_error(
        api.get(base, params={"x": "Voltage [V]", "y": "Current [A]", "start": 3.5, "end": 4}), 400
    )
    assert "not monotonic" in body["message"]


def test_another_organization_gets_404(uploaded: Uploaded, server: LiveServer, other_tenant: Tenant) -> None:
    with server.http(other_tenant.api_key) as other:
        base = f"/cell_measurements/{uploaded.measurement_id}"
        assert_error(other.get(f"{base}/series", params={"y": "Voltage [V]"}), 404, "NOT_FOUND")
        assert_error(other.get(f"{base}/analysis/dqdv", params={"cycle": 0}), 404, "NOT_FOUND")


def test_a_measurement_that_is_not_a_time_series_is_refused(uploaded: Uploaded) -> None:
    instance = uploaded.client.cell_measurement.get(uploaded.measurement_id).cell_instance_id
    properties = uploaded.client.cell_measurement.create_properties(
        instance, "Impedance", {"r0": {"value": 20, "unit": "mOhm"}}
    )
    base = f"/cell_measurements/{properties.id}"
    assert_error(uploaded.api.get(f"{base}/series", params={"y": "Voltage [V]"}), 400, "BAD_REQUEST")
    assert_error(uploaded.api.get(f"{base}/analysis/dqdv", params={"cycle": 0}), 400, "BAD_REQUEST")


def test_a_missing_overview_is_built_on_the_first_request(uploaded: Uploaded, server: LiveServer) -> None:
    """Measurements processed before overviews existed have none; /series builds and stores it."""
    instance = uploaded.client.cell_measurement.get(uploaded.measurement_id).cell_instance_id
    frame = synthetic_cycles(1, seed=5)
    created = uploaded.client.cell_measurement.create(
        instance, {"measurement": {"name": "Processed long ago"}, "time_series": frame}
    )
    older = Uploaded(uploaded.tenant, uploaded.client, uploaded.api, created.id, frame, frame)
    stored = overview_path(server, older, 0)
    assert stored.is_file()  # written by processing
    stored.unlink()
    body = get(older, "/series", y="Voltage [V]", max_points=60, start=100.0)
    assert body["row_start"] == 100 and body["source"] == "overview"
    assert max(body["series"]["Voltage [V]"]["Voltage [V]"]) == frame["Voltage [V]"][100:].max()
    assert stored.is_file()


def test_extend_updates_the_overview(uploaded: Uploaded, server: LiveServer) -> None:
    """Runs last in this module: it appends the third cycle, with a spike, to the stored series."""
    cm, mid = uploaded.client.cell_measurement, uploaded.measurement_id
    api, base = uploaded.api, f"/cell_measurements/{mid}"
    assert_error(api.get(f"{base}/analysis/dqdv", params={"cycle": 2}), 404, "NOT_FOUND")
    before = get(uploaded, "/series", y="Voltage [V]", max_points=60)

    delta = uploaded.full.slice(uploaded.frame.height)
    spike_row = uploaded.frame.height + 1_234
    delta = delta.with_columns(
        pl.when(pl.int_range(pl.len()) == 1_234)
        .then(4.5)
        .otherwise(pl.col("Voltage [V]"))
        .alias("Voltage [V]")
    )
    assert cm.extend(mid, delta).processing_status == "ready"
    total = uploaded.frame.height + delta.height
    # Made from version 0's and the appended rows by this request or by the compaction job,
    # whichever comes first, and stored.
    after = get(uploaded, "/series", y="Voltage [V]", max_points=60)
    assert overview_path(server, uploaded, 1).is_file()
    assert (after["rows"], after["row_end"]) == (total, total)
    points = after["series"]["Voltage [V]"]
    assert max(points["Voltage [V]"]) == 4.5 and spike_row in points["row"]
    assert max(points["Time [s]"]) == uploaded.full["Time [s]"][-1]
    assert len(points["row"]) <= 60 and after["level"] >= before["level"]
    tail = get(uploaded, "/series", y="Voltage [V]", start=float(uploaded.full["Time [s]"][-100]))
    assert tail["series"]["Voltage [V]"]["row"] == list(range(total - 100, total))

    body = get(uploaded, "/analysis/dqdv", cycle=2)
    assert peak_voltage(body["charge"]) == pytest.approx(PLATEAU_V + RESISTANCE, abs=0.006)
    assert np.isfinite(body["discharge"]["dQ/dV [A.h/V]"]).all()


def test_both_endpoints_read_from_either_store(
    store_server: StoreServer, store_tenant: Tenant, iw: Any
) -> None:
    """On S3 the rows are read by range requests on a signed URL; locally from the file."""
    spec = iw.cell_spec.create({"name": "Plateau cell", "ratings": {"capacity": {"value": 2, "unit": "A.h"}}})
    instance = iw.cell_instance.create(spec.id, {"name": "S-001"})
    frame = synthetic_cycles(1, seed=3)
    created = iw.cell_measurement.create(
        instance.id, {"measurement": {"name": "Cycling"}, "time_series": frame}
    )
    with store_server.http(store_tenant.api_key) as api:
        base = f"/cell_measurements/{created.id}"
        response = api.get(f"{base}/series", params={"y": "Voltage [V]", "max_points": 60, "start": 10.0})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["row_start"] == 10 and body["source"] == "overview"
        assert max(body["series"]["Voltage [V]"]["Voltage [V]"]) == frame["Voltage [V]"][10:].max()
        response = api.get(f"{base}/analysis/dqdv", params={"cycle": 0})
        assert response.status_code == 200, response.text
        assert peak_voltage(response.json()["discharge"]) == pytest.approx(PLATEAU_V - RESISTANCE, abs=0.006)


def test_store_overview_updates_from_the_previous_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the processing job does per version: build once, then update only the touched buckets."""
    store = LocalObjectStore(tmp_path / "objects", b"s" * 32)
    full = synthetic_cycles(2, seed=9)
    first, second = tmp_path / "v0.parquet", tmp_path / "v1.parquet"
    full.head(10_000).write_parquet(first)
    full.write_parquet(second)
    analysis.store_overview(store, "org", "m", 0, first)
    monkeypatch.setattr(ov, "build_overview", lambda source: pytest.fail("rebuilt instead of updated"))
    analysis.store_overview(store, "org", "m", 1, second)
    with store.reading(keys.overview_key("org", "m", 1)) as path:
        updated = ov.read_overview(path)
    monkeypatch.undo()
    rebuilt = ov.build_overview(second)
    assert updated is not None and updated.rows == full.height
    for level, frame in rebuilt.levels.items():
        assert updated.levels[level].equals(frame)
    before = (tmp_path / "objects" / keys.overview_key("org", "m", 1)).stat().st_mtime_ns
    analysis.store_overview(store, "org", "m", 1, second)  # a job run again keeps what is there
    assert (tmp_path / "objects" / keys.overview_key("org", "m", 1)).stat().st_mtime_ns == before
