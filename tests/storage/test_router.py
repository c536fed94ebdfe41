"""``/storage`` over real HTTP: signed PUT, GET and HEAD with ranges, refusals, the upload cap,
and polars reading row windows of a parquet file through a signed URL."""

from __future__ import annotations

import http.client
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import polars as pl
import pytest
import requests
from polars.testing import assert_frame_equal

from cellstore.core.settings import Settings
from cellstore.storage.factory import create_store
from cellstore.storage.local import TEMP_SUFFIX, LocalObjectStore
from tests.storage.conftest import CappedServer
from tests.support import LiveServer, assert_error

SIZE = 1000
DATA = os.urandom(SIZE)
API_HEADERS = {
    "X-API-Key": "not-a-key-at-all",
    "Authorization": "Bearer not-a-token",
    "Accept": "application/json",
    "Content-Type": "application/json",
}


@pytest.fixture
def store(server: LiveServer) -> LocalObjectStore:
    """A store on the server's data directory and secret, as the server builds its own."""
    built = create_store(server.settings)
    assert isinstance(built, LocalObjectStore)
    return built


@pytest.fixture
def key(request: pytest.FixtureRequest) -> str:
    return f"test-org/{request.node.name.replace('[', '-').rstrip(']')}/object.bin"


@pytest.fixture
def stored(server: LiveServer, store: LocalObjectStore, key: str) -> str:
    """``DATA`` uploaded under ``key`` through a signed PUT URL; its signed GET URL."""
    response = requests.put(
        store.upload_target(key, "object.bin", server.url).signed_url, data=DATA, timeout=10
    )
    assert response.status_code == 200, response.text
    return store.download_url(key, server.url)


def leftovers(root: Path) -> list[Path]:
    return list(root.rglob(f"*{TEMP_SUFFIX}"))


def test_put_then_get_returns_the_bytes(
    server: LiveServer, store: LocalObjectStore, key: str, stored: str
) -> None:
    response = requests.get(stored, timeout=10)
    assert response.status_code == 200
    assert response.content == DATA
    assert response.headers["content-length"] == str(SIZE)
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-type"] == "application/octet-stream"
    assert store.size(key) == SIZE
    assert leftovers(store.root) == []


def test_put_replaces_and_json_content_type_is_stored_verbatim(
    server: LiveServer, store: LocalObjectStore, key: str, stored: str
) -> None:
    """Raw-data uploads of ``.json`` files arrive as ``application/json``; the bytes must not be
    parsed or rewritten by the JSON body middleware."""
    body = b'{"not": "sanitised", "nan": NaN}\x00 trailing bytes'
    target = store.upload_target(key, "data.json", server.url)
    response = requests.put(
        target.signed_url, data=body, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code == 200
    assert requests.get(stored, timeout=10).content == body


def test_head_answers_the_size_without_a_body(stored: str) -> None:
    response = requests.head(stored, timeout=10)
    assert response.status_code == 200
    assert response.headers["content-length"] == str(SIZE)
    assert response.headers["accept-ranges"] == "bytes"
    assert response.content == b""
    ranged = requests.head(stored, headers={"Range": "bytes=0-0"}, timeout=10)
    assert ranged.status_code == 206
    assert ranged.headers["content-range"] == f"bytes 0-0/{SIZE}"


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=10-19", 10, 19),
        (f"bytes=100-{SIZE + 500}", 100, SIZE - 1),  # an end past the object is clipped
        ("bytes=900-", 900, SIZE - 1),
        ("bytes=-100", SIZE - 100, SIZE - 1),  # suffix
        ("bytes=-262144", 0, SIZE - 1),  # polars 2 asks for more than a small file holds
        (f"bytes={SIZE - 1}-{SIZE - 1}", SIZE - 1, SIZE - 1),
    ],
)
def test_ranges_answer_206_with_content_range(stored: str, header: str, start: int, end: int) -> None:
    response = requests.get(stored, headers={"Range": header}, timeout=10)
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {start}-{end}/{SIZE}"
    assert response.headers["content-length"] == str(end - start + 1)
    assert response.content == DATA[start : end + 1]


@pytest.mark.parametrize("header", [f"bytes={SIZE}-", f"bytes={SIZE + 10}-{SIZE + 20}", "bytes=-0"])
def test_unsatisfiable_ranges_answer_416(stored: str, header: str) -> None:
    response = requests.get(stored, headers={"Range": header}, timeout=10)
    assert_error(response, 416, "RANGE_NOT_SATISFIABLE")
    assert response.headers["content-range"] == f"bytes */{SIZE}"


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "items=0-1", "bytes=5-2", "bytes=a-b", "bytes"])
def test_ranges_it_does_not_serve_are_ignored_as_the_rfc_allows(stored: str, header: str) -> None:
    response = requests.get(stored, headers={"Range": header}, timeout=10)
    assert response.status_code == 200
    assert response.content == DATA


def test_if_range_with_a_stale_validator_sends_the_whole_object(stored: str) -> None:
    etag = requests.head(stored, timeout=10).headers["etag"]
    fresh = requests.get(stored, headers={"Range": "bytes=0-9", "If-Range": etag}, timeout=10)
    assert fresh.status_code == 206 and fresh.content == DATA[:10]
    stale = requests.get(stored, headers={"Range": "bytes=0-9", "If-Range": '"stale"'}, timeout=10)
    assert stale.status_code == 200 and stale.content == DATA


def test_the_api_headers_of_a_followed_redirect_are_ignored(stored: str) -> None:
    response = requests.get(stored, headers=API_HEADERS, timeout=10)
    assert response.status_code == 200
    assert response.content == DATA
    ranged = requests.get(stored, headers={**API_HEADERS, "Range": "bytes=-10"}, timeout=10)
    assert ranged.status_code == 206 and ranged.content == DATA[-10:]


def test_a_tampered_signature_is_forbidden(stored: str) -> None:
    url = urlsplit(stored)
    query = dict(part.split("=", 1) for part in url.query.split("&"))
    signature = query["signature"]
    tampered = ("A" if signature[0] != "A" else "B") + signature[1:]
    base = f"{url.scheme}://{url.netloc}"
    for bad in (
        f"{base}{url.path}?expires={query['expires']}&signature={tampered}",
        f"{base}{url.path}?expires={int(query['expires']) + 3600}&signature={signature}",
        f"{base}{url.path.replace('object.bin', 'other.bin')}?{url.query}",
        f"{base}{url.path}?expires={query['expires']}",
        f"{base}{url.path}",
    ):
        body = assert_error(requests.get(bad, timeout=10), 403, "FORBIDDEN")
        assert body["detail"] == {}
        assert requests.head(bad, timeout=10).status_code == 403


def test_an_expired_url_is_forbidden(
    server: LiveServer, store: LocalObjectStore, key: str, stored: str
) -> None:
    expired = LocalObjectStore(store.root, store.secret, url_ttl_seconds=-1)
    body = assert_error(requests.get(expired.download_url(key, server.url), timeout=10), 403, "FORBIDDEN")
    assert "expired" in body["message"]
    response = requests.put(expired.upload_target(key, "x", server.url).signed_url, data=b"new", timeout=10)
    assert_error(response, 403, "FORBIDDEN")
    assert requests.get(stored, timeout=10).content == DATA


def test_a_url_for_one_method_does_not_allow_another(
    server: LiveServer, store: LocalObjectStore, key: str, stored: str
) -> None:
    assert_error(requests.put(stored, data=b"overwrite", timeout=10), 403, "FORBIDDEN")
    upload_url = store.upload_target(key, "object.bin", server.url).signed_url
    assert_error(requests.get(upload_url, timeout=10), 403, "FORBIDDEN")
    assert requests.head(upload_url, timeout=10).status_code == 403
    assert requests.get(stored, timeout=10).content == DATA


def test_another_servers_secret_is_forbidden(server: LiveServer, store: LocalObjectStore, key: str) -> None:
    stranger = LocalObjectStore(store.root, b"z" * 64)
    response = requests.put(stranger.upload_target(key, "x", server.url).signed_url, data=b"x", timeout=10)
    assert_error(response, 403, "FORBIDDEN")
    assert store.size(key) is None


def test_a_missing_object_is_404(server: LiveServer, store: LocalObjectStore) -> None:
    url = store.download_url("test-org/never-uploaded/object.bin", server.url)
    assert_error(requests.get(url, timeout=10), 404, "NOT_FOUND")
    assert requests.head(url, timeout=10).status_code == 404


def test_keys_that_collide_with_the_file_layout_are_409(
    server: LiveServer, store: LocalObjectStore, key: str, stored: str
) -> None:
    """On disk an object cannot also be a directory, as it could be in S3."""
    below = requests.put(
        store.upload_target(f"{key}/below", "x", server.url).signed_url, data=b"x", timeout=10
    )
    assert_error(below, 409, "CONFLICT")
    parent = key.rsplit("/", 1)[0]
    above = requests.put(store.upload_target(parent, "x", server.url).signed_url, data=b"x", timeout=10)
    assert_error(above, 409, "CONFLICT")
    assert requests.get(stored, timeout=10).content == DATA
    assert leftovers(store.root) == []


def test_a_declared_size_over_the_cap_is_refused_before_any_byte_is_read(
    server: LiveServer, store: LocalObjectStore, key: str, stored: str
) -> None:
    url = urlsplit(store.upload_target(key, "object.bin", server.url).signed_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    connection.putrequest("PUT", f"{url.path}?{url.query}")
    connection.putheader("Content-Length", str(server.settings.max_upload_bytes + 1))
    connection.endheaders()  # and never send the body
    response = connection.getresponse()
    assert response.status == 413
    body = response.read()
    connection.close()
    assert b'"error_code":"PAYLOAD_TOO_LARGE"' in body
    assert requests.get(stored, timeout=10).content == DATA
    assert leftovers(store.root) == []


def wait_for(condition: Callable[[], bool], seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_an_upload_cut_short_stores_nothing(server: LiveServer, store: LocalObjectStore, key: str) -> None:
    url = urlsplit(store.upload_target(key, "object.bin", server.url).signed_url)
    head = f"PUT {url.path}?{url.query} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Length: 100000\r\n\r\n"
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(head.encode() + b"x" * 50_000)
        assert wait_for(lambda: bool(leftovers(store.root)))  # the body streams to a temporary file
    assert wait_for(lambda: not leftovers(store.root))
    assert store.size(key) is None


# -- the upload cap, counted while streaming (a server capped at 1 MiB) -----------------------


@pytest.fixture
def capped_store(capped_server: CappedServer) -> LocalObjectStore:
    built = create_store(Settings(data_dir=capped_server.data_dir))
    assert isinstance(built, LocalObjectStore)
    return built


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        chunk = b"y" * min(size, total - sent)
        sent += len(chunk)
        yield chunk


def test_an_upload_at_the_cap_is_accepted(
    capped_server: CappedServer, capped_store: LocalObjectStore
) -> None:
    key = "org/m/at-cap.bin"
    url = capped_store.upload_target(key, "x", capped_server.url).signed_url
    assert requests.put(url, data=b"z" * capped_server.max_upload_bytes, timeout=10).status_code == 200
    assert capped_store.size(key) == capped_server.max_upload_bytes


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
def test_an_upload_over_the_cap_is_413_and_keeps_the_old_object(
    capped_server: CappedServer, capped_store: LocalObjectStore, streamed: bool
) -> None:
    key = f"org/m/over-cap-{streamed}.bin"
    url = capped_store.upload_target(key, "x", capped_server.url).signed_url
    assert requests.put(url, data=b"original", timeout=10).status_code == 200
    size = capped_server.max_upload_bytes + 300_000
    body = _chunks(size) if streamed else b"y" * size
    try:
        response = requests.put(url, data=body, timeout=10)
    except requests.ConnectionError:
        pass  # the server may close before the client has finished sending; the refusal still holds
    else:
        body_json = assert_error(response, 413, "PAYLOAD_TOO_LARGE")
        assert str(capped_server.max_upload_bytes) in body_json["message"]
    with capped_store.reading(key) as path:
        assert path.read_bytes() == b"original"
    assert leftovers(capped_store.root) == []


# -- polars reads row windows through the signed URL ------------------------------------------


def test_polars_reads_a_row_window_of_a_multi_row_group_parquet(
    server: LiveServer, store: LocalObjectStore, tmp_path: Path
) -> None:
    rows = 200_000
    frame = pl.DataFrame(
        {
            "Time [s]": pl.arange(0, rows, eager=True).cast(pl.Float64) * 0.1,
            "Voltage [V]": pl.Series(os.urandom(rows)).cast(pl.Float64) / 255 + 3.0,
            "Step count": pl.arange(0, rows, eager=True) // 1000,
        }
    )
    path = tmp_path / "time_series.parquet"
    frame.write_parquet(path, compression="zstd", row_group_size=20_000)
    assert path.stat().st_size > 262_144  # so the suffix read really is a range, not the whole file
    key = "test-org/polars/time_series.parquet"
    target = store.upload_target(key, "time_series.parquet", server.url)
    with open(path, "rb") as body:
        assert requests.put(target.signed_url, data=body, timeout=30).status_code == 200
    url = store.download_url(key, server.url)
    for start, length in ((0, 10), (45_000, 30_000), (rows - 5, 100)):
        window = pl.scan_parquet(url).slice(start, length).collect()
        assert_frame_equal(window, frame.slice(start, length))
    assert_frame_equal(pl.read_parquet(url), frame)
