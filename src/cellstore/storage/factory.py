"""Build the configured object store from ``settings.storage_url``.

* unset: files under ``DATA_DIR/objects`` (the embedded default);
* ``file:///absolute/path``: files under that directory;
* ``s3://bucket?endpoint=http://127.0.0.1:8333&region=us-east-1[&public_endpoint=...]``:
  any S3-compatible store, with the credentials of ``s3_access_key_id`` /
  ``s3_secret_access_key`` (or ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``).
  ``public_endpoint`` is the address clients use when it differs from the
  server's own (a store reached as ``seaweedfs:8333`` inside a compose network).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from cellstore.core.settings import Settings
from cellstore.storage.base import ObjectStore
from cellstore.storage.local import LocalObjectStore
from cellstore.storage.signing import load_or_create_secret

SIGNING_KEY_FILE = "signing.key"


def create_store(settings: Settings) -> ObjectStore:
    """The object store ``settings`` describe; raises ValueError for a URL it cannot use."""
    url = settings.storage_url or (settings.data_dir / "objects").as_uri()
    parts = urlsplit(url)
    if parts.scheme == "file":
        path = unquote(parts.path)
        if parts.netloc not in ("", "localhost") or not Path(path).is_absolute():
            raise ValueError(f"storage_url {url!r}: a file URL needs an absolute path (file:///...)")
        return LocalObjectStore(Path(path), signing_secret(settings), settings.url_ttl_seconds)
    if parts.scheme == "s3":
        return _s3_store(settings, parts.netloc, parse_qs(parts.query))
    raise ValueError(f"storage_url {url!r}: use file:///path or s3://bucket?endpoint=...")


def signing_secret(settings: Settings) -> bytes:
    """The configured secret, else the one generated for this data directory."""
    if settings.signing_secret is not None:
        return settings.signing_secret.get_secret_value().encode()
    return load_or_create_secret(settings.data_dir / SIGNING_KEY_FILE)


def _s3_store(settings: Settings, bucket: str, query: dict[str, list[str]]) -> ObjectStore:
    from cellstore.storage.s3 import MultipartCredentials, S3ObjectStore  # boto3 only when used

    def option(name: str, default: str | None = None) -> str | None:
        return query.get(name, [default])[-1]

    endpoint = option("endpoint")
    if not bucket or not endpoint:
        raise ValueError("storage_url: an S3 URL needs a bucket and an endpoint (s3://bucket?endpoint=...)")
    if not settings.s3_access_key_id or settings.s3_secret_access_key is None:
        raise ValueError("S3 storage needs credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    secret_key = settings.s3_secret_access_key.get_secret_value()
    multipart = None
    if settings.s3_multipart_uploads:
        if settings.s3_upload_access_key_id and settings.s3_upload_secret_access_key is not None:
            multipart = MultipartCredentials(
                settings.s3_upload_access_key_id, settings.s3_upload_secret_access_key.get_secret_value()
            )
        elif settings.s3_multipart_use_store_credentials:
            multipart = MultipartCredentials(settings.s3_access_key_id, secret_key)
        else:
            raise ValueError(
                "s3_multipart_uploads needs s3_upload_access_key_id and s3_upload_secret_access_key "
                "(or s3_multipart_use_store_credentials=true to hand clients the store's own keys)"
            )
    return S3ObjectStore(
        bucket=bucket,
        endpoint=endpoint,
        region=option("region", "us-east-1") or "us-east-1",
        access_key_id=settings.s3_access_key_id,
        secret_access_key=secret_key,
        public_endpoint=option("public_endpoint"),
        url_ttl_seconds=settings.url_ttl_seconds,
        multipart=multipart,
    )
