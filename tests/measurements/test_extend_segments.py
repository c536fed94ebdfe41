"""Extends on a live server store only the appended rows; every read is the same before and after
the background compaction writes the version as one file (both deployments, the real client)."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

import polars as pl
from polars.testing import assert_frame_equal

from cellstore.measurements import keys
from tests.measurements.conftest import StoreServer, cycling, s3_client, series_detail
from tests.support import Tenant

WINDOWS = [(5_400, 5_600), (5_499, 5_501), (0, 8_000), (7_000, 8_000)]


def wait_for_key(store_server: StoreServer, key: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while key not in store_server.object_keys(key) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert key in store_server.object_keys(key), f"{key} never appeared"


def remove_object(store_server: StoreServer, key: str) -> None:
    """Take the compacted file away, so the server is back where it was before the compaction job."""
    if store_server.s3 is None:
        (store_server.data_dir / "objects" / key).unlink()
        return
    s3 = store_server.s3
    s3_client(s3.endpoint, s3.access_key_id, s3.secret_access_key).delete_object(Bucket=s3.bucket, Key=key)


def reads(iw: Any, api: Any, mid: str) -> dict[str, Any]:
    """Everything a client reads of a measurement, apart from the whole-series download."""
    cm = iw.cell_measurement
    found: dict[str, Any] = {"steps": cm.steps(mid), "cycles": cm.cycles(mid)}
    for name, params in {
        "series": {"y": ["Voltage [V]", "Current [A]"], "max_points": 100},
        "series_rows": {"y": "Voltage [V]", "row_start": 5_000, "row_end": 6_000, "max_points": 2_000},
        "dqdv": {"cycle": 0},
    }.items():
        path = "analysis/dqdv" if name == "dqdv" else "series"
        response = api.get(f"/cell_measurements/{mid}/{path}", params=params)
        assert response.status_code == 200, response.text
        found[name] = response.json()
    return found


def test_reads_before_and_after_compaction_are_identical(
    iw: Any, make_cell: Callable[..., str], store_server: StoreServer, store_tenant: Tenant
) -> None:
    cm = iw.cell_measurement
    first = cycling(0, 5_500, 1_000, seed=2)
    mid = cm.create(make_cell(), series_detail("Segments", first, start_time="2025-03-01T00:00:00Z")).id
    delta = cycling(5_500, 8_000, 1_000, seed=3)
    assert cm.extend(mid, delta).processing_status == "ready"
    whole = pl.concat([first, delta])

    org = store_tenant.organization_id
    compacted = keys.series_key(org, mid, 1)
    wait_for_key(store_server, compacted)  # the background job
    stored = store_server.object_keys(keys.measurement_prefix(org, mid))
    assert keys.segment_key(org, mid, 1) in stored and keys.manifest_key(org, mid, 1) in stored
    assert keys.series_key(org, mid, 0) in stored  # the base the segment follows

    with store_server.http(store_tenant.api_key) as api:
        remove_object(store_server, compacted)  # as before the compaction job ran
        before = reads(iw, api, mid)
        assert compacted not in store_server.object_keys(compacted)  # those read the segments
        windows = [cm.time_series(mid, row_range=window) for window in WINDOWS]  # compacts on the spot
        assert compacted in store_server.object_keys(compacted)
        export = api.get(f"/cell_measurements/{mid}/time_series/export", params={"format": "parquet"})
        assert export.status_code == 200, export.text
        after = reads(iw, api, mid)

    assert_frame_equal(cm.time_series(mid), whole)
    for (start, stop), frame in zip(WINDOWS, windows, strict=True):
        assert_frame_equal(frame, whole.slice(start, stop - start))
    assert_frame_equal(pl.read_parquet(io.BytesIO(export.content)).select(whole.columns), whole)
    assert_frame_equal(before.pop("steps"), after.pop("steps"))
    assert_frame_equal(before.pop("cycles"), after.pop("cycles"))
    assert before == after
    assert after["series"]["rows"] == 8_000


def test_chained_extends_read_across_every_segment(
    iw: Any, make_cell: Callable[..., str], store_server: StoreServer, store_tenant: Tenant
) -> None:
    cm = iw.cell_measurement
    frames = [cycling(0, 5_500, 1_000, seed=2)]
    mid = cm.create(make_cell(), series_detail("Chain", frames[0])).id
    org = store_tenant.organization_id
    for version, (start, stop) in enumerate([(5_500, 6_200), (6_200, 6_201), (6_201, 8_000)], start=1):
        frames.append(cycling(start, stop, 1_000, seed=version))
        assert cm.extend(mid, frames[-1]).processing_status == "ready"
        whole = pl.concat(frames)
        assert_frame_equal(cm.time_series(mid, row_range=(start - 3, stop)), whole.slice(start - 3))
        steps = cm.steps(mid)
        assert steps["Step count"].to_list() == list(range(steps.height))
        assert steps["End index"][-1] == stop - 1
    assert_frame_equal(cm.time_series(mid), pl.concat(frames))
    wait_for_key(store_server, keys.series_key(org, mid, 3))
    wait_for_key(store_server, keys.overview_key(org, mid, 3))
    # Of the older versions only series data version 3 may still read is left (their overviews go
    # once version 3's is stored); the delta's upload is gone.
    assert not store_server.wait_for_no_objects(keys.upload_key(org, mid, keys.EXTEND_FILE))
    for version in (0, 1, 2):
        assert not store_server.wait_for_no_objects(keys.overview_key(org, mid, version))
    left = store_server.object_keys(keys.measurement_prefix(org, mid))
    derived = (keys.STEPS_FILE, keys.CYCLES_FILE, keys.MANIFEST_FILE, keys.OVERVIEW_FILE)
    for version in (0, 1, 2):
        assert not [name for name in derived if keys.derived_key(org, mid, version, name) in left], left
    assert keys.upload_key(org, mid, keys.EXTEND_FILE) not in left
