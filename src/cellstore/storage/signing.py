"""Signatures that let a URL authorise one method on one object until an expiry.

The local backend serves objects through cellstore itself, but the ``ionworks``
client PUTs to upload URLs with a bare ``requests`` call and polars fetches
download URLs with no API credentials at all: the URL has to carry its own
authorisation, as an S3 presigned URL does. It carries
``HMAC-SHA256(secret, method, key, expires)``. A GET signature also authorises
HEAD, because range readers ask HEAD for the size before reading.

The secret is either configured or generated once per data directory and kept
in a file, so signed URLs survive restarts and every server process on the
same data directory accepts the URLs any of them issued.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

SECRET_BYTES = 32


class SignatureRejected(Exception):
    """A URL signature that does not authorise the request; the message says why."""


def _canonical_method(method: str) -> str:
    method = method.upper()
    return "GET" if method == "HEAD" else method


def sign(secret: bytes, method: str, key: str, expires: int) -> str:
    """The URL-safe signature of ``method`` on ``key`` until ``expires`` (epoch seconds)."""
    message = f"{_canonical_method(method)}\n{key}\n{expires}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verify(
    secret: bytes,
    method: str,
    key: str,
    expires: str | int | None,
    signature: str | None,
    now: float | None = None,
) -> None:
    """Raise :class:`SignatureRejected` unless ``signature`` authorises ``method`` on ``key`` now.

    ``expires`` and ``signature`` are taken as they came in the query string, so
    a missing or malformed value is a rejection rather than a crash.
    """
    if not signature or expires is None:
        raise SignatureRejected("The URL carries no signature")
    try:
        expiry = int(expires)
    except ValueError:
        raise SignatureRejected("The URL's expiry is not a number") from None
    expected = sign(secret, method, key, expiry)
    # Compared before the expiry so a forger learns nothing from which check failed.
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise SignatureRejected("The URL's signature does not match this object and method")
    if (time.time() if now is None else now) > expiry:
        raise SignatureRejected("The signed URL has expired")


def signed_query(secret: bytes, method: str, key: str, ttl_seconds: int) -> tuple[int, str]:
    """An expiry ``ttl_seconds`` from now and the signature for it."""
    expires = int(time.time()) + ttl_seconds
    return expires, sign(secret, method, key, expires)


def load_or_create_secret(path: Path) -> bytes:
    """The secret kept at ``path``, generated (0600) on first use.

    Several server processes may start together on one data directory, so the
    file is written under a temporary name and hard-linked into place: exactly
    one process's secret wins and the others read it, never a half-written file.
    """
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(SECRET_BYTES) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process won: use its secret
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return _read_secret(path)


def _read_secret(path: Path) -> bytes:
    text = path.read_text().strip()
    if len(text) < SECRET_BYTES:
        raise ValueError(f"{path} holds no usable signing secret; delete it to have a new one generated")
    return text.encode()
