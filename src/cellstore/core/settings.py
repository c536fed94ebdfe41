"""Typed settings, read once from the environment (prefix ``CELLSTORE_``)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything cellstore can be configured with.

    The embedded default needs nothing but a data directory: SQLite at
    ``DATA_DIR/cellstore.db``. Production sets ``CELLSTORE_DATABASE_URL`` to a
    PostgreSQL URL.
    """

    model_config = SettingsConfigDict(env_prefix="CELLSTORE_", extra="ignore")

    data_dir: Path = Field(default=Path("data"), description="Where the embedded default keeps its files.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the metadata database; SQLite in data_dir when unset.",
    )
    max_request_body_bytes: int = Field(
        default=64 * 1024 * 1024,
        gt=0,
        description="Largest JSON request body accepted, after gzip decompression.",
    )
    database_echo: bool = False

    # --- Object storage (cellstore.storage) -----------------------------------------------
    storage_url: str | None = Field(
        default=None,
        description="Where objects live: file:///absolute/path, or "
        "s3://bucket?endpoint=http://host:port&region=us-east-1[&public_endpoint=...]; "
        "files under data_dir/objects when unset.",
    )
    signing_secret: SecretStr | None = Field(
        default=None,
        min_length=32,
        description="Key that signs storage URLs of the local backend; when unset one is generated "
        "into data_dir/signing.key (0600) and kept, so URLs survive restarts.",
    )
    url_ttl_seconds: int = Field(default=3600, gt=0, description="Lifetime of signed storage URLs.")
    max_upload_bytes: int = Field(
        default=10 * 1024**3, gt=0, description="Largest object accepted by a signed upload URL."
    )
    s3_access_key_id: str | None = Field(
        default=None,
        validation_alias=AliasChoices("s3_access_key_id", "CELLSTORE_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"),
        description="Access key of the S3 backend (also read from AWS_ACCESS_KEY_ID).",
    )
    s3_secret_access_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "s3_secret_access_key", "CELLSTORE_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"
        ),
        description="Secret key of the S3 backend (also read from AWS_SECRET_ACCESS_KEY).",
    )
    s3_multipart_uploads: bool = Field(
        default=False,
        description="Offer clients S3 multipart credentials for large uploads. They are handed to "
        "every uploader, so give them a write-only key pair of their own (s3_upload_*).",
    )
    s3_upload_access_key_id: str | None = Field(
        default=None, description="Access key handed to clients for multipart uploads."
    )
    s3_upload_secret_access_key: SecretStr | None = Field(
        default=None, description="Secret key handed to clients for multipart uploads."
    )
    s3_multipart_use_store_credentials: bool = Field(
        default=False,
        description="Hand clients the backend's own key pair when no s3_upload_* pair is set "
        "(full access to the bucket for anyone who uploads; trusted single-user setups only).",
    )
    # --- end of object storage ----------------------------------------------------------------

    # --- Background jobs (cellstore.jobs) ------------------------------------------------------
    embedded_worker: bool = Field(
        default=True,
        description="Run a job worker inside each server process; set false when `cellstore worker` "
        "processes do the work.",
    )
    job_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long a claimed job is reserved before another worker may retake it.",
    )
    job_poll_seconds: float = Field(default=0.5, gt=0, description="How often an idle worker looks for jobs.")
    abandoned_upload_hours: float = Field(
        default=24.0, gt=0, description="Uploads initiated but not confirmed for this long are deleted."
    )

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @cached_property
    def sync_database_url(self) -> str:
        """URL for synchronous use (migrations, command line)."""
        return to_sync_url(self.database_url or f"sqlite:///{self.data_dir / 'cellstore.db'}")

    @cached_property
    def async_database_url(self) -> str:
        """URL for the server's asyncio engine."""
        return to_async_url(self.sync_database_url)


def to_sync_url(url: str) -> str:
    """Normalise a user-given database URL to the driver cellstore uses synchronously."""
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite+aiosqlite://"):
        return "sqlite://" + url.split("://", 1)[1]
    return url


def to_async_url(url: str) -> str:
    """The asyncio flavour of a synchronous URL.

    The server talks to PostgreSQL through asyncpg: SQLAlchemy's asyncio adaptation of
    psycopg costs about a millisecond per transaction, which the hot read paths cannot afford.
    """
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url.split("://", 1)[1]
    if url.startswith("postgresql+psycopg://"):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url
