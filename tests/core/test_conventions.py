"""Transport conventions every endpoint shares (contract §1 and §9), checked over plain HTTP."""

from __future__ import annotations

import gzip
import json
import time
import uuid
from datetime import datetime, timedelta

import pytest
import requests

from tests.support import Api, LiveServer, Tenant, assert_error

CAP = 64 * 1024 * 1024  # the default CELLSTORE_MAX_REQUEST_BODY_BYTES


def _spec(api: Api, tenant: Tenant, name: str, **fields: object) -> dict:
    response = api.post(
        "/cell_specifications", json={"name": name, "project_id": tenant.project_id, **fields}
    )
    assert response.status_code == 200, response.text
    return response.json()


def _names(api: Api, **params: object) -> list[str]:
    response = api.get("/cell_specifications", params=params)
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["items"]]


# Content type and error body


def test_success_answers_content_type_exactly_application_json(api: Api) -> None:
    """The client parses JSON only when Content-Type is exactly ``application/json``."""
    response = api.get("/cell_specifications")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/no_such_endpoint", 404, "NOT_FOUND"),
        ("PUT", "/cell_specifications", 405, "METHOD_NOT_ALLOWED"),
        ("GET", "/cell_specifications?limit=0", 422, "VALIDATION_ERROR"),
    ],
)
def test_errors_use_the_standard_body(api: Api, method: str, path: str, status: int, code: str) -> None:
    """Unknown route, wrong method and validation errors all answer {error_code, message, detail}."""
    assert_error(api.request(method, path), status, code)


def test_validation_error_detail_lists_the_fields(api: Api, tenant: Tenant) -> None:
    response = api.post("/cell_specifications", json={"project_id": tenant.project_id})
    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert "name" in error["message"]
    assert [e["field"] for e in error["detail"]["errors"]] == ["name"]


def test_malformed_json_body_answers_400(api: Api) -> None:
    response = api.post("/cell_specifications", data=b'{"name": "broken",')
    assert_error(response, 400, "BAD_REQUEST")


@pytest.mark.parametrize("body", [b'[{"name": "in a list"}]', b'"just a string"', b"42", b"null"])
def test_json_body_that_is_not_an_object_answers_4xx(api: Api, body: bytes) -> None:
    """A JSON array or scalar where an object is expected is the caller's mistake, never a 500."""
    response = api.post("/cell_specifications", data=body)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert_error(response, response.status_code)
    assert api.get("/cell_specifications").json()["total"] == 0


def test_bodiless_get_and_delete_with_json_content_type_work(api: Api, tenant: Tenant) -> None:
    """The client sends ``Content-Type: application/json`` on GET and DELETE too, without a body."""
    spec = _spec(api, tenant, "Bodiless")
    headers = {"Content-Type": "application/json"}
    fetched = api.get(f"/cell_specifications/{spec['id']}", headers=headers)
    assert fetched.status_code == 200
    assert fetched.json()["id"] == spec["id"]
    deleted = api.delete(f"/cell_specifications/{spec['id']}", headers=headers)
    assert deleted.status_code in (200, 204)
    assert_error(api.get(f"/cell_specifications/{spec['id']}"), 404, "NOT_FOUND")


# Correlation ids


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/cell_specifications", 200),
        ("GET", "/no_such_endpoint", 404),
        ("PUT", "/cell_specifications", 405),
        ("GET", "/cell_specifications?limit=0", 422),
    ],
)
def test_every_response_carries_a_correlation_id(api: Api, method: str, path: str, status: int) -> None:
    response = api.request(method, path)
    assert response.status_code == status
    assert response.headers.get("x-correlation-id")


def test_unauthenticated_response_carries_a_correlation_id(server: LiveServer) -> None:
    with server.http() as anonymous:
        response = anonymous.get("/cell_specifications")
    assert_error(response, 401)
    assert response.headers.get("x-correlation-id")


def test_correlation_ids_differ_between_requests(api: Api) -> None:
    first = api.get("/cell_specifications").headers["x-correlation-id"]
    second = api.get("/cell_specifications").headers["x-correlation-id"]
    assert first != second


@pytest.mark.parametrize("path", ["/cell_specifications", "/no_such_endpoint"])
def test_a_sent_correlation_id_is_echoed(api: Api, path: str) -> None:
    response = api.get(path, headers={"X-Correlation-Id": "trace-1234"})
    assert response.headers["x-correlation-id"] == "trace-1234"


# Gzip request bodies and the size cap


def test_gzip_body_creates_a_specification(api: Api, tenant: Tenant) -> None:
    """The client gzips bodies of 512 KiB and more; the server must gunzip them."""
    notes = "cell data " * 60_000  # about 600 KB, like a real gzipped client body
    body = json.dumps({"name": "Gzipped", "project_id": tenant.project_id, "notes": notes}).encode()
    response = api.post(
        "/cell_specifications",
        data=gzip.compress(body, compresslevel=1),
        headers={"Content-Encoding": "gzip"},
    )
    assert response.status_code == 200, response.text
    created = response.json()
    assert created["name"] == "Gzipped"
    assert api.get(f"/cell_specifications/{created['id']}").json()["notes"] == notes


@pytest.mark.parametrize(
    "payload",
    [
        b"\x1f\x8b\x08\x00not really gzip at all",
        gzip.compress(b'{"name": "cut short", "notes": "' + b"x" * 5000 + b'"}')[:-20],
        b'{"name": "plain json sent as gzip"}',
    ],
    ids=["corrupt", "truncated", "not-gzip"],
)
def test_corrupt_gzip_body_answers_400(api: Api, payload: bytes) -> None:
    response = api.post("/cell_specifications", data=payload, headers={"Content-Encoding": "gzip"})
    assert_error(response, 400, "BAD_REQUEST")
    assert response.headers.get("x-correlation-id")
    assert api.get("/cell_specifications").json()["total"] == 0


def test_unsupported_content_encoding_is_refused(api: Api) -> None:
    response = api.post("/cell_specifications", data=b"{}", headers={"Content-Encoding": "br"})
    assert_error(response, 415)


def test_gzip_bomb_answers_413_and_the_server_keeps_serving(api: Api, tenant: Tenant) -> None:
    """A small upload that inflates past the cap is refused before it reaches the application."""
    prefix = json.dumps({"name": "Bomb", "project_id": tenant.project_id, "notes": ""})[:-2].encode()
    inflated = prefix + b'"' + b" " * (CAP + 6 * 1024 * 1024) + b'"}'
    compressed = gzip.compress(inflated, compresslevel=9)
    del inflated
    assert len(compressed) < 1024 * 1024
    response = api.post("/cell_specifications", data=compressed, headers={"Content-Encoding": "gzip"})
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert response.headers.get("x-correlation-id")
    assert api.get("/healthz").status_code == 200
    assert api.get("/cell_specifications").json()["total"] == 0
    assert _spec(api, tenant, "After the bomb")["name"] == "After the bomb"


def test_uncompressed_body_over_the_cap_answers_413(api: Api, tenant: Tenant) -> None:
    prefix = json.dumps({"name": "Huge", "project_id": tenant.project_id, "notes": ""})[:-2].encode()
    body = prefix + b'"' + b"x" * (CAP + 1024) + b'"}'
    response = api.post("/cell_specifications", data=body, timeout=120)
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert api.get("/cell_specifications").json()["total"] == 0


# Lists, paging and filters


def test_list_envelope_pages_with_exact_total(api: Api, tenant: Tenant) -> None:
    for index in range(5):
        _spec(api, tenant, f"Page {index}")
    seen: list[str] = []
    for offset, expected_count in ((0, 2), (2, 2), (4, 1)):
        response = api.get(
            "/cell_specifications", params={"limit": 2, "offset": offset, "order_by": "name", "order": "asc"}
        )
        assert response.status_code == 200
        page = response.json()
        assert set(page) == {"items", "count", "total"}
        assert page["total"] == 5
        assert page["count"] == len(page["items"]) == expected_count
        seen += [item["name"] for item in page["items"]]
    assert seen == [f"Page {index}" for index in range(5)]
    beyond = api.get("/cell_specifications", params={"limit": 2, "offset": 10}).json()
    assert beyond == {"items": [], "count": 0, "total": 5}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 1001}, "limit"),
        ({"limit": 0}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"bogus": "eq.1"}, "bogus"),
        ({"name": "gt.x"}, "name"),
        ({"form_factor": "ilike.%18%"}, "form_factor"),
        ({"order_by": "bogus"}, "order_by"),
        ({"order": "sideways"}, "order"),
        ({"created_at_gt": "notadate"}, "created_at_gt"),
        ({"updated_at_lt": "2024-13-45"}, "updated_at_lt"),
        ({"project_id": "not-an-id"}, "project_id"),
    ],
)
def test_bad_list_parameters_answer_422_naming_them(api: Api, params: dict, field: str) -> None:
    error = assert_error(api.get("/cell_specifications", params=params), 422, "VALIDATION_ERROR")
    assert field in error["message"], error
    assert field in [e["field"] for e in error["detail"]["errors"]], error


def test_largest_limit_is_accepted(api: Api) -> None:
    assert api.get("/cell_specifications", params={"limit": 1000}).status_code == 200


def test_created_at_ranges_filter(api: Api, tenant: Tenant) -> None:
    early = _spec(api, tenant, "Early")
    time.sleep(0.05)
    late = _spec(api, tenant, "Late")
    early_at = datetime.fromisoformat(early["created_at"])
    late_at = datetime.fromisoformat(late["created_at"])
    assert early_at < late_at
    between = (early_at + (late_at - early_at) / 2).isoformat()
    assert _names(api, created_at_gt=between) == ["Late"]
    assert _names(api, created_at_lt=between) == ["Early"]
    assert _names(api, created_at_gt=early["created_at"]) == ["Late"]
    assert _names(api, created_at_lt=late["created_at"]) == ["Early"]
    outside = (late_at + timedelta(hours=1)).isoformat()
    assert _names(api, created_at_gt=outside) == []
    assert sorted(_names(api, created_at_lt=outside)) == ["Early", "Late"]


def test_created_after_as_the_client_formats_it(client, api: Api, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    """The client sends ``str(datetime)`` (space separator, ``+00:00``), url-encoded."""
    early = _spec(api, tenant, "Early")
    time.sleep(0.05)
    _spec(api, tenant, "Late")
    after = datetime.fromisoformat(early["created_at"]) + timedelta(milliseconds=1)
    assert [s.name for s in client.cell_spec.list(created_after=after)] == ["Late"]
    assert [s.name for s in client.cell_spec.list(created_before=after)] == ["Early"]


# Out-of-range input is the caller's mistake, never a 500 (the client retries GET 500s five times)


def _not_a_server_error(response: requests.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/json"


@pytest.mark.parametrize("offset", [2**63, 10**20])
def test_huge_offset_is_an_empty_page_or_422(api: Api, offset: int) -> None:
    response = api.get("/cell_specifications", params={"offset": offset})
    _not_a_server_error(response)
    if response.status_code == 200:
        assert response.json()["items"] == []
    else:
        assert "offset" in assert_error(response, 422)["message"]


@pytest.mark.parametrize(
    ("param", "value"),
    [("created_at_gt", "9999-12-31T23:59:59-05:00"), ("created_at_lt", "0001-01-01T00:00:00+05:00")],
)
def test_timestamps_beyond_the_calendar_in_utc_are_refused_or_match_nothing(
    api: Api, tenant: Tenant, param: str, value: str
) -> None:
    _spec(api, tenant, "Now")
    response = api.get("/cell_specifications", params={param: value})
    _not_a_server_error(response)
    if response.status_code == 200:
        assert response.json()["items"] == []
    else:
        assert param in assert_error(response, 422)["message"]


def test_nul_character_in_a_filter_is_not_a_server_error(api: Api) -> None:
    """PostgreSQL text cannot hold NUL; the answer must still be a 200 or a 4xx."""
    for value in ("eq.a\x00b", "ilike.%\x00%"):
        response = api.get("/cell_specifications", params={"name": value})
        _not_a_server_error(response)
        if response.status_code == 200:
            assert response.json()["items"] == []


@pytest.mark.parametrize(
    "fields",
    [{"name": "nul\x00name"}, {"name": "NUL notes", "notes": "x\x00y"}, {"name": "NUL key", "k\x00": 1}],
    ids=["name", "value", "key"],
)
def test_nul_character_in_a_body_is_stored_or_refused(api: Api, tenant: Tenant, fields: dict) -> None:
    response = api.post("/cell_specifications", json={"project_id": tenant.project_id, **fields})
    _not_a_server_error(response)
    if response.status_code == 200:
        stored = api.get(f"/cell_specifications/{response.json()['id']}").json()
        assert {k: stored.get(k) for k in fields} == fields
    else:
        assert_error(response, response.status_code)
        assert api.get("/cell_specifications").json()["total"] == 0


def test_non_finite_quantity_value_is_refused(api: Api, tenant: Tenant) -> None:
    """``Infinity``/``NaN`` (the tokens ``json.dumps`` writes) are not a Quantity's number."""
    for token in (b"Infinity", b"NaN", b"-Infinity"):
        body = b'{"name": "Odd", "project_id": "%s", "ratings": {"capacity": {"value": %s, "unit": "A.h"}}}'
        response = api.post("/cell_specifications", data=body % (tenant.project_id.encode(), token))
        error = assert_error(response, 422)
        assert "ratings.capacity.value" in error["message"], error
    assert api.get("/cell_specifications").json()["total"] == 0


def test_nan_in_a_free_form_field_is_stored_as_null_or_refused(api: Api, tenant: Tenant) -> None:
    """The transport does not sanitise NaN (contract 1.4): accept it as null or answer 4xx, never 500."""
    body = b'{"name": "NaN notes", "project_id": "%s", "lab_temperature": NaN}' % tenant.project_id.encode()
    response = api.post("/cell_specifications", data=body)
    _not_a_server_error(response)
    if response.status_code == 200:
        stored = api.get(f"/cell_specifications/{response.json()['id']}").json()
        assert stored.get("lab_temperature") is None
    else:
        assert_error(response, response.status_code)


# Ids in paths and responses


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/cell_specifications/not-an-id", "cell_spec_id"),
        ("/cell_batches/123", "batch_id"),
        ("/cell_instances/zzzz", "cell_instance_id"),
    ],
)
def test_malformed_path_id_answers_422_naming_the_parameter(api: Api, path: str, parameter: str) -> None:
    error = assert_error(api.get(path), 422, "VALIDATION_ERROR")
    assert parameter in error["message"], error


@pytest.mark.parametrize("collection", ["cell_specifications", "cell_batches", "cell_instances"])
def test_well_formed_unknown_id_answers_404(api: Api, collection: str) -> None:
    assert_error(api.get(f"/{collection}/{uuid.uuid4()}"), 404, "NOT_FOUND")


@pytest.mark.parametrize("spelling", [str.upper, lambda text: uuid.UUID(text).hex], ids=["upper", "hex"])
def test_other_spellings_of_an_existing_id_never_answer_404(api: Api, tenant: Tenant, spelling) -> None:  # type: ignore[no-untyped-def]
    """UUIDs are case-insensitive and the path pattern admits these forms: find the row or refuse with 422."""
    spec = _spec(api, tenant, "Spelled")
    response = api.get(f"/cell_specifications/{spelling(spec['id'])}")
    if response.status_code == 422:
        assert "cell_spec_id" in assert_error(response, 422)["message"]
    else:
        assert response.status_code == 200, (response.status_code, response.text)
        assert response.json()["id"] == spec["id"]


def test_ids_in_responses_are_uuid_strings(api: Api, tenant: Tenant) -> None:
    """The client's models reject integer ids."""
    spec = _spec(api, tenant, "Ids")
    batch = api.post(f"/cell_specifications/{spec['id']}/cell_batches", json={"name": "Lot 1"}).json()
    instance = api.post(
        f"/cell_specifications/{spec['id']}/cell_instances", json={"name": "Cell 1", "batch_id": batch["id"]}
    ).json()
    for row, keys in (
        (spec, ("id", "project_id", "organization_id", "created_by")),
        (batch, ("id", "cell_specification_id", "project_id", "organization_id")),
        (instance, ("id", "cell_specification_id", "batch_id", "project_id", "organization_id")),
    ):
        for key in keys:
            assert isinstance(row[key], str), (key, row)
            assert str(uuid.UUID(row[key])) == row[key]
    listed = api.get("/cell_specifications").json()["items"]
    assert [item["id"] for item in listed] == [spec["id"]]


# OpenAPI and docs


def test_openapi_document_is_served(server: LiveServer) -> None:
    response = requests.get(f"{server.url}/openapi.json", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert "/cell_specifications" in document["paths"]
    assert "/cell_specifications/{cell_spec_id}" in document["paths"]


def test_docs_page_is_served(server: LiveServer) -> None:
    response = requests.get(f"{server.url}/docs", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "openapi.json" in response.text


# Failed writes change nothing


def test_duplicate_create_adds_no_row(api: Api, tenant: Tenant) -> None:
    _spec(api, tenant, "Only once")
    duplicate = api.post("/cell_specifications", json={"name": "Only once", "project_id": tenant.project_id})
    assert_error(duplicate, 409, "CONFLICT")
    assert api.get("/cell_specifications").json()["total"] == 1


def test_failed_patch_leaves_the_row_unchanged(api: Api, tenant: Tenant) -> None:
    """A PATCH whose later part is invalid must not keep its earlier, valid part."""
    spec = _spec(api, tenant, "Stable", form_factor="21700", notes="kept")
    response = api.patch(
        f"/cell_specifications/{spec['id']}",
        json={"form_factor": "pouch", "notes": "changed", "ratings": {"capacity": 5}},
    )
    assert_error(response, 422)
    after = api.get(f"/cell_specifications/{spec['id']}").json()
    assert (after["form_factor"], after["notes"], after["ratings"]) == ("21700", "kept", {})
    assert after["updated_at"] == spec["updated_at"]


def test_failed_instance_and_batch_creates_add_no_rows(api: Api, tenant: Tenant) -> None:
    spec = _spec(api, tenant, "Parent")
    instances = f"/cell_specifications/{spec['id']}/cell_instances"
    batches = f"/cell_specifications/{spec['id']}/cell_batches"
    assert_error(api.post(instances, json={"name": "Cell", "batch_id": str(uuid.uuid4())}), 400)
    assert_error(api.post(instances, json={"name": "Cell", "measured_properties": {"mass": 45}}), 422)
    assert_error(api.post(instances, json=[{"name": "Cell"}]), 422)
    assert_error(api.post(batches, json={"name": "Lot", "unknown_field": 1}), 422)
    assert_error(api.post(batches, json={"name": "Lot", "date_manufactured": "yesterday"}), 422)
    assert api.get(instances).json()["total"] == 0
    assert api.get(batches).json()["total"] == 0
