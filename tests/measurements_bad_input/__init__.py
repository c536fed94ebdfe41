"""Bad input, tenancy and durability of measurements; the helpers their modules share.

The helpers speak raw HTTP (an :class:`~tests.support.Api` session plus bare
``requests.put`` to signed URLs) because most of these tests send what the
``ionworks`` client would refuse to send.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import requests

from tests.conftest import free_port
from tests.support import Api

#: Rows per step of :func:`series`: rest, discharge, rest, charge, repeated.
ROWS_PER_STEP = 6
SETTLED = ("ready", "failed", None)


def series(steps: int = 4, *, first_step: int = 0, start_time: float = 0.0) -> pl.DataFrame:
    """A plausible cycler series (passes the client's own checks): ``steps`` steps of
    :data:`ROWS_PER_STEP` one-second rows cycling rest, discharge (+1 A, voltage
    falling), rest and charge (-1 A, voltage rising)."""
    rows: dict[str, list[Any]] = {
        "Time [s]": [],
        "Step count": [],
        "Current [A]": [],
        "Voltage [V]": [],
        "Discharge capacity [A.h]": [],
        "Charge capacity [A.h]": [],
    }
    for s in range(first_step, first_step + steps):
        kind = s % 4  # 0 rest, 1 discharge, 2 rest, 3 charge
        current = {0: 0.0, 1: 1.0, 2: 0.0, 3: -1.0}[kind]
        for k in range(ROWS_PER_STEP):
            rows["Time [s]"].append(start_time + (s - first_step) * ROWS_PER_STEP + k)
            rows["Step count"].append(s)
            rows["Current [A]"].append(current)
            rows["Voltage [V]"].append(3.8 - 0.01 * k * current)
            rows["Discharge capacity [A.h]"].append(k / 3600 if current > 0 else 0.0)
            rows["Charge capacity [A.h]"].append(k / 3600 if current < 0 else 0.0)
    return pl.DataFrame(rows)


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd")
    return buffer.getvalue()


def ok(response: requests.Response, status: int | tuple[int, ...] = (200, 201)) -> Any:
    """The JSON body of a successful response (None for an empty one)."""
    wanted = (status,) if isinstance(status, int) else status
    assert response.status_code in wanted, (response.status_code, response.text)
    return response.json() if response.content else None


def make_instance(api: Api, project_id: str, name: str = "Cell") -> str:
    """A new specification with one cell instance in ``project_id``; the instance id."""
    spec = ok(api.post("/cell_specifications", json={"name": f"{name} spec", "project_id": project_id}))
    return ok(api.post(f"/cell_specifications/{spec['id']}/cell_instances", json={"name": name}))["id"]


def initiate(api: Api, instance_id: str, name: str, filenames: list[str] | None = None) -> dict[str, Any]:
    """initiate-upload of a time series (or, with ``filenames``, a file measurement)."""
    body: dict[str, Any] = {"measurement": {"name": name}}
    if filenames is not None:
        body |= {"measurement_type": "file", "filenames": filenames}
    return ok(api.post(f"/cell_instances/{instance_id}/cell_measurements/initiate-upload", json=body))


def target(initiated: dict[str, Any], filename: str) -> str:
    """The signed URL ``initiated`` gave for ``filename``."""
    (url,) = [u["signed_url"] for u in initiated["uploads"] if u["filename"] == filename]
    return url


def put(url: str, data: bytes) -> requests.Response:
    """The bare PUT the client sends to a signed URL."""
    return requests.put(url, data=data, headers={"Content-Type": "application/octet-stream"}, timeout=60)


def confirm(
    api: Api, measurement_id: str, instance_id: str, measurement: dict[str, Any], **extra: Any
) -> requests.Response:
    body = {"cell_instance_id": instance_id, "measurement": measurement, **extra}
    return api.post(f"/cell_measurements/{measurement_id}/confirm-upload", json=body)


def upload_series(api: Api, instance_id: str, name: str, data: bytes, **fields: Any) -> str:
    """initiate, PUT ``data`` as time_series.parquet, confirm; the measurement id (not waited on)."""
    initiated = initiate(api, instance_id, name)
    assert put(target(initiated, "time_series.parquet"), data).status_code == 200
    body = ok(confirm(api, initiated["measurement_id"], instance_id, {"name": name, **fields}))
    assert body["id"] == initiated["measurement_id"]
    assert body["processing_status"] == "pending"
    return str(body["id"])


def upload_files(api: Api, instance_id: str, name: str, files: dict[str, bytes]) -> str:
    """A confirmed file measurement holding ``files``; its id."""
    initiated = initiate(api, instance_id, name, list(files))
    for filename, data in files.items():
        assert put(target(initiated, filename), data).status_code == 200
    body = ok(
        confirm(
            api,
            initiated["measurement_id"],
            instance_id,
            {"name": name},
            measurement_type="file",
            filenames=list(files),
        )
    )
    return str(body["id"])


def wait_settled(api: Api, measurement_id: str, seconds: float = 60) -> dict[str, Any]:
    """Poll the measurement (as the client does, only faster) until processing has settled."""
    deadline = time.monotonic() + seconds
    while True:
        query = "include_steps=false&include_time_series=false"
        body = ok(api.get(f"/cell_measurements/{measurement_id}?{query}"))
        if body["processing_status"] in SETTLED:
            return dict(body)
        assert time.monotonic() < deadline, f"still {body['processing_status']} after {seconds} s"
        time.sleep(0.05)


def download(api: Api, path: str) -> bytes:
    """Follow a download redirect (to a signed storage URL) and return the bytes."""
    response = api.get(path, allow_redirects=False)
    assert response.status_code == 307, (response.status_code, response.text)
    stored = requests.get(response.headers["location"], timeout=60)
    assert stored.status_code == 200, (stored.status_code, stored.text)
    return stored.content


def read_parquet(data: bytes) -> pl.DataFrame:
    return pl.read_parquet(io.BytesIO(data))


# -- cellstore processes of our own (servers with special settings, standalone workers) ----------------


def cellstore_env(data_dir: Path, **settings: Any) -> dict[str, str]:
    """The environment of a cellstore process: ours minus any CELLSTORE_/IONWORKS_ variable, plus
    ``CELLSTORE_DATA_DIR`` and ``CELLSTORE_<NAME>`` for each setting given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELLSTORE_", "IONWORKS_"))}
    env["CELLSTORE_DATA_DIR"] = str(data_dir)
    env |= {f"CELLSTORE_{name.upper()}": str(value) for name, value in settings.items()}
    return env


@dataclass
class Process:
    """A ``cellstore`` subprocess writing to a log file."""

    popen: subprocess.Popen[bytes]
    log: Path
    url: str = ""

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as when a machine dies."""
        os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=15)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def spawn(args: list[str], env: dict[str, str], log: Path) -> Process:
    with open(log, "wb") as handle:
        popen = subprocess.Popen(
            [sys.executable, "-m", "cellstore.cli", *args], env=env, stdout=handle, stderr=subprocess.STDOUT
        )
    return Process(popen, log)


def serve(env: dict[str, str], log: Path, *extra: str) -> Process:
    """``cellstore serve`` on a free port, started (see :func:`wait_serving`)."""
    port = free_port()
    process = spawn(["serve", "--port", str(port), *extra], env, log)
    process.url = f"http://127.0.0.1:{port}"
    return process


def wait_serving(process: Process) -> Process:
    """Wait until the server answers /healthz."""
    deadline = time.monotonic() + 60
    while True:
        if process.popen.poll() is not None:
            raise RuntimeError("cellstore serve exited:\n" + process.text())
        try:
            if requests.get(f"{process.url}/healthz", timeout=1).status_code == 200:
                return process
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            process.stop()
            raise RuntimeError("cellstore serve did not start:\n" + process.text())
        time.sleep(0.1)


def start_server(env: dict[str, str], log: Path, *extra: str) -> Process:
    return wait_serving(serve(env, log, *extra))


def wait_working(process: Process) -> Process:
    """Wait until ``cellstore worker`` has migrated and is about to poll for jobs."""
    deadline = time.monotonic() + 60
    while "cellstore worker" not in process.text():
        if process.popen.poll() is not None or time.monotonic() > deadline:
            process.stop()
            raise RuntimeError("cellstore worker did not start:\n" + process.text())
        time.sleep(0.05)
    return process


def run_worker(env: dict[str, str], log: Path) -> Process:
    """``cellstore worker``, started (see :func:`wait_working`)."""
    return spawn(["worker"], env, log)


def start_worker(env: dict[str, str], log: Path) -> Process:
    return wait_working(run_worker(env, log))
