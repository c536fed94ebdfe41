"""The ``cellstore`` command line as other tools drive it: real subprocesses, real databases."""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from ionworks import Ionworks
from ionworks.errors import IonworksError

from tests.support import LiveServer, assert_error

_SCRIPT = Path(sys.executable).with_name("cellstore")
CELLSTORE = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "cellstore.cli"]
BOOTSTRAP_KEYS = {"organization_id", "project_id", "user_id", "api_key"}


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without any cellstore or ionworks setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELLSTORE_", "IONWORKS_"))}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def server_env(server: LiveServer) -> dict[str, str]:
    """Environment that points the command line at the live server's database."""
    extra = {"CELLSTORE_DATA_DIR": str(server.settings.data_dir)}
    if server.settings.database_url:
        extra["CELLSTORE_DATABASE_URL"] = server.settings.database_url
    return clean_env(**extra)


def cli(
    *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*CELLSTORE, *args], env=env or clean_env(), capture_output=True, text=True, timeout=120
    )
    if check:
        assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result


def one_json_line(result: subprocess.CompletedProcess[str]) -> dict:
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    value = json.loads(lines[0])
    assert isinstance(value, dict)
    return value


def bootstrap(data_dir: Path, org_name: str) -> dict:
    created = one_json_line(
        cli("admin", "bootstrap", "--data-dir", str(data_dir), "--org-name", org_name, "--json")
    )
    assert set(created) == BOOTSTRAP_KEYS
    assert all(isinstance(v, str) and v for v in created.values())
    return created


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    url: str
    port: int
    stdout: Path

    def output(self) -> str:
        return self.stdout.read_text()


@contextmanager
def serving(data_dir: Path, logs: Path) -> Iterator[Served]:
    """``cellstore serve --data-dir DIR --port P`` until the block ends."""
    port = free_port()
    logs.mkdir(parents=True, exist_ok=True)
    out_path, err_path = logs / f"serve-{port}.out", logs / f"serve-{port}.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        process = subprocess.Popen(
            [*CELLSTORE, "serve", "--data-dir", str(data_dir), "--port", str(port)],
            env=clean_env(),
            stdout=out,
            stderr=err,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise AssertionError("cellstore serve exited:\n" + err_path.read_text())
                try:
                    if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError("cellstore serve did not start:\n" + err_path.read_text())
                time.sleep(0.1)
            yield Served(url, port, out_path)
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def get(url: str, path: str, **headers: str) -> requests.Response:
    return requests.get(f"{url}{path}", headers=headers, timeout=30)


# --- bootstrap ------------------------------------------------------------------------------------------


def test_bootstrap_json_prints_exactly_one_json_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    result = cli("admin", "bootstrap", "--data-dir", str(data_dir), "--org-name", "Lab A", "--json")
    created = one_json_line(result)
    assert set(created) == BOOTSTRAP_KEYS
    assert len({created[k] for k in BOOTSTRAP_KEYS}) == 4
    assert (data_dir / "cellstore.db").exists()


def test_two_bootstraps_make_two_isolated_tenants(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = bootstrap(data_dir, "Lab A")
    second = bootstrap(data_dir, "Lab B")
    for key in BOOTSTRAP_KEYS:
        assert first[key] != second[key], key

    with serving(data_dir, tmp_path / "logs") as served:
        # The database was not empty, so serve made no tenant of its own.
        assert "API key" not in served.output()
        for mine, theirs, name in ((first, second, "Lab A"), (second, first, "Lab B")):
            me = get(served.url, "/users/me", **{"X-API-Key": mine["api_key"]}).json()
            assert me["id"] == mine["user_id"]
            assert me["authorized_organization"] == {"id": mine["organization_id"], "name": name}
            client = Ionworks(api_key=mine["api_key"], api_url=served.url, project_id=mine["project_id"])
            assert [p.id for p in client.project.list().items] == [mine["project_id"]]
            with pytest.raises(IonworksError) as error:
                client.project.get(theirs["project_id"])
            assert error.value.status_code == 404
            with pytest.raises(IonworksError) as error:
                client.cell_spec.create({"name": "Intruder", "project_id": theirs["project_id"]})
            assert error.value.status_code == 404
            assert client.cell_spec.create({"name": f"Spec of {name}"}).project_id == mine["project_id"]
            response = get(
                served.url,
                f"/organizations/{theirs['organization_id']}/users",
                **{"X-API-Key": mine["api_key"]},
            )
            assert_error(response, 404, "NOT_FOUND")
        specs_a = Ionworks(api_key=first["api_key"], api_url=served.url).cell_spec.list()
        assert [s.name for s in specs_a.items] == ["Spec of Lab A"]


# --- keys -----------------------------------------------------------------------------------------------


def test_create_api_key_gives_a_working_key_and_revoke_makes_it_401(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = bootstrap(data_dir, "Lab A")
    bootstrap(data_dir, "Lab B")

    # With several organizations the command needs to be told which one.
    ambiguous = cli("admin", "create-api-key", "--data-dir", str(data_dir), "--json", check=False)
    assert ambiguous.returncode != 0
    assert "organization" in ambiguous.stderr.lower()
    assert ambiguous.stdout == ""

    created = one_json_line(
        cli(
            "admin", "create-api-key", "--data-dir", str(data_dir),
            "--organization-id", first["organization_id"], "--name", "ci", "--json",
        )
    )  # fmt: skip
    assert set(created) >= {"id", "organization_id", "user_id", "api_key"}
    assert created["organization_id"] == first["organization_id"]
    assert created["user_id"] == first["user_id"]
    assert created["api_key"] != first["api_key"]

    with serving(data_dir, tmp_path / "logs") as served:
        client = Ionworks(api_key=created["api_key"], api_url=served.url)
        assert client.whoami()["authorized_organization"]["id"] == first["organization_id"]
        assert [p.id for p in client.project.list().items] == [first["project_id"]]

        revoked = cli("admin", "revoke-api-key", created["id"], "--data-dir", str(data_dir))
        assert created["id"] in revoked.stdout
        assert_error(get(served.url, "/users/me", **{"X-API-Key": created["api_key"]}), 401, "UNAUTHORIZED")
        with pytest.raises(IonworksError) as error:
            client.project.list()
        assert error.value.status_code == 401
        # The bootstrap key of the same user is untouched.
        assert get(served.url, "/users/me", **{"X-API-Key": first["api_key"]}).status_code == 200

    missing = cli("admin", "revoke-api-key", "no-such-key", "--data-dir", str(data_dir), check=False)
    assert missing.returncode != 0
    assert "not found" in missing.stderr.lower()


def test_create_api_key_for_an_unknown_organization_fails(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    bootstrap(data_dir, "Lab A")
    result = cli(
        "admin", "create-api-key", "--data-dir", str(data_dir),
        "--organization-id", "00000000-0000-0000-0000-000000000000", "--json",
        check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert result.stdout == ""
    assert "not found" in result.stderr.lower()


def test_create_api_key_token_spans_the_users_organizations(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    created = bootstrap(data_dir, "Lab A")
    token = one_json_line(cli("admin", "create-api-key", "--data-dir", str(data_dir), "--token", "--json"))
    assert token["organization_id"] is None
    assert token["user_id"] == created["user_id"]

    with serving(data_dir, tmp_path / "logs") as served:
        client = Ionworks(token=token["api_key"], api_url=served.url)
        me = client.whoami()
        assert me["id"] == created["user_id"]
        assert me["authorized_organization"]["id"] == created["organization_id"]
        scoped = Ionworks(
            token=token["api_key"], api_url=served.url, organization_id=created["organization_id"]
        )
        assert [p.id for p in scoped.project.list().items] == [created["project_id"]]

        cli("admin", "revoke-api-key", token["id"], "--data-dir", str(data_dir))
        with pytest.raises(IonworksError) as error:
            client.whoami()
        assert error.value.status_code == 401


# --- migrate ----------------------------------------------------------------------------------------------


def test_migrate_is_idempotent_and_keeps_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = cli("admin", "migrate", "--data-dir", str(data_dir))
    assert "up to date" in first.stdout
    database = data_dir / "cellstore.db"
    with sqlite3.connect(database) as conn:
        version = conn.execute("SELECT version_num FROM alembic_version").fetchall()
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert len(version) == 1
    assert {"organizations", "users", "api_keys", "projects"} <= tables

    created = bootstrap(data_dir, "Lab A")
    second = cli("admin", "migrate", "--data-dir", str(data_dir))
    assert "up to date" in second.stdout
    cli("admin", "migrate", "--data-dir", str(data_dir))
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == version
        orgs = conn.execute("SELECT id FROM organizations").fetchall()
    assert orgs == [(created["organization_id"],)]
    # The tenant survives: a key can still be made for it.
    again = one_json_line(
        cli(
            "admin",
            "create-api-key",
            "--data-dir",
            str(data_dir),
            "--organization-id",
            created["organization_id"],
            "--json",
        )
    )
    assert again["organization_id"] == created["organization_id"]


# --- serve ----------------------------------------------------------------------------------------------


def test_serve_on_an_empty_data_dir_prints_a_working_key_and_example(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with serving(data_dir, tmp_path / "logs") as served:
        output = served.output()
        match = re.search(r"API key[^:\n]*:\s*(\S+)", output)
        assert match, output
        key = match.group(1)
        assert "from ionworks import Ionworks" in output
        assert f'api_key="{key}"' in output
        assert f'api_url="{served.url}"' in output

        me = get(served.url, "/users/me", **{"X-API-Key": key})
        assert me.status_code == 200
        org_id = me.json()["authorized_organization"]["id"]

        # The printed example runs as it stands and writes through the printed key.
        example = output[output.index("from ionworks import Ionworks") :].split("\n\n")[0]
        home = tmp_path / "home"
        home.mkdir()
        ran = subprocess.run(
            [sys.executable, "-c", example],
            env=clean_env(HOME=str(home)),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert ran.returncode == 0, (example, ran.stderr)
        specs = get(served.url, "/cell_specifications", **{"X-API-Key": key}).json()
        assert [s["name"] for s in specs["items"]] == ["My first cell"]

    # A second start on the same data dir creates no new tenant and prints no key.
    with serving(data_dir, tmp_path / "logs") as served:
        assert "API key" not in served.output()
        me = get(served.url, "/users/me", **{"X-API-Key": key}).json()
        assert [o["id"] for o in me["organizations"]] == [org_id]


def test_serve_without_data_dir_option_uses_the_environment(tmp_path: Path) -> None:
    """--data-dir wins over CELLSTORE_DATA_DIR; both name where the database lives."""
    env_dir, flag_dir = tmp_path / "from-env", tmp_path / "from-flag"
    env = clean_env(CELLSTORE_DATA_DIR=str(env_dir))
    cli("admin", "bootstrap", "--org-name", "Env", "--json", env=env)
    assert (env_dir / "cellstore.db").exists()
    cli("admin", "bootstrap", "--data-dir", str(flag_dir), "--org-name", "Flag", "--json", env=env)
    assert (flag_dir / "cellstore.db").exists()
    with sqlite3.connect(env_dir / "cellstore.db") as conn:
        assert conn.execute("SELECT name FROM organizations").fetchall() == [("Env",)]


# --- the live server's database (SQLite and PostgreSQL) --------------------------------------------------


def test_cli_against_the_server_database(server: LiveServer) -> None:
    env = server_env(server)
    assert "up to date" in cli("admin", "migrate", env=env).stdout

    created = one_json_line(
        cli("admin", "bootstrap", "--org-name", f"CLI {server.backend}", "--json", env=env)
    )
    assert set(created) == BOOTSTRAP_KEYS
    client = Ionworks(api_key=created["api_key"], api_url=server.url, project_id=created["project_id"])
    me = client.whoami()
    assert me["authorized_organization"] == {
        "id": created["organization_id"],
        "name": f"CLI {server.backend}",
    }
    assert [p.id for p in client.project.list().items] == [created["project_id"]]
    assert client.cell_spec.create({"name": "From the CLI tenant"}).project_id == created["project_id"]

    other = server.new_tenant()
    with pytest.raises(IonworksError) as error:
        client.project.get(other.project_id)
    assert error.value.status_code == 404
    assert server.client(other).cell_spec.list().total == 0

    key = one_json_line(
        cli("admin", "create-api-key", "--organization-id", created["organization_id"], "--json", env=env)
    )
    assert key["organization_id"] == created["organization_id"]
    second = Ionworks(api_key=key["api_key"], api_url=server.url)
    assert [s.name for s in second.cell_spec.list().items] == ["From the CLI tenant"]

    cli("admin", "revoke-api-key", key["id"], env=env)
    with server.http(key["api_key"]) as http:
        assert_error(http.get("/projects"), 401, "UNAUTHORIZED")
    assert client.whoami()["id"] == created["user_id"]
    assert "up to date" in cli("admin", "migrate", env=env).stdout
    assert client.project.get(created["project_id"]).id == created["project_id"]
