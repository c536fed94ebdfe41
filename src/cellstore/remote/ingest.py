"""``cellstore ingest``: instrument files to processed measurements, through the HTTP API.

Each file is stored as raw data in the cell's project (initiate, PUT to the signed
URL, confirm), converted on the server (``POST /raw_data/{id}/convert``), and
waited for until its processing ends. Works the same against a remote server.
"""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from cellstore.remote.api import ApiError, answer, chunks

CHUNK_BYTES = 1 << 20
SETTLED = ("ready", "failed")


@dataclass
class Ingested:
    """What became of one file; ``error`` says why when it did not become a ready measurement."""

    file: str
    status: str
    measurement_id: str | None = None
    raw_data_id: str | None = None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v is not None}


def upload_raw(
    http: httpx.Client, project_id: str, path: Path, name: str, progress: Callable[[int], None]
) -> str:
    """Store the file as raw data of the project; answers its id."""
    common = {
        "project_id": project_id,
        "name": name,
        "filename": path.name,
        "content_type": mimetypes.guess_type(path.name)[0] or "application/octet-stream",
    }
    started = answer(http.post("/raw_data/initiate-upload", json=common))
    upload = started["uploads"][0]
    put = httpx.put(
        upload["signed_url"],
        content=chunks(path, CHUNK_BYTES, progress),
        headers={"Content-Type": common["content_type"], "Content-Length": str(path.stat().st_size)},
        timeout=None,
    )
    answer(put)
    size = path.stat().st_size
    answer(
        http.post(f"/raw_data/{started['raw_data_id']}/confirm-upload", json={**common, "size_bytes": size})
    )
    return str(started["raw_data_id"])


def wait_settled(
    http: httpx.Client, measurement_id: str, timeout: float, poll: float = 1.0
) -> dict[str, Any]:
    """The measurement once its processing has ended (or as it is when ``timeout`` runs out)."""
    deadline = time.monotonic() + timeout
    while True:
        measurement = answer(http.get(f"/cell_measurements/{measurement_id}"))
        if measurement["processing_status"] in SETTLED or time.monotonic() > deadline:
            return dict(measurement)
        time.sleep(poll)


def ingest_file(
    http: httpx.Client,
    path: Path,
    instance_id: str,
    name: str | None,
    progress: Callable[[int], None],
    timeout: float,
    *,
    timezone: str | None = None,
) -> Ingested:
    """One file to one measurement of the instance; never raises for a problem of the file itself.

    ``timezone`` is the instrument clock's zone, for files that write local time without one."""
    result = Ingested(file=str(path), status="failed")
    try:
        instance = answer(http.get(f"/cell_instances/{instance_id}"))
        result.raw_data_id = upload_raw(http, instance["project_id"], path, name or path.name, progress)
        body: dict[str, Any] = {"cell_instance_id": instance_id}
        if name:
            body["measurement"] = {"name": name}
        if timezone:
            body["timezone"] = timezone
        created = answer(http.post(f"/raw_data/{result.raw_data_id}/convert", json=body))
        result.measurement_id = created["id"]
        measurement = wait_settled(http, created["id"], timeout)
    except (ApiError, OSError, httpx.HTTPError) as exc:
        result.error = str(exc)
        return result
    result.status = measurement["processing_status"]
    if result.status != "ready":
        result.error = measurement.get("processing_error") or f"still {result.status} after {timeout:.0f} s"
    return result
