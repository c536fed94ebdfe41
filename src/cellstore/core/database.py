"""The metadata database: declarative base, portable column types, engines and sessions.

One code path serves SQLite (the embedded default) and PostgreSQL. The schema is
owned by the Alembic migrations in ``cellstore.migrations``; nothing here creates
tables.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy import JSON, DateTime, MetaData, String, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from cellstore.core import jsontext

T = TypeVar("T")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> str:
    """A new primary key: a random UUID as text, which is what the client's models expect."""
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no zone, so values are normalised to naive UTC on the way in and
    tagged UTC on the way out; PostgreSQL stores ``timestamptz``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONDocument = JSON().with_variant(JSONB(), "postgresql")
"""Free-form JSON: JSONB on PostgreSQL, JSON text on SQLite."""

IdColumn = String(36)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow, index=True)


def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def configure_sqlite(engine: Engine) -> None:
    """Foreign keys on, WAL for concurrent readers, and a busy timeout instead of instant locks."""
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)


def create_engine_for(url: str, echo: bool = False) -> AsyncEngine:
    """The server's asyncio engine."""
    # JSON columns are read on every list row; orjson parses them several times faster.
    kwargs: dict[str, Any] = {
        "echo": echo,
        "json_deserializer": jsontext.loads,
        "json_serializer": jsontext.dumps_text,
    }
    if not url.startswith("sqlite"):
        # No pre-ping: it would add a round trip to every request. A connection found
        # broken invalidates the pool, so a database restart costs one failed request.
        kwargs.update(pool_size=10, max_overflow=20)
    engine = create_async_engine(url, **kwargs)
    configure_sqlite(engine.sync_engine)
    return engine


class Database:
    """The engine and session factory of one running application."""

    def __init__(self, url: str, echo: bool = False) -> None:
        self.engine = create_engine_for(url, echo)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # Reads outside a transaction: no BEGIN and no ROLLBACK around a single select.
        self._reader_sessionmaker = async_sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
        )

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session for independent reads (one statement each), for the hot read paths."""
        async with self._reader_sessionmaker() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


def run_in_transaction(url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work(session)`` in one committed transaction, outside any server (command line, tests)."""

    async def main() -> T:
        database = Database(url)
        try:
            async with database.sessionmaker() as session, session.begin():
                return await work(session)
        finally:
            await database.dispose()

    return asyncio.run(main())


def database_of(request: Request) -> Database:
    return request.app.state.database  # type: ignore[no-any-return]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the endpoint returns, rolled back if it raises.

    Declared with ``scope="function"`` so the commit happens before the response
    is sent: a client never sees a success for a write that did not land.
    """
    async with database_of(request).sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
