"""Health and discovery endpoints (contract §3.1), over HTTP and through the real client."""

from __future__ import annotations

import pytest
from ionworks.errors import IonworksError

from tests.support import Api, LiveServer, assert_error


def test_healthz_answers_without_credentials(server: LiveServer) -> None:
    with server.http() as anonymous:
        response = anonymous.get("/healthz")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["status"] == "ok"


def test_client_health_check_returns_a_dict(client) -> None:  # type: ignore[no-untyped-def]
    """The client returns the raw Response unless the content type is exactly application/json."""
    health = client.health_check()
    assert isinstance(health, dict)
    assert health["status"] == "ok"


def test_client_capabilities_returns_the_documented_keys(client) -> None:  # type: ignore[no-untyped-def]
    capabilities = client.capabilities()
    assert isinstance(capabilities, dict)
    assert {"domain_context", "schemas", "openapi_spec", "authentication"} <= set(capabilities)
    assert "data" in capabilities["schemas"]
    assert "X-API-Key" in str(capabilities["authentication"])


def test_openapi_pointer_of_capabilities_resolves(server: LiveServer, client) -> None:  # type: ignore[no-untyped-def]
    pointer = client.capabilities()["openapi_spec"]
    with server.http() as anonymous:
        response = anonymous.get(pointer)
    assert response.status_code == 200
    assert "paths" in response.json()


def test_data_schema_describes_the_cell_hierarchy(client) -> None:  # type: ignore[no-untyped-def]
    schema = client.schema("data")
    assert isinstance(schema, dict)
    assert "$schema" in schema
    definitions = schema["$defs"]
    for name in ("CellSpecificationRead", "CellBatchRead", "CellInstanceRead"):
        assert name in definitions, sorted(definitions)
        assert definitions[name]["type"] == "object"
        assert {"id", "name", "project_id"} <= set(definitions[name]["properties"])
        assert "id" in definitions[name]["required"]
    assert "instance_count" in definitions["CellBatchRead"]["properties"]
    assert "cell_specification_id" in definitions["CellInstanceRead"]["properties"]


def test_protocol_schema_answers_501(api: Api, client) -> None:  # type: ignore[no-untyped-def]
    assert_error(api.get("/discovery/schemas/protocol"), 501, "NOT_IMPLEMENTED")
    with pytest.raises(IonworksError) as error:
        client.schema("protocol")
    assert error.value.status_code == 501


def test_unknown_schema_is_not_a_server_error(api: Api) -> None:
    response = api.get("/discovery/schemas/nonsense")
    assert 400 <= response.status_code < 600 and response.status_code != 500
    assert_error(response, response.status_code)


@pytest.mark.parametrize("path", ["/discovery/capabilities", "/discovery/schemas/data"])
def test_discovery_requires_credentials(server: LiveServer, path: str) -> None:
    with server.http() as anonymous:
        assert_error(anonymous.get(path), 401, "UNAUTHORIZED")
    with server.http("wrong-key") as wrong:
        assert_error(wrong.get(path), 401, "UNAUTHORIZED")
