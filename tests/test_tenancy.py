"""The security boundary between organizations.

Organization A owns a project, a member, a specification with a batch and an
instance. Organization B, with its own admin key, tries every endpoint that
takes an id. Each attempt must answer exactly what the same request answers
for random unknown ids (so B cannot even learn that A's rows exist), and
afterwards neither organization's data may have changed.

Adding an endpoint is one line in ``HTTP_CASES`` (raw HTTP) or ``CLIENT_CASES``
(the real ionworks client).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from ionworks import Ionworks
from ionworks.errors import IonworksError

from tests.cross_tenant import Case, canonical, ids_in, send, unfill
from tests.support import LiveServer, Tenant, assert_error

PROJECT_ADMIN_ROLE = "6f0c0a51-0b0e-4f54-9a43-5a3d1c2b7e01"
NMC = {"name": "NMC811", "manufacturer": "Umicore"}

# ids of A's rows; the "unknown id" run of each case replaces every one of them by a random UUID
A_IDS = ("org", "project", "spec", "batch", "instance", "user", "admin", "material")


@dataclass
class World:
    """A's rows (the target) and B's rows and key (the attacker)."""

    server: LiveServer
    a: Tenant
    b: Tenant
    ids: dict[str, str]

    def unknown(self) -> dict[str, str]:
        """The same ids with every one of A's replaced by a fresh random UUID."""
        return {**self.ids, **{key: str(uuid.uuid4()) for key in A_IDS}}


@pytest.fixture
def world(server: LiveServer, tenant: Tenant, other_tenant: Tenant) -> Iterator[World]:
    ids: dict[str, str] = {"org": tenant.organization_id, "admin": tenant.user_id}
    with server.http(tenant.api_key) as a:
        ids["project"] = _ok(a.post("/projects", json={"name": "A secret project", "description": "A"}))["id"]
        member = {"email": f"member-{uuid.uuid4().hex[:8]}@a.example", "role_name": "Member"}
        ids["user"] = _ok(a.post(f"/organizations/{tenant.organization_id}/users/by-email", json=member))[
            "user_id"
        ]
        _ok(
            a.post(
                f"/projects/{ids['project']}/members",
                json={"user_id": ids["user"], "project_role_id": PROJECT_ADMIN_ROLE},
            )
        )
        spec = _ok(
            a.post(
                "/cell_specifications",
                json={
                    "name": "A spec",
                    "project_id": ids["project"],
                    "notes": "A's",
                    "cathode": {"material": NMC, "properties": {}},
                },
            )
        )
        ids["spec"], ids["material"] = spec["id"], spec["cathode"]["material_id"]
        ids["batch"] = _ok(
            a.post(f"/cell_specifications/{ids['spec']}/cell_batches", json={"name": "A lot", "notes": "A's"})
        )["id"]
        ids["instance"] = _ok(
            a.post(
                f"/cell_specifications/{ids['spec']}/cell_instances",
                json={"name": "A cell", "batch_id": ids["batch"], "notes": "A's"},
            )
        )["id"]
    ids |= {"b_org": other_tenant.organization_id, "b_project": other_tenant.project_id}
    ids["b_user"] = other_tenant.user_id
    with server.http(other_tenant.api_key) as b:
        ids["b_spec"] = _ok(
            b.post("/cell_specifications", json={"name": "B spec", "project_id": other_tenant.project_id})
        )["id"]
        ids["b_batch"] = _ok(
            b.post(f"/cell_specifications/{ids['b_spec']}/cell_batches", json={"name": "B lot"})
        )["id"]
        ids["b_instance"] = _ok(
            b.post(f"/cell_specifications/{ids['b_spec']}/cell_instances", json={"name": "B cell"})
        )["id"]
    yield World(server, tenant, other_tenant, ids)


def _ok(response: requests.Response) -> Any:
    assert response.status_code in (200, 201), (response.status_code, response.text)
    return response.json()


def snapshot(world: World) -> dict[str, Any]:
    """Everything both organizations can read about their own rows."""
    i = world.ids
    a_paths = [
        "/projects",
        f"/projects/{i['project']}",
        f"/projects/{i['project']}/members",
        f"/projects/{world.a.project_id}/members",
        f"/organizations/{i['org']}/users",
        f"/cell_specifications?project_id={i['project']}",
        f"/cell_specifications/{i['spec']}",
        f"/cell_specifications/{i['spec']}/cell_batches",
        f"/cell_specifications/{i['spec']}/cell_instances",
        f"/cell_batches/{i['batch']}",
        f"/cell_instances/{i['instance']}",
    ]
    b_paths = [
        "/projects",
        "/cell_specifications",
        f"/projects/{i['b_project']}/members",
        f"/organizations/{i['b_org']}/users",
        f"/cell_specifications/{i['b_spec']}/cell_batches",
        f"/cell_specifications/{i['b_spec']}/cell_instances",
        f"/cell_instances/{i['b_instance']}",
    ]
    state: dict[str, Any] = {}
    for who, key, paths in (("A", world.a.api_key, a_paths), ("B", world.b.api_key, b_paths)):
        with world.server.http(key) as session:
            for path in paths:
                state[f"{who} {path}"] = canonical(_ok(session.get(path)))
    return state


# Raw HTTP: every endpoint that takes an id, called by B with A's ids.


ROLE = {"project_role_id": PROJECT_ADMIN_ROLE}
AS_A = {"X-Organization-Id": "{org}"}
REFUSED = {"status": 400, "error_code": "BAD_REQUEST"}
HTTP_CASES = [
    # projects and their members
    Case("GET", "/projects/{project}"),
    Case("PATCH", "/projects/{project}", {"name": "Taken over"}),
    Case("DELETE", "/projects/{project}"),
    Case("GET", "/projects/{project}/members"),
    Case("POST", "/projects/{project}/members", {"user_id": "{b_user}", **ROLE}, "B's user"),
    Case("POST", "/projects/{project}/members", {"user_id": "{user}", **ROLE}, "A's user"),
    Case("POST", "/projects/{project}/invites", {"email": "spy@b.example", **ROLE}),
    Case("PATCH", "/projects/{project}/members/{user}", ROLE),
    Case("DELETE", "/projects/{project}/members/{user}"),
    Case("DELETE", "/projects/{project}/members/{admin}"),
    # A's people through B's own project
    Case("POST", "/projects/{b_project}/members", {"user_id": "{user}", **ROLE}),
    Case("PATCH", "/projects/{b_project}/members/{user}", ROLE),
    Case("DELETE", "/projects/{b_project}/members/{user}"),
    # specifications
    Case("GET", "/cell_specifications/{spec}"),
    Case("PATCH", "/cell_specifications/{spec}", {"notes": "B was here"}),
    Case("DELETE", "/cell_specifications/{spec}"),
    Case("POST", "/cell_specifications", {"name": "Planted", "project_id": "{project}"}, "new name"),
    Case("POST", "/cell_specifications", {"name": "A spec", "project_id": "{project}"}, "A's name"),
    # batches
    Case("GET", "/cell_specifications/{spec}/cell_batches"),
    Case("POST", "/cell_specifications/{spec}/cell_batches", {"name": "Planted lot"}, "new name"),
    Case("POST", "/cell_specifications/{spec}/cell_batches", {"name": "A lot"}, "A's name"),
    Case("GET", "/cell_batches/{batch}"),
    Case("PATCH", "/cell_batches/{batch}", {"notes": "B was here"}),
    Case("DELETE", "/cell_batches/{batch}"),
    # instances
    Case("GET", "/cell_specifications/{spec}/cell_instances"),
    Case("POST", "/cell_specifications/{spec}/cell_instances", {"name": "Planted cell"}, "new name"),
    Case("POST", "/cell_specifications/{spec}/cell_instances", {"name": "A cell"}, "A's name"),
    Case("GET", "/cell_instances/{instance}"),
    Case("PATCH", "/cell_instances/{instance}", {"notes": "B was here"}, "notes"),
    Case("PATCH", "/cell_instances/{instance}", {"batch_id": None}, "out of its batch"),
    Case("DELETE", "/cell_instances/{instance}"),
    # A's organization
    Case("GET", "/organizations/{org}/users"),
    Case("POST", "/organizations/{org}/users/by-email", {"email": "spy@b.example", "role_name": "Admin"}),
    Case("PATCH", "/organizations/{org}/users/{user}/role", {"role_name": "Admin"}),
    Case("PATCH", "/organizations/{org}/users/{admin}/role", {"role_name": "Member"}),
    Case("PATCH", "/organizations/{org}/users/{user}", {"is_active": False}),
    Case("PATCH", "/organizations/{org}/users/{admin}", {"is_active": False}),
    Case("POST", "/organizations/{org}/users/{user}/resend-invite", {}),
    Case("DELETE", "/organizations/{org}/users/{user}"),
    Case("DELETE", "/organizations/{org}/users/{admin}"),
    # A's people through B's own organization
    Case("PATCH", "/organizations/{b_org}/users/{user}/role", {"role_name": "Member"}),
    Case("PATCH", "/organizations/{b_org}/users/{user}", {"is_active": False}),
    Case("POST", "/organizations/{b_org}/users/{user}/resend-invite", {}),
    Case("DELETE", "/organizations/{b_org}/users/{user}"),
    # B's key claiming A's organization
    Case("GET", "/users/me", headers=AS_A),
    Case("GET", "/projects", headers=AS_A),
    Case("GET", "/cell_specifications", headers=AS_A),
    Case("GET", "/organizations/{org}/users", headers=AS_A),
    Case("GET", "/cell_specifications/{spec}", headers=AS_A),
    Case("POST", "/cell_specifications", {"name": "Planted", "project_id": "{project}"}, headers=AS_A),
    # A's batch used from B's own rows: refused exactly like a batch that does not exist
    Case("PATCH", "/cell_instances/{b_instance}", {"batch_id": "{batch}"}, **REFUSED),
    Case(
        "POST",
        "/cell_specifications/{b_spec}/cell_instances",
        {"name": "X", "batch_id": "{batch}"},
        **REFUSED,
    ),
    # B's specification cannot be moved into A's project (nor into any other)
    Case("PATCH", "/cell_specifications/{b_spec}", {"project_id": "{project}"}, **REFUSED),
]


@pytest.mark.parametrize("case", HTTP_CASES, ids=str)
def test_other_organization_is_answered_as_for_an_unknown_id(world: World, case: Case) -> None:
    before = snapshot(world)
    unknown = world.unknown()
    real = assert_error(send(world.server, world.b.api_key, case, world.ids), case.status, case.error_code)
    fake = assert_error(send(world.server, world.b.api_key, case, unknown), case.status, case.error_code)
    assert real["error_code"] == fake["error_code"] == case.error_code
    assert unfill(real, world.ids) == unfill(fake, unknown)
    assert snapshot(world) == before


# The real client, bound to B's key and B's default project.


@dataclass
class Attempt:
    client: Ionworks
    as_org: Ionworks
    ids: dict[str, str]


CLIENT_CASES: list[tuple[str, Callable[[Attempt], Any]]] = [
    ("project.get", lambda t: t.client.project.get(t.ids["project"])),
    ("project.update", lambda t: t.client.project.update(t.ids["project"], {"name": "Taken over"})),
    ("project.delete", lambda t: t.client.project.delete(t.ids["project"])),
    (
        "project.add_member",
        lambda t: t.client.project.add_member(t.ids["project"], t.ids["b_user"], "Project Admin"),
    ),
    ("project.invite_member", lambda t: t.client.project.invite_member(t.ids["project"], "spy@b.example")),
    (
        "project.update_member",
        lambda t: t.client.project.update_member(t.ids["project"], t.ids["user"], "Project Viewer"),
    ),
    ("project.remove_member", lambda t: t.client.project.remove_member(t.ids["project"], t.ids["user"])),
    ("project.add_member A's user", lambda t: t.client.project.add_member(t.ids["b_project"], t.ids["user"])),
    ("cell_spec.get", lambda t: t.client.cell_spec.get(t.ids["spec"])),
    ("cell_spec.update", lambda t: t.client.cell_spec.update(t.ids["spec"], {"notes": "B was here"})),
    ("cell_spec.delete", lambda t: t.client.cell_spec.delete(t.ids["spec"])),
    ("cell_spec.related_specs", lambda t: t.client.cell_spec.related_specs(t.ids["spec"])),
    (
        "cell_spec.create",
        lambda t: t.client.cell_spec.create({"name": "Planted", "project_id": t.ids["project"]}),
    ),
    (
        "cell_spec.create_or_get",
        lambda t: t.client.cell_spec.create_or_get({"name": "A spec", "project_id": t.ids["project"]}),
    ),
    ("cell_batch.get", lambda t: t.client.cell_batch.get(t.ids["batch"])),
    ("cell_batch.list", lambda t: t.client.cell_batch.list(t.ids["spec"])),
    ("cell_batch.create", lambda t: t.client.cell_batch.create(t.ids["spec"], {"name": "Planted lot"})),
    (
        "cell_batch.create_or_get",
        lambda t: t.client.cell_batch.create_or_get(t.ids["spec"], {"name": "A lot"}),
    ),
    ("cell_batch.update", lambda t: t.client.cell_batch.update(t.ids["batch"], {"notes": "B was here"})),
    ("cell_batch.delete", lambda t: t.client.cell_batch.delete(t.ids["batch"])),
    ("cell_instance.get", lambda t: t.client.cell_instance.get(t.ids["instance"])),
    ("cell_instance.list", lambda t: t.client.cell_instance.list(t.ids["spec"])),
    (
        "cell_instance.list by batch",
        lambda t: t.client.cell_instance.list(t.ids["spec"], batch_id=t.ids["batch"]),
    ),
    (
        "cell_instance.create",
        lambda t: t.client.cell_instance.create(t.ids["spec"], {"name": "Planted cell"}),
    ),
    (
        "cell_instance.create_or_get",
        lambda t: t.client.cell_instance.create_or_get(t.ids["spec"], {"name": "A cell"}),
    ),
    (
        "cell_instance.update",
        lambda t: t.client.cell_instance.update(t.ids["instance"], {"notes": "B was here"}),
    ),
    ("cell_instance.delete", lambda t: t.client.cell_instance.delete(t.ids["instance"])),
    ("organization.members", lambda t: t.as_org.organization.members()),
    ("organization.invite", lambda t: t.as_org.organization.invite("spy@b.example", "Admin")),
    ("organization.set_role", lambda t: t.as_org.organization.set_role(t.ids["user"], "Admin")),
    ("organization.deactivate", lambda t: t.as_org.organization.deactivate(t.ids["admin"])),
    ("organization.reactivate", lambda t: t.as_org.organization.reactivate(t.ids["user"])),
    ("organization.resend_invite", lambda t: t.as_org.organization.resend_invite(t.ids["user"])),
    ("organization.remove", lambda t: t.as_org.organization.remove(t.ids["user"])),
    ("own organization.set_role A's user", lambda t: t.client.organization.set_role(t.ids["user"], "Admin")),
    ("own organization.deactivate A's user", lambda t: t.client.organization.deactivate(t.ids["user"])),
    ("own organization.remove A's user", lambda t: t.client.organization.remove(t.ids["user"])),
    ("cell_spec.list as A's org", lambda t: t.as_org.cell_spec.list()),
]


def _client_error(world: World, call: Callable[[Attempt], Any], ids: dict[str, str]) -> IonworksError:
    b = world.server.client(world.b)
    as_org = world.server.client(world.b, organization_id=ids["org"])
    with pytest.raises(IonworksError) as raised:
        call(Attempt(b, as_org, ids))
    return raised.value


@pytest.mark.parametrize(("label", "call"), CLIENT_CASES, ids=[label for label, _ in CLIENT_CASES])
def test_other_organization_gets_not_found_through_the_client(
    world: World, label: str, call: Callable[[Attempt], Any]
) -> None:
    before = snapshot(world)
    unknown = world.unknown()
    real = _client_error(world, call, world.ids)
    fake = _client_error(world, call, unknown)
    assert (real.status_code, real.error_code) == (404, "NOT_FOUND"), (label, real)
    assert (fake.status_code, fake.error_code) == (404, real.error_code)
    assert unfill(real.data, world.ids) == unfill(fake.data, unknown)
    assert snapshot(world) == before


# Lists: B sees none of A's rows, whatever it filters on.


def test_lists_of_the_other_organization_show_none_of_a_rows(world: World) -> None:
    i = world.ids
    a_ids = {i[key] for key in A_IDS}
    unknown = world.unknown()
    with world.server.http(world.b.api_key) as b:
        projects = _ok(b.get("/projects"))
        assert {p["id"] for p in projects["items"]} == {i["b_project"]}
        assert projects["total"] == 1
        assert _ok(b.get("/projects?name=ilike.%25secret%25"))["total"] == 0
        specs = _ok(b.get("/cell_specifications"))
        assert [s["id"] for s in specs["items"]] == [i["b_spec"]]
        assert specs["total"] == 1
        for query in (
            "project_id={project}",
            "project_id={project}&name=eq.A spec",
            "name=eq.A spec",
            "name=ilike.%25A%25",
            "project_id={project}&material_id={material}",
            "material_id={material}",
            "cathode_material_id={material}",
            "material_ids={material}&material_ids={material}",
        ):
            real = _ok(b.get("/cell_specifications?" + query.format(**i)))
            fake = _ok(b.get("/cell_specifications?" + query.format(**unknown)))
            assert real == fake == {"items": [], "count": 0, "total": 0}, query
        users = _ok(b.get(f"/organizations/{i['b_org']}/users"))
        assert {u["id"] for u in users} == {i["b_user"]}
        assert not (ids_in(users) & a_ids)
        me = _ok(b.get("/users/me"))
        assert me["authorized_organization"]["id"] == i["b_org"]
        assert [o["id"] for o in me["organizations"]] == [i["b_org"]]
        for path in (
            f"/cell_specifications/{i['b_spec']}/cell_batches",
            f"/cell_specifications/{i['b_spec']}/cell_instances",
            f"/cell_specifications/{i['b_spec']}/cell_instances?batch_id={i['batch']}",
        ):
            assert not (ids_in(_ok(b.get(path))) & a_ids), path

    client = world.server.client(world.b)
    assert [p.id for p in client.project.list()] == [i["b_project"]]
    assert [s.id for s in client.cell_spec.list()] == [i["b_spec"]]
    assert len(client.cell_spec.list(project_id=i["project"])) == 0
    assert len(client.cell_spec.list(name_exact="A spec", project_id=i["project"])) == 0
    assert len(client.cell_spec.list(material_id=i["material"], project_id=i["project"])) == 0
    assert len(client.cell_instance.list(i["b_spec"], batch_id=i["batch"])) == 0
    assert [m.id for m in client.organization.members()] == [i["b_user"]]


def test_b_instance_cannot_join_a_batch_and_a_batch_is_unchanged(world: World) -> None:
    i = world.ids
    before = snapshot(world)
    client = world.server.client(world.b)
    with pytest.raises(IonworksError) as moved:
        client.cell_instance.update(i["b_instance"], {"batch_id": i["batch"]})
    assert (moved.value.status_code, moved.value.error_code) == (400, "BAD_REQUEST")
    with pytest.raises(IonworksError) as created:
        client.cell_instance.create(i["b_spec"], {"name": "Smuggled", "batch_id": i["batch"]})
    assert (created.value.status_code, created.value.error_code) == (400, "BAD_REQUEST")
    assert client.cell_instance.get(i["b_instance"]).batch_id is None
    assert [c.name for c in client.cell_instance.list(i["b_spec"])] == ["B cell"]
    a = world.server.client(world.a)
    batch = a.cell_batch.get(i["batch"])
    assert (batch.name, batch.notes, batch.instance_count) == ("A lot", "A's", 1)
    assert [c.id for c in a.cell_instance.list(i["spec"], batch_id=i["batch"])] == [i["instance"]]
    assert snapshot(world) == before


def test_a_data_is_intact_after_every_attempt(world: World) -> None:
    """All of B's attempts in a row, then A's rows read field by field."""
    before = snapshot(world)
    for case in HTTP_CASES:
        assert send(world.server, world.b.api_key, case, world.ids).status_code == case.status, case
    for label, call in CLIENT_CASES:
        assert _client_error(world, call, world.ids).status_code == 404, label
    assert snapshot(world) == before
    i = world.ids
    a = world.server.client(world.a)
    project = a.project.get(i["project"])
    assert (project.name, project.organization_id) == ("A secret project", i["org"])
    spec = a.cell_spec.get(i["spec"])
    assert (spec.name, spec.notes, spec.project_id) == ("A spec", "A's", i["project"])
    assert spec.cathode["material_id"] == i["material"]
    batch = a.cell_batch.get(i["batch"])
    assert (batch.name, batch.notes, batch.instance_count) == ("A lot", "A's", 1)
    instance = a.cell_instance.get(i["instance"])
    assert (instance.name, instance.notes, instance.batch_id) == ("A cell", "A's", i["batch"])
    with world.server.http(world.a.api_key) as session:
        roles = _ok(session.get(f"/projects/{i['project']}/members"))
        assert {m["user_id"] for m in roles} == {i["admin"], i["user"]}
        users = {u["id"]: u for u in _ok(session.get(f"/organizations/{i['org']}/users"))}
        assert set(users) == {i["admin"], i["user"]}
        assert (
            users[i["admin"]]["organization_role"]["name"] == "Admin"
            and users[i["admin"]]["is_active"] is True
        )
        assert (
            users[i["user"]]["organization_role"]["name"] == "Member"
            and users[i["user"]]["is_active"] is True
        )


def test_ids_sent_in_a_body_do_not_reach_a_rows(world: World) -> None:
    """Read-only fields naming A's rows are ignored: B only ever creates or changes its own rows."""
    i = world.ids
    before = snapshot(world)
    smuggled = {"id": i["spec"], "organization_id": i["org"], "created_by": i["admin"]}
    with world.server.http(world.b.api_key) as b:
        spec = _ok(
            b.post("/cell_specifications", json={"name": "Twin", "project_id": i["b_project"], **smuggled})
        )
        assert spec["id"] != i["spec"]
        assert (spec["organization_id"], spec["project_id"]) == (i["b_org"], i["b_project"])
        cell = _ok(
            b.post(
                f"/cell_specifications/{i['b_spec']}/cell_instances",
                json={"name": "Twin", **smuggled, "id": i["instance"], "cell_specification_id": i["spec"]},
            )
        )
        assert cell["id"] != i["instance"]
        assert (cell["organization_id"], cell["cell_specification_id"]) == (i["b_org"], i["b_spec"])
        patched = _ok(
            b.patch(
                f"/cell_instances/{i['b_instance']}",
                json={
                    "organization_id": i["org"],
                    "cell_specification_id": i["spec"],
                    "project_id": i["project"],
                },
            )
        )
        assert (patched["organization_id"], patched["cell_specification_id"], patched["project_id"]) == (
            i["b_org"],
            i["b_spec"],
            i["b_project"],
        )
        assert_error(
            b.post(
                f"/cell_specifications/{i['b_spec']}/cell_batches", json={"name": "Twin", "id": i["batch"]}
            ),
            422,
            "VALIDATION_ERROR",
        )
    after = snapshot(world)
    assert {k: v for k, v in after.items() if k.startswith("A ")} == {
        k: v for k, v in before.items() if k.startswith("A ")
    }
