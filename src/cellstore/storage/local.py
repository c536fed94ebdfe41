"""Objects as files under one directory, served by cellstore's own ``/storage`` routes.

This is the embedded default: nothing to run beside cellstore. Keys map to
paths one-to-one (``org/measurement/time_series.parquet`` is
``ROOT/org/measurement/time_series.parquet``), so keys are checked before they
touch the file system. Every write goes to a temporary file in the object's
own directory and is renamed over the object, so a reader sees the old bytes
or the new ones, never a mix, and a failed write leaves nothing behind.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from stat import S_ISREG
from typing import BinaryIO
from urllib.parse import quote

from cellstore.storage import signing
from cellstore.storage.base import ObjectStore, UploadTarget

TEMP_SUFFIX = ".cellstore-tmp"
ROUTE_PREFIX = "/storage/"


class InvalidKey(ValueError):
    """A key that cannot name a file under the root (``..``, absolute, empty parts)."""


def check_key(key: str) -> list[str]:
    """The key's parts, or :class:`InvalidKey` when it could escape the root or collide."""
    parts = key.split("/")
    if (
        not key
        or "\\" in key
        or "\x00" in key
        or any(part in ("", ".", "..") for part in parts)
        or parts[-1].endswith(TEMP_SUFFIX)
    ):
        raise InvalidKey(f"Invalid object key {key!r}")
    return parts


class PendingObject:
    """An object being written to a temporary file beside where it will live.

    The steps are separate methods so the HTTP upload can run each one off the
    event loop; :meth:`LocalObjectStore.writing` wraps them for plain code.
    """

    def __init__(self, handle: BinaryIO, temporary: Path, target: Path) -> None:
        self.handle = handle
        self.temporary = temporary
        self.target = target

    def write(self, data: bytes) -> None:
        self.handle.write(data)

    def commit(self) -> None:
        """Make the bytes durable, then put them in place in one rename."""
        try:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
            os.replace(self.temporary, self.target)
        except BaseException:
            self.discard()
            raise

    def discard(self) -> None:
        self.handle.close()
        self.temporary.unlink(missing_ok=True)


class LocalObjectStore(ObjectStore):
    """An :class:`ObjectStore` on the local file system with HMAC-signed URLs."""

    def __init__(self, root: Path, secret: bytes, url_ttl_seconds: int = 3600) -> None:
        self.root = Path(root).resolve()
        self.secret = secret
        self.url_ttl_seconds = url_ttl_seconds

    # -- paths and signatures, shared with the router -------------------------------------

    def object_path(self, key: str) -> Path:
        """Where ``key`` lives (whether or not it exists)."""
        return self.root.joinpath(*check_key(key))

    def signed_url(self, method: str, key: str, base_url: str) -> tuple[str, str]:
        """A ``/storage`` URL authorising ``method`` on ``key``, and its signature."""
        check_key(key)
        expires, signature = signing.signed_query(self.secret, method, key, self.url_ttl_seconds)
        url = f"{base_url.rstrip('/')}{ROUTE_PREFIX}{quote(key)}?expires={expires}&signature={signature}"
        return url, signature

    def verify(self, method: str, key: str, expires: str | None, signature: str | None) -> None:
        """Raise :class:`signing.SignatureRejected` unless the URL authorises the request."""
        signing.verify(self.secret, method, key, expires, signature)

    def begin_write(self, key: str) -> PendingObject:
        """A new version of ``key`` being written; it replaces the object only on commit."""
        target = self.object_path(key)
        handle, temporary = self._temporary_beside(target)
        return PendingObject(handle, temporary, target)

    @contextmanager
    def writing(self, key: str) -> Iterator[BinaryIO]:
        """A file to write ``key``'s new bytes to; they replace the object when the block
        ends normally and are discarded when it raises."""
        pending = self.begin_write(key)
        try:
            yield pending.handle
        except BaseException:
            pending.discard()
            raise
        pending.commit()

    # -- the ObjectStore interface ----------------------------------------------------------

    def upload_target(self, key: str, filename: str, base_url: str) -> UploadTarget:
        url, signature = self.signed_url("PUT", key, base_url)
        return UploadTarget(filename=filename, signed_url=url, token=signature, path=key)

    def download_url(self, key: str, base_url: str) -> str:
        return self.signed_url("GET", key, base_url)[0]

    def size(self, key: str) -> int | None:
        try:
            status = self.object_path(key).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return status.st_size if S_ISREG(status.st_mode) else None

    def put_file(self, key: str, path: Path) -> None:
        with self.writing(key) as handle, open(path, "rb") as source:
            shutil.copyfileobj(source, handle, 4 * 1024 * 1024)

    def put_bytes(self, key: str, data: bytes) -> None:
        with self.writing(key) as handle:
            handle.write(data)

    @contextmanager
    def reading(self, key: str) -> Iterator[Path]:
        path = self.object_path(key)
        if not path.is_file():
            raise FileNotFoundError(f"No object {key!r}")
        yield path

    def list(self, prefix: str) -> Iterator[str]:
        # Walk only the deepest directory the prefix names, then filter by the whole prefix.
        directory = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        if ".." in directory.split("/"):
            raise InvalidKey(f"Invalid prefix {prefix!r}")
        start = self.root.joinpath(*directory.split("/")) if directory else self.root
        keys = []
        for dirpath, _, filenames in os.walk(start):
            relative = Path(dirpath).relative_to(self.root).as_posix()
            for name in filenames:
                key = name if relative == "." else f"{relative}/{name}"
                if key.startswith(prefix) and not name.endswith(TEMP_SUFFIX):
                    keys.append(key)
        yield from sorted(keys)  # the order S3 lists in

    def delete(self, key: str) -> None:
        path = self.object_path(key)
        path.unlink(missing_ok=True)
        self._prune(path.parent)

    # -- helpers ----------------------------------------------------------------------------

    def _temporary_beside(self, target: Path) -> tuple[BinaryIO, Path]:
        """An exclusive temporary file in ``target``'s directory (created if need be).

        A concurrent delete may prune the directory between creating it and
        opening the file, so that is retried.
        """
        for _ in range(5):
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(f".{target.name}.{secrets.token_hex(8)}{TEMP_SUFFIX}")
            try:
                return open(temporary, "xb"), temporary  # closed by PendingObject
            except FileNotFoundError:
                continue
        raise OSError(f"Could not create a temporary file beside {target}")

    def _prune(self, directory: Path) -> None:
        """Remove now-empty directories between an object and the root."""
        while directory != self.root and self.root in directory.parents:
            try:
                directory.rmdir()
            except OSError:  # not empty, already gone or not ours: stop here
                return
            directory = directory.parent
