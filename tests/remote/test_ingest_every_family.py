"""Every instrument family cellstore reads goes from a file on disk to a ready measurement whose steps
and cycles are served, through ``cellstore ingest`` and so through ``POST /raw_data/{id}/convert``.

One real file per family from the shared test data (the smallest that holds data rows), all in one
``cellstore ingest`` run, as a lab would hand over a folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cellstore.formats.detect import UnknownFormat, detect
from tests.formats.conftest import TESTDATA
from tests.formats.test_every_file import EMPTY, data_files
from tests.remote.test_ingest import make_instance, remote_env
from tests.support import LiveServer, Tenant
from tests.test_cli import cli


def one_file_per_family() -> dict[str, Path]:
    chosen: dict[str, Path] = {}
    for path in data_files():
        if path.name in EMPTY:
            continue
        try:
            family = detect(path).family
        except UnknownFormat:
            continue  # a companion file (metadata, log)
        if family not in chosen or path.stat().st_size < chosen[family].stat().st_size:
            chosen[family] = path
    return chosen


def test_one_file_of_every_family_ingests_to_a_ready_measurement(server: LiveServer, tenant: Tenant) -> None:
    if not TESTDATA.is_dir():
        pytest.skip(f"real instrument files not found at {TESTDATA}")
    files = one_file_per_family()
    assert len(files) >= 20, sorted(files)
    instance_id = make_instance(server, tenant)
    paths = [str(path) for path in files.values()]
    result = cli("ingest", *paths, "--instance", instance_id, env=remote_env(server, tenant), check=False)
    lines = {line["file"]: line for line in map(json.loads, result.stdout.splitlines())}
    outcome = {family: lines[str(path)] for family, path in files.items()}
    failed = {family: line for family, line in outcome.items() if line["status"] != "ready"}
    assert not failed, failed
    assert result.returncode == 0, result.stderr[-2000:]

    client = server.client(tenant)
    for family, path in files.items():
        measurement = client.cell_measurement.get(lines[str(path)]["measurement_id"])
        assert measurement.test_setup["format"] == family
        steps = client.cell_measurement.steps(measurement.id)
        cycles = client.cell_measurement.cycles(measurement.id)
        assert len(steps) >= 1 and len(cycles) >= 1, family
