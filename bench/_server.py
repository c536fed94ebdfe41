"""What the HTTP benchmarks share: servers started for the run, wrk, and the result table.

Each benchmark starts everything it measures itself: ``cellstore serve`` on a
fresh database (a new PostgreSQL database on the server named by
``--postgres-url``, or SQLite in a temporary directory), a tenant made with
``cellstore admin bootstrap --json``, and the baseline apps of
``bench/baselines.py`` under the same uvicorn settings. Everything is stopped
and removed on exit.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import requests

BENCH_DIR = Path(__file__).resolve().parent
WORKERS = 2
# The uvicorn settings of `cellstore serve`, given explicitly to the baselines too.
UVICORN_FLAGS = ["--http", "httptools", "--loop", "uvloop", "--no-access-log", "--log-level", "warning"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend", choices=("postgresql", "sqlite", "both"), default="both", help="Database(s) to run on."
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "CELLSTORE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="A PostgreSQL server on which the benchmark may create (and drops) a database.",
    )
    parser.add_argument("--duration", default="10s", help="wrk -d of each measured run.")
    parser.add_argument("--connections", type=int, default=32, help="wrk -c.")


def backends(choice: str) -> list[str]:
    return ["postgresql", "sqlite"] if choice == "both" else [choice]


# --- processes ---------------------------------------------------------------------------------


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}:\n{log.read_text()}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer:\n{log.read_text()}")


@contextmanager
def running(command: list[str], env: dict[str, str], probe_path: str, log: Path) -> Iterator[str]:
    """Run a server command (with ``{port}`` in it) until the block ends; yields its base URL."""
    port = free_port()
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [part.format(port=port) for part in command],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # uvicorn's worker processes stop with their supervisor
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            wait_until_up(base_url + probe_path, process, log)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass
class Cellstore:
    """A running ``cellstore serve --workers 2`` and what the baselines need to reach its data."""

    backend: str
    url: str
    sync_database_url: str
    api_key: str
    organization_id: str
    project_id: str

    def http(self) -> requests.Session:
        session = requests.Session()
        session.headers.update({"X-API-Key": self.api_key, "Content-Type": "application/json"})
        return session

    def post(self, session: requests.Session, path: str, body: dict) -> dict:
        response = session.post(self.url + path, json=body, timeout=30)
        if response.status_code != 200:
            raise SystemExit(f"POST {path} answered {response.status_code}: {response.text}")
        return response.json()


def base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("CELLSTORE_", "IONWORKS_"))}


@contextmanager
def fresh_postgres_database(admin_url: str) -> Iterator[str]:
    name = f"cellstore_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def cellstore(stack: ExitStack, backend: str, postgres_url: str) -> Iterator[Cellstore]:
    """``cellstore serve --workers 2`` on a fresh database, with one tenant."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"cellstore-bench-{backend}-"))
    stack.callback(shutil.rmtree, data_dir, True)
    env = base_env() | {"CELLSTORE_DATA_DIR": str(data_dir)}
    if backend == "postgresql":
        env["CELLSTORE_DATABASE_URL"] = stack.enter_context(fresh_postgres_database(postgres_url))
    cli = [sys.executable, "-m", "cellstore.cli"]
    created = subprocess.run(
        [*cli, "admin", "bootstrap", "--json"], env=env, capture_output=True, text=True, check=True
    )
    tenant = json.loads(created.stdout.strip().splitlines()[-1])
    url = stack.enter_context(
        running(
            [*cli, "serve", "--port", "{port}", "--workers", str(WORKERS)],
            env,
            "/healthz",
            data_dir / "serve.log",
        )
    )
    from cellstore.core.settings import Settings

    settings = Settings(data_dir=data_dir, database_url=env.get("CELLSTORE_DATABASE_URL"))
    yield Cellstore(
        backend,
        url,
        settings.sync_database_url,
        tenant["api_key"],
        tenant["organization_id"],
        tenant["project_id"],
    )


def baseline(stack: ExitStack, app: str, database_url: str | None = None) -> str:
    """A baseline app of ``bench/baselines.py`` under uvicorn with the same settings, 2 workers."""
    env = base_env()
    if database_url:
        env["BENCH_DATABASE_URL"] = database_url
    log = Path(tempfile.mkstemp(prefix="cellstore-bench-baseline-", suffix=".log")[1])
    stack.callback(log.unlink, True)
    command = [sys.executable, "-m", "uvicorn", f"baselines:{app}", "--app-dir", str(BENCH_DIR)]
    command += ["--host", "127.0.0.1", "--port", "{port}", "--workers", str(WORKERS), *UVICORN_FLAGS]
    return stack.enter_context(running(command, env, "/healthz", log))


def create_instance(server: Cellstore, session: requests.Session) -> str:
    suffix = uuid.uuid4().hex[:8]
    spec = server.post(
        session,
        "/cell_specifications",
        {"name": f"bench spec {suffix}", "project_id": server.project_id, "form_factor": "21700"},
    )
    return server.post(
        session, f"/cell_specifications/{spec['id']}/cell_instances", {"name": f"SN-{suffix}"}
    )["id"]


def create_measurements(
    server: Cellstore, session: requests.Session, instance_id: str, count: int
) -> list[str]:
    """Properties measurements of the instance: the quickest kind to create through the API."""
    return [
        server.post(
            session,
            f"/cell_instances/{instance_id}/cell_measurements/create",
            {
                "name": f"properties {n:03d}",
                "properties": {"capacity": {"value": 4.9 + n / 1000, "unit": "A.h"}, "label": "bench"},
                "notes": "created by bench/",
                "tags": ["bench", f"n{n % 10}"],
                "protocol": {"name": "check-up", "ambient_temperature_degc": 25},
            },
        )["id"]
        for n in range(count)
    ]


# --- wrk -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p99_ms: float
    errors: int  # non-2xx answers and socket errors


_UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def parse_wrk(output: str) -> WrkResult:
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M)
    if rps is None or p99 is None:
        raise SystemExit(f"could not read wrk's output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return WrkResult(float(rps.group(1)), float(p99.group(1)) * _UNIT_MS[p99.group(2)], errors)


def wrk(url: str, api_key: str, duration: str, connections: int, warmup: str = "3s") -> WrkResult:
    """A short warm-up run (pools, caches), then the measured ``wrk -t2 -c32 -d10s --latency``."""
    base = ["wrk", "-t2", f"-c{connections}", "--latency", "-H", f"X-API-Key: {api_key}"]
    subprocess.run([*base, f"-d{warmup}", url], capture_output=True, check=True)
    measured = subprocess.run([*base, f"-d{duration}", url], capture_output=True, text=True, check=True)
    return parse_wrk(measured.stdout)


def check_answer(url: str, api_key: str) -> None:
    response = requests.get(url, headers={"X-API-Key": api_key}, timeout=10)
    if response.status_code != 200 or response.headers.get("content-type") != "application/json":
        raise SystemExit(
            f"GET {url} answered {response.status_code} {response.headers}: {response.text[:500]}"
        )


# --- report ----------------------------------------------------------------------------------------


def figures(result: WrkResult) -> list[str]:
    return [f"{result.requests_per_second:,.0f}", f"{result.p99_ms:.1f}", str(result.errors)]


def load_note() -> str:
    """The machine's load: other work on it skews both sides of a comparison, not always equally."""
    one, five, _ = os.getloadavg()
    return f"load average at the end: {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"
