"""Objects in any S3-compatible store (SeaweedFS, MinIO, Ceph, AWS) through boto3.

Path-style addressing and SigV4 throughout, since self-hosted stores rarely
have wildcard DNS for virtual-hosted buckets. Clients get presigned URLs and
talk to the store directly, so those URLs are signed for the endpoint the
*client* reaches (``public_endpoint``), which may differ from the one cellstore
uses itself: the host is part of a SigV4 signature.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from cellstore.storage.base import ObjectStore, UploadTarget

#: Files above this go up in parts of this size (boto3's 8 MiB default means many small requests).
TRANSFER = TransferConfig(multipart_threshold=64 * 1024 * 1024, multipart_chunksize=64 * 1024 * 1024)
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


@dataclass(frozen=True)
class MultipartCredentials:
    """The key pair offered to clients for S3 multipart uploads.

    The ``ionworks`` client switches to multipart at 16 MiB when an upload
    target carries S3 credentials, which is faster and survives a dropped part,
    but it costs confidentiality: a presigned URL allows one PUT of one key
    until it expires, whereas a key pair allows whatever its policy allows, on
    any key, until it is revoked, and every user who uploads receives it. So
    this is off unless configured, and the pair should be an identity of its
    own restricted by the store's policy to writing the bucket (SeaweedFS:
    ``"actions": ["Write:<bucket>"]``). Static keys have no expiry, so
    ``expires_at`` stays None unless a deployment rotates them on a schedule.
    Without multipart, clients PUT every size to the presigned URL, which the
    store accepts up to its single-PUT limit (5 GiB on AWS).
    """

    access_key_id: str
    secret_access_key: str
    session_token: str = ""
    expires_at: str | None = None


def _client(endpoint: str, region: str, access_key_id: str, secret_access_key: str) -> Any:
    # Checksums only where the API requires them: boto3's newer default adds
    # CRC32 trailers that several S3-compatible stores do not implement.
    config = Config(
        s3={"addressing_style": "path"},
        signature_version="s3v4",
        retries={"max_attempts": 5, "mode": "standard"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    # A session of our own: boto3's default session is not safe to share between threads.
    session = boto3.session.Session()
    return session.client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=config,
    )


class S3ObjectStore(ObjectStore):
    """An :class:`ObjectStore` on one bucket of an S3-compatible store."""

    def __init__(
        self,
        bucket: str,
        endpoint: str,
        region: str,
        access_key_id: str,
        secret_access_key: str,
        public_endpoint: str | None = None,
        url_ttl_seconds: int = 3600,
        multipart: MultipartCredentials | None = None,
    ) -> None:
        self.bucket = bucket
        self.region = region
        self.public_endpoint = public_endpoint or endpoint
        self.url_ttl_seconds = url_ttl_seconds
        self.multipart = multipart
        self._client = _client(endpoint, region, access_key_id, secret_access_key)
        self._presigner = (
            self._client
            if self.public_endpoint == endpoint
            else _client(self.public_endpoint, region, access_key_id, secret_access_key)
        )

    def _presign(self, operation: str, key: str) -> str:
        url: str = self._presigner.generate_presigned_url(
            operation, Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=self.url_ttl_seconds
        )
        return url

    def upload_target(self, key: str, filename: str, base_url: str) -> UploadTarget:
        url = self._presign("put_object", key)
        token = parse_qs(urlsplit(url).query).get("X-Amz-Signature", [""])[0]
        multipart = None
        if self.multipart is not None:
            multipart = {
                "endpoint": self.public_endpoint,
                "region": self.region,
                "bucket": self.bucket,
                "object_path": key,
                "access_key_id": self.multipart.access_key_id,
                "secret_access_key": self.multipart.secret_access_key,
                "session_token": self.multipart.session_token,
                "expires_at": self.multipart.expires_at,
            }
        return UploadTarget(filename=filename, signed_url=url, token=token, path=key, multipart=multipart)

    def download_url(self, key: str, base_url: str) -> str:
        return self._presign("get_object", key)

    def size(self, key: str) -> int | None:
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise
        return int(head["ContentLength"])

    def put_file(self, key: str, path: Path) -> None:
        self._client.upload_file(str(path), self.bucket, key, Config=TRANSFER)

    def put_bytes(self, key: str, data: bytes) -> None:
        self._client.put_object(Bucket=self.bucket, Key=key, Body=data)

    @contextmanager
    def reading(self, key: str) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="cellstore-s3-") as directory:
            path = Path(directory) / "object"
            try:
                self._client.download_file(self.bucket, key, str(path), Config=TRANSFER)
            except ClientError as exc:
                if _is_missing(exc):
                    raise FileNotFoundError(f"No object {key!r}") from None
                raise
            yield path

    def head(self, key: str, size: int) -> bytes:
        # The range asked for must lie within the object: some S3 servers refuse one running past its end.
        total = self.size(key)
        if total is None:
            raise FileNotFoundError(f"No object {key!r}")
        if total == 0:
            return b""
        answer = self._client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{min(size, total) - 1}")
        return bytes(answer["Body"].read())

    def list(self, prefix: str) -> Iterator[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield item["Key"]

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=key)

    def delete_prefix(self, prefix: str) -> None:
        """Remove every object under ``prefix``, a thousand per request."""
        keys = list(self.list(prefix))
        for start in range(0, len(keys), 1000):
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            answer = self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
            if answer.get("Errors"):
                raise OSError(f"Could not delete {len(answer['Errors'])} objects: {answer['Errors'][0]}")


def _is_missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in _MISSING
