"""Durability of background processing: a worker killed mid-job, several APIs and workers at once,
and several processes migrating one empty database together.

Everything runs as real processes (``cellstore serve`` with the embedded worker off, and
``cellstore worker``); jobs are read straight from the ``jobs`` table. Uploads use raw HTTP:
the ``ionworks`` client's own checks of a series with hundreds of thousands of steps take
longer than the server needs to process it, and the server path is the same.
"""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import psycopg
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal
from sqlalchemy import make_url

from cellstore.core.settings import Settings
from cellstore.processing.pipeline import process_series
from tests.measurements_bad_input import (
    Process,
    cellstore_env,
    download,
    make_instance,
    ok,
    read_parquet,
    run_worker,
    serve,
    start_server,
    start_worker,
    upload_series,
    wait_serving,
    wait_settled,
    wait_working,
)
from tests.storage.conftest import SeaweedFS, seaweedfs  # noqa: F401 - the fixture, for the S3 test
from tests.support import Api, LiveServer

PROCESS = "process_time_series"


def cycling(rows: int, rows_per_step: int) -> pl.DataFrame:
    """``rows`` one-second rows in steps of ``rows_per_step``: rest, discharge, rest, charge, ..."""
    index = np.arange(rows)
    step = index // rows_per_step
    kind = step % 4
    current = np.select([kind == 1, kind == 3], [1.0, -1.0], 0.0)
    return pl.DataFrame(
        {
            "Time [s]": index.astype(np.float64),
            "Step count": step.astype(np.int64),
            "Current [A]": current,
            "Voltage [V]": 3.8 - 0.01 * (index % rows_per_step) * current,
        }
    )


def parquet_of(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd")
    return buffer.getvalue()


@pytest.fixture
def fresh_postgres(postgres_admin_url: str) -> Iterator[str]:
    """An empty database of its own, dropped afterwards."""
    name = f"cellstore_durability_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield make_url(postgres_admin_url).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def job_rows(database_url: str | None, data_dir: Path) -> list[dict[str, Any]]:
    """The jobs table, oldest first, read directly (PostgreSQL through psycopg, else the SQLite file)."""
    query = "SELECT kind, status, attempts, locked_by, payload FROM jobs ORDER BY created_at, id"
    if database_url:
        with psycopg.connect(database_url) as conn:
            rows = conn.execute(query).fetchall()
    else:
        with sqlite3.connect(data_dir / "cellstore.db") as conn:
            rows = conn.execute(query).fetchall()
    keys = ("kind", "status", "attempts", "locked_by", "payload")
    found = [dict(zip(keys, row, strict=True)) for row in rows]
    for row in found:
        if isinstance(row["payload"], str):
            row["payload"] = json.loads(row["payload"])
    return found


def settled_jobs(database_url: str | None, data_dir: Path, seconds: float = 30) -> list[dict[str, Any]]:
    """The jobs once none is queued or running: a worker marks its job done just after the job's
    own last write (the measurement turning ready), in a transaction of its own."""
    deadline = time.monotonic() + seconds
    while True:
        rows = job_rows(database_url, data_dir)
        if all(row["status"] not in ("queued", "running") for row in rows):
            return rows
        assert time.monotonic() < deadline, rows
        time.sleep(0.05)


def stop_all(processes: list[Process]) -> None:
    for process in processes:
        process.stop()


# -- a worker killed in the middle of a job ------------------------------------------------------------


@dataclass(frozen=True)
class LongSeries:
    """A series whose processing takes seconds, with its steps as processed normally."""

    data: bytes
    rows: int
    steps: pl.DataFrame
    cycles: pl.DataFrame


@pytest.fixture(scope="module")
def long_series() -> LongSeries:
    rows = 800_000  # 200 000 steps of four rows: seconds of processing
    data = parquet_of(cycling(rows, 4))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "time_series.parquet"
        path.write_bytes(data)
        result = process_series(path, Path(tmp) / "steps.parquet", Path(tmp) / "cycles.parquet")
        assert (result.rows, result.steps) == (rows, rows // 4)
        steps = pl.read_parquet(Path(tmp) / "steps.parquet")
        cycles = pl.read_parquet(Path(tmp) / "cycles.parquet")
    return LongSeries(data, rows, steps, cycles)


def wait_for_status(api: Api, measurement_id: str, wanted: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        status = ok(api.get(f"/cell_measurements/{measurement_id}"))["processing_status"]
        if status == wanted:
            return
        assert status in ("pending", "running"), f"reached {status!r} before {wanted!r}"
        assert time.monotonic() < deadline, f"still {status!r} after {seconds} s"
        time.sleep(0.02)


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_a_worker_killed_mid_job_is_replaced_and_the_upload_completes(
    request: pytest.FixtureRequest, tmp_path: Path, long_series: LongSeries, backend: str
) -> None:
    database_url = request.getfixturevalue("fresh_postgres") if backend == "postgresql" else None
    settings: dict[str, Any] = {"embedded_worker": "false", "job_lease_seconds": 2, "job_poll_seconds": 0.1}
    if database_url:
        settings["database_url"] = database_url
    env = cellstore_env(tmp_path, **settings)
    processes = [start_server(env, tmp_path / "serve.log")]
    try:
        live = LiveServer(processes[0].url, Settings(data_dir=tmp_path, database_url=database_url), backend)
        tenant = live.new_tenant()
        with live.http(tenant.api_key) as api:
            instance = make_instance(api, tenant.project_id)
            mid = upload_series(api, instance, "Long test", long_series.data)

            # The API process itself processes nothing: the job waits for a worker.
            time.sleep(0.5)
            assert ok(api.get(f"/cell_measurements/{mid}"))["processing_status"] == "pending"
            (job,) = job_rows(database_url, tmp_path)
            assert (job["kind"], job["status"], job["attempts"], job["payload"]["measurement_id"]) == (
                PROCESS,
                "queued",
                0,
                mid,
            )

            first = start_worker(env, tmp_path / "worker-1.log")
            processes.append(first)
            wait_for_status(api, mid, "running")
            first.kill()
            # Killed in the middle: nothing finished the job or the measurement.
            assert ok(api.get(f"/cell_measurements/{mid}"))["processing_status"] == "running"
            (job,) = job_rows(database_url, tmp_path)
            assert (job["status"], job["attempts"]) == ("running", 1)
            refused = api.get(f"/cell_measurements/{mid}/steps/download", allow_redirects=False)
            assert refused.status_code == 409  # no steps while processing is unfinished

            second = start_worker(env, tmp_path / "worker-2.log")
            processes.append(second)
            settled = wait_settled(api, mid, seconds=120)
            assert (settled["processing_status"], settled["processing_error"]) == ("ready", None)
            (job,) = settled_jobs(database_url, tmp_path)
            assert (job["status"], job["attempts"]) == ("done", 2)  # retaken once its lease ran out
            assert f":{second.popen.pid}:" in job["locked_by"]  # worker ids are host:pid:random

            steps = read_parquet(download(api, f"/cell_measurements/{mid}/steps/download"))
            assert_frame_equal(steps, long_series.steps)
            cycles = ok(api.get(f"/cell_measurements/{mid}/cycles"))["cycles"]
            assert cycles["Cycle count"] == long_series.cycles["Cycle count"].to_list()
            stored = download(api, f"/cell_measurements/{mid}/time_series/download")
            assert pq.ParquetFile(io.BytesIO(stored)).metadata.num_rows == long_series.rows
    finally:
        stop_all(processes)


# -- two APIs and two workers, sharing one PostgreSQL and one S3 bucket ------------------------------------

UPLOADS = 20
ROWS_PER_STEP = 5


def rows_of(i: int) -> int:
    """Each upload has its own length (so a mix-up of two cannot go unnoticed)."""
    return 60_000 + 2_000 * i


def test_two_apis_and_two_workers_process_every_upload_exactly_once(
    seaweedfs: SeaweedFS,  # noqa: F811 - the imported fixture
    fresh_postgres: str,
    tmp_path: Path,
) -> None:
    storage = f"s3://{seaweedfs.bucket}?endpoint={seaweedfs.endpoint}&region={seaweedfs.region}"
    common = {
        "database_url": fresh_postgres,
        "storage_url": storage,
        "s3_access_key_id": seaweedfs.access_key_id,
        "s3_secret_access_key": seaweedfs.secret_access_key,
        "embedded_worker": "false",
        "job_poll_seconds": 0.1,
    }
    # The first server migrates the empty database; the others start together once it has.
    processes = [start_server(cellstore_env(tmp_path / "api-1", **common), tmp_path / "api-1.log")]
    try:
        processes.append(serve(cellstore_env(tmp_path / "api-2", **common), tmp_path / "api-2.log"))
        for n in (1, 2):
            env = cellstore_env(tmp_path / f"worker-{n}", **common)
            processes.append(run_worker(env, tmp_path / f"worker-{n}.log"))
        wait_serving(processes[1])
        for worker in processes[2:]:
            wait_working(worker)
        settings = Settings(data_dir=tmp_path / "api-1", database_url=fresh_postgres)
        tenant = LiveServer(processes[0].url, settings, "postgresql").new_tenant()
        apis = [Api(process.url, tenant.api_key, {}) for process in processes[:2]]
        instance = make_instance(apis[0], tenant.project_id)

        def upload(i: int) -> str:
            data = parquet_of(cycling(rows_of(i), ROWS_PER_STEP))
            return upload_series(apis[i % 2], instance, f"Series {i:02d}", data)

        with ThreadPoolExecutor(4) as pool:
            ids = list(pool.map(upload, range(UPLOADS)))
        assert len(set(ids)) == UPLOADS
        for i, mid in enumerate(ids):
            settled = wait_settled(apis[(i + 1) % 2], mid, seconds=120)  # read back through the other API
            assert (settled["processing_status"], settled["processing_error"]) == ("ready", None), i

        jobs = settled_jobs(fresh_postgres, tmp_path)
        assert [job["kind"] for job in jobs] == [PROCESS] * UPLOADS  # none lost, none extra
        assert sorted(job["payload"]["measurement_id"] for job in jobs) == sorted(ids)
        assert {(job["status"], job["attempts"]) for job in jobs} == {("done", 1)}  # none done twice
        assert len({job["locked_by"] for job in jobs}) == 2  # and both workers took a share

        for i, mid in enumerate(ids):
            api = apis[i % 2]
            rows, count = rows_of(i), rows_of(i) // ROWS_PER_STEP
            steps = read_parquet(download(api, f"/cell_measurements/{mid}/steps/download"))
            assert steps["Step count"].to_list() == list(range(count)), i
            assert steps["Start index"].to_list() == list(range(0, rows, ROWS_PER_STEP)), i
            assert steps["End index"].to_list() == list(range(ROWS_PER_STEP - 1, rows, ROWS_PER_STEP)), i
            assert steps["Step type"][:4].to_list() == [
                "Rest",
                "Constant current discharge",
                "Rest",
                "Constant current charge",
            ]
            stored = download(api, f"/cell_measurements/{mid}/time_series/download")
            assert pq.ParquetFile(io.BytesIO(stored)).metadata.num_rows == rows, i
        for api in apis:
            api.close()
    finally:
        stop_all(processes)


# -- several processes migrating one empty database at the same moment -------------------------------------

MIGRATE = """
import sys, time
from pathlib import Path
from cellstore.core.migrations import upgrade_database
from cellstore.core.settings import Settings
import alembic.command, sqlalchemy  # imported before the start line, so that all start together
Path(sys.argv[1]).touch()
while not Path(sys.argv[2]).exists():
    time.sleep(0.001)
upgrade_database(Settings())
"""


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_processes_migrating_an_empty_database_together_all_succeed(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    """What ``serve``, ``worker`` and ``admin migrate`` each do first, started together (as a
    deployment that starts its API processes and workers at once does)."""
    settings: dict[str, Any] = {}
    if backend == "postgresql":
        settings["database_url"] = request.getfixturevalue("fresh_postgres")
    env = cellstore_env(tmp_path, **settings)
    go = tmp_path / "go"
    starters: list[tuple[Path, subprocess.Popen[bytes]]] = []
    try:
        for n in range(4):
            ready = tmp_path / f"ready-{n}"
            command = [sys.executable, "-c", MIGRATE, str(ready), str(go)]
            starters.append((ready, subprocess.Popen(command, env=env, stderr=subprocess.PIPE)))
        deadline = time.monotonic() + 60
        while not all(ready.exists() for ready, _ in starters):
            assert time.monotonic() < deadline and all(p.poll() is None for _, p in starters)
            time.sleep(0.01)
        go.touch()
        failures = []
        for _, process in starters:
            _, errors = process.communicate(timeout=60)
            if process.returncode != 0:
                lines = errors.decode(errors="replace").strip().splitlines() or ["(no output)"]
                failures.append(next((line for line in reversed(lines) if "Error" in line), lines[-1]))
        assert failures == []
    finally:
        for _, process in starters:
            if process.poll() is None:
                process.kill()
                process.wait()
