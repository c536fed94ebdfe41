"""The measurement flows of the API contract §8 (3 to 10) and raw data (§3.8), driven by the real
``ionworks`` client on both deployments: SQLite with local storage, PostgreSQL with SeaweedFS."""

from __future__ import annotations

import io
import struct
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import pytest
import requests
from ionworks.errors import IonworksError
from polars.testing import assert_frame_equal
from sqlalchemy import select

from cellstore.measurements.models import MeasurementWatch
from tests.measurements.conftest import CYCLE_STEPS, StoreServer, cycling, series_detail, step_type_of
from tests.support import Tenant, assert_error

TESTDATA = Path("/work/shared/testdata")
ARBIN_CSV = TESTDATA / "arbin_csv" / "beep_FastCharge_000025_CH8.csv"
ARBIN_RES = TESTDATA / "arbin_res" / "cellpy_20160805_test001_45_cc_01.res"

LONG_ROWS = 400_000
LONG_ROWS_PER_STEP = 25_000
LONG_DT = 0.5


def measurement_prefix(tenant: Tenant, measurement_id: str) -> str:
    return f"orgs/{tenant.organization_id}/measurements/{measurement_id}/"


@contextmanager
def raises_status(status: int, error_code: str | None = None) -> Iterator[None]:
    """The block raises an ``IonworksError`` with this HTTP status (and error code)."""
    with pytest.raises(IonworksError) as raised:
        yield
    assert raised.value.status_code == status, raised.value
    if error_code is not None:
        assert raised.value.error_code == error_code, raised.value


def png_bytes(width: int = 3, height: int = 2) -> bytes:
    """A small, valid RGB PNG (signature, IHDR, IDAT, IEND with their CRCs)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(
        b"\x00" + bytes((40 * x + 10 * y) % 256 for x in range(width) for _ in range(3))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


# -- Flows 3 and 4: a long time series, created once per deployment ----------------------------


@dataclass
class LongSeries:
    tenant: Tenant
    client: Any
    instance_id: str
    measurement_id: str
    frame: pl.DataFrame
    bundle: Any


@pytest.fixture(scope="module")
def long_series(store_server: StoreServer) -> LongSeries:
    """400 000 rows in 16 steps of 25 000 (4 cycles), uploaded and processed."""
    tenant = store_server.new_tenant()
    client = store_server.client(tenant)
    spec = client.cell_spec.create({"name": "LGM50", "ratings": {"capacity": {"value": 5, "unit": "A.h"}}})
    instance = client.cell_instance.create(spec.id, {"name": "LGM50-001"})
    frame = cycling(0, LONG_ROWS, LONG_ROWS_PER_STEP, seed=1, dt=LONG_DT)
    bundle = client.cell_measurement.create(
        instance.id,
        series_detail(
            "RPT 0",
            frame,
            notes="Reference performance test",
            start_time="2025-01-01T00:00:00Z",
            tags=["rpt", "25degC"],
            protocol={"name": "C/5 cycling", "ambient_temperature_degc": 25},
            test_setup={"cycler": "Maccor 4000", "channel_number": 7},
            cycler_file="rpt0.txt",
        ),
    )
    return LongSeries(tenant, client, instance.id, bundle.id, frame, bundle)


def test_create_returns_the_pending_bundle_and_processing_reaches_ready(long_series: LongSeries) -> None:
    bundle = long_series.bundle
    assert bundle.name == "RPT 0"
    assert bundle.cell_instance_id == long_series.instance_id
    assert bundle.measurement_type == "time_series"
    assert bundle.steps_created == 0
    assert bundle.processing_status in ("pending", "running", "ready")
    settled = long_series.client.cell_measurement.get(long_series.measurement_id)
    assert settled.processing_status == "ready"
    assert settled.processing_error is None
    assert settled.notes == "Reference performance test"
    assert settled.start_time == "2025-01-01T00:00:00Z"
    assert settled.end_time is None
    assert settled.tags == ["25degC", "rpt"]
    assert settled.protocol == {"name": "C/5 cycling", "ambient_temperature_degc": 25}
    assert settled.test_setup == {"cycler": "Maccor 4000", "channel_number": 7}
    assert settled.cycler_file == "rpt0.txt"  # a custom field rides along
    assert settled.step_labels_validated is False


def test_detail_returns_the_series_its_steps_and_its_cycles(long_series: LongSeries) -> None:
    detail = long_series.client.cell_measurement.detail(long_series.measurement_id)
    assert detail.id == long_series.measurement_id
    assert detail.instance_id == long_series.instance_id
    assert_frame_equal(detail.time_series, long_series.frame)

    steps = detail.steps
    n = LONG_ROWS // LONG_ROWS_PER_STEP
    assert steps.height == n
    assert steps["Step count"].to_list() == list(range(n))
    assert steps["Step type"].to_list() == [step_type_of(i) for i in range(n)]
    assert steps["Start index"].to_list() == [i * LONG_ROWS_PER_STEP for i in range(n)]
    assert steps["End index"].to_list() == [(i + 1) * LONG_ROWS_PER_STEP - 1 for i in range(n)]
    assert steps["Start time [s]"].to_list() == [i * LONG_ROWS_PER_STEP * LONG_DT for i in range(n)]
    step_seconds = (LONG_ROWS_PER_STEP - 1) * LONG_DT
    assert steps["Duration [s]"].to_list() == [step_seconds] * n
    assert steps["Cycle count"].to_list() == [i // 4 for i in range(n)]
    assert steps["Cycle from cycler"].to_list() == [1 + i // 4 for i in range(n)]
    step_capacity = step_seconds / 3600  # 1 A for the whole step
    discharge = [step_capacity if step_type_of(i).endswith("discharge") else 0.0 for i in range(n)]
    charge = [step_capacity if step_type_of(i).endswith(" charge") else 0.0 for i in range(n)]
    assert steps["Discharge capacity [A.h]"].to_list() == pytest.approx(discharge, abs=1e-9)
    assert steps["Charge capacity [A.h]"].to_list() == pytest.approx(charge, abs=1e-9)
    currents = [CYCLE_STEPS[i % 4][1] for i in range(n)]
    assert steps["Mean current [A]"].to_list() == pytest.approx(currents, abs=1e-5)

    cycles = detail.cycles
    assert cycles["Cycle count"].to_list() == [0, 1, 2, 3]
    assert cycles["Discharge capacity [A.h]"].to_list() == pytest.approx([step_capacity] * 4)
    assert cycles["Charge capacity [A.h]"].to_list() == pytest.approx([step_capacity] * 4)
    assert cycles["Coulombic efficiency"].to_list() == pytest.approx([1.0] * 4)
    assert cycles["Capacity retention"].to_list() == pytest.approx([1.0] * 4)
    throughput = [2 * step_capacity * (k + 1) for k in range(4)]
    assert cycles["Capacity throughput [A.h]"].to_list() == pytest.approx(throughput)
    assert cycles["Cycle duration [s]"].to_list() == pytest.approx([4 * step_seconds] * 4)


def test_the_stored_series_has_several_row_groups(long_series: LongSeries, store_server: StoreServer) -> None:
    """So that the window reads below fetch parts of the file, not all of it."""
    url = long_series.client.redirect_url(
        f"/cell_measurements/{long_series.measurement_id}/time_series/download"
    )
    response = requests.get(url, timeout=30)  # no credentials: the URL authorises itself
    assert response.status_code == 200
    assert pq.ParquetFile(io.BytesIO(response.content)).metadata.num_row_groups > 1


@pytest.mark.parametrize(
    "window",
    [(0, 10), (130_000, 140_000), (250_000, 390_000), (399_990, LONG_ROWS), (123_456, 123_457)],
    ids=["head", "group-boundary", "many-groups", "tail", "one-row"],
)
def test_row_range_reads_equal_the_slice(long_series: LongSeries, window: tuple[int, int]) -> None:
    start, stop = window
    got = long_series.client.cell_measurement.time_series(long_series.measurement_id, row_range=window)
    assert got.height == stop - start
    assert_frame_equal(got, long_series.frame.slice(start, stop - start))


def test_a_steps_rows_are_read_through_its_start_and_end_index(long_series: LongSeries) -> None:
    cm = long_series.client.cell_measurement
    steps = cm.steps(long_series.measurement_id)
    charge = steps.filter(pl.col("Step type") == "Constant current charge").row(1, named=True)
    window = (charge["Start index"], charge["End index"] + 1)
    rows = cm.time_series(long_series.measurement_id, row_range=window)
    assert rows["Step count"].unique().to_list() == [charge["Step count"]]
    assert rows.height == LONG_ROWS_PER_STEP
    assert rows["Current [A]"].mean() == pytest.approx(-1.0, abs=1e-5)


def test_steps_cycles_and_steps_and_cycles_agree(long_series: LongSeries) -> None:
    cm = long_series.client.cell_measurement
    mid = long_series.measurement_id
    steps = cm.steps(mid)
    cycles = cm.cycles(mid)
    both = cm.steps_and_cycles(mid)
    assert steps.height == 16 and cycles.height == 4
    assert_frame_equal(both.cycles, cycles)
    assert both.steps.columns == steps.columns
    for column in ("Step count", "Start index", "End index", "Step type", "Cycle count"):
        assert both.steps[column].to_list() == steps[column].to_list(), column
    for column in ("Start time [s]", "Duration [s]", "Discharge capacity [A.h]", "Mean voltage [V]"):
        assert both.steps[column].to_list() == pytest.approx(steps[column].to_list()), column
    assert cm.detail(mid, include_time_series=False).time_series is None


def test_caller_supplied_steps_are_stored_instead_of_derived(iw: Any, make_cell: Callable[..., str]) -> None:
    cm = iw.cell_measurement
    frame = cycling(0, 2_000, 500, seed=5)
    labels = ["CC discharge (checked)", "Rest (checked)", "CC charge (checked)", "Rest (checked)"]
    steps = {
        "Step count": [0, 1, 2, 3],
        "Cycle count": [0, 0, 0, 0],
        "Step type": labels,
        "Discharge capacity [A.h]": [499 / 3600, 0.0, 0.0, 0.0],
        "Charge capacity [A.h]": [0.0, 0.0, 499 / 3600, 0.0],
        "Duration [s]": [499.0] * 4,
    }
    mid = cm.create(
        make_cell(), {"measurement": {"name": "Labelled"}, "time_series": frame, "steps": steps}
    ).id
    assert cm.get(mid).processing_status == "ready"
    stored = cm.steps(mid)
    assert stored["Step type"].to_list() == labels
    assert stored["Start index"].to_list() == [0, 500, 1000, 1500]  # added from the series
    assert stored["End index"].to_list() == [499, 999, 1499, 1999]
    cycles = cm.cycles(mid)
    assert cycles["Discharge capacity [A.h]"].to_list() == pytest.approx([499 / 3600])
    assert cycles["Coulombic efficiency"].to_list() == pytest.approx([1.0])


def test_a_batch_of_uploads_is_waited_on_together(iw: Any, make_cell: Callable[..., str]) -> None:
    """The client's recommended batch pattern: create without waiting, then wait on every id."""
    cm = iw.cell_measurement
    instance_id = make_cell()
    frames = {f"Cell test {i}": cycling(0, 1_200 + 400 * i, 400, seed=10 + i) for i in range(4)}
    ids = {
        name: cm.create(instance_id, series_detail(name, frame), wait_for_processing=False).id
        for name, frame in frames.items()
    }
    settled = cm.wait_for_processing(list(ids.values()))
    assert {mid: row["processing_status"] for mid, row in settled.items()} == dict.fromkeys(
        ids.values(), "ready"
    )
    for name, frame in frames.items():
        assert cm.steps(ids[name]).height == frame["Step count"].n_unique()
        assert_frame_equal(cm.time_series(ids[name]), frame)


# -- Flow 5: extend -----------------------------------------------------------------------------


def test_extend_appends_rows_and_re_derives_steps(iw: Any, make_cell: Callable[..., str]) -> None:
    cm = iw.cell_measurement
    instance_id = make_cell()
    first = cycling(0, 5_500, 1_000, seed=2)  # 5.5 steps: the last one is still running
    mid = cm.create(instance_id, series_detail("Aging 1", first, start_time="2025-03-01T00:00:00Z")).id
    assert cm.steps(mid).height == 6

    delta = cycling(5_500, 8_000, 1_000, seed=3)  # finishes step 5 and adds steps 6 and 7
    bundle = cm.extend(mid, delta)
    assert bundle.id == mid
    assert bundle.processing_status == "ready"
    assert not bundle.processing_error
    assert bundle.steps_created == 0

    combined = pl.concat([first, delta])
    assert_frame_equal(cm.time_series(mid), combined)
    assert_frame_equal(cm.time_series(mid, row_range=(5_500, 8_000)), delta)
    steps = cm.steps(mid)
    assert steps["Step count"].to_list() == list(range(8))
    assert steps["Step type"].to_list() == [step_type_of(i) for i in range(8)]
    # Step 5 straddles the join: one step, not two.
    assert steps.row(5, named=True)["Start index"] == 5_000
    assert steps.row(5, named=True)["End index"] == 5_999
    assert cm.cycles(mid)["Cycle count"].to_list() == [0, 1]

    second = cycling(8_000, 9_000, 1_000, seed=4)  # a second extend builds on the first
    assert cm.extend(mid, second).processing_status == "ready"
    assert_frame_equal(cm.time_series(mid, row_range=(7_990, 9_000)), pl.concat([delta, second]).slice(2_490))
    assert cm.time_series(mid).height == 9_000
    assert cm.steps(mid).height == 9
    settled = cm.get(mid)
    assert (settled.processing_status, settled.processing_error) == ("ready", None)


# -- Flow 6: file measurements ------------------------------------------------------------------


def test_file_measurement_round_trips_the_bytes(
    iw: Any, make_cell: Callable[..., str], tmp_path: Path, store_server: StoreServer, store_tenant: Tenant
) -> None:
    cm = iw.cell_measurement
    instance_id = make_cell()
    image = tmp_path / "cell photo.png"
    image.write_bytes(png_bytes())
    note = tmp_path / "notes.txt"
    note.write_bytes("Swelling 0.2 mm after 500 cycles — µm gauge\n".encode())
    cm._validate_image_content(str(image), image.read_bytes()[:16])  # the client accepts it as a PNG

    bundle = cm.create_file(
        instance_id, "Teardown", [str(image), str(note)], notes="post-mortem", tags=["eol"]
    )
    assert bundle.measurement_type == "file"
    assert bundle.processing_status == "ready"
    assert bundle.steps_created == 0
    assert bundle.tags == ["eol"]
    mid = bundle.id

    expected = {"cell photo.png": image.read_bytes(), "notes.txt": note.read_bytes()}
    assert cm.list_files(mid) == ["cell photo.png", "notes.txt"]
    assert cm.download_files(mid) == expected
    assert cm.get_file(mid, "notes.txt") == expected["notes.txt"]
    detail = cm.detail(mid)
    assert detail.files == expected
    assert detail.steps is None and detail.time_series is None
    fetched = cm.get(mid)
    assert fetched.measurement_type == "file"
    assert fetched.notes == "post-mortem"
    assert fetched.file_metadata["filenames"] == ["cell photo.png", "notes.txt"]
    stored = store_server.object_keys(measurement_prefix(store_tenant, mid))
    assert len(stored) == 2, stored

    with raises_status(404):
        cm.get_file(mid, "other.txt")


@pytest.mark.parametrize(
    "filename",
    ["Zellfoto ü (1).png", "a+b=c.txt", "100% charged.txt", "report;v2,final.txt"],
    ids=["space-unicode-parens", "plus", "percent", "punctuation"],
)
def test_file_names_are_kept_as_sent(
    iw: Any, make_cell: Callable[..., str], tmp_path: Path, filename: str
) -> None:
    """The client interpolates the name raw into the path, which requests percent-encodes."""
    cm = iw.cell_measurement
    path = tmp_path / filename
    path.write_bytes(png_bytes() if filename.endswith(".png") else filename.encode() * 3)
    mid = cm.create_file(make_cell(), "Odd names", [str(path)]).id
    assert cm.list_files(mid) == [filename]
    assert cm.download_files(mid) == {filename: path.read_bytes()}


# -- Flow 7: properties -------------------------------------------------------------------------


def test_properties_measurement(iw: Any, make_cell: Callable[..., str]) -> None:
    cm = iw.cell_measurement
    instance_id = make_cell()
    properties = {"thickness": {"value": 0.52, "unit": "mm"}, "mass": {"value": 68.1, "unit": "g"}}
    created = cm.create_properties(
        instance_id,
        "Incoming inspection",
        properties,
        notes="caliper",
        tags=["qc"],
        start_time="2025-01-02T09:00:00Z",
    )
    assert created.measurement_type == "properties"
    assert created.processing_status == "ready"
    assert created.properties == properties
    assert created.tags == ["qc"]
    assert created.start_time == "2025-01-02T09:00:00Z"

    detail = cm.detail(created.id)
    assert detail.properties == properties
    assert detail.instance_id == instance_id
    assert detail.steps is None and detail.time_series is None and detail.files is None

    updated = cm.update(
        created.id, {"properties": {"thickness": {"value": 0.55, "unit": "mm"}}, "notes": "redo"}
    )
    assert updated.properties == {"thickness": {"value": 0.55, "unit": "mm"}}
    assert cm.get(created.id).notes == "redo"

    with raises_status(409, "CONFLICT"):
        cm.create_properties(instance_id, "Incoming inspection", properties)


# -- Flow 8: listing ----------------------------------------------------------------------------


def names(items: Any) -> list[str]:
    return [m.name for m in items]


def test_listing_with_every_filter(
    iw: Any, make_cell: Callable[..., str], store_tenant: Tenant, tmp_path: Path
) -> None:
    cm = iw.cell_measurement
    instance_id = make_cell()
    photo = tmp_path / "front.png"
    photo.write_bytes(png_bytes())
    made = [
        cm.create_properties(
            instance_id,
            "RPT 0",
            {"capacity": {"value": 5.01, "unit": "A.h"}},
            start_time="2025-01-01T00:00:00Z",
            tags=["rpt", "25degC"],
        ),
        cm.create_properties(
            instance_id,
            "RPT 1",
            {"capacity": {"value": 4.93, "unit": "A.h"}},
            start_time="2025-02-01T00:00:00Z",
            tags=["rpt"],
        ),
        cm.create_properties(
            instance_id,
            "Thickness",
            {"thickness": {"value": 0.5, "unit": "mm"}},
            start_time="2025-03-01T00:00:00Z",
            tags=["qc"],
            notes="measured with a micrometer",
        ),
        cm.create_file(
            instance_id, "Images", [str(photo)], start_time="2025-04-01T00:00:00Z", tags=["qc", "photo"]
        ),
        cm.create(
            instance_id,
            series_detail(
                "Cycling 1",
                cycling(0, 400, 100),
                start_time="2025-05-01T00:00:00Z",
                tags=["aging"],
                protocol={"name": "Aging protocol 7"},
            ),
            wait_for_processing=False,
        ),
    ]
    all_names = ["RPT 0", "RPT 1", "Thickness", "Images", "Cycling 1"]
    other = make_cell()
    cm.create_properties(other, "RPT 0", {"capacity": {"value": 4.99, "unit": "A.h"}}, tags=["rpt"])

    def listed(**params: Any) -> list[str]:
        page = cm.list(instance_id, **params)
        assert page.total == len(page), (params, page.total, len(page))
        return sorted(names(page))

    assert listed() == sorted(all_names)
    assert listed(measurement_type="properties") == ["RPT 0", "RPT 1", "Thickness"]
    assert listed(measurement_type="file") == ["Images"]
    assert listed(measurement_type="time_series") == ["Cycling 1"]
    assert listed(tags_all=["rpt", "25DEGC"]) == ["RPT 0"]
    assert listed(tags_all=["rpt"]) == ["RPT 0", "RPT 1"]
    assert listed(tags_any=["QC", "aging"]) == ["Cycling 1", "Images", "Thickness"]
    assert listed(tags_all=["qc"], measurement_type="file") == ["Images"]
    assert listed(tags_any=["nothing"]) == []
    assert listed(name="rpt") == ["RPT 0", "RPT 1"]
    assert listed(name="R%1") == ["RPT 1"]  # % is a wildcard inside ilike
    assert listed(name_exact="RPT 1") == ["RPT 1"]
    assert listed(name_exact="RPT") == []
    assert listed(created_after=made[1].created_at) == ["Cycling 1", "Images", "Thickness"]
    assert listed(created_before=made[1].created_at) == ["RPT 0"]
    assert listed(created_after=made[0].created_at, created_before=made[3].created_at) == [
        "RPT 1",
        "Thickness",
    ]
    email = made[0].created_by_email
    assert email and made[4].created_by_email == email
    assert listed(created_by_email=email.split("@")[0].upper()) == sorted(all_names)
    assert listed(created_by_email="nobody-") == []
    touched = cm.update(made[1].id, {"notes": "re-measured"})
    assert datetime.fromisoformat(touched.updated_at) > datetime.fromisoformat(made[2].updated_at)
    assert listed(measurement_type="properties", updated_after=made[2].updated_at) == ["RPT 1"]
    assert listed(measurement_type="properties", updated_before=touched.updated_at) == ["RPT 0", "Thickness"]
    assert listed(started_after="2025-02-15T00:00:00Z") == ["Cycling 1", "Images", "Thickness"]
    assert listed(started_before="2025-02-15T00:00:00Z") == ["RPT 0", "RPT 1"]
    assert listed(started_after="2025-01-15T00:00:00Z", started_before="2025-04-15T00:00:00Z") == [
        "Images",
        "RPT 1",
        "Thickness",
    ]

    assert names(cm.list(instance_id, order_by="name", order="asc")) == sorted(all_names)
    assert names(cm.list(instance_id, order_by="name", order="desc")) == sorted(all_names, reverse=True)
    assert names(cm.list(instance_id, order_by="start_time", order="desc")) == all_names[::-1]
    assert names(cm.list(instance_id, order_by="created_at", order="asc")) == all_names
    pages = [
        cm.list(instance_id, limit=2, offset=offset, order_by="name", order="asc") for offset in (0, 2, 4, 6)
    ]
    assert [len(p) for p in pages] == [2, 2, 1, 0]
    assert {p.total for p in pages} == {5}
    assert [n for p in pages for n in names(p)] == sorted(all_names)

    project = store_tenant.project_id

    def project_listed(**params: Any) -> list[str]:
        page = cm.list_by_project(project, **params)
        assert page.total == len(page), (params, page.total, len(page))
        return sorted(names(page))

    assert project_listed() == sorted([*all_names, "RPT 0"])
    assert project_listed(q="rpt") == ["RPT 0", "RPT 0", "RPT 1"]  # name (and tag)
    assert project_listed(q="MICROMETER") == ["Thickness"]  # notes
    assert project_listed(q="protocol 7") == ["Cycling 1"]  # protocol name
    assert project_listed(q="photo") == ["Images"]  # tag
    assert project_listed(q="rpt", tags_all=["25degC"]) == ["RPT 0"]
    assert project_listed(tags_any=["qc", "aging"], measurement_type="properties") == ["Thickness"]
    by_name = cm.list_by_project(project, order_by="name", order="desc", limit=4, offset=1)
    assert by_name.total == 6
    assert names(by_name) == ["RPT 1", "RPT 0", "RPT 0", "Images"]
    rest = cm.list_by_project(project, order_by="name", order="desc", limit=4, offset=4)
    assert (names(rest), rest.total) == (["Images", "Cycling 1"], 6)


# -- tags ---------------------------------------------------------------------------------------


def test_tags_are_normalised_replaced_bulk_edited_and_counted(
    iw: Any, make_cell: Callable[..., str], store_tenant: Tenant
) -> None:
    cm = iw.cell_measurement
    instance_id = make_cell()
    ts = cm.create(
        instance_id, series_detail("Formation", cycling(0, 400, 100), tags=[" Aging ", "aging", "RPT"])
    ).id
    assert cm.get(ts).tags == ["Aging", "RPT"]  # trimmed, de-duplicated, sorted
    props = cm.create_properties(instance_id, "Weight", {"mass": {"value": 68, "unit": "g"}}, tags=["AGING"])
    assert props.tags == ["Aging"]  # the project's spelling wins
    third = cm.create_properties(instance_id, "OCV", {"ocv": {"value": 3.6, "unit": "V"}}, tags=["rpt", "zz"])
    assert third.tags == ["RPT", "zz"]

    assert cm.update(props.id, {"tags": ["weighed", "batch-7"]}).tags == ["batch-7", "weighed"]  # replaces
    assert cm.get(props.id).tags == ["batch-7", "weighed"]

    assert cm.add_tags([ts, props.id, third.id], ["Batch-7", "eol"]) == 3
    assert cm.get(ts).tags == ["Aging", "batch-7", "eol", "RPT"]
    assert cm.get(props.id).tags == ["batch-7", "eol", "weighed"]
    assert cm.add_tags([ts, props.id], ["EOL"]) == 0  # already there
    assert cm.remove_tags([ts, third.id], ["BATCH-7", "absent"]) == 2
    assert cm.get(ts).tags == ["Aging", "eol", "RPT"]
    assert cm.remove_tags(props.id, ["absent"]) == 0

    usage = cm.list_tags(store_tenant.project_id)
    counts = {u.tag: u.usage_count for u in usage}
    assert counts == {"eol": 3, "Aging": 1, "RPT": 2, "batch-7": 1, "weighed": 1, "zz": 1}
    assert usage.total == 6
    assert [u.tag for u in usage][:2] == ["eol", "RPT"]  # most used first
    assert [u.usage_count for u in usage] == sorted(counts.values(), reverse=True)
    assert {u.tag: u.usage_count for u in cm.list_tags(store_tenant.project_id, q="A")} == {
        "Aging": 1,
        "batch-7": 1,
    }
    top = cm.list_tags(store_tenant.project_id, limit=1)
    assert [(u.tag, u.usage_count) for u in top] == [("eol", 3)]
    assert top.total == 6
    assert sorted(names(cm.list(instance_id, tags_all=["eol", "rpt"]))) == ["Formation", "OCV"]

    with raises_status(404, "NOT_FOUND"):
        cm.add_tags([ts, str(uuid.uuid4())], ["x"])
    assert "x" not in cm.get(ts).tags  # all or nothing


# -- Flow 9: delete -----------------------------------------------------------------------------


def test_delete_removes_the_record_and_its_objects(
    iw: Any, make_cell: Callable[..., str], store_server: StoreServer, store_tenant: Tenant, tmp_path: Path
) -> None:
    cm = iw.cell_measurement
    instance_id = make_cell()
    ts = cm.create(instance_id, series_detail("To delete", cycling(0, 2_000, 500), tags=["gone", "kept"])).id
    doc = tmp_path / "report.txt"
    doc.write_text("delete me")
    files = cm.create_file(instance_id, "Docs", [str(doc)]).id
    keep = cm.create_properties(instance_id, "Keep", {"mass": {"value": 1, "unit": "g"}}, tags=["kept"]).id
    raw = iw.raw_data.upload(store_tenant.project_id, str(ARBIN_CSV))
    cm.attach_raw_data(ts, [raw.id])
    cm.attach_raw_data(keep, [raw.id])
    for mid in (ts, files):
        # there is something to delete
        assert store_server.object_keys(measurement_prefix(store_tenant, mid)), mid

    cm.delete(ts)
    cm.delete(files)
    for mid in (ts, files):
        with raises_status(404, "NOT_FOUND"):
            cm.get(mid)
        assert store_server.wait_for_no_objects(measurement_prefix(store_tenant, mid)) == []
    with raises_status(404):
        cm.steps(ts)
    with raises_status(404):
        cm.time_series(ts, row_range=(0, 10))
    with raises_status(404):
        cm.delete(ts)
    assert names(cm.list(instance_id)) == ["Keep"]
    assert iw.cell_instance.get(instance_id).measurement_ids == [keep]
    assert {u.tag: u.usage_count for u in cm.list_tags(store_tenant.project_id)} == {"kept": 1}
    assert list(iw.raw_data.list_measurements(raw.id)) == [keep]  # the raw file itself stays
    assert iw.raw_data.get(raw.id).id == raw.id


# -- Flow 10: create_or_get, and the instance's measurement ids ---------------------------------


def test_create_or_get_returns_the_existing_measurement(
    iw: Any, make_cell: Callable[..., str], store_server: StoreServer, store_tenant: Tenant
) -> None:
    cm = iw.cell_measurement
    instance_id = make_cell()
    frame = cycling(0, 1_000, 250)
    original = cm.create(instance_id, series_detail("RPT 0", frame, notes="first"))

    again = cm.create_or_get(instance_id, series_detail("RPT 0", cycling(0, 600, 200), notes="second"))
    assert again.id == original.id
    assert again.notes == "first"
    assert cm.list(instance_id).total == 1
    assert_frame_equal(cm.time_series(original.id), frame)

    with store_server.http(store_tenant.api_key) as api:
        response = api.post(
            f"/cell_instances/{instance_id}/cell_measurements/initiate-upload",
            json={"measurement": {"name": "RPT 0"}},
        )
    assert assert_error(response, 409, "CONFLICT")["detail"]["existing_id"] == original.id

    other = cm.create_or_get(instance_id, series_detail("RPT 1", cycling(0, 600, 200)))
    assert other.id != original.id
    assert cm.get(other.id).processing_status == "ready"  # create_or_get waited for it
    properties = cm.create_properties(instance_id, "Mass", {"mass": {"value": 70, "unit": "g"}}).id
    assert iw.cell_instance.get(instance_id).measurement_ids == [original.id, other.id, properties]

    detail = iw.cell_instance.detail(instance_id)
    assert detail.instance.id == instance_id
    by_name = {m.name: m for m in detail.measurements}
    assert sorted(by_name) == ["Mass", "RPT 0", "RPT 1"]
    assert_frame_equal(by_name["RPT 0"].time_series, frame)
    assert by_name["RPT 0"].steps["Step count"].to_list() == [0, 1, 2, 3]
    assert by_name["Mass"].properties == {"mass": {"value": 70, "unit": "g"}}


# -- watch / unwatch ----------------------------------------------------------------------------


def test_watch_and_unwatch_are_idempotent(
    iw: Any, make_cell: Callable[..., str], store_server: StoreServer, store_tenant: Tenant
) -> None:
    cm = iw.cell_measurement
    mid = cm.create_properties(make_cell(), "Live", {"mass": {"value": 1, "unit": "g"}}).id

    def watching() -> bool:
        async def work(session: Any) -> bool:
            found = await session.scalar(
                select(MeasurementWatch).where(
                    MeasurementWatch.measurement_id == mid, MeasurementWatch.user_id == store_tenant.user_id
                )
            )
            return found is not None

        return bool(store_server.run(work))

    assert not watching()
    cm.watch(mid)
    cm.watch(mid)
    assert watching()
    cm.unwatch(mid)
    assert not watching()
    cm.unwatch(mid)
    assert not watching()
    with raises_status(404, "NOT_FOUND"):
        cm.watch(str(uuid.uuid4()))


# -- raw data -----------------------------------------------------------------------------------


def test_raw_data_upload_download_edit_link_and_delete(
    iw: Any, make_cell: Callable[..., str], store_server: StoreServer, store_tenant: Tenant
) -> None:
    project = store_tenant.project_id
    raw = iw.raw_data.upload(
        project, str(ARBIN_CSV), source="TRI fast-charge dataset", metadata={"channel": 8, "cycler": "Arbin"}
    )
    assert (raw.project_id, raw.name, raw.filename) == (project, ARBIN_CSV.name, ARBIN_CSV.name)
    assert raw.source == "TRI fast-charge dataset"
    assert raw.content_type == "text/csv"
    assert raw.size_bytes == ARBIN_CSV.stat().st_size
    assert raw.metadata == {"channel": 8, "cycler": "Arbin"}
    binary = iw.raw_data.upload(project, str(ARBIN_RES), name="Si half cell")
    assert binary.content_type == "application/octet-stream"
    assert binary.size_bytes == ARBIN_RES.stat().st_size
    assert binary.source is None

    fetched = iw.raw_data.get(raw.id)
    assert fetched.model_dump() == raw.model_dump()
    listed = iw.raw_data.list(project)
    assert listed.total == 2
    assert {r.id for r in listed} == {raw.id, binary.id}
    pages = [iw.raw_data.list(project, limit=1, offset=o) for o in (0, 1)]
    assert {p[0].id for p in pages} == {raw.id, binary.id} and {p.total for p in pages} == {2}

    assert iw.raw_data.download(raw.id, use_cache=False) == ARBIN_CSV.read_bytes()
    assert iw.raw_data.download(binary.id, use_cache=False) == ARBIN_RES.read_bytes()
    bare = requests.get(iw.raw_data.download_url(binary.id), timeout=30)  # signed: no credentials needed
    assert bare.status_code == 200 and bare.content == ARBIN_RES.read_bytes()

    renamed = iw.raw_data.update(raw.id, name="CH8 export", source="", metadata={"channel": 9})
    assert (renamed.name, renamed.source, renamed.metadata) == ("CH8 export", None, {"channel": 9})
    assert renamed.filename == ARBIN_CSV.name
    assert iw.raw_data.get(raw.id).name == "CH8 export"

    cm = iw.cell_measurement
    instance_id = make_cell()
    first = cm.create_properties(instance_id, "From CH8", {"mass": {"value": 1, "unit": "g"}}).id
    second = cm.create_properties(instance_id, "Also from CH8", {"mass": {"value": 2, "unit": "g"}}).id
    cm.attach_raw_data(first, [raw.id, binary.id])
    cm.attach_raw_data(first, [raw.id])  # idempotent
    cm.attach_raw_data(second, [raw.id])
    linked = cm.list_raw_data(first)
    assert linked.total == 2 and {r.id for r in linked} == {raw.id, binary.id}
    assert all(r.filename for r in linked)
    made_from = iw.raw_data.list_measurements(raw.id)
    assert made_from.total == 2 and sorted(made_from) == sorted([first, second])
    assert list(iw.raw_data.list_measurements(binary.id)) == [first]

    cm.detach_raw_data(first, binary.id)
    assert [r.id for r in cm.list_raw_data(first)] == [raw.id]
    assert iw.raw_data.list_measurements(binary.id).total == 0

    prefix = f"orgs/{store_tenant.organization_id}/raw_data/{raw.id}/"
    assert store_server.object_keys(prefix)
    iw.raw_data.delete(raw.id)
    with raises_status(404, "NOT_FOUND"):
        iw.raw_data.get(raw.id)
    assert [r.id for r in iw.raw_data.list(project)] == [binary.id]
    assert cm.list_raw_data(first).total == 0
    assert list(iw.raw_data.list_measurements(binary.id)) == []
    assert store_server.wait_for_no_objects(prefix) == []
    assert iw.raw_data.download(binary.id, use_cache=False) == ARBIN_RES.read_bytes()  # the other stays
