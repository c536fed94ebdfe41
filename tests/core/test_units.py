"""Pure functions of cellstore.core, tested without a server: merge patch, Quantities, filters, middleware."""

from __future__ import annotations

import asyncio
import copy
import gzip
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select
from starlette.datastructures import QueryParams

from cellstore.cells.models import CellSpecification
from cellstore.cells.repository import SPEC_FILTERS
from cellstore.core.errors import InvalidInput
from cellstore.core.filters import apply_order, build_filters, parse_timestamp
from cellstore.core.merge import merge_patch
from cellstore.core.middleware import CorrelationIdMiddleware, RequestBodyMiddleware
from cellstore.core.schemas import check_quantity_map

# merge_patch (RFC 7386)


def test_merge_patch_merges_nested_objects() -> None:
    target = {"ratings": {"capacity": {"value": 5, "unit": "A.h"}}, "notes": "a"}
    patch = {"ratings": {"voltage_max": {"value": 4.2, "unit": "V"}}}
    assert merge_patch(target, patch) == {
        "ratings": {"capacity": {"value": 5, "unit": "A.h"}, "voltage_max": {"value": 4.2, "unit": "V"}},
        "notes": "a",
    }


def test_merge_patch_null_deletes_at_any_depth() -> None:
    target = {"a": 1, "b": {"c": 2, "d": 3}}
    assert merge_patch(target, {"a": None, "b": {"c": None}, "missing": None}) == {"b": {"d": 3}}


def test_merge_patch_replaces_non_objects_and_lists_whole() -> None:
    assert merge_patch({"tags": [1, 2]}, {"tags": [3]}) == {"tags": [3]}
    assert merge_patch({"a": "text"}, {"a": {"b": 1}}) == {"a": {"b": 1}}
    assert merge_patch({"a": {"b": 1}}, {"a": "text"}) == {"a": "text"}
    assert merge_patch(None, {"a": 1, "b": None}) == {"a": 1}
    assert merge_patch({"a": 1}, ["whole"]) == ["whole"]


def test_merge_patch_does_not_mutate_its_inputs() -> None:
    target = {"a": {"b": 1, "c": {"d": 2}}, "e": 3}
    patch = {"a": {"c": {"d": None, "f": 4}}, "e": None}
    target_before, patch_before = copy.deepcopy(target), copy.deepcopy(patch)
    result = merge_patch(target, patch)
    assert result == {"a": {"b": 1, "c": {"f": 4}}}
    assert target == target_before
    assert patch == patch_before
    result["a"]["b"] = 99
    assert target["a"]["b"] == 1


# check_quantity_map


def _field_of(error: pytest.ExceptionInfo[InvalidInput]) -> str:
    return str(error.value.detail["errors"][0]["field"])


def test_quantities_text_and_flags_pass_when_lenient() -> None:
    check_quantity_map(
        "properties",
        {
            "mass": {"value": 45.1, "unit": "g"},
            "count": {"value": 3, "unit": "1"},
            "chemistry": "NMC811",
            "formed": True,
            "cathode": {"loading": {"value": 20, "unit": "mg/cm2"}, "supplier": "X"},
        },
    )
    check_quantity_map("properties", None)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"mass": 45}, "properties.mass"),
        ({"mass": 4.5}, "properties.mass"),
        ({"mass": {"value": "45", "unit": "g"}}, "properties.mass.value"),
        ({"mass": {"value": True, "unit": "g"}}, "properties.mass.value"),
        ({"mass": {"value": float("nan"), "unit": "g"}}, "properties.mass.value"),
        ({"mass": {"value": float("inf"), "unit": "g"}}, "properties.mass.value"),
        ({"mass": {"value": 45}}, "properties.mass.unit"),
        ({"mass": {"value": 45, "unit": "  "}}, "properties.mass.unit"),
        ({"mass": {"unit": "g"}}, "properties.mass.value"),
        ({"cathode": {"loading": 20}}, "properties.cathode.loading"),
        ({"cathode": {"coating": {"thickness": {"value": 1}}}}, "properties.cathode.coating.thickness.unit"),
    ],
)
def test_lenient_check_refuses_bare_numbers_and_bad_quantities(values: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        check_quantity_map("properties", values)
    assert _field_of(error) == field
    assert error.value.message.startswith(f"{field}:")
    assert error.value.status_code == 422


def test_non_object_map_is_refused() -> None:
    with pytest.raises(InvalidInput) as error:
        check_quantity_map("ratings", ["capacity"])
    assert _field_of(error) == "ratings"


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"capacity": "5 Ah"}, "ratings.capacity"),
        ({"capacity": True}, "ratings.capacity"),
        ({"capacity": {"nominal": {"value": 5, "unit": "A.h"}}}, "ratings.capacity.value"),
        ({"capacity": {"value": False, "unit": "A.h"}}, "ratings.capacity.value"),
    ],
)
def test_strict_check_wants_every_entry_a_quantity(values: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        check_quantity_map("ratings", values, strict=True)
    assert _field_of(error) == field


def test_strict_check_accepts_quantities() -> None:
    check_quantity_map(
        "ratings",
        {"capacity": {"value": 5, "unit": "A.h"}, "voltage_max": {"value": 4.2, "unit": "V"}},
        strict=True,
    )


# filters


def _predicates(query: str) -> list[tuple[str, str, Any]]:
    """(column, operator, value) of each predicate built from a query string."""
    return [
        (p.left.key, p.operator.__name__, p.right.value)  # type: ignore[attr-defined]
        for p in build_filters(QueryParams(query), SPEC_FILTERS)
    ]


def test_text_filters_take_eq_ilike_neq_and_bare_values() -> None:
    assert _predicates("name=eq.NMC%2021700") == [("name", "eq", "NMC 21700")]
    assert _predicates("name=ilike.%25nmc%25") == [("name", "ilike_op", "%nmc%")]
    assert _predicates("name=neq.x") == [("name", "ne", "x")]
    assert _predicates("name=Plain") == [("name", "eq", "Plain")]
    assert _predicates("name=eq.a.b") == [("name", "eq", "a.b")]
    assert _predicates("created_by_email=ilike.%25%40lab%25") == [("created_by_email", "ilike_op", "%@lab%")]


def test_exact_columns_refuse_patterns() -> None:
    assert _predicates("form_factor=eq.R2032") == [("form_factor", "eq", "R2032")]
    with pytest.raises(InvalidInput) as error:
        _predicates("form_factor=ilike.%25R%25")
    assert _field_of(error) == "form_factor"


def test_range_suffixes_parse_timestamps_as_utc() -> None:
    midnight = datetime(2024, 1, 1, tzinfo=UTC)
    assert _predicates("created_at_gt=2024-01-01T00:00:00Z") == [("created_at", "gt", midnight)]
    assert _predicates("created_at_lt=2024-01-01T00:00:00") == [("created_at", "lt", midnight)]
    assert _predicates("updated_at_gte=2024-01-01") == [("updated_at", "ge", midnight)]
    assert _predicates("updated_at_lte=2024-01-01T02:00:00%2B02:00") == [("updated_at", "le", midnight)]
    assert _predicates("created_at=gt.2024-01-01T00:00:00Z") == [("created_at", "gt", midnight)]


def test_repeated_parameters_each_become_a_predicate() -> None:
    assert _predicates("name=neq.a&name=neq.b") == [("name", "ne", "a"), ("name", "ne", "b")]


def test_id_filters_are_normalised_uuids() -> None:
    raw = "0B7E3C6E8F0A4C559D0C3E1F6A2D9B41"
    assert _predicates(f"project_id={raw}") == [("project_id", "eq", "0b7e3c6e-8f0a-4c55-9d0c-3e1f6a2d9b41")]
    with pytest.raises(InvalidInput) as error:
        _predicates("project_id=eq.not-a-uuid")
    assert _field_of(error) == "project_id"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("bogus=eq.1", "bogus"),
        ("name_gt=x", "name_gt"),
        ("created_at_between=2024-01-01", "created_at_between"),
        ("name=gt.x", "name"),
        ("name=is.null", "name"),
        ("created_at_gt=notadate", "created_at_gt"),
        ("created_at=ilike.2024", "created_at"),
    ],
)
def test_unknown_parameters_and_operators_raise_naming_them(query: str, field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        _predicates(query)
    assert _field_of(error) == field


def test_paging_ordering_and_handled_parameters_are_not_filters() -> None:
    query = "limit=5&offset=10&order_by=name&order=asc&full=true&material_ids=x&exclude_cell_spec_id=y"
    assert _predicates(query) == []


def test_apply_order_sorts_with_an_id_tiebreak() -> None:
    stmt = select(CellSpecification.id)
    ordered = apply_order(stmt, QueryParams("order_by=name&order=ASC"), SPEC_FILTERS, CellSpecification.id)
    assert [str(c) for c in ordered._order_by_clauses] == [
        "cell_specifications.name ASC",
        "cell_specifications.id ASC",
    ]
    default = apply_order(stmt, QueryParams(""), SPEC_FILTERS, CellSpecification.id)
    assert [str(c) for c in default._order_by_clauses] == [
        "cell_specifications.created_at DESC",
        "cell_specifications.id DESC",
    ]


@pytest.mark.parametrize(("query", "field"), [("order_by=bogus", "order_by"), ("order=sideways", "order")])
def test_apply_order_refuses_unknown_columns_and_directions(query: str, field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        apply_order(select(CellSpecification.id), QueryParams(query), SPEC_FILTERS, CellSpecification.id)
    assert _field_of(error) == field


def test_parse_timestamp_accepts_the_clients_str_datetime() -> None:
    """``str(datetime)`` uses a space; ``+`` may arrive as a space when not url-encoded."""
    expected = datetime(2024, 5, 1, 12, 30, 0, 250000, tzinfo=UTC)
    assert parse_timestamp("t", "2024-05-01 12:30:00.250000+00:00") == expected
    assert parse_timestamp("t", "2024-05-01T12:30:00.250000 00:00") == expected
    assert parse_timestamp("t", "2024-05-01T14:30:00.25+02:00") == expected
    assert parse_timestamp("t", "2024-05-01T14:30:00.25+02:00").utcoffset() == timedelta(0)
    assert parse_timestamp("t", "2024-05-01T12:30:00.25").tzinfo == UTC
    assert parse_timestamp("t", "2024-05-01T07:30:00.25-05:00") == expected.astimezone(
        timezone(timedelta(hours=-5))
    )


# RequestBodyMiddleware


async def _drive(
    middleware_for: Any, body: bytes, *, method: str = "POST", path: str = "/x", headers: dict | None = None
) -> tuple[list[dict], dict | None]:
    """Run one request through a middleware; returns the messages sent and what the app saw."""
    seen: dict[str, Any] = {}

    async def app(scope: dict, receive: Any, send: Any) -> None:
        message = await receive()
        seen.update(scope=scope, body=message["body"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    chunks = [body[i : i + 4096] for i in range(0, len(body), 4096)] or [b""]
    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    raw_headers = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    scope = {"type": "http", "method": method, "path": path, "headers": raw_headers}
    await middleware_for(app)(scope, receive, send)
    return sent, (seen or None)


def _run(body: bytes, max_bytes: int = 1000, **kwargs: Any) -> tuple[int, Any, dict | None]:
    sent, seen = asyncio.run(
        _drive(lambda app: RequestBodyMiddleware(app, max_bytes, passthrough=("/storage",)), body, **kwargs)
    )
    start = sent[0]
    payload = b"".join(m.get("body", b"") for m in sent[1:])
    if start["status"] != 200:
        assert dict(start["headers"])[b"content-type"] == b"application/json"
        error = json.loads(payload)
        assert set(error) == {"error_code", "message", "detail"}
        return start["status"], error["error_code"], seen
    return 200, payload, seen


GZIP = {"Content-Encoding": "gzip", "Content-Length": "0"}


def test_gzip_body_is_inflated_and_headers_rewritten() -> None:
    body = json.dumps({"name": "x" * 500}).encode()
    status, _, seen = _run(gzip.compress(body), headers=GZIP)
    assert status == 200 and seen is not None
    assert seen["body"] == body
    headers = dict(seen["scope"]["headers"])
    assert b"content-encoding" not in headers
    assert headers[b"content-length"] == str(len(body)).encode()


def test_gzip_body_exactly_at_the_cap_passes() -> None:
    status, _, seen = _run(gzip.compress(b"x" * 1000), headers=GZIP)
    assert status == 200 and seen is not None and len(seen["body"]) == 1000


def test_gzip_body_inflating_past_the_cap_is_refused_before_the_app() -> None:
    status, code, seen = _run(gzip.compress(b" " * 1001), headers=GZIP)
    assert (status, code, seen) == (413, "PAYLOAD_TOO_LARGE", None)


def test_plain_body_over_the_cap_is_refused_before_the_app() -> None:
    assert _run(b"x" * 1000)[0] == 200
    status, code, seen = _run(b"x" * 1001)
    assert (status, code, seen) == (413, "PAYLOAD_TOO_LARGE", None)


@pytest.mark.parametrize(
    "payload",
    [b"not gzip", gzip.compress(b"x" * 500)[:-10], gzip.compress(b"x" * 500)[:10]],
    ids=["garbage", "truncated-trailer", "truncated-header"],
)
def test_corrupt_gzip_is_refused_with_400(payload: bytes) -> None:
    status, code, seen = _run(payload, headers=GZIP)
    assert (status, code, seen) == (400, "BAD_REQUEST", None)


def test_trailing_bytes_after_the_gzip_stream_are_not_silently_dropped() -> None:
    """Data after the first gzip member is either inflated too (RFC 1952 members) or refused."""
    status, _, seen = _run(gzip.compress(b'{"a": ') + gzip.compress(b"1}"), headers=GZIP)
    assert status == 400 or (seen is not None and seen["body"] == b'{"a": 1}'), (status, seen)
    status, _, seen = _run(gzip.compress(b"{}") + b"garbage", headers=GZIP)
    assert status == 400, (status, seen)


def test_unsupported_content_encoding_is_refused_with_415() -> None:
    status, code, seen = _run(b"{}", headers={"Content-Encoding": "br"})
    assert (status, code, seen) == (415, "UNSUPPORTED_MEDIA_TYPE", None)


def test_bodiless_methods_and_passthrough_paths_are_left_alone() -> None:
    for method in ("GET", "DELETE"):
        status, _, seen = _run(b"x" * 2000, method=method)
        assert status == 200 and seen is not None and seen["body"] == b"x" * 2000
    status, _, seen = _run(b"x" * 2000, method="PUT", path="/storage/bucket/key", headers=GZIP)
    assert status == 200 and seen is not None and seen["body"] == b"x" * 2000


# CorrelationIdMiddleware


def _correlation(headers: dict | None = None) -> bytes:
    sent, _ = asyncio.run(_drive(CorrelationIdMiddleware, b"", method="GET", headers=headers))
    return dict(sent[0]["headers"])[b"x-correlation-id"]


def test_correlation_id_is_echoed_or_generated() -> None:
    assert _correlation({"X-Correlation-Id": "abc-123"}) == b"abc-123"
    generated = _correlation()
    assert len(generated) >= 16 and generated != _correlation()
    too_long = _correlation({"X-Correlation-Id": "x" * 129})
    assert too_long != b"x" * 129 and len(too_long) <= 128
