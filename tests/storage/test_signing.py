"""URL signatures: what they authorise, what they refuse, and where the secret comes from."""

from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from cellstore.core.settings import Settings
from cellstore.storage import signing
from cellstore.storage.factory import signing_secret
from cellstore.storage.signing import SignatureRejected, load_or_create_secret, sign, verify

SECRET = b"k" * 64
KEY = "org-1/measurement-2/time_series.parquet"
NOW = 1_800_000_000


def test_a_signature_verifies_for_its_method_key_and_expiry() -> None:
    signature = sign(SECRET, "PUT", KEY, NOW + 60)
    verify(SECRET, "PUT", KEY, str(NOW + 60), signature, now=NOW)
    assert signature.isascii() and "=" not in signature and "+" not in signature and "/" not in signature


def test_a_get_signature_also_authorises_head_but_not_put() -> None:
    signature = sign(SECRET, "GET", KEY, NOW + 60)
    verify(SECRET, "HEAD", KEY, NOW + 60, signature, now=NOW)
    verify(SECRET, "get", KEY, NOW + 60, signature, now=NOW)
    with pytest.raises(SignatureRejected, match="does not match"):
        verify(SECRET, "PUT", KEY, NOW + 60, signature, now=NOW)


def test_a_put_signature_does_not_authorise_reading() -> None:
    signature = sign(SECRET, "PUT", KEY, NOW + 60)
    for method in ("GET", "HEAD", "DELETE"):
        with pytest.raises(SignatureRejected):
            verify(SECRET, method, KEY, NOW + 60, signature, now=NOW)


@pytest.mark.parametrize(
    ("key", "expires", "secret"),
    [
        (KEY + "x", NOW + 60, SECRET),  # another object
        ("org-1/measurement-2/steps.parquet", NOW + 60, SECRET),
        (KEY, NOW + 61, SECRET),  # an extended expiry
        (KEY, NOW + 60, b"another secret, another server.."),
    ],
)
def test_changing_anything_signed_is_refused(key: str, expires: int, secret: bytes) -> None:
    signature = sign(SECRET, "GET", KEY, NOW + 60)
    with pytest.raises(SignatureRejected, match="does not match"):
        verify(secret, "GET", key, expires, signature, now=NOW)


def test_a_tampered_signature_is_refused() -> None:
    signature = sign(SECRET, "GET", KEY, NOW + 60)
    tampered = ("A" if signature[0] != "A" else "B") + signature[1:]
    with pytest.raises(SignatureRejected):
        verify(SECRET, "GET", KEY, NOW + 60, tampered, now=NOW)
    with pytest.raises(SignatureRejected):
        verify(SECRET, "GET", KEY, NOW + 60, signature[:-1], now=NOW)
    with pytest.raises(SignatureRejected):
        verify(SECRET, "GET", KEY, NOW + 60, signature + "é", now=NOW)


def test_an_expired_signature_is_refused() -> None:
    signature = sign(SECRET, "GET", KEY, NOW)
    verify(SECRET, "GET", KEY, NOW, signature, now=NOW)  # valid up to and including its second
    with pytest.raises(SignatureRejected, match="expired"):
        verify(SECRET, "GET", KEY, NOW, signature, now=NOW + 1)


@pytest.mark.parametrize(
    ("expires", "signature"), [(None, "abc"), ("123", None), ("123", ""), ("soon", "abc")]
)
def test_missing_or_malformed_parameters_are_refused(expires: str | None, signature: str | None) -> None:
    with pytest.raises(SignatureRejected):
        verify(SECRET, "GET", KEY, expires, signature, now=NOW)


def test_signed_query_expires_after_the_ttl() -> None:
    expires, signature = signing.signed_query(SECRET, "PUT", KEY, 3600)
    verify(SECRET, "PUT", KEY, expires, signature, now=expires - 3600)
    with pytest.raises(SignatureRejected, match="expired"):
        verify(SECRET, "PUT", KEY, expires, signature, now=expires + 1)


def test_the_secret_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "signing.key"
    first = load_or_create_secret(path)
    assert len(first) >= 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(path) == first
    assert load_or_create_secret(tmp_path / "elsewhere" / "signing.key") != first
    assert [p.name for p in path.parent.iterdir()] == ["signing.key"]  # no temporary left behind


def _load(path: str) -> bytes:
    return load_or_create_secret(Path(path))


def test_processes_starting_together_agree_on_one_secret(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        secrets = pool.map(_load, [str(path)] * 8)
    assert len(set(secrets)) == 1
    assert secrets[0] == path.read_text().strip().encode()


def test_an_unusable_secret_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    path.write_text("short\n")
    with pytest.raises(ValueError, match="no usable signing secret"):
        load_or_create_secret(path)


def test_a_configured_secret_takes_precedence_and_writes_no_file(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, signing_secret="s" * 40)
    assert signing_secret(settings) == b"s" * 40
    assert not (tmp_path / "signing.key").exists()
    generated = signing_secret(Settings(data_dir=tmp_path))
    assert generated == (tmp_path / "signing.key").read_text().strip().encode()


def test_a_short_configured_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        Settings(data_dir=tmp_path, signing_secret="password")
