"""Measurements given bad input: refused with a 4xx and the standard error body, or processed to
``failed`` with a ``processing_error`` that names the column or rows at fault.

After each refusal the server keeps serving, and the measurements of an unrelated organization
(the module's "bystander") read exactly as before. Raw HTTP is used where the ``ionworks``
client would refuse the input itself; the real client everywhere else.
"""

from __future__ import annotations

import http.client
import json
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import numpy as np
import polars as pl
import pytest
import requests
from ionworks.errors import IonworksError, MeasurementProcessingError

from cellstore.core.settings import Settings
from tests.measurements_bad_input import (
    ROWS_PER_STEP,
    cellstore_env,
    confirm,
    download,
    initiate,
    make_instance,
    ok,
    parquet_bytes,
    put,
    read_parquet,
    series,
    start_server,
    target,
    upload_files,
    upload_series,
    wait_settled,
)
from tests.support import Api, LiveServer, Tenant, assert_error

START, END = "2025-03-02T10:00:00Z", "2025-03-01T10:00:00Z"  # END is a day *before* START


# -- the bystander: another organization's measurements, which nothing here may change --------------


@dataclass
class Bystander:
    api_key: str
    series_id: str
    file_id: str
    state: dict[str, Any]


def observe(api: Api, series_id: str, file_id: str) -> dict[str, Any]:
    """Everything readable about the bystander's measurements, bytes included."""
    return {
        "series": ok(api.get(f"/cell_measurements/{series_id}")),
        "steps_and_cycles": ok(api.get(f"/cell_measurements/{series_id}/steps_and_cycles")),
        "steps": download(api, f"/cell_measurements/{series_id}/steps/download"),
        "time_series": download(api, f"/cell_measurements/{series_id}/time_series/download"),
        "file": ok(api.get(f"/cell_measurements/{file_id}")),
        "filenames": ok(api.get(f"/cell_measurements/{file_id}/files")),
        "file bytes": download(api, f"/cell_measurements/{file_id}/files/notes.txt"),
    }


@pytest.fixture(scope="module")
def bystander(server: LiveServer) -> Bystander:
    owner = server.new_tenant("Bystander organization")
    with server.http(owner.api_key) as api:
        instance = make_instance(api, owner.project_id, "Bystander cell")
        series_id = upload_series(api, instance, "Bystander series", parquet_bytes(series(8)))
        assert wait_settled(api, series_id)["processing_status"] == "ready"
        file_id = upload_files(api, instance, "Bystander files", {"notes.txt": b"bystander notes"})
        return Bystander(owner.api_key, series_id, file_id, observe(api, series_id, file_id))


def assert_still_serving_and_bystander_untouched(server: LiveServer, bystander: Bystander) -> None:
    assert requests.get(f"{server.url}/healthz", timeout=10).status_code == 200
    with server.http(bystander.api_key) as api:
        assert observe(api, bystander.series_id, bystander.file_id) == bystander.state


def measurement_names(api: Api, instance_id: str) -> list[str]:
    return sorted(m["name"] for m in ok(api.get(f"/cell_instances/{instance_id}/cell_measurements"))["items"])


@pytest.fixture
def instance(api: Api, tenant: Tenant) -> str:
    return make_instance(api, tenant.project_id)


def ready_series(api: Api, instance_id: str, name: str = "Good series", steps: int = 8) -> str:
    measurement_id = upload_series(api, instance_id, name, parquet_bytes(series(steps)))
    body = wait_settled(api, measurement_id)
    assert (body["processing_status"], body["processing_error"]) == ("ready", None)
    return measurement_id


# -- time series the server cannot process: failed, with the reason ---------------------------------


def _with_row(frame: pl.DataFrame, column: str, row: int, value: Any) -> pl.DataFrame:
    values = frame[column].to_list()
    values[row] = value
    return frame.with_columns(pl.Series(column, values, dtype=frame[column].dtype))


def _step_jump() -> bytes:
    frame = series(4)  # steps 0..3, six rows each; rows 12.. become steps 3 and 4
    shifted = pl.when(pl.int_range(pl.len()) >= 2 * ROWS_PER_STEP).then(pl.col("Step count") + 1)
    return parquet_bytes(frame.with_columns(shifted.otherwise(pl.col("Step count")).alias("Step count")))


BAD_SERIES: list[tuple[str, Callable[[], bytes], list[str]]] = [
    ("not parquet", lambda: b"Time [s],Step count,Voltage [V]\n0,0,3.7\n1,0,3.7\n", ["parquet"]),
    ("zero rows", lambda: parquet_bytes(series(4).clear()), ["no rows"]),
    ("Step count missing", lambda: parquet_bytes(series(4).drop("Step count")), ["Step count", "issing"]),
    (
        "Step count as text",
        lambda: parquet_bytes(series(4).with_columns(pl.col("Step count").cast(pl.String))),
        ["Step count", "integer"],
    ),
    (
        "decreasing time",
        lambda: parquet_bytes(_with_row(series(4), "Time [s]", 9, 2.0)),
        ["Time [s]", "row 9"],
    ),
    (
        "NaN voltage",
        lambda: parquet_bytes(_with_row(series(4), "Voltage [V]", 13, float("nan"))),
        ["Voltage [V]", "row 13"],
    ),
    ("Step count jumps by 2", _step_jump, ["Step count", "row 12"]),
]


@pytest.mark.parametrize(("label", "make", "mentions"), BAD_SERIES, ids=[c[0] for c in BAD_SERIES])
def test_unprocessable_series_fails_naming_the_column_or_rows(
    server: LiveServer,
    bystander: Bystander,
    client: Any,
    api: Api,
    instance: str,
    label: str,
    make: Callable[[], bytes],
    mentions: list[str],
) -> None:
    sibling = upload_series(api, instance, "Good sibling", parquet_bytes(series(8)))
    bad = upload_series(api, instance, f"Bad: {label}", make())

    settled = wait_settled(api, bad)
    assert settled["processing_status"] == "failed", settled
    error = settled["processing_error"]
    assert isinstance(error, str) and error
    for text in mentions:
        assert text in error, (text, error)

    # The client's own wait reports the server's reason.
    with pytest.raises(MeasurementProcessingError) as failed:
        client.cell_measurement.wait_for_processing(bad)
    assert failed.value.failures == {bad: error}

    # No steps or cycles exist, and asking for them is a 4xx (a 5xx would be retried five times).
    for path in ("steps/download", "cycles", "steps_and_cycles"):
        assert error in assert_error(api.get(f"/cell_measurements/{bad}/{path}"), 409, "CONFLICT")["message"]
    assert_error(api.post(f"/cell_measurements/{bad}/initiate-extend", json={}), 409, "CONFLICT")
    assert ok(api.get(f"/cell_measurements/{bad}"))["processing_status"] == "failed"

    # The good upload beside it was processed normally.
    good = wait_settled(api, sibling)
    assert (good["processing_status"], good["processing_error"]) == ("ready", None)
    steps = read_parquet(download(api, f"/cell_measurements/{sibling}/steps/download"))
    assert steps["Step count"].to_list() == list(range(8))
    assert steps["Start index"].to_list() == [ROWS_PER_STEP * s for s in range(8)]
    assert measurement_names(api, instance) == sorted([f"Bad: {label}", "Good sibling"])
    assert_still_serving_and_bystander_untouched(server, bystander)


# -- confirm-upload refusals ----------------------------------------------------------------------------


def test_confirm_before_the_put_names_the_missing_file(
    server: LiveServer, bystander: Bystander, api: Api, instance: str
) -> None:
    initiated = initiate(api, instance, "Early")
    mid = initiated["measurement_id"]
    body = assert_error(confirm(api, mid, instance, {"name": "Early"}), 400, "BAD_REQUEST")
    assert "time_series.parquet" in body["message"]
    assert body["detail"]["missing"] == ["time_series.parquet"]
    assert_error(api.get(f"/cell_measurements/{mid}"), 404, "NOT_FOUND")
    assert measurement_names(api, instance) == []

    files = initiate(api, instance, "Early files", ["a.txt", "b.txt"])
    assert put(target(files, "a.txt"), b"a").status_code == 200
    answer = confirm(
        api,
        files["measurement_id"],
        instance,
        {"name": "Early files"},
        measurement_type="file",
        filenames=["a.txt", "b.txt"],
    )
    body = assert_error(answer, 400, "BAD_REQUEST")
    assert "b.txt" in body["message"] and "a.txt" not in body["message"]
    assert measurement_names(api, instance) == []

    # The reservations are still good once the objects are there.
    assert put(target(initiated, "time_series.parquet"), parquet_bytes(series(4))).status_code == 200
    assert ok(confirm(api, mid, instance, {"name": "Early"}))["id"] == mid
    assert put(target(files, "b.txt"), b"b").status_code == 200
    confirmed = confirm(
        api,
        files["measurement_id"],
        instance,
        {"name": "Early files"},
        measurement_type="file",
        filenames=["a.txt", "b.txt"],
    )
    assert ok(confirmed)["file_metadata"]["filenames"] == ["a.txt", "b.txt"]
    assert wait_settled(api, mid)["processing_status"] == "ready"
    assert_still_serving_and_bystander_untouched(server, bystander)


def test_confirm_naming_another_organizations_instance_is_404(
    server: LiveServer, bystander: Bystander, api: Api, instance: str, other_tenant: Tenant
) -> None:
    with server.http(other_tenant.api_key) as other:
        foreign = make_instance(other, other_tenant.project_id, "Foreign cell")
    initiated = initiate(api, instance, "Mine")
    mid = initiated["measurement_id"]
    assert put(target(initiated, "time_series.parquet"), parquet_bytes(series(4))).status_code == 200

    real = assert_error(confirm(api, mid, foreign, {"name": "Mine"}), 404, "NOT_FOUND")
    unknown = str(uuid.uuid4())
    fake = assert_error(confirm(api, mid, unknown, {"name": "Mine"}), 404, "NOT_FOUND")
    assert real == fake  # the other organization's instance answers like one that does not exist
    assert_error(api.get(f"/cell_measurements/{mid}"), 404, "NOT_FOUND")
    with server.http(other_tenant.api_key) as other:
        assert measurement_names(other, foreign) == []

    assert ok(confirm(api, mid, instance, {"name": "Mine"}))["cell_instance_id"] == instance
    assert wait_settled(api, mid)["processing_status"] == "ready"
    assert_still_serving_and_bystander_untouched(server, bystander)


# -- signed URLs: tampered ones are refused --------------------------------------------------------------


def _tamper(url: str, **query: str | None) -> str:
    """``url`` with query parameters replaced (None removes one)."""
    parts = urlsplit(url)
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    for name, value in query.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = value
    return urlunsplit(parts._replace(query=urlencode(params)))


def _flip(text: str) -> str:
    return ("B" if text[0] == "A" else "A") + text[1:]


def test_put_to_a_tampered_signed_url_is_403_and_stores_nothing(
    server: LiveServer, bystander: Bystander, api: Api, instance: str
) -> None:
    initiated = initiate(api, instance, "Tampered")
    mid = initiated["measurement_id"]
    url = target(initiated, "time_series.parquet")
    steps_url = target(initiated, "steps.parquet")
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    expires, signature = int(query["expires"]), query["signature"]
    with server.http(bystander.api_key) as owner:
        read_url = owner.get(
            f"/cell_measurements/{bystander.series_id}/time_series/download", allow_redirects=False
        ).headers["location"]
    attempts = {
        "later expiry": _tamper(url, expires=str(expires + 3600)),
        "earlier expiry": _tamper(url, expires=str(expires - 7200)),
        "changed signature": _tamper(url, signature=_flip(signature)),
        "no signature": _tamper(url, signature=None),
        "no expiry": _tamper(url, expires=None),
        "another object's signature": _tamper(steps_url, signature=signature, expires=str(expires)),
        "a download URL": read_url,
    }
    data = parquet_bytes(series(4))
    for label, bad_url in attempts.items():
        response = put(bad_url, data)
        assert response.status_code == 403, (label, response.status_code, response.text)
        assert_error(response, 403, "FORBIDDEN")
    body = assert_error(confirm(api, mid, instance, {"name": "Tampered"}), 400, "BAD_REQUEST")
    assert "time_series.parquet" in body["message"]
    assert_still_serving_and_bystander_untouched(server, bystander)  # the download URL wrote nothing

    assert put(url, data).status_code == 200
    ok(confirm(api, mid, instance, {"name": "Tampered"}))
    assert wait_settled(api, mid)["processing_status"] == "ready"


# -- a server with a small upload cap and short-lived URLs -------------------------------------------------

CAP = 32 * 1024
TTL = 3


@pytest.fixture(scope="module")
def limited() -> Iterator[LiveServer]:
    """cellstore on SQLite whose signed uploads are capped at CAP bytes and whose URLs live TTL s."""
    data_dir = Path(tempfile.mkdtemp(prefix="cellstore-limited-"))
    env = cellstore_env(data_dir, max_upload_bytes=CAP, url_ttl_seconds=TTL)
    process = start_server(env, data_dir / "server.log")
    try:
        yield LiveServer(url=process.url, settings=Settings(data_dir=data_dir), backend="sqlite")
    finally:
        process.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def _stored_under(server: LiveServer, organization_id: str, measurement_id: str) -> list[Path]:
    """Every file (temporary ones included) under the measurement's prefix in the local store."""
    root = server.settings.data_dir / "objects" / "orgs" / organization_id / "measurements" / measurement_id
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_upload_over_the_size_cap_is_413_and_stores_nothing(limited: LiveServer) -> None:
    tenant = limited.new_tenant()
    with limited.http(tenant.api_key) as api:
        instance = make_instance(api, tenant.project_id)
        initiated = initiate(api, instance, "Too big")
        mid = initiated["measurement_id"]
        url = urlsplit(target(initiated, "time_series.parquet"))

        # Declared too big: refused before a byte of the body is read.
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        connection.putrequest("PUT", f"{url.path}?{url.query}")
        connection.putheader("Content-Type", "application/octet-stream")
        connection.putheader("Content-Length", str(CAP + 1))
        connection.endheaders()
        response = connection.getresponse()
        assert response.status == 413
        assert response.getheader("content-type") == "application/json"
        body = json.loads(response.read())
        connection.close()
        assert body["error_code"] == "PAYLOAD_TOO_LARGE" and str(CAP) in body["message"]
        assert _stored_under(limited, tenant.organization_id, mid) == []
        refused = assert_error(confirm(api, mid, instance, {"name": "Too big"}), 400, "BAD_REQUEST")
        assert "time_series.parquet" in refused["message"]

        # The real client, with a frame whose parquet is over the cap.
        noisy = series(1000).with_columns(
            pl.Series("Temperature [degC]", np.random.default_rng(7).normal(25, 1, 6000))
        )
        assert len(parquet_bytes(noisy)) > CAP
        client = limited.client(tenant)
        with pytest.raises(IonworksError) as raised:
            client.cell_measurement.create(
                instance, {"measurement": {"name": "Too big too"}, "time_series": noisy}
            )
        assert raised.value.status_code == 413, raised.value
        assert "upload" in str(raised.value).lower()
        assert measurement_names(api, instance) == []
        assert not list((limited.settings.data_dir / "objects").rglob("*.parquet*"))

        # The server goes on serving; an upload within the cap, to the same reservation, works.
        assert requests.get(f"{limited.url}/healthz", timeout=10).status_code == 200
        small = parquet_bytes(series(4))
        assert len(small) < CAP
        fresh = initiate(api, instance, "Small enough")
        assert put(target(fresh, "time_series.parquet"), small).status_code == 200
        ok(confirm(api, fresh["measurement_id"], instance, {"name": "Small enough"}))
        assert wait_settled(api, fresh["measurement_id"])["processing_status"] == "ready"
        assert measurement_names(api, instance) == ["Small enough"]


def test_put_to_an_expired_signed_url_is_403(limited: LiveServer) -> None:
    tenant = limited.new_tenant()
    with limited.http(tenant.api_key) as api:
        instance = make_instance(api, tenant.project_id)
        initiated = initiate(api, instance, "Late")
        url = target(initiated, "time_series.parquet")
        expires = int(parse_qs(urlsplit(url).query)["expires"][0])
        assert time.time() < expires <= time.time() + TTL
        time.sleep(max(0.0, expires - time.time()) + 1.1)
        body = assert_error(put(url, parquet_bytes(series(4))), 403, "FORBIDDEN")
        assert "expired" in body["message"]
        refused = confirm(api, initiated["measurement_id"], instance, {"name": "Late"})
        assert "time_series.parquet" in assert_error(refused, 400, "BAD_REQUEST")["message"]
        assert measurement_names(api, instance) == []


# -- extend refusals ------------------------------------------------------------------------------------


def test_extend_of_a_file_or_properties_measurement_is_400(
    server: LiveServer, bystander: Bystander, client: Any, api: Api, instance: str
) -> None:
    file_id = upload_files(api, instance, "Pictures", {"a.txt": b"a"})
    properties = client.cell_measurement.create_properties(
        instance, "Thickness", {"thickness": {"value": 0.52, "unit": "mm"}}
    )
    for measurement_id in (file_id, properties.id):
        with pytest.raises(IonworksError) as raised:
            client.cell_measurement.extend(measurement_id, series(2))
        assert (raised.value.status_code, raised.value.error_code) == (400, "BAD_REQUEST")
        assert_error(api.post(f"/cell_measurements/{measurement_id}/initiate-extend", json={}), 400)
        assert ok(api.get(f"/cell_measurements/{measurement_id}"))["processing_status"] == "ready"
    assert ok(api.get(f"/cell_measurements/{file_id}/files"))["filenames"] == ["a.txt"]
    kept = client.cell_measurement.get(properties.id).properties
    assert kept == {"thickness": {"value": 0.52, "unit": "mm"}}
    assert_still_serving_and_bystander_untouched(server, bystander)


def _initiate_extend(api: Api, measurement_id: str) -> str:
    answer = ok(api.post(f"/cell_measurements/{measurement_id}/initiate-extend", json={}))
    assert answer["measurement_id"] == measurement_id
    return target(answer, "time_series_extend.parquet")


def test_a_second_initiate_extend_while_one_is_in_flight_is_409(
    server: LiveServer, bystander: Bystander, client: Any, api: Api, instance: str
) -> None:
    mid = ready_series(api, instance)
    url = _initiate_extend(api, mid)
    assert (
        "in flight"
        in assert_error(api.post(f"/cell_measurements/{mid}/initiate-extend", json={}), 409, "CONFLICT")[
            "message"
        ]
    )
    with pytest.raises(IonworksError) as raised:
        client.cell_measurement.extend(mid, series(2, first_step=8, start_time=48.0))
    assert (raised.value.status_code, raised.value.error_code) == (409, "CONFLICT")

    # The first extend is unharmed and completes.
    assert put(url, parquet_bytes(series(4, first_step=8, start_time=48.0))).status_code == 200
    assert ok(api.post(f"/cell_measurements/{mid}/confirm-extend", json={}))["processing_status"] == "pending"
    settled = wait_settled(api, mid)
    assert (settled["processing_status"], settled["processing_error"]) == ("ready", None)
    assert read_parquet(download(api, f"/cell_measurements/{mid}/time_series/download")).height == 72
    assert_still_serving_and_bystander_untouched(server, bystander)


def test_confirm_extend_without_initiate_is_409(
    server: LiveServer, bystander: Bystander, api: Api, instance: str
) -> None:
    mid = ready_series(api, instance)
    before = ok(api.get(f"/cell_measurements/{mid}"))
    body = assert_error(api.post(f"/cell_measurements/{mid}/confirm-extend", json={}), 409, "CONFLICT")
    assert "initiate-extend" in body["message"]
    assert ok(api.get(f"/cell_measurements/{mid}")) == before

    # Initiated but not uploaded: 400 naming the missing delta, and the claim still stands.
    url = _initiate_extend(api, mid)
    body = assert_error(api.post(f"/cell_measurements/{mid}/confirm-extend", json={}), 400, "BAD_REQUEST")
    assert "time_series_extend.parquet" in body["message"]
    assert put(url, parquet_bytes(series(2, first_step=8, start_time=48.0))).status_code == 200
    ok(api.post(f"/cell_measurements/{mid}/confirm-extend", json={}))
    assert wait_settled(api, mid)["processing_error"] is None
    assert read_parquet(download(api, f"/cell_measurements/{mid}/time_series/download")).height == 60
    assert_still_serving_and_bystander_untouched(server, bystander)


# -- a failed extend leaves the measurement as it was ----------------------------------------------------


def _readable(client: Any, api: Api, measurement_id: str) -> dict[str, Any]:
    return {
        "steps": client.cell_measurement.steps(measurement_id),
        "cycles": client.cell_measurement.cycles(measurement_id),
        "time_series": client.cell_measurement.time_series(measurement_id),
        "steps_and_cycles": ok(api.get(f"/cell_measurements/{measurement_id}/steps_and_cycles")),
        "series bytes": download(api, f"/cell_measurements/{measurement_id}/time_series/download"),
    }


def _assert_same(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert set(before) == set(after)
    for key, value in before.items():
        if hasattr(value, "equals"):
            assert value.equals(after[key]), key
        else:
            assert value == after[key], key


def _extend_raw(api: Api, measurement_id: str, data: bytes) -> dict[str, Any]:
    assert put(_initiate_extend(api, measurement_id), data).status_code == 200
    ok(api.post(f"/cell_measurements/{measurement_id}/confirm-extend", json={}))
    return wait_settled(api, measurement_id)


BAD_EXTENDS = ["time goes backwards", "no Step count", "not parquet"]


@pytest.mark.parametrize("bad", BAD_EXTENDS)
def test_a_failed_extend_keeps_the_measurement_ready_and_readable(
    server: LiveServer, bystander: Bystander, client: Any, api: Api, instance: str, bad: str
) -> None:
    mid = ready_series(api, instance)  # 8 steps, 48 rows, times 0..47
    before = _readable(client, api, mid)
    assert before["time_series"].shape[0] == 48

    if bad == "time goes backwards":  # the client's checks pass: the delta alone is monotonic
        with pytest.raises(MeasurementProcessingError) as raised:
            client.cell_measurement.extend(mid, series(2, first_step=8, start_time=40.0))
        error = raised.value.failures[mid]
        mentions = ["Time [s]"]
    else:
        delta = series(2, first_step=8, start_time=48.0)
        data = parquet_bytes(delta.drop("Step count")) if bad == "no Step count" else b"PAR1 not really"
        error = _extend_raw(api, mid, data)["processing_error"]
        mentions = ["Step count"] if bad == "no Step count" else ["parquet"]
    assert isinstance(error, str)
    for text in mentions:
        assert text in error, (text, error)

    row = ok(api.get(f"/cell_measurements/{mid}"))
    assert (row["processing_status"], row["processing_error"]) == ("ready", error)
    _assert_same(before, _readable(client, api, mid))

    # A good extend afterwards works, and clears the error.
    delta = series(4, first_step=8, start_time=48.0)
    bundle = client.cell_measurement.extend(mid, delta)
    assert not bundle.processing_error
    row = ok(api.get(f"/cell_measurements/{mid}"))
    assert (row["processing_status"], row["processing_error"]) == ("ready", None)
    extended = client.cell_measurement.time_series(mid)
    assert extended.shape[0] == 72
    assert extended["Time [s]"].to_list() == [float(t) for t in range(72)]
    steps = client.cell_measurement.steps(mid)
    assert steps["Step count"].to_list() == list(range(12))
    assert steps["End index"].to_list()[-1] == 71
    assert_still_serving_and_bystander_untouched(server, bystander)


# -- tags: at most 50, of at most 50 characters ----------------------------------------------------------

LONG_TAG = "x" * 51
MANY_TAGS = [f"tag-{i:02d}" for i in range(51)]
MOST_TAGS = [*MANY_TAGS[:49], "y" * 50]  # 50 tags, one of them 50 characters long


def _assert_bad_tags(call: Callable[[list[str]], Any], unchanged: Callable[[], None]) -> None:
    """A 51-character tag and a 51st tag are each a 400, after which ``unchanged()`` holds."""
    for tags in ([LONG_TAG], MANY_TAGS):
        with pytest.raises(IonworksError) as raised:
            call(tags)
        assert (raised.value.status_code, raised.value.error_code) == (400, "BAD_REQUEST"), tags
        assert "50" in raised.value.message
        unchanged()


def test_tag_limits_at_creation(
    server: LiveServer, bystander: Bystander, client: Any, api: Api, tenant: Tenant, instance: str
) -> None:
    def nothing_created() -> None:  # a refused confirm or create leaves no measurement behind
        assert measurement_names(api, instance) == []
        assert ok(api.get(f"/cell_measurements/tags?project_id={tenant.project_id}"))["total"] == 0

    _assert_bad_tags(
        lambda tags: client.cell_measurement.create(
            instance,
            {
                "measurement": {"name": f"Series with {len(tags)} tags", "tags": tags},
                "time_series": series(4),
            },
            wait_for_processing=False,
        ),
        nothing_created,
    )
    _assert_bad_tags(
        lambda tags: client.cell_measurement.create_properties(
            instance, f"Properties with {len(tags)} tags", {"mass": {"value": 1, "unit": "g"}}, tags=tags
        ),
        nothing_created,
    )

    # At the limits is fine.
    created = client.cell_measurement.create(
        instance,
        {"measurement": {"name": "Tagged series", "tags": MOST_TAGS}, "time_series": series(4)},
        wait_for_processing=False,
    )
    assert sorted(created.tags) == sorted(MOST_TAGS)
    properties = client.cell_measurement.create_properties(
        instance, "Tagged properties", {"mass": {"value": 1, "unit": "g"}}, tags=MOST_TAGS
    )
    assert sorted(properties.tags) == sorted(MOST_TAGS)
    assert wait_settled(api, created.id)["processing_status"] == "ready"
    assert_still_serving_and_bystander_untouched(server, bystander)


def test_tag_limits_at_patch(server: LiveServer, bystander: Bystander, client: Any, instance: str) -> None:
    measurement = client.cell_measurement.create_properties(
        instance, "Patched", {"mass": {"value": 1, "unit": "g"}}, tags=["keep"]
    )

    def unchanged() -> None:
        assert client.cell_measurement.get(measurement.id).tags == ["keep"]

    _assert_bad_tags(lambda tags: client.cell_measurement.update(measurement.id, {"tags": tags}), unchanged)
    updated = client.cell_measurement.update(measurement.id, {"tags": MOST_TAGS})
    assert sorted(updated.tags) == sorted(MOST_TAGS)
    assert_still_serving_and_bystander_untouched(server, bystander)


def test_tag_limits_in_bulk(server: LiveServer, bystander: Bystander, client: Any, instance: str) -> None:
    full = client.cell_measurement.create_properties(
        instance, "Full", {"mass": {"value": 1, "unit": "g"}}, tags=MANY_TAGS[:50]
    )
    light = client.cell_measurement.create_properties(
        instance, "Light", {"mass": {"value": 1, "unit": "g"}}, tags=["light"]
    )

    def unchanged() -> None:
        assert client.cell_measurement.get(light.id).tags == ["light"]

    _assert_bad_tags(lambda tags: client.cell_measurement.add_tags(light.id, tags), unchanged)
    with pytest.raises(IonworksError) as raised:  # a 51st tag on one of them: neither changes
        client.cell_measurement.add_tags([light.id, full.id], ["one-more"])
    assert (raised.value.status_code, raised.value.error_code) == (400, "BAD_REQUEST")
    assert sorted(client.cell_measurement.get(full.id).tags) == sorted(MANY_TAGS[:50])
    assert client.cell_measurement.get(light.id).tags == ["light"]

    # A tag it already has (in any case) is no 51st tag.
    assert client.cell_measurement.add_tags([full.id], ["TAG-00"]) == 0
    assert client.cell_measurement.add_tags([light.id], ["y" * 50]) == 1
    assert_still_serving_and_bystander_untouched(server, bystander)


# -- end_time before start_time ---------------------------------------------------------------------------


def test_end_time_before_start_time_is_400_at_confirm_and_at_patch(
    server: LiveServer, bystander: Bystander, client: Any, api: Api, instance: str
) -> None:
    with pytest.raises(IonworksError) as raised:
        client.cell_measurement.create(
            instance,
            {
                "measurement": {"name": "Backwards", "start_time": START, "end_time": END},
                "time_series": series(4),
            },
            wait_for_processing=False,
        )
    assert (raised.value.status_code, raised.value.error_code) == (400, "BAD_REQUEST")
    assert "end_time" in raised.value.message
    with pytest.raises(IonworksError) as raised:
        client.cell_measurement.create_properties(
            instance,
            "Backwards properties",
            {"mass": {"value": 1, "unit": "g"}},
            start_time=START,
            end_time=END,
        )
    assert (raised.value.status_code, raised.value.error_code) == (400, "BAD_REQUEST")
    assert measurement_names(api, instance) == []

    mid = upload_series(api, instance, "Timed", parquet_bytes(series(4)), start_time=END)
    wait_settled(api, mid)
    before = ok(api.get(f"/cell_measurements/{mid}"))
    for patch in (
        {"start_time": START, "end_time": END},  # both at once
        {"end_time": "2025-02-28T10:00:00Z"},  # before the stored start
    ):
        with pytest.raises(IonworksError) as raised:
            client.cell_measurement.update(mid, patch)
        assert (raised.value.status_code, raised.value.error_code) == (400, "BAD_REQUEST"), patch
        assert "end_time" in raised.value.message
        assert ok(api.get(f"/cell_measurements/{mid}")) == before
    client.cell_measurement.update(mid, {"end_time": START})  # after the start: fine
    with pytest.raises(IonworksError) as raised:  # and now a start after that end
        client.cell_measurement.update(mid, {"start_time": "2025-03-03T10:00:00Z"})
    assert raised.value.status_code == 400
    row = ok(api.get(f"/cell_measurements/{mid}"))
    assert (row["start_time"], row["end_time"]) == (END, START)
    assert_still_serving_and_bystander_untouched(server, bystander)
