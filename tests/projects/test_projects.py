"""Projects, project roles and project members through the real ionworks client."""

from __future__ import annotations

import uuid

import pytest
from ionworks import Ionworks
from ionworks.errors import IonworksError

from cellstore.accounts.roles import PROJECT_ROLES
from cellstore.accounts.service import create_api_key
from tests.support import Api, LiveServer, Tenant, assert_error

ADMIN_ROLE, CONTRIBUTOR_ROLE, VIEWER_ROLE = PROJECT_ROLES


def make_key(server: LiveServer, user_id: str, organization_id: str) -> str:
    async def work(session):  # type: ignore[no-untyped-def]
        _, secret = await create_api_key(session, user_id, organization_id, "test")
        return secret

    return str(server.run(work))


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.com"


def new_member(server: LiveServer, tenant: Tenant, role: str = "Member") -> tuple[str, Ionworks]:
    """A new organization member (no project role yet): their user id and a client with their key."""
    result = server.client(tenant).organization.invite(new_email(), role)
    key = make_key(server, result.user_id, tenant.organization_id)
    return result.user_id, Ionworks(api_key=key, api_url=server.url, project_id=tenant.project_id)


def expect_error(call, status: int, error_code: str | None = None) -> IonworksError:  # type: ignore[no-untyped-def]
    """``call()`` raises the client's error with this status (and code)."""
    with pytest.raises(IonworksError) as info:
        call()
    assert info.value.status_code == status, (info.value.status_code, str(info.value))
    if error_code is not None:
        assert info.value.error_code == error_code, info.value.data
    return info.value


def project_roles_of(admin: Ionworks, user_id: str) -> dict[str, str]:
    """``{project id: project role id}`` of a user, as the organization's member list reports it."""
    rows = admin.get(f"/organizations/{admin.whoami()['authorized_organization']['id']}/users")
    row = next(r for r in rows if r["id"] == user_id)
    return {p["project_id"]: p["project_role_id"] for p in row["user_project_roles"]}


# --- create, read, update, delete -------------------------------------------------------------------


def test_create_get_update_delete(client, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    project = client.project.create({"name": "Alpha", "description": "first"})
    assert project.organization_id == tenant.organization_id
    assert (project.name, project.description) == ("Alpha", "first")
    assert project.created_by == tenant.user_id
    assert isinstance(project.id, str) and project.id != tenant.project_id

    fetched = client.project.get(project.id)
    assert (fetched.id, fetched.name, fetched.description) == (project.id, "Alpha", "first")

    renamed = client.project.update(project.id, {"name": "Alpha 2"})
    assert (renamed.name, renamed.description) == ("Alpha 2", "first")
    described = client.project.update(project.id, {"description": "second"})
    assert (described.name, described.description) == ("Alpha 2", "second")
    assert client.project.get(project.id).name == "Alpha 2"

    client.project.delete(project.id)
    expect_error(lambda: client.project.get(project.id), 404, "NOT_FOUND")
    expect_error(lambda: client.project.delete(project.id), 404, "NOT_FOUND")
    assert [p.id for p in client.project.list().items] == [tenant.project_id]


def test_creator_becomes_project_admin(client, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    project = client.project.create({"name": "Mine"})
    assert project_roles_of(client, tenant.user_id) == {
        tenant.project_id: ADMIN_ROLE.id,
        project.id: ADMIN_ROLE.id,
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"name": "P", "colour": "red"}, "colour"),
    ],
)
def test_bad_project_bodies_are_refused(api: Api, body: dict, field: str) -> None:
    error = assert_error(api.post("/projects", json=body), 422, "VALIDATION_ERROR")
    assert field in error["message"]
    assert api.get("/projects").json()["total"] == 1


def test_project_create_without_a_body_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    expect_error(lambda: client.project.create(), 422)
    assert client.project.list().total == 1


def test_patch_cannot_null_the_name(api: Api, tenant: Tenant) -> None:
    assert_error(api.patch(f"/projects/{tenant.project_id}", json={"name": None}), 422)
    assert api.get(f"/projects/{tenant.project_id}").json()["name"] == "Default project"


def test_list_filters_order_and_pages(client, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    alpha = client.project.create({"name": "Alpha One"})
    client.project.create({"name": "ALPHA Two"})
    client.project.create({"name": "Beta"})

    substring = client.project.list(name="alpha")
    assert sorted(p.name for p in substring.items) == ["ALPHA Two", "Alpha One"]
    assert substring.total == 2
    exact = client.project.list(name_exact="Alpha One")
    assert [p.id for p in exact.items] == [alpha.id]
    assert exact.total == 1
    assert client.project.list(name_exact="alpha one").total == 0

    asc = [p.name for p in client.project.list(order_by="created_at", order="asc").items]
    assert asc == ["Default project", "Alpha One", "ALPHA Two", "Beta"]
    desc = [p.name for p in client.project.list(order_by="created_at", order="desc").items]
    assert desc == list(reversed(asc))

    first = client.project.list(limit=2, offset=0, order_by="created_at", order="asc")
    second = client.project.list(limit=2, offset=2, order_by="created_at", order="asc")
    assert first.total == second.total == 4
    assert [p.name for p in first.items + second.items] == asc

    later = client.project.list(created_after=alpha.created_at, order_by="created_at", order="asc")
    assert [p.name for p in later.items] == ["ALPHA Two", "Beta"]
    earlier = client.project.list(created_before=alpha.created_at)
    assert [p.id for p in earlier.items] == [tenant.project_id]


def test_list_order_by_name(client) -> None:  # type: ignore[no-untyped-def]
    for name in ("Gamma", "Alpha", "Beta"):
        client.project.create({"name": name})
    asc = [p.name for p in client.project.list(order_by="name", order="asc").items]
    assert asc == ["Alpha", "Beta", "Default project", "Gamma"]
    desc = [p.name for p in client.project.list(order_by="name", order="desc").items]
    assert desc == ["Gamma", "Default project", "Beta", "Alpha"]


def test_unknown_list_parameter_is_refused(api: Api) -> None:
    error = assert_error(api.get("/projects", params={"colour": "eq.red"}), 422)
    assert "colour" in error["message"]


def test_another_organizations_project_is_not_found(server: LiveServer, client, other_tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    foreign = other_tenant.project_id
    expect_error(lambda: client.project.get(foreign), 404, "NOT_FOUND")
    expect_error(lambda: client.project.update(foreign, {"name": "Hijacked"}), 404, "NOT_FOUND")
    expect_error(lambda: client.project.delete(foreign), 404, "NOT_FOUND")
    expect_error(lambda: client.project.add_member(foreign, other_tenant.user_id, "Project Viewer"), 404)
    assert foreign not in {p.id for p in client.project.list().items}
    assert server.client(other_tenant).project.get(foreign).name == "Default project"


# --- roles --------------------------------------------------------------------------------------------


def test_roles_lists_the_three_fixed_roles(client, api: Api) -> None:  # type: ignore[no-untyped-def]
    roles = client.project.roles()
    assert [(r.id, r.name) for r in roles] == [
        (ADMIN_ROLE.id, "Project Admin"),
        (CONTRIBUTOR_ROLE.id, "Project Contributor"),
        (VIEWER_ROLE.id, "Project Viewer"),
    ]
    assert all(r.description for r in roles)
    response = api.get("/roles/project")
    assert isinstance(response.json(), list)


# --- members ----------------------------------------------------------------------------------------------


def test_add_update_and_remove_member(server: LiveServer, client, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    user_id, member = new_member(server, tenant)
    expect_error(lambda: member.project.get(tenant.project_id), 404, "NOT_FOUND")

    client.project.add_member(tenant.project_id, user_id, "project viewer")
    assert project_roles_of(client, user_id) == {tenant.project_id: VIEWER_ROLE.id}
    assert member.project.get(tenant.project_id).id == tenant.project_id

    client.project.update_member(tenant.project_id, user_id, "Project Contributor")
    assert project_roles_of(client, user_id) == {tenant.project_id: CONTRIBUTOR_ROLE.id}

    # add_member also changes the role of someone who already holds one.
    client.project.add_member(tenant.project_id, user_id, VIEWER_ROLE.id)
    assert project_roles_of(client, user_id) == {tenant.project_id: VIEWER_ROLE.id}

    client.project.remove_member(tenant.project_id, user_id)
    assert project_roles_of(client, user_id) == {}
    expect_error(lambda: member.project.get(tenant.project_id), 404, "NOT_FOUND")
    expect_error(lambda: client.project.remove_member(tenant.project_id, user_id), 404, "NOT_FOUND")
    expect_error(lambda: client.project.update_member(tenant.project_id, user_id, "Project Viewer"), 404)
    # Their organization membership is kept.
    assert member.whoami()["authorized_organization"]["id"] == tenant.organization_id


def test_add_member_default_role_is_contributor(server: LiveServer, client, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    user_id, _ = new_member(server, tenant)
    client.project.add_member(tenant.project_id, user_id)
    assert project_roles_of(client, user_id) == {tenant.project_id: CONTRIBUTOR_ROLE.id}


def test_add_member_refuses_outsiders_and_unknown_roles(
    server: LiveServer, client, api: Api, tenant: Tenant, other_tenant: Tenant
) -> None:  # type: ignore[no-untyped-def]
    expect_error(lambda: client.project.add_member(tenant.project_id, other_tenant.user_id), 404, "NOT_FOUND")
    expect_error(lambda: client.project.add_member(tenant.project_id, str(uuid.uuid4())), 404, "NOT_FOUND")
    user_id, _ = new_member(server, tenant)
    response = api.post(
        f"/projects/{tenant.project_id}/members",
        json={"user_id": user_id, "project_role_id": str(uuid.uuid4())},
    )
    assert "project_role_id" in assert_error(response, 422)["message"]
    assert project_roles_of(client, user_id) == {}
    with pytest.raises(ValueError):
        client.project.add_member(tenant.project_id, user_id, "Project Owner")


def test_invite_member_adds_a_new_person_to_the_organization_as_member(
    server: LiveServer, client, tenant: Tenant
) -> None:  # type: ignore[no-untyped-def]
    email = new_email()
    result = client.project.invite_member(tenant.project_id, email, "Project Viewer")
    assert result.invite_sent is False
    assert result.already_member is False
    rows = client.get(f"/organizations/{tenant.organization_id}/users")
    row = next(r for r in rows if r["email"] == email)
    assert row["id"] == result.user_id
    assert row["organization_role"] == {"name": "Member"}
    assert row["user_project_roles"] == [{"project_id": tenant.project_id, "project_role_id": VIEWER_ROLE.id}]
    key = make_key(server, result.user_id, tenant.organization_id)
    invited = Ionworks(api_key=key, api_url=server.url)
    assert [p.id for p in invited.project.list().items] == [tenant.project_id]


def test_invite_member_reports_the_organization_role(client, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    """InviteResult.role_name is the organization role the user holds after the call."""
    result = client.project.invite_member(tenant.project_id, new_email(), "Project Contributor")
    assert result.role_name == "Member"


def test_invite_member_keeps_an_existing_members_organization_role(
    server: LiveServer, client, tenant: Tenant
) -> None:  # type: ignore[no-untyped-def]
    email = new_email()
    admin_id = client.organization.invite(email, "Admin").user_id
    project = client.project.create({"name": "Side project"})
    result = client.project.invite_member(project.id, email, "Project Viewer")
    assert result.user_id == admin_id
    rows = client.get(f"/organizations/{tenant.organization_id}/users")
    row = next(r for r in rows if r["id"] == admin_id)
    assert row["organization_role"] == {"name": "Admin"}
    assert project_roles_of(client, admin_id) == {project.id: VIEWER_ROLE.id}
    # already_member: True when the user was already an organization member.
    assert result.already_member is True
    assert result.role_name == "Admin"


def test_invite_member_of_a_deactivated_member_is_a_conflict(
    server: LiveServer, client, tenant: Tenant
) -> None:  # type: ignore[no-untyped-def]
    email = new_email()
    user_id = client.organization.invite(email).user_id
    client.organization.deactivate(user_id)
    expect_error(lambda: client.project.invite_member(tenant.project_id, email), 409, "CONFLICT")
    assert project_roles_of(client, user_id) == {}


# --- what each role may do ------------------------------------------------------------------------------


def test_member_without_a_project_role_cannot_see_the_project(
    server: LiveServer, client, tenant: Tenant
) -> None:  # type: ignore[no-untyped-def]
    hidden = client.project.create({"name": "Hidden"})
    spec = client.cell_spec.create({"name": "Hidden spec", "project_id": hidden.id})
    user_id, member = new_member(server, tenant)
    client.project.add_member(tenant.project_id, user_id, "Project Viewer")

    listed = member.project.list()
    assert [p.id for p in listed.items] == [tenant.project_id]
    assert listed.total == 1
    assert member.project.list(name="Hidden").total == 0
    expect_error(lambda: member.project.get(hidden.id), 404, "NOT_FOUND")
    expect_error(lambda: member.project.update(hidden.id, {"name": "Found"}), 404, "NOT_FOUND")
    expect_error(lambda: member.project.delete(hidden.id), 404, "NOT_FOUND")
    expect_error(lambda: member.cell_spec.get(spec.id), 404, "NOT_FOUND")
    assert spec.id not in {s.id for s in member.cell_spec.list().items}
    expect_error(
        lambda: member.cell_spec.create({"name": "Sneaky", "project_id": hidden.id}), 404, "NOT_FOUND"
    )
    # The org Admin sees everything.
    assert {p.id for p in client.project.list().items} == {tenant.project_id, hidden.id}


def test_viewer_reads_but_cannot_write(server: LiveServer, client, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    spec = client.cell_spec.create({"name": "Readable"})
    user_id, viewer = new_member(server, tenant)
    client.project.add_member(tenant.project_id, user_id, "Project Viewer")

    assert viewer.project.get(tenant.project_id).name == "Default project"
    assert [s.id for s in viewer.cell_spec.list().items] == [spec.id]
    assert viewer.cell_spec.get(spec.id).name == "Readable"

    expect_error(lambda: viewer.cell_spec.create({"name": "Not allowed"}), 403, "FORBIDDEN")
    expect_error(lambda: viewer.cell_spec.update(spec.id, {"notes": "changed"}), 403, "FORBIDDEN")
    expect_error(lambda: viewer.cell_spec.delete(spec.id), 403, "FORBIDDEN")
    expect_error(lambda: viewer.project.update(tenant.project_id, {"name": "Renamed"}), 403, "FORBIDDEN")
    expect_error(lambda: viewer.project.delete(tenant.project_id), 403, "FORBIDDEN")
    expect_error(lambda: viewer.project.add_member(tenant.project_id, user_id, "Project Admin"), 403)
    with server.http(make_key(server, user_id, tenant.organization_id)) as http:
        body = {"name": "Raw", "project_id": tenant.project_id}
        assert_error(http.post("/cell_specifications", json=body), 403, "FORBIDDEN")
        assert_error(http.patch(f"/projects/{tenant.project_id}", json={"name": "X"}), 403, "FORBIDDEN")

    assert [s.name for s in client.cell_spec.list().items] == ["Readable"]
    assert getattr(client.cell_spec.get(spec.id), "notes", None) is None
    assert client.project.get(tenant.project_id).name == "Default project"
    assert project_roles_of(client, user_id) == {tenant.project_id: VIEWER_ROLE.id}


def test_contributor_writes_data_but_cannot_manage_the_project(
    server: LiveServer, client, tenant: Tenant
) -> None:  # type: ignore[no-untyped-def]
    user_id, contributor = new_member(server, tenant)
    client.project.add_member(tenant.project_id, user_id, "Project Contributor")

    spec = contributor.cell_spec.create({"name": "Contributed"})
    assert spec.project_id == tenant.project_id
    assert contributor.cell_spec.update(spec.id, {"form_factor": "R2032"}).form_factor == "R2032"
    assert client.cell_spec.get(spec.id).name == "Contributed"

    expect_error(
        lambda: contributor.project.update(tenant.project_id, {"name": "Mine now"}), 403, "FORBIDDEN"
    )
    expect_error(lambda: contributor.project.delete(tenant.project_id), 403, "FORBIDDEN")
    expect_error(lambda: contributor.project.add_member(tenant.project_id, user_id, "Project Admin"), 403)
    expect_error(lambda: contributor.project.invite_member(tenant.project_id, new_email()), 403, "FORBIDDEN")
    assert client.project.get(tenant.project_id).name == "Default project"
    assert project_roles_of(client, user_id) == {tenant.project_id: CONTRIBUTOR_ROLE.id}

    contributor.cell_spec.delete(spec.id)
    expect_error(lambda: client.cell_spec.get(spec.id), 404)


def test_project_admin_who_is_an_org_member_manages_their_project(
    server: LiveServer, client, tenant: Tenant
) -> None:  # type: ignore[no-untyped-def]
    user_id, member = new_member(server, tenant)
    own = member.project.create({"name": "Member's project"})
    assert project_roles_of(client, user_id) == {own.id: ADMIN_ROLE.id}
    assert [p.id for p in member.project.list().items] == [own.id]
    assert member.project.update(own.id, {"description": "ours"}).description == "ours"

    colleague_id, colleague = new_member(server, tenant)
    member.project.add_member(own.id, colleague_id, "Project Viewer")
    assert [p.id for p in colleague.project.list().items] == [own.id]
    member.project.update_member(own.id, colleague_id, "Project Admin")
    assert colleague.project.update(own.id, {"name": "Renamed by colleague"}).name == "Renamed by colleague"

    # A Project Admin of one project has no say over another.
    expect_error(lambda: member.project.update(tenant.project_id, {"name": "Nope"}), 404, "NOT_FOUND")
    assert client.project.get(own.id).name == "Renamed by colleague"
    member.project.delete(own.id)
    expect_error(lambda: client.project.get(own.id), 404, "NOT_FOUND")


# --- deleting a project --------------------------------------------------------------------------------


def test_deleting_a_project_removes_its_specs(server: LiveServer, client, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    doomed = client.project.create({"name": "Doomed"})
    spec = client.cell_spec.create({"name": "Doomed spec", "project_id": doomed.id})
    kept = client.cell_spec.create({"name": "Kept spec"})
    user_id, member = new_member(server, tenant)
    client.project.add_member(doomed.id, user_id, "Project Viewer")

    client.project.delete(doomed.id)
    expect_error(lambda: client.project.get(doomed.id), 404, "NOT_FOUND")
    expect_error(lambda: client.cell_spec.get(spec.id), 404, "NOT_FOUND")
    assert [s.id for s in client.cell_spec.list().items] == [kept.id]
    assert project_roles_of(client, user_id) == {}
    assert member.project.list().total == 0
    # A project of the same name can be created again.
    assert client.project.create({"name": "Doomed"}).id != doomed.id
