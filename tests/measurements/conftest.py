"""Fixtures of the measurement flows: the two deployments the issue names, and cycling data.

``store_server`` is ``cellstore serve`` twice over:

* ``sqlite-local`` — the embedded default: SQLite and files under the data directory,
  served through cellstore's own signed ``/storage`` URLs;
* ``postgresql-s3`` — a fresh PostgreSQL database and a real SeaweedFS bucket, with
  S3 multipart offered to clients through SeaweedFS's write-only uploader identity,
  so the ``ionworks`` client takes the multipart path from 16 MiB.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from tests.conftest import serving
from tests.storage.conftest import SeaweedFS, s3_client, seaweedfs, serving_on_s3  # noqa: F401 - the fixture is used here
from tests.support import LiveServer, Tenant

SQLITE_LOCAL = "sqlite-local"
POSTGRESQL_S3 = "postgresql-s3"
DEPLOYMENTS = (SQLITE_LOCAL, POSTGRESQL_S3)
MiB = 1024 * 1024


@dataclass
class StoreServer(LiveServer):
    """A running cellstore plus where its objects live, so tests can look at them directly."""

    deployment: str = SQLITE_LOCAL
    data_dir: Path = Path()
    s3: SeaweedFS | None = None

    @property
    def offers_multipart(self) -> bool:
        return self.s3 is not None

    def object_keys(self, prefix: str) -> list[str]:
        """Keys of the stored objects under ``prefix``, read from the store itself, not the API."""
        if self.s3 is None:
            # os.walk, unlike Path.rglob, passes over directories that the server's background
            # deletion removes while we look.
            root = self.data_dir / "objects"
            keys = (
                (Path(folder) / name).relative_to(root).as_posix()
                for folder, _, names in os.walk(root)
                for name in names
            )
            return sorted(key for key in keys if key.startswith(prefix))
        s3 = s3_client(self.s3.endpoint, self.s3.access_key_id, self.s3.secret_access_key)
        keys: list[str] = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.s3.bucket, Prefix=prefix):
            keys += [item["Key"] for item in page.get("Contents", [])]
        return sorted(keys)

    def wait_for_no_objects(self, prefix: str, timeout: float = 20) -> list[str]:
        """Poll until nothing is stored under ``prefix`` (deletion is a background job);
        answers what is left when time runs out."""
        deadline = time.monotonic() + timeout
        while (left := self.object_keys(prefix)) and time.monotonic() < deadline:
            time.sleep(0.2)
        return left


@pytest.fixture(scope="session", params=DEPLOYMENTS)
def store_server(request: pytest.FixtureRequest) -> Iterator[StoreServer]:
    """cellstore on SQLite with local storage, and on PostgreSQL with SeaweedFS."""
    deployment = str(request.param)
    data_dir = Path(tempfile.mkdtemp(prefix=f"cellstore-{deployment}-"))
    try:
        if deployment == SQLITE_LOCAL:
            with serving(data_dir, "sqlite") as live:
                yield StoreServer(**vars(live), deployment=deployment, data_dir=data_dir)
            return
        weed: SeaweedFS = request.getfixturevalue("seaweedfs")
        with serving_on_s3(data_dir, weed, request.getfixturevalue("postgres_admin_url")) as live:
            yield StoreServer(**vars(live), deployment=deployment, data_dir=data_dir, s3=weed)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def store_tenant(store_server: StoreServer) -> Tenant:
    """A fresh organization (and project) on the deployment, for this test."""
    return store_server.new_tenant()


@pytest.fixture
def iw(store_server: StoreServer, store_tenant: Tenant) -> Any:
    """The real ``ionworks`` client for the tenant."""
    return store_server.client(store_tenant)


@pytest.fixture
def make_cell(iw: Any) -> Callable[..., str]:
    """Creates a specification (rated 5 A.h) and a cell of it; answers the cell instance id."""
    made = {"n": 0}

    def make(name: str | None = None) -> str:
        made["n"] += 1
        spec = iw.cell_spec.create(
            {"name": f"NMC 21700 #{made['n']}", "ratings": {"capacity": {"value": 5, "unit": "A.h"}}}
        )
        return str(iw.cell_instance.create(spec.id, {"name": name or f"Cell {made['n']}"}).id)

    return make


# -- cycling data ----------------------------------------------------------------------------

#: What each step of a cycle does, in order: (kind, current in A).
CYCLE_STEPS = (
    ("Constant current discharge", 1.0),
    ("Rest", 0.0),
    ("Constant current charge", -1.0),
    ("Rest", 0.0),
)
RESISTANCE = 0.05


def cycling(start: int, stop: int, rows_per_step: int, *, seed: int = 0, dt: float = 1.0) -> pl.DataFrame:
    """Rows ``[start, stop)`` of an endless CC-discharge / rest / CC-charge / rest cycler log.

    Row ``i`` is at ``i * dt`` seconds, in step ``i // rows_per_step``; so rows of one call
    continue those of another (an extension is ``cycling(n, n + m, ...)``). Voltage and
    current carry measurement noise, which also makes the parquet incompressible.
    Cumulative capacities restart at every step, as cyclers report them.
    """
    rng = np.random.default_rng(seed)
    row = np.arange(start, stop, dtype=np.int64)
    step = row // rows_per_step
    kind = step % len(CYCLE_STEPS)
    frac = (row % rows_per_step) / rows_per_step
    seconds_in_step = (row % rows_per_step) * dt
    nominal = np.array([current for _, current in CYCLE_STEPS])[kind]
    relax = 0.05 * (1 - np.exp(-5 * frac))
    voltage = np.select(
        [kind == 0, kind == 1, kind == 2, kind == 3],
        [4.1 - 0.6 * frac - RESISTANCE, 3.5 + relax, 3.55 + 0.6 * frac + RESISTANCE, 4.15 - relax],
    )
    voltage = voltage + rng.normal(0, 2e-4, row.size)
    current = nominal + rng.normal(0, 1e-5, row.size)
    return pl.DataFrame(
        {
            "Time [s]": row * dt,
            "Voltage [V]": voltage,
            "Current [A]": current,
            "Step count": step,
            "Cycle from cycler": 1 + step // len(CYCLE_STEPS),
            "Discharge capacity [A.h]": np.where(kind == 0, seconds_in_step / 3600, 0.0),
            "Charge capacity [A.h]": np.where(kind == 2, seconds_in_step / 3600, 0.0),
        },
        schema_overrides={"Time [s]": pl.Float64},
    )


def step_type_of(step: int) -> str:
    return CYCLE_STEPS[step % len(CYCLE_STEPS)][0]


def series_detail(name: str, frame: pl.DataFrame, **fields: Any) -> dict[str, Any]:
    """What ``cell_measurement.create`` takes: the measurement's metadata and its time series."""
    return {"measurement": {"name": name, **fields}, "time_series": frame}
