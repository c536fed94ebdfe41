"""The local backend as a library: keys, atomic writes, listing, signed URLs, and the factory."""

from __future__ import annotations

import threading
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from cellstore.core.settings import Settings
from cellstore.storage.factory import create_store
from cellstore.storage.local import TEMP_SUFFIX, InvalidKey, LocalObjectStore
from cellstore.storage.signing import SignatureRejected

SECRET = b"x" * 64
BASE = "http://api.example:8000"


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "objects", SECRET)


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_bytes_round_trip(store: LocalObjectStore) -> None:
    store.put_bytes("org/m/time_series.parquet", b"parquet bytes")
    assert store.size("org/m/time_series.parquet") == 13
    with store.reading("org/m/time_series.parquet") as path:
        assert path == store.root / "org" / "m" / "time_series.parquet"
        assert path.read_bytes() == b"parquet bytes"


def test_put_file_copies_and_leaves_the_source(store: LocalObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "upload.bin"
    source.write_bytes(bytes(range(256)) * 40_000)
    store.put_file("org/raw/data.bin", source)
    with store.reading("org/raw/data.bin") as path:
        assert path.read_bytes() == source.read_bytes()
    assert source.exists()


def test_empty_objects_are_objects(store: LocalObjectStore) -> None:
    store.put_bytes("org/empty", b"")
    assert store.size("org/empty") == 0
    assert list(store.list("org/")) == ["org/empty"]


def test_a_write_replaces_the_object_and_leaves_no_temporary(store: LocalObjectStore) -> None:
    store.put_bytes("a/b", b"old")
    store.put_bytes("a/b", b"new, longer")
    with store.reading("a/b") as path:
        assert path.read_bytes() == b"new, longer"
    assert files_under(store.root) == ["a/b"]


def test_a_failed_write_keeps_the_old_object_and_leaves_nothing(store: LocalObjectStore) -> None:
    store.put_bytes("a/b", b"old")
    with pytest.raises(RuntimeError), store.writing("a/b") as handle:
        handle.write(b"half of the new")
        raise RuntimeError("the upload broke")
    with store.reading("a/b") as path:
        assert path.read_bytes() == b"old"
    assert files_under(store.root) == ["a/b"]


def test_a_reader_keeps_the_bytes_it_opened_while_the_object_is_replaced(store: LocalObjectStore) -> None:
    store.put_bytes("a/b", b"first version")
    with store.reading("a/b") as path, open(path, "rb") as opened:
        store.put_bytes("a/b", b"second version")
        assert opened.read() == b"first version"
    with store.reading("a/b") as path:
        assert path.read_bytes() == b"second version"


def test_concurrent_writers_leave_one_whole_version(store: LocalObjectStore) -> None:
    versions = [bytes([n]) * 200_000 for n in range(8)]
    threads = [threading.Thread(target=store.put_bytes, args=("a/b", v)) for v in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with store.reading("a/b") as path:
        assert path.read_bytes() in versions
    assert files_under(store.root) == ["a/b"]


def test_missing_objects(store: LocalObjectStore) -> None:
    assert store.size("org/nothing") is None
    with pytest.raises(FileNotFoundError), store.reading("org/nothing"):
        pass
    store.put_bytes("org/dir/file", b"x")
    assert store.size("org/dir") is None  # a directory is not an object
    with pytest.raises(FileNotFoundError), store.reading("org/dir"):
        pass
    store.delete("org/nothing")  # not an error


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "a//b",
        "a/",
        "../outside",
        "a/../../outside",
        "a/./b",
        ".",
        "a\\..\\b",
        "a\x00b",
        "a/b" + TEMP_SUFFIX,
    ],
)
def test_keys_that_could_escape_or_collide_are_refused(store: LocalObjectStore, key: str) -> None:
    for operation in (
        lambda: store.put_bytes(key, b"x"),
        lambda: store.size(key),
        lambda: store.upload_target(key, "f", BASE),
        lambda: store.download_url(key, BASE),
    ):
        with pytest.raises(InvalidKey):
            operation()
    assert not (store.root.parent / "outside").exists()


def test_list_is_sorted_filtered_by_prefix_and_hides_temporaries(store: LocalObjectStore) -> None:
    for key in ("org1/m2/steps.parquet", "org1/m1/time_series.parquet", "org1/m10/x", "org2/m1/y", "top"):
        store.put_bytes(key, b"x")
    (store.root / "org1" / "m1" / f".time_series.parquet.abc{TEMP_SUFFIX}").write_bytes(b"partial")
    assert list(store.list("org1/")) == ["org1/m1/time_series.parquet", "org1/m10/x", "org1/m2/steps.parquet"]
    assert list(store.list("org1/m1/")) == ["org1/m1/time_series.parquet"]
    assert list(store.list("org1/m1")) == ["org1/m1/time_series.parquet", "org1/m10/x"]  # S3 semantics
    assert list(store.list("")) == [
        "org1/m1/time_series.parquet",
        "org1/m10/x",
        "org1/m2/steps.parquet",
        "org2/m1/y",
        "top",
    ]
    assert list(store.list("nobody/")) == []
    with pytest.raises(InvalidKey):
        list(store.list("../"))


def test_delete_and_delete_prefix_prune_empty_directories(store: LocalObjectStore) -> None:
    for key in ("org/m1/a", "org/m1/b", "org/m2/a"):
        store.put_bytes(key, b"x")
    store.delete("org/m2/a")
    assert not (store.root / "org" / "m2").exists()
    store.delete_prefix("org/m1/")
    assert list(store.list("")) == []
    assert store.root.exists() and not any(store.root.iterdir())


def test_upload_target_is_a_signed_put_url_for_the_key(store: LocalObjectStore) -> None:
    target = store.upload_target("org/m 1/time_series.parquet", "time_series.parquet", BASE + "/")
    url = urlsplit(target.signed_url)
    assert f"{url.scheme}://{url.netloc}" == BASE
    assert url.path == "/storage/org/m%201/time_series.parquet"
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert target.token == query["signature"]
    assert target.path == "org/m 1/time_series.parquet"
    assert target.multipart is None
    assert target.as_upload_info()["filename"] == "time_series.parquet"
    store.verify("PUT", unquote(url.path.removeprefix("/storage/")), query["expires"], query["signature"])
    with pytest.raises(SignatureRejected):
        store.verify("GET", target.path, query["expires"], query["signature"])


def test_download_url_is_a_signed_get_url(store: LocalObjectStore) -> None:
    url = urlsplit(store.download_url("org/ü/x.parquet", BASE))
    assert url.path == "/storage/org/%C3%BC/x.parquet"
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    store.verify("HEAD", "org/ü/x.parquet", query["expires"], query["signature"])
    with pytest.raises(SignatureRejected):
        store.verify("PUT", "org/ü/x.parquet", query["expires"], query["signature"])


def test_the_default_store_keeps_files_in_the_data_dir(tmp_path: Path) -> None:
    store = create_store(Settings(data_dir=tmp_path))
    assert isinstance(store, LocalObjectStore)
    assert store.root == tmp_path / "objects"
    assert store.url_ttl_seconds == 3600
    assert store.secret == (tmp_path / "signing.key").read_text().strip().encode()
    store.put_bytes("a/b", b"x")
    assert (tmp_path / "objects" / "a" / "b").read_bytes() == b"x"


def test_a_file_url_names_the_directory(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, storage_url=(tmp_path / "else where").as_uri(), url_ttl_seconds=60)
    store = create_store(settings)
    assert isinstance(store, LocalObjectStore)
    assert store.root == tmp_path / "else where"
    assert store.url_ttl_seconds == 60


@pytest.mark.parametrize(
    "url",
    ["file://relative/path", "ftp://host/x", "s3://", "s3://bucket", "s3://bucket?region=us-east-1"],
)
def test_unusable_storage_urls_are_refused(tmp_path: Path, url: str) -> None:
    with pytest.raises(ValueError, match="storage_url"):
        create_store(Settings(data_dir=tmp_path, storage_url=url))


def test_head_reads_only_the_first_bytes(store: LocalObjectStore) -> None:
    store.put_bytes("a/big", b"x" * 100_000)
    store.put_bytes("a/small", b"abc")
    assert store.head("a/big", 10) == b"x" * 10
    assert store.head("a/small", 65536) == b"abc"
    with pytest.raises(FileNotFoundError):
        store.head("a/missing", 10)
