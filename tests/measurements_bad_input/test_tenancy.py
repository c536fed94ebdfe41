"""The security boundary between organizations, for measurements and raw data.

Organization A owns a project with an instance, a processed time series, a file
measurement, a properties measurement, a raw-data file linked to the series, a raw-data
file still pending, and an uploaded but unconfirmed measurement. Organization B, with its
own admin key, tries every endpoint that takes an id with A's ids. Each attempt must answer
exactly what the same request answers for random unknown ids (so B cannot even learn that
A's rows exist), and afterwards neither organization's data may have changed.

Adding an endpoint is one line in ``HTTP_CASES`` (raw HTTP) or ``CLIENT_CASES`` (the real
ionworks client). The world is built once per database backend; every case checks that it
left it as it found it.

Also here: a Project Viewer reads measurements but may change none of them (403).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from ionworks import Ionworks
from ionworks.errors import IonworksError

from cellstore.accounts.service import create_api_key
from tests.cross_tenant import Case, canonical, fill, ids_in, send, unfill
from tests.measurements_bad_input import (
    confirm,
    download,
    initiate,
    make_instance,
    ok,
    parquet_bytes,
    put,
    series,
    target,
    upload_files,
    upload_series,
    wait_settled,
)
from tests.support import Api, LiveServer, Tenant, assert_error

# ids of A's rows; the "unknown id" run of each case replaces every one of them by a random UUID
A_IDS = ("org", "project", "spec", "instance", "ts", "file", "props", "raw", "raw_pending", "reservation")
RAW_BODY = {"project_id": "{project}", "name": "cycler export", "filename": "export.csv"}
MASS = {"mass": {"value": 1.5, "unit": "g"}}


def _raw_upload(api: Api, project_id: str, data: bytes, *, confirmed: bool = True) -> str:
    body = {
        "project_id": project_id,
        "name": "cycler export",
        "filename": "export.csv",
        "content_type": "text/csv",
    }
    initiated = ok(api.post("/raw_data/initiate-upload", json=body))
    assert put(initiated["uploads"][0]["signed_url"], data).status_code == 200
    if confirmed:
        ok(
            api.post(
                f"/raw_data/{initiated['raw_data_id']}/confirm-upload", json={**body, "size_bytes": len(data)}
            )
        )
    return str(initiated["raw_data_id"])


@dataclass
class World:
    """A's rows (the target) and B's rows and key (the attacker)."""

    server: LiveServer
    a: Tenant
    b: Tenant
    ids: dict[str, str]
    upload_file: Path
    baseline: dict[str, Any] = field(default_factory=dict)

    def unknown(self) -> dict[str, str]:
        """The same ids with every one of A's replaced by a fresh random UUID."""
        return {**self.ids, **{key: str(uuid.uuid4()) for key in A_IDS}}


@pytest.fixture(scope="module")
def world(server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> World:
    a, b = server.new_tenant("Organization A"), server.new_tenant("Organization B")
    ids: dict[str, str] = {"org": a.organization_id}
    with server.http(a.api_key) as api:
        ids["project"] = ok(api.post("/projects", json={"name": "A secret project"}))["id"]
        ids["instance"] = make_instance(api, ids["project"], "A cell")
        ids["spec"] = ok(api.get(f"/cell_instances/{ids['instance']}"))["cell_specification_id"]
        ids["ts"] = upload_series(
            api, ids["instance"], "A series", parquet_bytes(series(8)), tags=["a-secret-tag"], notes="A's"
        )
        ids["file"] = upload_files(api, ids["instance"], "A files", {"a.txt": b"A's file"})
        properties = {"name": "A properties", "measurement_type": "properties", "properties": MASS}
        ids["props"] = ok(
            api.post(f"/cell_instances/{ids['instance']}/cell_measurements/create", json=properties)
        )["id"]
        ids["raw"] = _raw_upload(api, ids["project"], b"time,voltage\n0,3.7\n")
        ids["raw_pending"] = _raw_upload(api, ids["project"], b"pending\n", confirmed=False)
        reserved = initiate(api, ids["instance"], "A reserved")
        assert put(target(reserved, "time_series.parquet"), parquet_bytes(series(4))).status_code == 200
        ids["reservation"] = reserved["measurement_id"]
        ok(api.post(f"/cell_measurements/{ids['ts']}/raw_data", json={"raw_data_ids": [ids["raw"]]}), 204)
        ok(api.post(f"/cell_measurements/{ids['ts']}/watch", json={}), 204)
        assert wait_settled(api, ids["ts"])["processing_status"] == "ready"
    ids |= {"b_org": b.organization_id, "b_project": b.project_id}
    with server.http(b.api_key) as api:
        ids["b_instance"] = make_instance(api, b.project_id, "B cell")
        ids["b_ts"] = upload_series(
            api, ids["b_instance"], "B series", parquet_bytes(series(4)), tags=["b-tag"]
        )
        ids["b_raw"] = _raw_upload(api, b.project_id, b"B's export\n")
        b_reserved = initiate(api, ids["b_instance"], "B reserved")
        assert put(target(b_reserved, "time_series.parquet"), parquet_bytes(series(4))).status_code == 200
        ids["b_reservation"] = b_reserved["measurement_id"]
        assert wait_settled(api, ids["b_ts"])["processing_status"] == "ready"
    upload_file = tmp_path_factory.mktemp("uploads") / "notes.txt"
    upload_file.write_bytes(b"planted by B")
    world = World(server, a, b, ids, upload_file)
    world.baseline = snapshot(world)
    return world


def _digest(api: Api, path: str) -> str:
    return hashlib.sha256(download(api, path)).hexdigest()


def snapshot(world: World) -> dict[str, Any]:
    """Everything both organizations can read about their own measurements and raw data."""
    i = world.ids
    a_paths = [
        f"/cell_measurements/{i['ts']}",
        f"/cell_measurements/{i['file']}",
        f"/cell_measurements/{i['props']}",
        f"/cell_measurements/{i['ts']}/steps_and_cycles",
        f"/cell_measurements/{i['file']}/files",
        f"/cell_measurements/{i['ts']}/raw_data",
        f"/cell_instances/{i['instance']}/cell_measurements",
        f"/cell_instances/{i['instance']}",
        f"/cell_measurements?project_id={i['project']}",
        f"/cell_measurements/tags?project_id={i['project']}",
        f"/raw_data/{i['raw']}",
        f"/raw_data?project_id={i['project']}",
        f"/raw_data/{i['raw']}/cell_measurements",
    ]
    b_paths = [
        f"/cell_measurements/{i['b_ts']}",
        f"/cell_measurements/{i['b_ts']}/raw_data",
        f"/cell_instances/{i['b_instance']}/cell_measurements",
        f"/cell_measurements?project_id={i['b_project']}",
        f"/cell_measurements/tags?project_id={i['b_project']}",
        "/raw_data",
        f"/raw_data/{i['b_raw']}/cell_measurements",
    ]
    state: dict[str, Any] = {}
    for who, key, paths in (("A", world.a.api_key, a_paths), ("B", world.b.api_key, b_paths)):
        with world.server.http(key) as session:
            for path in paths:
                state[f"{who} {path}"] = canonical(ok(session.get(path)))
    with world.server.http(world.a.api_key) as session:
        state["A series bytes"] = _digest(session, f"/cell_measurements/{i['ts']}/time_series/download")
        state["A steps bytes"] = _digest(session, f"/cell_measurements/{i['ts']}/steps/download")
        state["A file bytes"] = _digest(session, f"/cell_measurements/{i['file']}/files/a.txt")
        url = ok(session.get(f"/raw_data/{i['raw']}/download-url"))["url"]
        state["A raw bytes"] = hashlib.sha256(requests.get(url, timeout=30).content).hexdigest()
    return state


# Raw HTTP: every measurement and raw-data endpoint that takes an id, called by B with A's ids.


AS_A = {"X-Organization-Id": "{org}"}
TS, FILE = "/cell_measurements/{ts}", "/cell_measurements/{file}"
A_INSTANCE = "/cell_instances/{instance}/cell_measurements"
CONFIRM = {"cell_instance_id": "{instance}", "measurement": {"name": "Planted"}}
HTTP_CASES = [
    # one measurement
    Case("GET", TS),
    Case("GET", TS + "?include_steps=false&include_time_series=false"),
    Case("GET", FILE),
    Case("GET", "/cell_measurements/{props}"),
    Case("PATCH", TS, {"notes": "B was here"}),
    Case("PATCH", TS, {"tags": ["pwned"]}, "tags"),
    Case("PATCH", "/cell_measurements/{props}", {"properties": {"mass": {"value": 9, "unit": "g"}}}),
    Case("DELETE", TS),
    Case("DELETE", FILE),
    Case("DELETE", "/cell_measurements/{props}"),
    # uploads and extends
    Case("POST", TS + "/confirm-upload", CONFIRM, "a confirmed measurement"),
    Case("POST", "/cell_measurements/{reservation}/confirm-upload", CONFIRM, "A's reservation"),
    Case(
        "POST",
        "/cell_measurements/{reservation}/confirm-upload",
        {"cell_instance_id": "{b_instance}", "measurement": {"name": "Planted"}},
        "A's reservation, B's instance",
    ),
    Case(
        "POST", "/cell_measurements/{b_reservation}/confirm-upload", CONFIRM, "B's reservation, A's instance"
    ),
    Case("POST", TS + "/initiate-extend", {}),
    Case("POST", TS + "/confirm-extend", {}),
    Case("POST", A_INSTANCE + "/initiate-upload", {"measurement": {"name": "Planted"}}),
    Case(
        "POST",
        A_INSTANCE + "/initiate-upload",
        {"measurement": {"name": "Planted"}, "measurement_type": "file", "filenames": ["x.txt"]},
        "file",
    ),
    Case(
        "POST",
        A_INSTANCE + "/create",
        {"name": "Planted", "measurement_type": "properties", "properties": MASS},
    ),
    # data
    Case("GET", TS + "/steps/download"),
    Case("GET", TS + "/time_series/download"),
    Case("GET", TS + "/cycles"),
    Case("GET", TS + "/steps_and_cycles"),
    Case("GET", FILE + "/files"),
    Case("GET", FILE + "/files/a.txt"),
    # watches
    Case("POST", TS + "/watch", {}),
    Case("DELETE", TS + "/watch"),
    # raw-data links
    Case("POST", TS + "/raw_data", {"raw_data_ids": ["{raw}"]}),
    Case("POST", TS + "/raw_data", {"raw_data_ids": ["{b_raw}"]}, "B's raw data"),
    Case("POST", "/cell_measurements/{b_ts}/raw_data", {"raw_data_ids": ["{raw}"]}, "onto B's measurement"),
    Case("GET", TS + "/raw_data"),
    Case("GET", TS + "/raw_data?limit=100&offset=0"),
    Case("DELETE", TS + "/raw_data/{raw}"),
    # lists and tags of A's instance and project
    Case("GET", A_INSTANCE),
    Case("GET", A_INSTANCE + "?tags_any=a-secret-tag"),
    Case("GET", "/cell_measurements?project_id={project}"),
    Case("GET", "/cell_measurements?project_id={project}&q=secret"),
    Case("GET", "/cell_measurements/tags?project_id={project}"),
    Case(
        "POST", "/cell_measurements/tags/bulk", {"measurement_ids": ["{ts}"], "add": ["pwned"], "remove": []}
    ),
    Case(
        "POST",
        "/cell_measurements/tags/bulk",
        {"measurement_ids": ["{ts}"], "add": [], "remove": ["a-secret-tag"]},
        "remove",
    ),
    Case(
        "POST",
        "/cell_measurements/tags/bulk",
        {"measurement_ids": ["{b_ts}", "{ts}"], "add": ["pwned"], "remove": []},
        "with B's own",
    ),
    # raw data
    Case("GET", "/raw_data/{raw}"),
    Case("GET", "/raw_data/{raw_pending}"),
    Case("PATCH", "/raw_data/{raw}", {"name": "Taken over"}),
    Case("DELETE", "/raw_data/{raw}"),
    Case("DELETE", "/raw_data/{raw_pending}"),
    Case("GET", "/raw_data/{raw}/download-url"),
    Case("GET", "/raw_data/{raw}/cell_measurements"),
    Case("POST", "/raw_data/{raw}/confirm-upload", RAW_BODY),
    Case("POST", "/raw_data/{raw_pending}/confirm-upload", RAW_BODY),
    Case(
        "POST",
        "/raw_data/{raw_pending}/confirm-upload",
        {**RAW_BODY, "project_id": "{b_project}"},
        "B's project",
    ),
    Case("POST", "/raw_data/initiate-upload", RAW_BODY),
    # B's key claiming A's organization
    Case("GET", TS, headers=AS_A),
    Case("GET", "/cell_measurements?project_id={project}", headers=AS_A),
    Case("GET", "/raw_data/{raw}", headers=AS_A),
]


@pytest.mark.parametrize("case", HTTP_CASES, ids=str)
def test_other_organization_is_answered_as_for_an_unknown_id(world: World, case: Case) -> None:
    unknown = world.unknown()
    real = assert_error(send(world.server, world.b.api_key, case, world.ids), 404, "NOT_FOUND")
    fake = assert_error(send(world.server, world.b.api_key, case, unknown), 404, "NOT_FOUND")
    assert unfill(real, world.ids) == unfill(fake, unknown)
    assert snapshot(world) == world.baseline


# The real client, bound to B's key and B's default project.


@dataclass
class Attempt:
    client: Ionworks
    ids: dict[str, str]
    upload_file: Path
    baseline: dict[str, Any] = field(default_factory=dict)


DELTA = series(2, first_step=8, start_time=48.0)
CLIENT_CASES: list[tuple[str, Callable[[Attempt], Any]]] = [
    ("get", lambda t: t.client.cell_measurement.get(t.ids["ts"])),
    ("detail", lambda t: t.client.cell_measurement.detail(t.ids["ts"])),
    ("detail of a file measurement", lambda t: t.client.cell_measurement.detail(t.ids["file"])),
    ("steps", lambda t: t.client.cell_measurement.steps(t.ids["ts"])),
    ("cycles", lambda t: t.client.cell_measurement.cycles(t.ids["ts"])),
    ("steps_and_cycles", lambda t: t.client.cell_measurement.steps_and_cycles(t.ids["ts"])),
    ("time_series", lambda t: t.client.cell_measurement.time_series(t.ids["ts"])),
    ("time_series window", lambda t: t.client.cell_measurement.time_series(t.ids["ts"], row_range=(0, 5))),
    ("wait_for_processing", lambda t: t.client.cell_measurement.wait_for_processing(t.ids["ts"])),
    ("update", lambda t: t.client.cell_measurement.update(t.ids["ts"], {"notes": "B was here"})),
    ("delete", lambda t: t.client.cell_measurement.delete(t.ids["ts"])),
    ("extend", lambda t: t.client.cell_measurement.extend(t.ids["ts"], DELTA)),
    (
        "create",
        lambda t: t.client.cell_measurement.create(
            t.ids["instance"], {"measurement": {"name": "Planted"}, "time_series": series(4)}
        ),
    ),
    (
        "create_or_get",
        lambda t: t.client.cell_measurement.create_or_get(
            t.ids["instance"], {"measurement": {"name": "A series"}, "time_series": series(4)}
        ),
    ),
    (
        "create_properties",
        lambda t: t.client.cell_measurement.create_properties(t.ids["instance"], "P", MASS),
    ),
    (
        "create_file",
        lambda t: t.client.cell_measurement.create_file(t.ids["instance"], "Planted", [str(t.upload_file)]),
    ),
    ("list", lambda t: t.client.cell_measurement.list(t.ids["instance"])),
    ("list_by_project", lambda t: t.client.cell_measurement.list_by_project(t.ids["project"])),
    ("list_tags", lambda t: t.client.cell_measurement.list_tags(t.ids["project"])),
    ("add_tags", lambda t: t.client.cell_measurement.add_tags(t.ids["ts"], ["pwned"])),
    (
        "add_tags with B's own",
        lambda t: t.client.cell_measurement.add_tags([t.ids["b_ts"], t.ids["ts"]], ["x"]),
    ),
    ("remove_tags", lambda t: t.client.cell_measurement.remove_tags(t.ids["ts"], ["a-secret-tag"])),
    ("watch", lambda t: t.client.cell_measurement.watch(t.ids["ts"])),
    ("unwatch", lambda t: t.client.cell_measurement.unwatch(t.ids["ts"])),
    ("attach_raw_data", lambda t: t.client.cell_measurement.attach_raw_data(t.ids["ts"], [t.ids["raw"]])),
    (
        "attach_raw_data onto B's",
        lambda t: t.client.cell_measurement.attach_raw_data(t.ids["b_ts"], [t.ids["raw"]]),
    ),
    ("detach_raw_data", lambda t: t.client.cell_measurement.detach_raw_data(t.ids["ts"], t.ids["raw"])),
    ("list_raw_data", lambda t: t.client.cell_measurement.list_raw_data(t.ids["ts"])),
    ("list_files", lambda t: t.client.cell_measurement.list_files(t.ids["file"])),
    ("get_file", lambda t: t.client.cell_measurement.get_file(t.ids["file"], "a.txt")),
    ("download_files", lambda t: t.client.cell_measurement.download_files(t.ids["file"])),
    ("raw_data.get", lambda t: t.client.raw_data.get(t.ids["raw"])),
    ("raw_data.download_url", lambda t: t.client.raw_data.download_url(t.ids["raw"])),
    ("raw_data.download", lambda t: t.client.raw_data.download(t.ids["raw"], use_cache=False)),
    ("raw_data.update", lambda t: t.client.raw_data.update(t.ids["raw"], name="Taken over")),
    ("raw_data.delete", lambda t: t.client.raw_data.delete(t.ids["raw"])),
    ("raw_data.list_measurements", lambda t: t.client.raw_data.list_measurements(t.ids["raw"])),
    ("raw_data.upload", lambda t: t.client.raw_data.upload(t.ids["project"], str(t.upload_file))),
]


def _client_error(world: World, call: Callable[[Attempt], Any], ids: dict[str, str]) -> IonworksError:
    with pytest.raises(IonworksError) as raised:
        call(Attempt(world.server.client(world.b), ids, world.upload_file))
    return raised.value


@pytest.mark.parametrize(("label", "call"), CLIENT_CASES, ids=[label for label, _ in CLIENT_CASES])
def test_other_organization_gets_not_found_through_the_client(
    world: World, label: str, call: Callable[[Attempt], Any]
) -> None:
    unknown = world.unknown()
    real = _client_error(world, call, world.ids)
    fake = _client_error(world, call, unknown)
    assert (real.status_code, real.error_code) == (404, "NOT_FOUND"), (label, real)
    assert (fake.status_code, fake.error_code) == (404, "NOT_FOUND"), (label, fake)
    assert unfill(real.data, world.ids) == unfill(fake.data, unknown)
    assert snapshot(world) == world.baseline


# Lists: B sees none of A's rows, whatever it filters on.


def test_lists_of_the_other_organization_show_none_of_a_rows(world: World) -> None:
    i = world.ids
    a_ids = {i[key] for key in A_IDS}
    unknown = world.unknown()
    with world.server.http(world.b.api_key) as b:
        own = ok(b.get(f"/cell_measurements?project_id={i['b_project']}"))
        assert [m["id"] for m in own["items"]] == [i["b_ts"]] and own["total"] == 1
        for query in (
            "q=secret",
            "q=A%20series",
            "tags_any=a-secret-tag",
            "tags_all=a-secret-tag",
            "measurement_type=file",
        ):
            assert ok(b.get(f"/cell_measurements?project_id={i['b_project']}&{query}"))["total"] == 0, query
        tags = ok(b.get(f"/cell_measurements/tags?project_id={i['b_project']}"))
        assert tags == {"items": [{"tag": "b-tag", "usage_count": 1}], "count": 1, "total": 1}
        assert ok(b.get(f"/cell_measurements/tags?project_id={i['b_project']}&q=secret"))["total"] == 0
        listed = ok(b.get(f"/cell_instances/{i['b_instance']}/cell_measurements"))
        assert [m["id"] for m in listed["items"]] == [i["b_ts"]]
        raw = ok(b.get("/raw_data"))
        assert [r["id"] for r in raw["items"]] == [i["b_raw"]] and raw["total"] == 1
        for query in (
            "project_id={project}",
            "project_id={project}&name=eq.cycler export",
            "name=ilike.%25cycler%25",
        ):
            real = ok(b.get("/raw_data?" + query.format(**i)))
            fake = ok(b.get("/raw_data?" + query.format(**unknown)))
            assert not (ids_in(real) & a_ids), query
            assert unfill(real, i) == unfill(fake, unknown), query
        assert ok(b.get(f"/raw_data/{i['b_raw']}/cell_measurements")) == {"items": [], "count": 0, "total": 0}
        assert ok(b.get(f"/cell_measurements/{i['b_ts']}/raw_data"))["total"] == 0
    client = world.server.client(world.b)
    assert [m.id for m in client.cell_measurement.list_by_project(i["b_project"])] == [i["b_ts"]]
    assert len(client.cell_measurement.list_by_project(i["b_project"], q="secret")) == 0
    assert [t.tag for t in client.cell_measurement.list_tags(i["b_project"])] == ["b-tag"]
    assert len(client.raw_data.list(i["project"])) == 0
    assert [r.id for r in client.raw_data.list(i["b_project"])] == [i["b_raw"]]


def test_a_data_is_intact_after_every_attempt(world: World) -> None:
    """All of B's attempts in a row, then A's rows read field by field, and A's pending uploads finished."""
    for case in HTTP_CASES:
        assert send(world.server, world.b.api_key, case, world.ids).status_code == 404, case
    for label, call in CLIENT_CASES:
        assert _client_error(world, call, world.ids).status_code == 404, label
    assert snapshot(world) == world.baseline
    i = world.ids
    a = world.server.client(world.a)
    series_row = a.cell_measurement.get(i["ts"])
    assert (series_row.name, series_row.notes, series_row.tags) == ("A series", "A's", ["a-secret-tag"])
    assert (series_row.processing_status, series_row.processing_error) == ("ready", None)
    assert a.cell_measurement.steps(i["ts"])["Step count"].to_list() == list(range(8))
    assert a.cell_measurement.time_series(i["ts"]).equals(series(8))
    assert a.cell_measurement.get(i["props"]).properties == MASS
    assert a.cell_measurement.get_file(i["file"], "a.txt") == b"A's file"
    assert [r.id for r in a.cell_measurement.list_raw_data(i["ts"])] == [i["raw"]]
    assert a.raw_data.download(i["raw"], use_cache=False) == b"time,voltage\n0,3.7\n"
    assert list(a.raw_data.list_measurements(i["raw"])) == [i["ts"]]
    with world.server.http(world.a.api_key) as api:
        # A's unconfirmed upload and pending raw-data file are still A's to finish.
        confirmed = ok(confirm(api, i["reservation"], i["instance"], {"name": "A reserved"}))
        assert confirmed["id"] == i["reservation"]
        assert wait_settled(api, i["reservation"])["processing_status"] == "ready"
        body = {**fill(RAW_BODY, i), "content_type": "text/csv", "size_bytes": len(b"pending\n")}
        assert ok(api.post(f"/raw_data/{i['raw_pending']}/confirm-upload", json=body))["size_bytes"] == 8
        # Removed again, the world is back as the other tests expect it.
        ok(api.delete(f"/cell_measurements/{i['reservation']}"), 204)
        ok(api.delete(f"/raw_data/{i['raw_pending']}"), 204)
    assert snapshot(world) == world.baseline


# A Project Viewer reads measurements but changes none.

VIEWER = "Project Viewer"


def _key_for(server: LiveServer, user_id: str, organization_id: str) -> str:
    async def work(session: Any) -> str:
        _, secret = await create_api_key(session, user_id, organization_id, "viewer")
        return secret

    return str(server.run(work))


def _forbidden(call: Callable[[], Any]) -> None:
    with pytest.raises(IonworksError) as raised:
        call()
    assert (raised.value.status_code, raised.value.error_code) == (403, "FORBIDDEN"), raised.value


def test_a_project_viewer_reads_measurements_but_cannot_change_them(
    server: LiveServer, tenant: Tenant, client: Ionworks, api: Api, tmp_path: Path
) -> None:
    instance = make_instance(api, tenant.project_id)
    mid = upload_series(api, instance, "Series", parquet_bytes(series(8)), tags=["rpt"])
    file_id = upload_files(api, instance, "Files", {"a.txt": b"aaa"})
    raw = _raw_upload(api, tenant.project_id, b"raw bytes")
    ok(api.post(f"/cell_measurements/{mid}/raw_data", json={"raw_data_ids": [raw]}), 204)
    reserved = initiate(api, instance, "Reserved")
    assert put(target(reserved, "time_series.parquet"), parquet_bytes(series(4))).status_code == 200
    assert wait_settled(api, mid)["processing_status"] == "ready"
    invited = client.organization.invite(f"viewer-{uuid.uuid4().hex[:8]}@example.com", "Member")
    client.project.add_member(tenant.project_id, invited.user_id, VIEWER)
    key = _key_for(server, invited.user_id, tenant.organization_id)
    viewer = Ionworks(api_key=key, api_url=server.url, project_id=tenant.project_id)
    csv = tmp_path / "x.csv"
    csv.write_text("a,b\n")
    # An extend the admin has claimed and uploaded, for the viewer to try to confirm.
    url = target(
        ok(api.post(f"/cell_measurements/{mid}/initiate-extend", json={})), "time_series_extend.parquet"
    )
    assert put(url, parquet_bytes(DELTA)).status_code == 200
    before = {
        path: ok(api.get(path)) for path in (f"/cell_measurements/{mid}", f"/cell_instances/{instance}")
    }

    # Reads.
    assert viewer.cell_measurement.get(mid).tags == ["rpt"]
    assert {m.id for m in viewer.cell_measurement.list(instance)} == {mid, file_id}
    assert {m.id for m in viewer.cell_measurement.list_by_project(tenant.project_id)} == {mid, file_id}
    assert [t.tag for t in viewer.cell_measurement.list_tags(tenant.project_id)] == ["rpt"]
    assert viewer.cell_measurement.steps(mid)["Step count"].to_list() == list(range(8))
    assert viewer.cell_measurement.time_series(mid).equals(series(8))
    assert len(viewer.cell_measurement.cycles(mid)) >= 1
    assert viewer.cell_measurement.get_file(file_id, "a.txt") == b"aaa"
    assert [r.id for r in viewer.cell_measurement.list_raw_data(mid)] == [raw]
    assert viewer.raw_data.download(raw, use_cache=False) == b"raw bytes"
    viewer.cell_measurement.watch(mid)  # a watch is the viewer's own, not a change to the data
    viewer.cell_measurement.unwatch(mid)

    # Writes.
    _forbidden(
        lambda: viewer.cell_measurement.create(
            instance, {"measurement": {"name": "V"}, "time_series": series(4)}
        )
    )
    _forbidden(lambda: viewer.cell_measurement.create_properties(instance, "V", MASS))
    _forbidden(lambda: viewer.cell_measurement.update(mid, {"notes": "viewer was here"}))
    _forbidden(lambda: viewer.cell_measurement.delete(mid))
    _forbidden(lambda: viewer.cell_measurement.extend(mid, DELTA))
    _forbidden(lambda: viewer.cell_measurement.add_tags(mid, ["viewer"]))
    _forbidden(lambda: viewer.cell_measurement.remove_tags(mid, ["rpt"]))
    _forbidden(lambda: viewer.cell_measurement.attach_raw_data(mid, [raw]))
    _forbidden(lambda: viewer.cell_measurement.detach_raw_data(mid, raw))
    _forbidden(lambda: viewer.raw_data.upload(tenant.project_id, str(csv)))
    _forbidden(lambda: viewer.raw_data.update(raw, name="renamed"))
    _forbidden(lambda: viewer.raw_data.delete(raw))
    with server.http(key) as http:
        initiate_path = f"/cell_instances/{instance}/cell_measurements/initiate-upload"
        assert_error(http.post(initiate_path, json={"measurement": {"name": "V"}}), 403, "FORBIDDEN")
        answer = confirm(http, reserved["measurement_id"], instance, {"name": "Reserved"})
        assert_error(answer, 403, "FORBIDDEN")
        assert_error(http.patch(f"/cell_measurements/{mid}", json={"tags": []}), 403, "FORBIDDEN")
        assert_error(http.delete(f"/cell_measurements/{file_id}"), 403, "FORBIDDEN")
        assert_error(http.post(f"/cell_measurements/{mid}/initiate-extend", json={}), 403, "FORBIDDEN")
        bulk = {"measurement_ids": [mid, file_id], "add": ["viewer"], "remove": []}
        assert_error(http.post("/cell_measurements/tags/bulk", json=bulk), 403, "FORBIDDEN")
        assert_error(http.post(f"/cell_measurements/{mid}/confirm-extend", json={}), 403, "FORBIDDEN")

    # Nothing changed; the admin finishes what the viewer could not touch.
    for path, body in before.items():
        assert ok(api.get(path)) == body
    assert {m.name for m in client.cell_measurement.list(instance)} == {"Series", "Files"}
    assert ok(api.post(f"/cell_measurements/{mid}/confirm-extend", json={}))["processing_status"] == "pending"
    assert wait_settled(api, mid)["processing_error"] is None
    assert client.cell_measurement.time_series(mid).height == 60
    ok(confirm(api, reserved["measurement_id"], instance, {"name": "Reserved"}))
    assert client.raw_data.get(raw).name == "cycler export"
    # Checked last: confirming again a measurement that exists (a replay) is still a write endpoint.
    row = ok(api.get(f"/cell_measurements/{mid}"))
    with server.http(key) as http:
        assert_error(confirm(http, mid, instance, {"name": "Series"}), 403, "FORBIDDEN")
    assert ok(api.get(f"/cell_measurements/{mid}")) == row
