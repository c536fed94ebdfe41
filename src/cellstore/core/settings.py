"""Typed settings, read once from the environment (prefix ``CELLSTORE_``)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field, field_validator
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
    """The asyncio flavour of a synchronous URL (psycopg 3 serves both; SQLite needs aiosqlite)."""
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url.split("://", 1)[1]
    return url
