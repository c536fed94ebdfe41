"""Ionworks' modelling endpoints (contract §7) answer 501 NOT_IMPLEMENTED, not 404 or 500."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from ionworks.errors import IonworksError

from tests.support import Api, LiveServer, Tenant, assert_error

SOME_ID = str(uuid.uuid4())

MODELLING_CALLS = [
    ("GET", "/simulations?parameterized_model_id=" + SOME_ID),
    ("GET", f"/simulations/{SOME_ID}"),
    ("POST", "/simulations/with-template/batch"),
    ("POST", "/simulations/statuses"),
    ("DELETE", f"/simulations/{SOME_ID}"),
    ("GET", f"/simulations/{SOME_ID}/time_series/download"),
    ("POST", "/pipelines"),
    ("GET", "/pipelines?skip=0"),
    ("PATCH", f"/pipelines/{SOME_ID}"),
    ("POST", f"/pipelines/{SOME_ID}/cancel"),
    ("GET", "/simple_pipelines"),
    ("GET", "/models"),
    ("GET", "/models/xyz"),
    ("POST", "/models/upload-custom"),
    ("POST", f"/models/{SOME_ID}/custom-variables"),
    ("GET", "/parameterized_models"),
    ("GET", f"/parameterized_models/{SOME_ID}/parameter-values"),
    ("GET", f"/cells/{SOME_ID}/parameterized_models"),
    ("GET", "/model_builders"),
    ("POST", "/model_builders/dry_run"),
    ("GET", "/model_builders/calculations/producing?parameter=x"),
    ("GET", f"/cell_specifications/{SOME_ID}/resolved"),
    ("GET", f"/cell_specifications/{SOME_ID}/builder_readiness?model_id={SOME_ID}"),
    ("POST", "/optimizations"),
    ("GET", f"/optimizations/{SOME_ID}"),
    ("GET", "/ecm/examples"),
    ("POST", "/ecm/fit"),
    ("GET", "/analyses"),
    ("GET", f"/analyses/{SOME_ID}/download-url"),
    ("GET", "/materials"),
    ("GET", f"/materials/{SOME_ID}"),
    ("GET", "/material_property_datasets"),
    ("GET", "/discovery/pybamm_models"),
    ("POST", "/discovery/pybamm_models/validate"),
    ("POST", "/discovery/ionworks_models/serialize"),
    ("POST", "/protocols/parse-to-template"),
    ("GET", f"/jobs/{SOME_ID}/metadata"),
    ("GET", f"/jobs/{SOME_ID}/series/channels"),
    ("GET", "/agent/skills"),
]


def _studies(tenant: Tenant) -> list[tuple[str, str]]:
    base = f"/projects/{tenant.project_id}/studies"
    return [
        ("GET", base),
        ("POST", base),
        ("GET", f"{base}/{SOME_ID}"),
        ("POST", f"{base}/{SOME_ID}/measurements/{SOME_ID}"),
        ("GET", f"{base}/{SOME_ID}/measurements?limit=10&offset=0"),
    ]


def _assert_not_implemented(response: Any) -> None:
    error = assert_error(response, 501, "NOT_IMPLEMENTED")
    assert "cellstore does not implement" in error["message"], error
    assert response.headers.get("x-correlation-id")


@pytest.mark.parametrize(("method", "path"), MODELLING_CALLS)
def test_modelling_endpoint_answers_501(api: Api, method: str, path: str) -> None:
    body = {} if method in ("POST", "PATCH") else None
    _assert_not_implemented(api.request(method, path, json=body))


def test_study_endpoints_answer_501(api: Api, tenant: Tenant) -> None:
    for method, path in _studies(tenant):
        _assert_not_implemented(api.request(method, path, json={} if method == "POST" else None))


def test_501_message_names_the_method_and_path(api: Api) -> None:
    error = assert_error(api.get(f"/simulations/{SOME_ID}"), 501, "NOT_IMPLEMENTED")
    assert f"GET /simulations/{SOME_ID}" in error["message"]


def test_core_routes_are_not_swallowed_by_the_modelling_catch_all(api: Api, tenant: Tenant) -> None:
    """Real cell routes next to modelling ones still answer: /cell_specifications is not /cells."""
    assert api.get("/cell_specifications").status_code == 200
    assert_error(api.get(f"/cell_specifications/{SOME_ID}"), 404, "NOT_FOUND")
    assert api.get(f"/projects/{tenant.project_id}").status_code == 200


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.simulation.get(SOME_ID),
        lambda c: c.simulation.list(parameterized_model_id=SOME_ID),
        lambda c: c.model.get("xyz"),
        lambda c: c.parameterized_model.get(SOME_ID),
        lambda c: c.optimization.get(SOME_ID),
        lambda c: c.material.get(SOME_ID),
        lambda c: c.study.list(),
        lambda c: c.model_builder.resolved_cell_spec(SOME_ID),
        lambda c: c.pybamm_models(),
    ],
    ids=[
        "simulation.get",
        "simulation.list",
        "model.get",
        "parameterized_model.get",
        "optimization.get",
        "material.get",
        "study.list",
        "model_builder.resolved_cell_spec",
        "pybamm_models",
    ],
)
def test_client_raises_ionworks_error_with_501(client, call: Callable[[Any], Any]) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(IonworksError) as error:
        call(client)
    assert error.value.status_code == 501
    assert error.value.error_code == "NOT_IMPLEMENTED"
    assert "cellstore does not implement" in error.value.message


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/simulations"), ("POST", "/pipelines"), ("GET", "/models/xyz"), ("GET", "/materials")],
)
def test_modelling_endpoints_require_credentials(server: LiveServer, method: str, path: str) -> None:
    with server.http() as anonymous:
        assert_error(
            anonymous.request(method, path, json={} if method == "POST" else None), 401, "UNAUTHORIZED"
        )
    with server.http("not-a-real-key") as wrong_key:
        assert_error(wrong_key.request(method, path), 401, "UNAUTHORIZED")
