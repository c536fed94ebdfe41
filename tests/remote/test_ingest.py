"""``cellstore ingest``: files in, processed measurements out, through the HTTP API like any client."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from cellstore.formats.bdf import to_bdf
from tests.measurements.conftest import cycling
from tests.support import LOCAL_CLOCK_FILE, LiveServer, Tenant
from tests.test_cli import clean_env, cli


def make_instance(server: LiveServer, tenant: Tenant) -> str:
    client = server.client(tenant)
    spec = client.cell_spec.create(
        {"name": "Ingested spec", "ratings": {"capacity": {"value": 5, "unit": "A.h"}}}
    )
    return str(client.cell_instance.create(spec.id, {"name": "Ingested cell"}).id)


def remote_env(server: LiveServer, tenant: Tenant) -> dict[str, str]:
    return clean_env(IONWORKS_API_URL=server.url, IONWORKS_API_KEY=tenant.api_key)


def test_ingest_prints_one_line_per_file_and_fails_when_one_does(
    server: LiveServer, tenant: Tenant, tmp_path: Path
) -> None:
    instance_id = make_instance(server, tenant)
    bdf = tmp_path / "rpt.bdf.csv"
    to_bdf(cycling(0, 600, 100), datetime(2026, 1, 5, tzinfo=UTC)).write_csv(bdf)
    native = tmp_path / "cycling.csv"
    cycling(0, 400, 100).write_csv(native)
    unknown = tmp_path / "notes.txt"
    unknown.write_text("not a cycler file\n")

    result = cli("ingest", str(bdf), str(native), str(unknown), "--instance", instance_id,
                 env=remote_env(server, tenant), check=False)  # fmt: skip
    assert result.returncode == 1, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["file"] for line in lines] == [str(bdf), str(native), str(unknown)]
    assert [line["status"] for line in lines] == ["ready", "ready", "failed"]
    assert "Supported formats" in lines[2]["error"]
    client = server.client(tenant)
    assert client.cell_instance.get(instance_id).measurement_ids == [
        lines[0]["measurement_id"],
        lines[1]["measurement_id"],
    ]
    ingested = client.cell_measurement.get(lines[0]["measurement_id"])
    assert ingested.name == "rpt.bdf.csv"
    assert len(client.cell_measurement.steps(lines[0]["measurement_id"])) == 6
    assert list(client.raw_data.list_measurements(lines[0]["raw_data_id"])) == [lines[0]["measurement_id"]]


def test_ingest_names_the_measurement_and_exits_zero_when_all_are_ready(
    server: LiveServer, tenant: Tenant, tmp_path: Path
) -> None:
    instance_id = make_instance(server, tenant)
    native = tmp_path / "cycling.csv"
    cycling(0, 400, 100).write_csv(native)
    result = cli("ingest", str(native), "--instance", instance_id, "--name", "Formation",
                 env=remote_env(server, tenant))  # fmt: skip
    (line,) = [json.loads(text) for text in result.stdout.splitlines()]
    assert line["status"] == "ready"
    assert server.client(tenant).cell_measurement.get(line["measurement_id"]).name == "Formation"


def test_ingest_without_a_key_or_with_a_wrong_one_says_so(
    server: LiveServer, tenant: Tenant, tmp_path: Path
) -> None:
    native = tmp_path / "cycling.csv"
    cycling(0, 100, 50).write_csv(native)
    missing = cli(
        "ingest", str(native), "--instance", "x", env=clean_env(IONWORKS_API_URL=server.url), check=False
    )
    assert missing.returncode == 1
    assert "IONWORKS_API_KEY" in missing.stderr
    wrong_key = clean_env(IONWORKS_API_URL=server.url, IONWORKS_API_KEY="cs_wrong")
    instance_id = make_instance(server, tenant)
    wrong = cli("ingest", str(native), "--instance", instance_id, env=wrong_key, check=False)
    assert wrong.returncode == 1
    assert json.loads(wrong.stdout)["error"].startswith("401")


def test_ingest_reads_a_local_clock_in_the_zone_it_is_given(server: LiveServer, tenant: Tenant) -> None:
    """The Arbin export writes 2024-09-20 08:32:34.558 without a zone; in Berlin that is 06:32 UTC."""
    instance_id = make_instance(server, tenant)
    local_clock = LOCAL_CLOCK_FILE
    result = cli("ingest", str(local_clock), "--instance", instance_id, "--timezone", "Europe/Berlin",
                 env=remote_env(server, tenant))  # fmt: skip
    (line,) = [json.loads(text) for text in result.stdout.splitlines()]
    assert line["status"] == "ready", line
    with server.http(tenant.api_key) as http:
        measurement = http.get(f"/cell_measurements/{line['measurement_id']}").json()
    assert measurement["start_time"] == "2024-09-20T06:32:34.558000Z"
    assert measurement["test_setup"]["timezone"] == "Europe/Berlin"

    # A zone that does not exist is refused before anything is uploaded.
    refused = cli("ingest", str(local_clock), "--instance", instance_id, "--timezone", "Atlantis/Capital",
                  env=remote_env(server, tenant), check=False)  # fmt: skip
    assert refused.returncode != 0 and "unknown time zone" in refused.stderr
    assert refused.stdout == ""
    assert len(server.client(tenant).cell_instance.get(instance_id).measurement_ids) == 1
