"""Authentication: API keys, bearer tokens, revocation and choosing the organization."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
import requests
from ionworks import Ionworks
from ionworks.errors import IonworksError

from cellstore.accounts.models import ApiKey
from cellstore.accounts.service import create_api_key, revoke_api_key
from tests.support import LiveServer, Tenant, assert_error

PROTECTED = ("/users/me", "/projects", "/organizations/current/usage", "/roles/project")


def make_key(server: LiveServer, user_id: str, organization_id: str | None, name: str = "test") -> tuple:
    """A new credential for the user: ``(key id, secret)``; ``organization_id=None`` makes a token."""

    async def work(session):  # type: ignore[no-untyped-def]
        key, secret = await create_api_key(session, user_id, organization_id, name)
        return key.id, secret

    return server.run(work)


def email_of(server: LiveServer, tenant: Tenant) -> str:
    with server.http(tenant.api_key) as http:
        return str(http.get("/users/me").json()["email"])


def add_to_other_org(server: LiveServer, inviter: Tenant, email: str, role: str = "Admin") -> None:
    """The inviter's organization admits ``email`` through the invite endpoint."""
    with server.http(inviter.api_key) as http:
        response = http.post(
            f"/organizations/{inviter.organization_id}/users/by-email",
            json={"email": email, "role_name": role},
        )
    assert response.status_code == 200, response.text


def cli_env(server: LiveServer) -> dict[str, str]:
    """The environment under which the CLI talks to the server's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELLSTORE_", "IONWORKS_"))}
    env["CELLSTORE_DATA_DIR"] = str(server.settings.data_dir)
    if server.settings.database_url:
        env["CELLSTORE_DATABASE_URL"] = server.settings.database_url
    return env


# --- 401: missing, unknown and revoked credentials ------------------------------------------------


@pytest.mark.parametrize("path", PROTECTED)
def test_missing_credentials_answer_401_standard_body(server: LiveServer, path: str) -> None:
    with server.http() as http:
        body = assert_error(http.get(path), 401, "UNAUTHORIZED")
    assert isinstance(body["detail"], dict)


def test_health_needs_no_credentials(server: LiveServer) -> None:
    with server.http() as http:
        assert http.get("/healthz").status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"X-API-Key": "cs_not-a-real-key"},
        {"X-API-Key": ""},
        {"Authorization": "Bearer cs_not-a-real-key"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
)
def test_unknown_or_malformed_credentials_answer_401(
    server: LiveServer, tenant: Tenant, headers: dict[str, str]
) -> None:
    with server.http(**headers) as http:
        for path in PROTECTED:
            assert_error(http.get(path), 401, "UNAUTHORIZED")
        assert_error(http.post("/projects", json={"name": "sneaky"}), 401, "UNAUTHORIZED")
    with server.http(tenant.api_key) as http:
        assert http.get("/projects", params={"name": "eq.sneaky"}).json()["total"] == 0


def test_real_client_with_unknown_key_raises_401(server: LiveServer) -> None:
    client = Ionworks(api_key="cs_unknown", api_url=server.url)
    with pytest.raises(IonworksError) as error:
        client.whoami()
    assert error.value.status_code == 401
    assert error.value.error_code == "UNAUTHORIZED"


def test_key_revoked_through_the_service_answers_401(server: LiveServer, tenant: Tenant) -> None:
    key_id, secret = make_key(server, tenant.user_id, tenant.organization_id)
    with server.http(secret) as http:
        assert http.get("/users/me").status_code == 200
        server.run(lambda s: revoke_api_key(s, key_id))
        for path in PROTECTED:
            assert_error(http.get(path), 401, "UNAUTHORIZED")
    # Revoking one key leaves the user's other keys working.
    with server.http(tenant.api_key) as http:
        assert http.get("/users/me").json()["id"] == tenant.user_id


def test_revoking_twice_keeps_the_first_revocation_time(server: LiveServer, tenant: Tenant) -> None:
    key_id, _ = make_key(server, tenant.user_id, tenant.organization_id)

    async def revoked_at(session):  # type: ignore[no-untyped-def]
        return (await revoke_api_key(session, key_id)).revoked_at

    first = server.run(revoked_at)
    second = server.run(revoked_at)
    assert first is not None
    assert second == first


def test_key_revoked_by_the_cli_answers_401(server: LiveServer, tenant: Tenant) -> None:
    key_id, secret = make_key(server, tenant.user_id, tenant.organization_id)
    client = Ionworks(api_key=secret, api_url=server.url)
    assert client.whoami()["id"] == tenant.user_id
    result = subprocess.run(
        [sys.executable, "-m", "cellstore.cli", "admin", "revoke-api-key", key_id],
        env=cli_env(server),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert key_id in result.stdout
    with pytest.raises(IonworksError) as error:
        client.whoami()
    assert error.value.status_code == 401
    with server.http(secret) as http:
        assert_error(http.get("/projects"), 401, "UNAUTHORIZED")
    assert Ionworks(api_key=tenant.api_key, api_url=server.url).whoami()["id"] == tenant.user_id


def test_cli_revokes_by_displayed_prefix(server: LiveServer, tenant: Tenant) -> None:
    key_id, secret = make_key(server, tenant.user_id, tenant.organization_id)

    async def prefix(session):  # type: ignore[no-untyped-def]
        return (await session.get(ApiKey, key_id)).prefix

    shown = server.run(prefix)
    assert secret.startswith(shown)
    result = subprocess.run(
        [sys.executable, "-m", "cellstore.cli", "admin", "revoke-api-key", shown],
        env=cli_env(server),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    with server.http(secret) as http:
        assert_error(http.get("/users/me"), 401, "UNAUTHORIZED")


def test_cli_revoking_an_unknown_key_fails(server: LiveServer) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cellstore.cli", "admin", "revoke-api-key", str(uuid.uuid4())],
        env=cli_env(server),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "not found" in result.stderr.lower()


# --- whoami -----------------------------------------------------------------------------------------


def test_whoami_with_api_key(server: LiveServer, tenant: Tenant, client) -> None:  # type: ignore[no-untyped-def]
    me = client.whoami()
    assert me["id"] == tenant.user_id
    assert isinstance(me["email"], str) and "@" in me["email"]
    assert me["authorized_organization"] == {"id": tenant.organization_id, "name": "Test organization"}
    assert [(o["id"], o["name"], o["role"]) for o in me["organizations"]] == [
        (tenant.organization_id, "Test organization", "Admin")
    ]


def test_whoami_lists_every_organization_but_an_api_key_stays_in_its_own(
    server: LiveServer, tenant: Tenant, other_tenant: Tenant
) -> None:
    add_to_other_org(server, other_tenant, email_of(server, tenant), role="Member")
    me = server.client(tenant).whoami()
    assert me["authorized_organization"]["id"] == tenant.organization_id
    roles = {o["id"]: o["role"] for o in me["organizations"]}
    assert roles == {tenant.organization_id: "Admin", other_tenant.organization_id: "Member"}
    assert [p.id for p in server.client(tenant).project.list().items] == [tenant.project_id]


# --- bearer tokens ------------------------------------------------------------------------------------


def test_bearer_token_of_a_single_organization_user_needs_no_header(
    server: LiveServer, tenant: Tenant
) -> None:
    _, token = make_key(server, tenant.user_id, None, "token")
    client = Ionworks(token=token, api_url=server.url, project_id=tenant.project_id)
    assert client.session.headers["Authorization"] == f"Bearer {token}"
    assert "X-API-Key" not in client.session.headers
    me = client.whoami()
    assert me["id"] == tenant.user_id
    assert me["authorized_organization"]["id"] == tenant.organization_id
    assert [p.id for p in client.project.list().items] == [tenant.project_id]
    spec = client.cell_spec.create({"name": "Made with a token"})
    assert spec.project_id == tenant.project_id
    assert client.cell_spec.get(spec.id).name == "Made with a token"


def test_api_key_also_works_as_a_bearer_credential(server: LiveServer, tenant: Tenant) -> None:
    client = Ionworks(token=tenant.api_key, api_url=server.url)
    assert client.whoami()["authorized_organization"]["id"] == tenant.organization_id


def test_bearer_token_chooses_the_organization_with_a_header(
    server: LiveServer, tenant: Tenant, other_tenant: Tenant
) -> None:
    add_to_other_org(server, other_tenant, email_of(server, tenant), role="Admin")
    _, token = make_key(server, tenant.user_id, None, "token")

    undecided = Ionworks(token=token, api_url=server.url)
    me = undecided.whoami()
    assert me["authorized_organization"] is None
    assert {o["id"] for o in me["organizations"]} == {tenant.organization_id, other_tenant.organization_id}
    with pytest.raises(IonworksError) as error:
        undecided.project.list()
    assert error.value.status_code == 400
    assert error.value.error_code == "BAD_REQUEST"
    with server.http(Authorization=f"Bearer {token}") as http:
        assert_error(http.get("/projects"), 400, "BAD_REQUEST")

    home = Ionworks(token=token, api_url=server.url, organization_id=tenant.organization_id)
    assert home.whoami()["authorized_organization"] == {
        "id": tenant.organization_id,
        "name": "Test organization",
    }
    assert [p.id for p in home.project.list().items] == [tenant.project_id]

    away = Ionworks(token=token, api_url=server.url, organization_id=other_tenant.organization_id)
    assert away.whoami()["authorized_organization"] == {
        "id": other_tenant.organization_id,
        "name": "Other organization",
    }
    assert [p.id for p in away.project.list().items] == [other_tenant.project_id]
    with pytest.raises(IonworksError) as error:
        away.project.get(tenant.project_id)
    assert error.value.status_code == 404
    spec = away.cell_spec.create({"name": "Away spec", "project_id": other_tenant.project_id})
    assert server.client(other_tenant).cell_spec.get(spec.id).name == "Away spec"
    assert server.client(tenant).cell_spec.list().total == 0


@pytest.mark.parametrize("which", ["stranger organization", "unknown id"])
def test_bearer_token_with_an_organization_the_user_is_not_in_answers_404(
    server: LiveServer, tenant: Tenant, other_tenant: Tenant, which: str
) -> None:
    _, token = make_key(server, tenant.user_id, None, "token")
    org_id = other_tenant.organization_id if which == "stranger organization" else str(uuid.uuid4())
    client = Ionworks(token=token, api_url=server.url, organization_id=org_id)
    for call in (client.whoami, client.project.list):
        with pytest.raises(IonworksError) as error:
            call()
        assert error.value.status_code == 404
        assert error.value.error_code == "NOT_FOUND"
    with server.http(Authorization=f"Bearer {token}", **{"X-Organization-Id": org_id}) as http:
        assert_error(http.get("/projects"), 404, "NOT_FOUND")


def test_revoked_bearer_token_answers_401(server: LiveServer, tenant: Tenant) -> None:
    key_id, token = make_key(server, tenant.user_id, None, "token")
    client = Ionworks(token=token, api_url=server.url)
    assert client.whoami()["id"] == tenant.user_id
    server.run(lambda s: revoke_api_key(s, key_id))
    with pytest.raises(IonworksError) as error:
        client.whoami()
    assert error.value.status_code == 401
    with server.http(Authorization=f"Bearer {token}") as http:
        assert_error(http.get("/projects"), 401, "UNAUTHORIZED")


def test_token_of_a_user_deactivated_in_one_organization(
    server: LiveServer, tenant: Tenant, other_tenant: Tenant
) -> None:
    email = email_of(server, tenant)
    add_to_other_org(server, other_tenant, email, role="Member")
    _, token = make_key(server, tenant.user_id, None, "token")
    with server.http(other_tenant.api_key) as admin:
        response = admin.patch(
            f"/organizations/{other_tenant.organization_id}/users/{tenant.user_id}", json={"is_active": False}
        )
        assert response.status_code in (200, 204), response.text
    with server.http(
        Authorization=f"Bearer {token}", **{"X-Organization-Id": other_tenant.organization_id}
    ) as h:
        assert_error(h.get("/projects"), 401, "UNAUTHORIZED")
    # Without a header the only organization the user is still active in is chosen.
    client = Ionworks(token=token, api_url=server.url)
    assert client.whoami()["authorized_organization"]["id"] == tenant.organization_id
    assert [p.id for p in client.project.list().items] == [tenant.project_id]


# --- API keys and X-Organization-Id -----------------------------------------------------------------


def test_api_key_with_a_mismatching_organization_header_answers_404(
    server: LiveServer, tenant: Tenant, other_tenant: Tenant
) -> None:
    # Even when the key's user belongs to the other organization, the key is bound to its own.
    add_to_other_org(server, other_tenant, email_of(server, tenant), role="Admin")
    client = server.client(tenant, organization_id=other_tenant.organization_id)
    with pytest.raises(IonworksError) as error:
        client.project.list()
    assert error.value.status_code == 404
    assert error.value.error_code == "NOT_FOUND"
    with server.http(tenant.api_key, **{"X-Organization-Id": other_tenant.organization_id}) as http:
        assert_error(http.get("/users/me"), 404, "NOT_FOUND")
        assert_error(http.get(f"/projects/{other_tenant.project_id}"), 404, "NOT_FOUND")
    with server.http(tenant.api_key, **{"X-Organization-Id": str(uuid.uuid4())}) as http:
        assert_error(http.get("/projects"), 404, "NOT_FOUND")


def test_api_key_with_its_own_organization_header_works(server: LiveServer, tenant: Tenant) -> None:
    client = server.client(tenant, organization_id=tenant.organization_id)
    assert client.session.headers["X-Organization-Id"] == tenant.organization_id
    assert [p.id for p in client.project.list().items] == [tenant.project_id]
    assert client.whoami()["authorized_organization"]["id"] == tenant.organization_id


def test_other_tenants_key_cannot_reach_this_tenants_data(
    server: LiveServer, tenant: Tenant, other_tenant: Tenant
) -> None:
    spec = server.client(tenant).cell_spec.create({"name": "Private"})
    with server.http(other_tenant.api_key) as http:
        assert_error(http.get(f"/projects/{tenant.project_id}"), 404, "NOT_FOUND")
        assert_error(http.get(f"/cell_specifications/{spec.id}"), 404, "NOT_FOUND")
        assert isinstance(http.get("/projects").json()["items"], list)
        assert tenant.project_id not in {p["id"] for p in http.get("/projects").json()["items"]}


def test_bare_request_without_client_headers_answers_401(server: LiveServer) -> None:
    response = requests.get(f"{server.url}/users/me", timeout=10)
    assert_error(response, 401, "UNAUTHORIZED")
