"""Read caches never answer with data older than a committed write.

The unit tests pin the rules of :mod:`cellstore.core.cache` (generations, the
token that keeps a racing reader from storing a stale answer, cascades); the
process tests run two ``cellstore serve`` on one database and change data
through one, the command line or the database itself, and read through the other.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text, update

from cellstore.accounts.models import ApiKey
from cellstore.accounts.roles import PROJECT_ROLES
from cellstore.accounts.security import hash_secret
from cellstore.accounts.service import bootstrap_tenant, revoke_api_key
from cellstore.core.cache import CacheSpec, Coherence, cascaded_tables, coherence_for
from cellstore.core.database import Database, run_in_transaction
from cellstore.core.migrations import upgrade_database
from cellstore.core.settings import Settings
from cellstore.models import Base
from cellstore.projects.models import Project
from tests.accounts.test_organizations import make_key, new_member
from tests.conftest import serving
from tests.support import Api, LiveServer, Tenant, assert_error

VIEWER = PROJECT_ROLES[2]

PROJECTS = CacheSpec("projects", frozenset({"projects"}))
INSTANCES = CacheSpec("instances", frozenset({"cell_instances"}))


# -- the rules -----------------------------------------------------------------------------------


def test_a_write_to_a_table_empties_the_caches_that_depend_on_it_only() -> None:
    coherence = Coherence(Base.metadata)
    projects, instances = coherence.cache(PROJECTS), coherence.cache(INSTANCES)
    projects.put("p", "project", projects.token())
    instances.put("i", "instance", instances.token())
    coherence.invalidate(["cell_instances"])
    assert projects.get("p") == "project"
    assert instances.get("i") is None


def test_a_value_read_across_a_write_is_not_stored() -> None:
    """The token is taken before the read; a write committed meanwhile makes the value unusable."""
    coherence = Coherence(Base.metadata)
    projects = coherence.cache(PROJECTS)
    token = projects.token()
    coherence.invalidate(["projects"])  # committed while the reader was querying
    projects.put("p", "read before the write", token)
    assert projects.get("p") is None
    projects.put("p", "read after the write", projects.token())
    assert projects.get("p") == "read after the write"


def test_deleting_a_row_reaches_the_tables_its_foreign_keys_cascade_to() -> None:
    reached = cascaded_tables(Base.metadata)
    assert {"projects", "cell_measurements", "measurement_tags", "project_members"} <= set(
        reached["organizations"]
    )
    assert "cell_measurements" in reached["cell_instances"]
    assert reached["jobs"] == ("jobs",)


def test_caches_are_off_while_the_coherence_is_disabled() -> None:
    coherence = Coherence(Base.metadata)
    projects = coherence.cache(PROJECTS)
    coherence.enabled = False
    projects.put("p", "project", projects.token())
    assert projects.get("p") is None
    coherence.enabled = True
    assert projects.get("p") is None  # nothing was kept while off


def test_a_cache_over_its_size_starts_again_rather_than_growing() -> None:
    coherence = Coherence(Base.metadata)
    small = coherence.cache(CacheSpec("small", frozenset({"projects"}), max_entries=2))
    for key in "abc":
        small.put(key, key, small.token())
    assert small.get("c") == "c"
    assert small.get("a") is None


@pytest.fixture
def migrated_sqlite(tmp_path: Path) -> Settings:
    settings = Settings(data_dir=tmp_path)
    upgrade_database(settings)
    return settings


def test_this_process_invalidates_what_it_commits_and_not_what_it_rolls_back(
    migrated_sqlite: Settings,
) -> None:
    async def scenario() -> list[bool]:
        database = Database(migrated_sqlite.async_database_url)
        coherence = Coherence(Base.metadata)
        coherence.track(database.engine)
        projects = coherence.cache(PROJECTS)
        seen = []
        try:
            for commit in (False, True):
                projects.put("p", "cached", projects.token())
                async with database.sessionmaker() as session:
                    await session.execute(update(Project).values(name="renamed"))
                    if commit:
                        await session.commit()
                    else:
                        await session.rollback()
                seen.append(projects.get("p") is None)
        finally:
            await database.dispose()
        return seen

    assert asyncio.run(scenario()) == [False, True]


def test_sqlite_sees_commits_of_other_connections(migrated_sqlite: Settings) -> None:
    coherence = coherence_for(migrated_sqlite.sync_database_url, Base.metadata)
    projects = coherence.cache(PROJECTS)
    projects.put("p", "cached", projects.token())
    assert projects.get("p") == "cached"
    run_in_transaction(migrated_sqlite.async_database_url, lambda s: bootstrap_tenant(s, "Lab"))
    assert projects.get("p") is None
    asyncio.run(coherence.stop())


def test_every_table_but_the_job_queue_notifies_its_changes_on_postgresql(server: LiveServer) -> None:
    if server.backend != "postgresql":
        pytest.skip("the triggers exist on PostgreSQL only; SQLite uses PRAGMA data_version")
    engine = create_engine(server.settings.sync_database_url)
    try:
        with engine.connect() as connection:
            notifying = set(
                connection.scalars(
                    text(
                        "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                        "WHERE t.tgname = 'cellstore_notify_cache'"
                    )
                )
            )
    finally:
        engine.dispose()
    assert notifying == set(Base.metadata.tables) - {"jobs"}


def test_the_postgresql_listener_hears_commits_and_not_rollbacks(server: LiveServer) -> None:
    if server.backend != "postgresql":
        pytest.skip("PostgreSQL's NOTIFY")
    engine = create_engine(server.settings.sync_database_url)

    def write(commit: bool) -> None:
        with engine.connect() as connection:
            connection.execute(text("UPDATE projects SET name = name"))
            connection.commit() if commit else connection.rollback()

    async def scenario() -> None:
        coherence = coherence_for(server.settings.sync_database_url, Base.metadata)
        projects = coherence.cache(PROJECTS)
        await coherence.start()
        try:
            while not coherence.enabled:
                await asyncio.sleep(0.01)
            projects.put("p", "cached", projects.token())
            write(commit=False)
            await asyncio.sleep(0.2)
            assert projects.get("p") == "cached"
            write(commit=True)
            for _ in range(200):
                if projects.get("p") is None:
                    break
                await asyncio.sleep(0.01)
            assert projects.get("p") is None
        finally:
            await coherence.stop()

    try:
        asyncio.run(asyncio.wait_for(scenario(), timeout=10))
    finally:
        engine.dispose()


# -- two server processes on one database -----------------------------------------------------------


@pytest.fixture
def two_servers(server: LiveServer) -> Iterator[tuple[LiveServer, LiveServer]]:
    """A second ``cellstore serve`` on the session server's database (its own data directory)."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"cellstore-second-{server.backend}-"))
    try:
        with serving(data_dir, server.backend, CELLSTORE_DATABASE_URL=server.settings.sync_database_url) as b:
            yield server, b
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def eventually(check: Callable[[], bool], within: float = 2.0) -> float:
    """Seconds until ``check()`` held; fails if it did not within ``within`` seconds."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > within:
            pytest.fail(f"still stale after {within} s")
        time.sleep(0.01)
    return time.monotonic() - started


def make_measurement(http: Api, tenant: Tenant) -> str:
    spec = http.post("/cell_specifications", json={"name": "spec", "project_id": tenant.project_id}).json()
    instance = http.post(f"/cell_specifications/{spec['id']}/cell_instances", json={"name": "SN-1"}).json()
    measurement = http.post(
        f"/cell_instances/{instance['id']}/cell_measurements/create",
        json={"name": "check-up", "properties": {"capacity": {"value": 5.0, "unit": "A.h"}}},
    ).json()
    return str(measurement["id"])


def test_a_change_through_one_server_is_read_through_the_other(
    two_servers: tuple[LiveServer, LiveServer], tenant: Tenant
) -> None:
    a, b = (server.http(tenant.api_key) for server in two_servers)
    measurement_id = make_measurement(a, tenant)
    path = f"/cell_measurements/{measurement_id}"
    for http in (a, b):  # both processes now hold the measurement in memory
        assert http.get(path).json()["name"] == "check-up"
        assert http.get(path).json()["name"] == "check-up"

    assert a.patch(path, json={"name": "renamed", "tags": ["fresh"]}).status_code == 200
    # The writing process never answers stale; the other one catches up at once.
    assert a.get(path).json()["name"] == "renamed"
    eventually(lambda: b.get(path).json()["tags"] == ["fresh"])

    assert a.delete(path).status_code == 204
    assert_error(a.get(path), 404)
    eventually(lambda: b.get(path).status_code == 404)


def test_a_revoked_key_stops_working_in_every_server(
    two_servers: tuple[LiveServer, LiveServer], tenant: Tenant
) -> None:
    """Revoked from a third process (as ``cellstore admin revoke-api-key`` does): both servers learn it."""
    first, _ = two_servers
    user_id = first.http(tenant.api_key).get("/users/me").json()["id"]
    second_key = make_key(first, user_id, tenant.organization_id)
    a, b = (server.http(second_key) for server in two_servers)
    for http in (a, b):
        assert http.get("/users/me").status_code == 200

    async def revoke(session):  # type: ignore[no-untyped-def]
        key = await session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_secret(second_key)))
        await revoke_api_key(session, key.id)

    first.run(revoke)
    for http in (a, b):
        eventually(lambda http=http: http.get("/users/me").status_code == 401)
    assert first.http(tenant.api_key).get("/users/me").status_code == 200  # the other key still works


def test_a_member_removed_from_a_project_stops_seeing_it_in_every_server(
    two_servers: tuple[LiveServer, LiveServer], tenant: Tenant
) -> None:
    first, _ = two_servers
    admin = first.http(tenant.api_key)
    measurement_id = make_measurement(admin, tenant)
    path = f"/cell_measurements/{measurement_id}"
    user_id, _, member_key = new_member(first, tenant)
    a, b = (server.http(member_key) for server in two_servers)
    for http in (a, b):
        assert_error(http.get(path), 404)  # a plain member holds no role in the project yet

    granted = admin.post(
        f"/projects/{tenant.project_id}/members", json={"user_id": user_id, "project_role_id": VIEWER.id}
    )
    assert granted.status_code == 200, granted.text
    assert a.get(path).status_code == 200
    eventually(lambda: b.get(path).status_code == 200)

    assert admin.delete(f"/projects/{tenant.project_id}/members/{user_id}").status_code == 204
    assert_error(a.get(path), 404)
    eventually(lambda: b.get(path).status_code == 404)


# -- the list of a cell's measurements ---------------------------------------------------------------


def make_cell_with_measurement(http: Api, tenant: Tenant) -> tuple[str, str]:
    """A cell instance with one properties measurement: their ids."""
    measurement_id = make_measurement(http, tenant)
    return str(http.get(f"/cell_measurements/{measurement_id}").json()["cell_instance_id"]), measurement_id


def listed(http: Api, instance_id: str, **params: object) -> dict:
    response = http.get(f"/cell_instances/{instance_id}/cell_measurements", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_list_page_changed_through_one_server_is_read_through_the_other(
    two_servers: tuple[LiveServer, LiveServer], tenant: Tenant
) -> None:
    a, b = (server.http(tenant.api_key) for server in two_servers)
    instance_id, measurement_id = make_cell_with_measurement(a, tenant)
    for http in (a, b):  # both processes now hold the page in memory
        for _ in range(2):
            assert [m["name"] for m in listed(http, instance_id)["items"]] == ["check-up"]
        assert listed(http, instance_id, tags_any="fresh")["total"] == 0

    path = f"/cell_measurements/{measurement_id}"
    assert a.patch(path, json={"name": "renamed", "tags": ["fresh"]}).status_code == 200
    assert [m["name"] for m in listed(a, instance_id)["items"]] == ["renamed"]
    eventually(lambda: [m["tags"] for m in listed(b, instance_id)["items"]] == [["fresh"]])
    eventually(lambda: listed(b, instance_id, tags_any="fresh")["total"] == 1)  # a page per query

    added = a.post(
        f"/cell_instances/{instance_id}/cell_measurements/create",
        json={"name": "second", "properties": {"mass": {"value": 50.0, "unit": "g"}}},
    )
    assert added.status_code == 200, added.text
    assert listed(a, instance_id)["total"] == 2
    eventually(lambda: listed(b, instance_id)["total"] == 2)

    assert a.delete(path).status_code == 204
    eventually(lambda: [m["name"] for m in listed(b, instance_id)["items"]] == ["second"])


def test_a_cached_list_page_is_shown_only_to_those_who_may_see_it(
    two_servers: tuple[LiveServer, LiveServer], server: LiveServer, tenant: Tenant
) -> None:
    first, _ = two_servers
    admin = first.http(tenant.api_key)
    instance_id, _ = make_cell_with_measurement(admin, tenant)
    path = f"/cell_instances/{instance_id}/cell_measurements"
    user_id, _, member_key = new_member(first, tenant)
    a, b = (s.http(member_key) for s in two_servers)
    outsiders = [s.http(server.new_tenant().api_key) for s in two_servers]
    for http in (admin, *(s.http(tenant.api_key) for s in two_servers)):
        assert listed(http, instance_id)["total"] == 1  # the page is in both processes' memory
    for http in (a, b, *outsiders):
        assert_error(http.get(path), 404)  # not a member of the project; another organization

    granted = admin.post(
        f"/projects/{tenant.project_id}/members", json={"user_id": user_id, "project_role_id": VIEWER.id}
    )
    assert granted.status_code == 200, granted.text
    assert listed(a, instance_id)["total"] == 1
    eventually(lambda: b.get(path).status_code == 200)

    assert admin.delete(f"/projects/{tenant.project_id}/members/{user_id}").status_code == 204
    assert_error(a.get(path), 404)
    eventually(lambda: b.get(path).status_code == 404)
    for http in outsiders:
        assert_error(http.get(path), 404)
