"""The S3 backend against a real SeaweedFS: object operations, presigned URLs as the client and
polars use them, and the multipart credentials the client takes from 16 MiB."""

from __future__ import annotations

import io
import os
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import polars as pl
import pytest
import requests
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from polars.testing import assert_frame_equal

from cellstore.core.settings import Settings
from cellstore.storage import s3 as s3_module
from cellstore.storage.factory import create_store
from cellstore.storage.s3 import MultipartCredentials, S3ObjectStore
from tests.storage.conftest import SeaweedFS, s3_client

MiB = 1024 * 1024


def make_store(weed: SeaweedFS, **kwargs: object) -> S3ObjectStore:
    return S3ObjectStore(
        bucket=weed.bucket,
        endpoint=weed.endpoint,
        region=weed.region,
        access_key_id=weed.access_key_id,
        secret_access_key=weed.secret_access_key,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def store(seaweedfs: SeaweedFS) -> S3ObjectStore:
    return make_store(seaweedfs)


@pytest.fixture
def prefix() -> str:
    """Each test writes under its own prefix of the shared bucket."""
    return f"test-{uuid.uuid4().hex[:12]}/"


def put_through_url(store: S3ObjectStore, key: str, data: bytes) -> None:
    """Upload as the client's single PUT does: bare requests, only a Content-Type."""
    target = store.upload_target(key, "x", "http://ignored")
    response = requests.put(
        target.signed_url, data=data, headers={"Content-Type": "application/octet-stream"}, timeout=30
    )
    assert response.status_code == 200, response.text


def test_object_operations(store: S3ObjectStore, prefix: str) -> None:
    store.put_bytes(f"{prefix}m1/time_series.parquet", b"parquet")
    store.put_bytes(f"{prefix}m1/steps.parquet", b"steps!")
    store.put_bytes(f"{prefix}m2/a", b"")
    assert store.size(f"{prefix}m1/time_series.parquet") == 7
    assert store.size(f"{prefix}m2/a") == 0
    assert store.size(f"{prefix}missing") is None
    with store.reading(f"{prefix}m1/steps.parquet") as path:
        assert path.read_bytes() == b"steps!"
    assert not path.exists()  # the download was temporary
    assert list(store.list(prefix)) == [
        f"{prefix}m1/steps.parquet",
        f"{prefix}m1/time_series.parquet",
        f"{prefix}m2/a",
    ]
    assert list(store.list(f"{prefix}m1/")) == [
        f"{prefix}m1/steps.parquet",
        f"{prefix}m1/time_series.parquet",
    ]
    store.put_bytes(f"{prefix}m1/steps.parquet", b"replaced")
    assert store.size(f"{prefix}m1/steps.parquet") == 8
    store.delete(f"{prefix}m2/a")
    store.delete(f"{prefix}m2/never-there")
    assert list(store.list(f"{prefix}m2/")) == []
    store.delete_prefix(f"{prefix}m1/")
    assert list(store.list(prefix)) == []


def test_reading_a_missing_object_raises_file_not_found(store: S3ObjectStore, prefix: str) -> None:
    with pytest.raises(FileNotFoundError), store.reading(f"{prefix}nothing"):
        pass


def test_put_file_uploads_large_files_in_parts(
    seaweedfs: SeaweedFS, store: S3ObjectStore, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        s3_module, "TRANSFER", TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    )
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(12 * MiB + 17))
    store.put_file(f"{prefix}big.bin", source)
    assert store.size(f"{prefix}big.bin") == 12 * MiB + 17
    with store.reading(f"{prefix}big.bin") as path:
        assert path.read_bytes() == source.read_bytes()
    admin = s3_client(seaweedfs.endpoint, seaweedfs.access_key_id, seaweedfs.secret_access_key)
    etag = admin.head_object(Bucket=store.bucket, Key=f"{prefix}big.bin")["ETag"]
    assert etag.strip('"').endswith("-3")  # a multipart object's ETag counts its parts


def test_presigned_put_then_get_and_ranges(store: S3ObjectStore, prefix: str) -> None:
    key = f"{prefix}time_series.parquet"
    data = os.urandom(5000)
    put_through_url(store, key, data)
    url = store.download_url(key, "http://ignored")
    assert urlsplit(url).path == f"/{store.bucket}/{key}"  # path-style
    assert requests.get(url, timeout=10).content == data
    # A SigV4 signature covers the method, so HEAD needs its own URL; polars 1.x falls back
    # to a first-byte GET for the size when HEAD is refused.
    assert requests.head(url, timeout=10).status_code == 403
    for header, start, end in (
        ("bytes=0-0", 0, 0),
        ("bytes=10-19", 10, 19),
        ("bytes=-100", 4900, 4999),
        ("bytes=-262144", 0, 4999),
    ):
        response = requests.get(url, headers={"Range": header}, timeout=10)
        assert response.status_code == 206
        assert response.headers["content-range"] == f"bytes {start}-{end}/5000"
        assert response.content == data[start : end + 1]


def test_upload_target_describes_the_object(store: S3ObjectStore, prefix: str) -> None:
    target = store.upload_target(f"{prefix}a.bin", "a.bin", "http://ignored")
    assert target.path == f"{prefix}a.bin"
    assert target.filename == "a.bin"
    assert target.token and target.token in target.signed_url
    assert target.multipart is None  # off unless configured


def test_an_expired_presigned_url_is_refused(seaweedfs: SeaweedFS, prefix: str) -> None:
    short = make_store(seaweedfs, url_ttl_seconds=1)
    key = f"{prefix}expiring"
    short.put_bytes(key, b"data")
    get_url = short.download_url(key, "")
    put_url = short.upload_target(key, "x", "").signed_url
    time.sleep(2.1)
    assert requests.get(get_url, timeout=10).status_code == 403
    assert requests.put(put_url, data=b"new", timeout=10).status_code == 403
    assert short.size(key) == 4


def test_a_tampered_or_misused_presigned_url_is_refused(store: S3ObjectStore, prefix: str) -> None:
    key = f"{prefix}object"
    store.put_bytes(key, b"data")
    url = store.download_url(key, "")
    signature = url.split("X-Amz-Signature=")[1][:64]
    tampered = url.replace(signature, ("0" if signature[0] != "0" else "1") + signature[1:])
    assert requests.get(tampered, timeout=10).status_code == 403
    assert requests.get(url.replace(key, f"{prefix}other"), timeout=10).status_code == 403
    assert requests.put(url, data=b"overwrite", timeout=10).status_code == 403
    upload = store.upload_target(key, "x", "").signed_url
    assert requests.get(upload, timeout=10).status_code == 403
    assert requests.get(url, timeout=10).content == b"data"


def test_the_public_endpoint_is_what_urls_are_signed_for(seaweedfs: SeaweedFS, prefix: str) -> None:
    public = seaweedfs.endpoint.replace("127.0.0.1", "localhost")
    store = make_store(seaweedfs, public_endpoint=public)
    key = f"{prefix}public"
    target = store.upload_target(key, "x", "")
    assert target.signed_url.startswith(f"{public}/")
    put_through_url(store, key, b"via the public name")
    url = store.download_url(key, "")
    assert url.startswith(f"{public}/")
    assert requests.get(url, timeout=10).content == b"via the public name"
    assert store.size(key) == len(b"via the public name")  # the server itself still uses its own endpoint


# -- multipart: the credentials the ionworks client uses from 16 MiB --------------------------------


@pytest.fixture
def multipart_store(seaweedfs: SeaweedFS) -> S3ObjectStore:
    return make_store(
        seaweedfs,
        multipart=MultipartCredentials(seaweedfs.upload_access_key_id, seaweedfs.upload_secret_access_key),
    )


def test_multipart_target_offers_the_upload_credentials(
    multipart_store: S3ObjectStore, seaweedfs: SeaweedFS
) -> None:
    info = multipart_store.upload_target("org/m/time_series.parquet", "time_series.parquet", "").multipart
    assert info == {
        "endpoint": seaweedfs.endpoint,
        "region": "us-east-1",
        "bucket": seaweedfs.bucket,
        "object_path": "org/m/time_series.parquet",
        "access_key_id": seaweedfs.upload_access_key_id,
        "secret_access_key": seaweedfs.upload_secret_access_key,
        "session_token": "",
        "expires_at": None,
    }


def test_a_boto3_client_built_from_the_target_uploads_17_mib(
    multipart_store: S3ObjectStore, prefix: str, tmp_path: Path
) -> None:
    key = f"{prefix}time_series.parquet"
    info = multipart_store.upload_target(key, "time_series.parquet", "").multipart
    assert info is not None
    source = tmp_path / "body.bin"
    source.write_bytes(os.urandom(17 * MiB))
    client = s3_client(info["endpoint"], info["access_key_id"], info["secret_access_key"], info["region"])
    config = TransferConfig(multipart_threshold=16 * MiB, multipart_chunksize=16 * MiB, max_concurrency=2)
    client.upload_file(
        str(source),
        info["bucket"],
        info["object_path"],
        Config=config,
        ExtraArgs={"ContentType": "application/octet-stream"},
    )
    with multipart_store.reading(key) as path:
        assert path.read_bytes() == source.read_bytes()
    # The handed-out pair may write but not read: the identity's policy is the safeguard.
    with pytest.raises(ClientError) as refused:
        client.get_object(Bucket=info["bucket"], Key=key)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"


def test_the_ionworks_client_takes_the_multipart_path(
    multipart_store: S3ObjectStore, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ionworks import _uploads
    from ionworks.models import UploadInfo

    def no_single_put(*args: object, **kwargs: object) -> None:
        raise AssertionError("the client fell back to a single PUT")

    monkeypatch.setattr(_uploads, "upload_to_signed_url", no_single_put)
    key = f"{prefix}time_series.parquet"
    target = UploadInfo(**multipart_store.upload_target(key, "time_series.parquet", "").as_upload_info())
    data = os.urandom(16 * MiB + 1)
    _uploads.upload_file(target, io.BytesIO(data), len(data))
    with multipart_store.reading(key) as path:
        assert path.read_bytes() == data


# -- polars reads row windows through a presigned URL ------------------------------------------


def test_polars_reads_a_row_window_through_a_presigned_url(store: S3ObjectStore, prefix: str) -> None:
    rows = 100_000
    frame = pl.DataFrame(
        {"Time [s]": pl.arange(0, rows, eager=True) * 0.5, "Cycle": pl.arange(0, rows, eager=True) // 7}
    )
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd", row_group_size=10_000)
    key = f"{prefix}time_series.parquet"
    put_through_url(store, key, buffer.getvalue())
    url = store.download_url(key, "")
    for start, length in ((0, 5), (33_333, 20_000), (rows - 3, 10)):
        assert_frame_equal(pl.scan_parquet(url).slice(start, length).collect(), frame.slice(start, length))


# -- the factory ------------------------------------------------------------------------------


def _settings(seaweedfs: SeaweedFS, tmp_path: Path, **extra: object) -> Settings:
    return Settings(
        data_dir=tmp_path,
        storage_url=f"s3://{seaweedfs.bucket}?endpoint={seaweedfs.endpoint}&region=us-east-1",
        s3_access_key_id=seaweedfs.access_key_id,
        s3_secret_access_key=seaweedfs.secret_access_key,
        **extra,  # type: ignore[arg-type]
    )


def test_the_factory_builds_an_s3_store_from_the_url(
    seaweedfs: SeaweedFS, tmp_path: Path, prefix: str
) -> None:
    store = create_store(_settings(seaweedfs, tmp_path, url_ttl_seconds=120))
    assert isinstance(store, S3ObjectStore)
    assert (store.bucket, store.region, store.url_ttl_seconds) == (seaweedfs.bucket, "us-east-1", 120)
    store.put_bytes(f"{prefix}x", b"through the factory")
    assert requests.get(store.download_url(f"{prefix}x", ""), timeout=10).content == b"through the factory"
    assert store.upload_target(f"{prefix}x", "x", "").multipart is None
    assert not (tmp_path / "signing.key").exists()  # S3 signs its own URLs


def test_the_factory_reads_aws_credentials_from_the_environment(
    seaweedfs: SeaweedFS, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweedfs.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweedfs.secret_access_key)
    store = create_store(
        Settings(data_dir=tmp_path, storage_url=f"s3://{seaweedfs.bucket}?endpoint={seaweedfs.endpoint}")
    )
    assert isinstance(store, S3ObjectStore)
    assert store.size("no/such/object") is None  # an authenticated request that worked


def test_the_factory_offers_multipart_only_with_its_own_pair_or_explicit_consent(
    seaweedfs: SeaweedFS, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="s3_upload_access_key_id"):
        create_store(_settings(seaweedfs, tmp_path, s3_multipart_uploads=True))
    own = create_store(
        _settings(
            seaweedfs,
            tmp_path,
            s3_multipart_uploads=True,
            s3_upload_access_key_id=seaweedfs.upload_access_key_id,
            s3_upload_secret_access_key=seaweedfs.upload_secret_access_key,
        )
    )
    info = own.upload_target("k", "k", "").multipart
    assert info is not None and info["access_key_id"] == seaweedfs.upload_access_key_id
    shared = create_store(
        _settings(seaweedfs, tmp_path, s3_multipart_uploads=True, s3_multipart_use_store_credentials=True)
    )
    info = shared.upload_target("k", "k", "").multipart
    assert info is not None and info["access_key_id"] == seaweedfs.access_key_id


def test_the_factory_needs_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "CELLSTORE_S3_ACCESS_KEY_ID",
        "CELLSTORE_S3_SECRET_ACCESS_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="credentials"):
        create_store(Settings(data_dir=tmp_path, storage_url="s3://bucket?endpoint=http://127.0.0.1:1"))


def test_head_reads_only_the_first_bytes_whatever_the_object_size(store: S3ObjectStore, prefix: str) -> None:
    """What format detection reads: shorter objects, empty ones and missing ones included."""
    store.put_bytes(f"{prefix}big", bytes(range(256)) * 1024)
    store.put_bytes(f"{prefix}small", b"Test Time / s,Voltage / V\n")
    store.put_bytes(f"{prefix}empty", b"")
    assert store.head(f"{prefix}big", 1000) == (bytes(range(256)) * 4)[:1000]
    assert store.head(f"{prefix}small", 65536) == b"Test Time / s,Voltage / V\n"
    assert store.head(f"{prefix}empty", 65536) == b""
    with pytest.raises(FileNotFoundError):
        store.head(f"{prefix}missing", 10)
