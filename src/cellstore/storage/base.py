"""The object-store interface every backend implements.

Objects are addressed by a key such as ``{org}/{measurement}/time_series.parquet``.
Clients never see the store's credentials: they get signed URLs that authorise
one method on one key until an expiry. The interface is synchronous (boto3 and
file I/O are); request handlers call it through a thread.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class UploadTarget:
    """Where a client PUTs one object: the ``UploadInfo`` of the wire contract."""

    filename: str
    signed_url: str
    token: str
    path: str
    multipart: dict[str, Any] | None = field(default=None)

    def as_upload_info(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "signed_url": self.signed_url,
            "token": self.token,
            "path": self.path,
            "multipart": self.multipart,
        }


class ObjectStore(ABC):
    """Operations cellstore needs from object storage."""

    @abstractmethod
    def upload_target(self, key: str, filename: str, base_url: str) -> UploadTarget:
        """A signed URL that accepts one unauthenticated PUT of ``key`` (and, where the
        backend offers it, S3 multipart credentials for the same object).

        ``base_url`` is the API's own address as the client reached it; backends
        that serve objects through cellstore build their URLs on it.
        """

    @abstractmethod
    def download_url(self, key: str, base_url: str) -> str:
        """A signed URL answering unauthenticated GET and HEAD of ``key``, with Range support."""

    @abstractmethod
    def size(self, key: str) -> int | None:
        """The object's size in bytes, or None when it does not exist."""

    @abstractmethod
    def put_file(self, key: str, path: Path) -> None:
        """Store the file at ``path`` under ``key``, replacing any object there atomically."""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key``, replacing any object there atomically."""

    @abstractmethod
    def reading(self, key: str) -> AbstractContextManager[Path]:
        """A local path holding the object's bytes for the duration of the context.

        The local backend yields the stored file itself; others download to a
        temporary file. Raises FileNotFoundError when the object does not exist.
        """

    def head(self, key: str, size: int) -> bytes:
        """The first ``size`` bytes of the object (all of it if shorter), without fetching the rest
        where the backend allows. Raises FileNotFoundError when the object does not exist."""
        with self.reading(key) as path, open(path, "rb") as file:
            return file.read(size)

    @abstractmethod
    def list(self, prefix: str) -> Iterator[str]:
        """Keys under ``prefix``."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove one object; a missing object is not an error."""

    def delete_prefix(self, prefix: str) -> None:
        """Remove every object under ``prefix``."""
        for key in list(self.list(prefix)):
            self.delete(key)
