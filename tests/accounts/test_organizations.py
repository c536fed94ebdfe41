"""Organizations through the real ionworks client: usage, members, invites, roles, deactivation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from ionworks.errors import IonworksError

from cellstore.accounts.roles import PROJECT_ADMIN, PROJECT_ROLES
from cellstore.accounts.service import create_api_key
from tests.support import LiveServer, Tenant, assert_error

PROJECT_VIEWER = PROJECT_ROLES[2]


def make_key(server: LiveServer, user_id: str, organization_id: str) -> str:
    async def work(session):  # type: ignore[no-untyped-def]
        _, secret = await create_api_key(session, user_id, organization_id, "test")
        return secret

    return str(server.run(work))


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.com"


def new_member(server: LiveServer, tenant: Tenant, role: str = "Member") -> tuple[str, str, str]:
    """Invite a new person with the tenant's admin client: ``(user id, email, their API key)``."""
    email = new_email()
    result = server.client(tenant).organization.invite(email, role)
    return result.user_id, email, make_key(server, result.user_id, tenant.organization_id)


def as_user(server: LiveServer, tenant: Tenant, api_key: str):  # type: ignore[no-untyped-def]
    from ionworks import Ionworks

    return Ionworks(api_key=api_key, api_url=server.url, project_id=tenant.project_id)


def member_rows(client) -> list[SimpleNamespace]:  # type: ignore[no-untyped-def]
    """The organization's members read from the raw ``GET /organizations/{id}/users`` rows.

    Independent of ``client.organization.members()``, so that the tests of deactivation,
    roles and removal check those rules even if the row shape breaks the client's model.
    """
    org_id = client.whoami()["authorized_organization"]["id"]
    return [
        SimpleNamespace(
            id=row["id"],
            email=row["email"],
            role=row["organization_role"]["name"],
            is_active=row["is_active"],
            invited_at=row.get("invited_at"),
            projects=[(p["project_id"], p["project_role_id"]) for p in row["user_project_roles"]],
        )
        for row in client.get(f"/organizations/{org_id}/users")
    ]


def member_by_id(client, user_id: str) -> SimpleNamespace | None:  # type: ignore[no-untyped-def]
    matches = [m for m in member_rows(client) if m.id == user_id]
    assert len(matches) <= 1
    return matches[0] if matches else None


def member_by_email(client, email: str) -> SimpleNamespace:  # type: ignore[no-untyped-def]
    matches = [m for m in member_rows(client) if m.email == email.lower()]
    assert len(matches) == 1, email
    return matches[0]


def expect_error(call, status: int, error_code: str | None = None) -> IonworksError:  # type: ignore[no-untyped-def]
    """``call()`` raises the client's error with this status (and code)."""
    with pytest.raises(IonworksError) as info:
        call()
    assert info.value.status_code == status, (info.value.status_code, str(info.value))
    if error_code is not None:
        assert info.value.error_code == error_code, info.value.data
    return info.value


# --- usage and listing ---------------------------------------------------------------------------


def test_usage_covers_the_current_calendar_month(client) -> None:  # type: ignore[no-untyped-def]
    usage = client.organization.usage()
    now = datetime.now(UTC)
    assert usage.period_start <= now < usage.period_end
    assert (usage.period_start.day, usage.period_start.hour, usage.period_start.minute) == (1, 0, 0)
    assert usage.period_end.day == 1
    assert usage.period_end.month == (usage.period_start.month % 12) + 1
    assert usage.simulation.usage == 0
    assert usage.compute.usage == 0
    assert usage.compute.usage_by_type == {}


def test_members_lists_the_admin_with_their_project_role(client, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    members = client.organization.members()
    assert [m.id for m in members] == [tenant.user_id]
    admin = members[0]
    assert admin.role == "Admin"
    assert admin.email == client.whoami()["email"]
    assert [(p.project_id, p.project_role_id) for p in admin.projects] == [
        (tenant.project_id, PROJECT_ADMIN.id)
    ]


def test_client_members_and_get_member_read_the_rows(server: LiveServer, client, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    """The client's ``OrganizationMember.from_api`` must accept every row (no clashing keys)."""
    email = new_email()
    invited = client.organization.invite(email)
    client.project.add_member(tenant.project_id, invited.user_id, "Project Viewer")
    members = {m.id: m for m in client.organization.members()}
    assert set(members) == {tenant.user_id, invited.user_id}
    assert members[invited.user_id].role == "Member"
    assert members[invited.user_id].email == email
    assert [(p.project_id, p.project_role_id) for p in members[invited.user_id].projects] == [
        (tenant.project_id, PROJECT_VIEWER.id)
    ]
    found = client.organization.get_member(email.upper())
    assert found.id == invited.user_id
    with pytest.raises(ValueError):
        client.organization.get_member(new_email())


def test_members_is_a_bare_array(api, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    response = api.get(f"/organizations/{tenant.organization_id}/users")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    rows = response.json()
    assert isinstance(rows, list)
    assert rows[0]["organization_role"] == {"name": "Admin"}
    assert rows[0]["user_project_roles"] == [
        {"project_id": tenant.project_id, "project_role_id": PROJECT_ADMIN.id}
    ]


# --- invitations ------------------------------------------------------------------------------------


def test_invite_a_new_member_by_email(server: LiveServer, client, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    email = new_email()
    result = client.organization.invite(email)
    assert result.invite_sent is False
    assert result.already_member is False
    assert result.role_name == "Member"
    member = member_by_email(client, email)
    assert member.id == result.user_id
    assert member.role == "Member"
    assert member.projects == []
    assert {m.id for m in member_rows(client)} == {tenant.user_id, result.user_id}
    # The invited person can act in the organization once they have a key.
    key = make_key(server, result.user_id, tenant.organization_id)
    me = as_user(server, tenant, key).whoami()
    assert me["email"] == email
    assert me["authorized_organization"]["id"] == tenant.organization_id


def test_invite_normalises_the_email(client) -> None:  # type: ignore[no-untyped-def]
    email = new_email()
    result = client.organization.invite(email.replace("user", "User").replace("example.com", "Example.COM"))
    assert member_by_email(client, email).id == result.user_id
    assert member_by_id(client, result.user_id).email == email


def test_inviting_an_existing_member_keeps_their_role(client) -> None:  # type: ignore[no-untyped-def]
    email = new_email()
    first = client.organization.invite(email, "Member")
    again = client.organization.invite(email, "Admin")
    assert again.user_id == first.user_id
    assert again.already_member is True
    assert again.role_name == "Member"
    assert member_by_email(client, email).role == "Member"
    assert len(member_rows(client)) == 2


def test_invite_as_admin(server: LiveServer, client, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    email = new_email()
    result = client.organization.invite(email, "Admin")
    assert result.role_name == "Admin"
    assert member_by_email(client, email).role == "Admin"
    # An invited Admin may manage members.
    newcomer = as_user(server, tenant, make_key(server, result.user_id, tenant.organization_id))
    assert newcomer.organization.invite(new_email()).already_member is False


def test_invite_of_a_user_from_another_organization_links_the_same_user(
    server: LiveServer, client, other_tenant: Tenant
) -> None:  # type: ignore[no-untyped-def]
    email = server.client(other_tenant).whoami()["email"]
    result = client.organization.invite(email)
    assert result.user_id == other_tenant.user_id
    assert result.already_member is False
    assert member_by_email(client, email).id == other_tenant.user_id


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email", "role_name": "Member"}, "email"),
        ({"email": "x@example.com", "role_name": "Owner"}, "role_name"),
        ({"role_name": "Member"}, "email"),
    ],
)
def test_bad_invites_are_refused(api, tenant: Tenant, body: dict, field: str) -> None:  # type: ignore[no-untyped-def]
    error = assert_error(api.post(f"/organizations/{tenant.organization_id}/users/by-email", json=body), 422)
    assert field in error["message"]
    assert len(api.get(f"/organizations/{tenant.organization_id}/users").json()) == 1


# --- roles ------------------------------------------------------------------------------------------


def test_change_role_grants_and_removes_admin_rights(server: LiveServer, client, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    user_id, _, key = new_member(server, tenant)
    member = as_user(server, tenant, key)
    expect_error(lambda: member.organization.invite(new_email()), 403, "FORBIDDEN")

    client.organization.set_role(user_id, "Admin")
    assert member_by_id(client, user_id).role == "Admin"
    assert member.whoami()["organizations"][0]["role"] == "Admin"
    assert member.organization.invite(new_email()).user_id

    client.organization.set_role(user_id, "Member")
    assert member_by_id(client, user_id).role == "Member"
    expect_error(lambda: member.organization.invite(new_email()), 403, "FORBIDDEN")


def test_change_role_refuses_an_unknown_role(api, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    response = api.patch(
        f"/organizations/{tenant.organization_id}/users/{tenant.user_id}/role", json={"role_name": "Owner"}
    )
    assert_error(response, 422, "VALIDATION_ERROR")
    assert api.get(f"/organizations/{tenant.organization_id}/users").json()[0]["organization_role"] == {
        "name": "Admin"
    }


def test_unknown_user_answers_404(client) -> None:  # type: ignore[no-untyped-def]
    stranger = str(uuid.uuid4())
    for call in (
        lambda: client.organization.set_role(stranger, "Admin"),
        lambda: client.organization.deactivate(stranger),
        lambda: client.organization.reactivate(stranger),
        lambda: client.organization.resend_invite(stranger),
        lambda: client.organization.remove(stranger),
    ):
        expect_error(call, 404, "NOT_FOUND")


# --- deactivation -------------------------------------------------------------------------------------


def test_deactivate_blocks_the_member_and_reactivate_restores_them(
    server: LiveServer, client, tenant: Tenant
) -> None:  # type: ignore[no-untyped-def]
    user_id, email, key = new_member(server, tenant)
    client.project.add_member(tenant.project_id, user_id, "Project Viewer")
    member = as_user(server, tenant, key)
    assert [p.id for p in member.project.list().items] == [tenant.project_id]

    client.organization.deactivate(user_id)
    row = member_by_id(client, user_id)
    assert row.is_active is False
    assert row.role == "Member"
    expect_error(lambda: member.whoami(), 401, "UNAUTHORIZED")
    with server.http(key) as http:
        assert_error(http.get("/projects"), 401, "UNAUTHORIZED")
        assert_error(http.get(f"/projects/{tenant.project_id}"), 401, "UNAUTHORIZED")
    # A deactivated member cannot be re-invited: reactivate them instead.
    expect_error(lambda: client.organization.invite(email), 409, "CONFLICT")

    client.organization.reactivate(user_id)
    row = member_by_id(client, user_id)
    assert row.is_active is True
    assert row.projects == [(tenant.project_id, PROJECT_VIEWER.id)]
    assert member.whoami()["id"] == user_id
    assert [p.id for p in member.project.list().items] == [tenant.project_id]


def test_reinviting_a_deactivated_member_reports_their_id(server: LiveServer, api, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    user_id, email, _ = new_member(server, tenant)
    server.client(tenant).organization.deactivate(user_id)
    response = api.post(
        f"/organizations/{tenant.organization_id}/users/by-email",
        json={"email": email, "role_name": "Member"},
    )
    error = assert_error(response, 409, "CONFLICT")
    assert error["detail"]["existing_id"] == user_id


def test_deactivating_an_admin_is_allowed_while_another_admin_remains(
    server: LiveServer, client, tenant: Tenant
) -> None:  # type: ignore[no-untyped-def]
    user_id, _, key = new_member(server, tenant, role="Admin")
    client.organization.deactivate(user_id)
    assert member_by_id(client, user_id).is_active is False
    expect_error(lambda: as_user(server, tenant, key).organization.usage(), 401, "UNAUTHORIZED")


# --- resend invite and removal --------------------------------------------------------------------------


def test_resend_invite_records_a_new_invitation_time(server: LiveServer, client, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    user_id, _, _ = new_member(server, tenant)
    before = member_by_id(client, user_id).invited_at
    assert before is not None
    client.organization.resend_invite(user_id)
    after = member_by_id(client, user_id).invited_at
    assert datetime.fromisoformat(after) > datetime.fromisoformat(before)


def test_remove_member_drops_membership_project_roles_and_keys(
    server: LiveServer, client, tenant: Tenant
) -> None:  # type: ignore[no-untyped-def]
    user_id, email, key = new_member(server, tenant)
    client.project.add_member(tenant.project_id, user_id, "Project Contributor")
    member = as_user(server, tenant, key)
    assert member.cell_spec.create({"name": "By the member"}).project_id == tenant.project_id

    client.organization.remove(user_id)
    assert member_by_id(client, user_id) is None
    assert email not in {m.email for m in member_rows(client)}
    expect_error(lambda: member.whoami(), 401, "UNAUTHORIZED")
    expect_error(lambda: client.organization.remove(user_id), 404, "NOT_FOUND")

    # Invited back, they are a fresh Member with no project roles and their old key stays dead.
    again = client.organization.invite(email)
    assert again.user_id == user_id
    assert again.already_member is False
    row = member_by_id(client, user_id)
    assert row.role == "Member"
    assert row.projects == []
    expect_error(lambda: member.whoami(), 401)
    # Their data stays in the project.
    assert [s.name for s in client.cell_spec.list().items] == ["By the member"]


# --- Members may not manage the organization ------------------------------------------------------------


def test_member_cannot_call_admin_only_endpoints(server: LiveServer, client, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    user_id, _, key = new_member(server, tenant)
    other_id, _, _ = new_member(server, tenant)
    member = as_user(server, tenant, key)
    calls = [
        lambda: member.organization.invite(new_email()),
        lambda: member.organization.set_role(user_id, "Admin"),
        lambda: member.organization.set_role(tenant.user_id, "Member"),
        lambda: member.organization.deactivate(tenant.user_id),
        lambda: member.organization.reactivate(other_id),
        lambda: member.organization.resend_invite(other_id),
        lambda: member.organization.remove(other_id),
    ]
    for call in calls:
        expect_error(call, 403, "FORBIDDEN")
    roles = {m.id: (m.role, m.is_active) for m in member_rows(client)}
    assert roles == {tenant.user_id: ("Admin", True), user_id: ("Member", True), other_id: ("Member", True)}


def test_forbidden_body_is_standard(server: LiveServer, tenant: Tenant) -> None:
    user_id, _, key = new_member(server, tenant)
    with server.http(key) as http:
        response = http.patch(
            f"/organizations/{tenant.organization_id}/users/{user_id}/role", json={"role_name": "Admin"}
        )
        assert_error(response, 403, "FORBIDDEN")


# --- the last active Admin ----------------------------------------------------------------------------


def test_the_only_admin_cannot_be_demoted_deactivated_or_removed(client, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    for call in (
        lambda: client.organization.set_role(tenant.user_id, "Member"),
        lambda: client.organization.deactivate(tenant.user_id),
        lambda: client.organization.remove(tenant.user_id),
    ):
        expect_error(call, 409, "CONFLICT")
    admin = member_by_id(client, tenant.user_id)
    assert (admin.role, admin.is_active) == ("Admin", True)
    # Re-asserting the Admin role is harmless.
    client.organization.set_role(tenant.user_id, "Admin")
    assert client.whoami()["id"] == tenant.user_id


def test_an_admin_may_step_down_when_another_active_admin_exists(
    server: LiveServer, client, tenant: Tenant
) -> None:  # type: ignore[no-untyped-def]
    second_id, _, second_key = new_member(server, tenant, role="Admin")
    second = as_user(server, tenant, second_key)
    client.organization.set_role(tenant.user_id, "Member")
    assert member_by_id(second, tenant.user_id).role == "Member"
    # Now the second admin is the last one.
    expect_error(lambda: second.organization.set_role(second_id, "Member"), 409, "CONFLICT")
    expect_error(lambda: second.organization.remove(second_id), 409, "CONFLICT")
    assert member_by_id(second, second_id).role == "Admin"


def test_a_deactivated_admin_does_not_count_as_the_remaining_admin(
    server: LiveServer, client, tenant: Tenant
) -> None:  # type: ignore[no-untyped-def]
    second_id, _, _ = new_member(server, tenant, role="Admin")
    client.organization.deactivate(second_id)
    for call in (
        lambda: client.organization.set_role(tenant.user_id, "Member"),
        lambda: client.organization.deactivate(tenant.user_id),
        lambda: client.organization.remove(tenant.user_id),
    ):
        expect_error(call, 409, "CONFLICT")
    client.organization.reactivate(second_id)
    client.organization.set_role(tenant.user_id, "Member")
    assert member_by_id(client, tenant.user_id).role == "Member"


# --- another organization's id in the path --------------------------------------------------------------


def test_another_organizations_id_in_the_path_answers_404(
    server: LiveServer, api, tenant: Tenant, other_tenant: Tenant
) -> None:  # type: ignore[no-untyped-def]
    org, user = other_tenant.organization_id, other_tenant.user_id
    base = f"/organizations/{org}/users"
    assert_error(api.get(base), 404, "NOT_FOUND")
    assert_error(api.post(f"{base}/by-email", json={"email": new_email(), "role_name": "Admin"}), 404)
    assert_error(api.patch(f"{base}/{user}/role", json={"role_name": "Member"}), 404, "NOT_FOUND")
    assert_error(api.patch(f"{base}/{user}", json={"is_active": False}), 404, "NOT_FOUND")
    assert_error(api.post(f"{base}/{user}/resend-invite", json={}), 404, "NOT_FOUND")
    assert_error(api.delete(f"{base}/{user}"), 404, "NOT_FOUND")
    # Nothing changed in the other organization.
    members = member_rows(server.client(other_tenant))
    assert [(m.id, m.role, m.is_active) for m in members] == [(user, "Admin", True)]


def test_a_user_of_another_organization_is_not_found_in_this_one(
    server: LiveServer, client, other_tenant: Tenant
) -> None:  # type: ignore[no-untyped-def]
    for call in (
        lambda: client.organization.set_role(other_tenant.user_id, "Member"),
        lambda: client.organization.deactivate(other_tenant.user_id),
        lambda: client.organization.remove(other_tenant.user_id),
    ):
        expect_error(call, 404, "NOT_FOUND")
    assert server.client(other_tenant).whoami()["id"] == other_tenant.user_id


def test_explicit_organization_id_on_the_client_is_used(server: LiveServer, tenant: Tenant) -> None:
    client = server.client(tenant, organization_id=tenant.organization_id)
    result = client.organization.invite(new_email())
    assert member_by_id(client, result.user_id).role == "Member"
