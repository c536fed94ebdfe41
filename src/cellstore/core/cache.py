"""Read caches that stay coherent with the database, in every server process.

The hottest reads of cellstore (resolving an API key, the measurement a client
polls every two seconds per upload) answer from memory. Every committed write
to a table a cache depends on empties that cache, in every process:

- in this process, as soon as the writing connection returns to the pool after
  its commit (engine events, including the tables reached by ``ON DELETE CASCADE``);
- on PostgreSQL, in every process, by ``NOTIFY cellstore_cache`` sent at commit by
  a statement trigger on each cached table (migration 0003) and heard by one
  listening connection per process;
- on SQLite, by ``PRAGMA data_version``, which changes whenever another connection
  commits, checked (a few microseconds) before each cache read.

A value read from the database is kept only if no invalidation of its tables
happened while it was being read, so a slow reader never stores an answer older
than a write it raced with. Until the PostgreSQL listener is connected, and
whenever it is lost, caches are bypassed: correctness never depends on a
notification arriving, only speed does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import MetaData, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request

log = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")

CHANNEL = "cellstore_cache"
ALL_TABLES = "*"
_WRITTEN = "cellstore.written"
_COMMITTED = "cellstore.committed"


@dataclass(frozen=True, slots=True)
class CacheSpec:
    """A kind of cached answer and the tables whose changes make it stale."""

    name: str
    tables: frozenset[str]
    max_entries: int = 10_000
    max_age: float = 300.0  # a last line of defence; invalidation is what keeps answers fresh


class ReadCache(Generic[K, V]):
    """Answers of one kind, dropped whenever one of ``tables`` changes.

    Read with :meth:`get`; after a miss, take a :meth:`token` *before* querying and
    hand it to :meth:`put`, which refuses the value if the tables changed meanwhile.
    """

    def __init__(self, coherence: Coherence, spec: CacheSpec) -> None:
        self._coherence = coherence
        self._tables = spec.tables
        self._max_entries = spec.max_entries
        self._max_age = spec.max_age
        self._entries: dict[K, tuple[float, V]] = {}
        self._generation = -1

    def _current(self) -> int | None:
        """The tables' generation now, emptying the cache if it moved; None while caching is off."""
        generation = self._coherence.generation(self._tables)
        if generation != self._generation:
            self._entries.clear()
            self._generation = generation if generation is not None else -1
        return generation

    def get(self, key: K) -> V | None:
        if self._current() is None:
            return None
        entry = self._entries.get(key)
        if entry is None:
            return None
        stored_at, value = entry
        if time.monotonic() - stored_at > self._max_age:
            del self._entries[key]
            return None
        return value

    def token(self) -> int | None:
        return self._current()

    def put(self, key: K, value: V, token: int | None) -> None:
        if token is None or self._current() != token:
            return
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        self._entries[key] = (time.monotonic(), value)


class Coherence:
    """Per-process generations of the cached tables, and what moves them.

    ``generation(tables)`` grows whenever one of the tables may have changed; it is
    None while caching is off (PostgreSQL listener not connected).
    """

    def __init__(self, metadata: MetaData) -> None:
        self._counter = 0
        self._changed_at: dict[str, int] = {}
        self._cascades = cascaded_tables(metadata)
        self._caches: dict[str, ReadCache[Any, Any]] = {}
        self.enabled = True

    def generation(self, tables: frozenset[str]) -> int | None:
        self.refresh()
        if not self.enabled:
            return None
        changed = self._changed_at
        return max((changed.get(table, 0) for table in tables), default=0) + changed.get(ALL_TABLES, 0)

    def invalidate(self, tables: Iterable[str]) -> None:
        self._counter += 1
        for table in tables:
            for reached in self._cascades.get(table, (table,)):
                self._changed_at[reached] = self._counter

    def invalidate_all(self) -> None:
        self.invalidate((ALL_TABLES,))

    def refresh(self) -> None:
        """Look for writes of other processes that announce themselves only when asked (SQLite)."""

    def track(self, engine: AsyncEngine) -> None:
        """Invalidate the tables this process writes to, once their transaction has committed."""
        sync_engine = engine.sync_engine
        event.listen(sync_engine, "after_cursor_execute", _note_write)
        event.listen(sync_engine, "commit", _note_commit)
        event.listen(sync_engine, "rollback", _note_rollback)

        def checked_in(_dbapi_connection: Any, record: Any) -> None:
            committed = record.info.pop(_COMMITTED, None)
            if committed:
                self.invalidate(committed)

        event.listen(sync_engine.pool, "checkin", checked_in)

    async def start(self) -> None:
        """Begin hearing other processes' writes."""

    async def stop(self) -> None:
        """Stop hearing them."""

    def cache(self, spec: CacheSpec) -> ReadCache[Any, Any]:
        """This process's cache of ``spec``, made on first use."""
        cache = self._caches.get(spec.name)
        if cache is None:
            cache = self._caches[spec.name] = ReadCache(self, spec)
        return cache


_WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "TRUNCATE", "WITH")


def _note_write(conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool) -> None:
    if context is not None and (context.isinsert or context.isupdate or context.isdelete):
        table = getattr(getattr(context.compiled, "statement", None), "table", None)
        name = getattr(table, "name", ALL_TABLES)
    elif statement.lstrip()[:8].upper().startswith(_WRITE_VERBS):
        name = ALL_TABLES  # a textual write: which table is not known, so all of them
    else:
        return
    conn.info.setdefault(_WRITTEN, set()).add(name)


def _note_commit(conn: Any) -> None:
    written = conn.info.pop(_WRITTEN, None)
    if written:
        conn.info.setdefault(_COMMITTED, set()).update(written)


def _note_rollback(conn: Any) -> None:
    conn.info.pop(_WRITTEN, None)


def cascaded_tables(metadata: MetaData) -> dict[str, tuple[str, ...]]:
    """For each table, itself and every table a delete of its rows can reach through the database's
    own ``ON DELETE CASCADE`` or ``SET NULL``, which no statement of this process names."""
    children: dict[str, set[str]] = {name: set() for name in metadata.tables}
    for table in metadata.tables.values():
        for fk in table.foreign_keys:
            if (fk.ondelete or "").upper() in ("CASCADE", "SET NULL"):
                children.setdefault(fk.column.table.name, set()).add(table.name)
    reached: dict[str, tuple[str, ...]] = {}
    for name in children:
        seen, stack = {name}, [name]
        while stack:
            for child in children.get(stack.pop(), ()):
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        reached[name] = tuple(sorted(seen))
    return reached


class SqliteCoherence(Coherence):
    """SQLite: any commit by another connection changes ``PRAGMA data_version`` of this one."""

    def __init__(self, metadata: MetaData, path: str) -> None:
        super().__init__(metadata)
        self._connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._version = self._read_version()

    def _read_version(self) -> int:
        return int(self._connection.execute("PRAGMA data_version").fetchone()[0])

    def refresh(self) -> None:
        version = self._read_version()
        if version != self._version:
            self._version = version
            self.invalidate_all()

    async def stop(self) -> None:
        self._connection.close()


class PostgresCoherence(Coherence):
    """PostgreSQL: one connection per process listens to the triggers' ``NOTIFY cellstore_cache``."""

    RETRY_SECONDS = 1.0

    def __init__(self, metadata: MetaData, url: str) -> None:
        super().__init__(metadata)
        self.enabled = False
        self._dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever(), name="cellstore-cache-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.enabled = False

    def _heard(self, _connection: Any, _pid: int, _channel: str, table: str) -> None:
        self.invalidate((table,))

    async def _listen_forever(self) -> None:
        import asyncpg

        while True:
            lost = asyncio.Event()
            try:
                connection = await asyncpg.connect(self._dsn)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("cache listener cannot connect (caches off): %s", exc)
                await asyncio.sleep(self.RETRY_SECONDS)
                continue
            try:
                connection.add_termination_listener(lambda _c, lost=lost: lost.set())
                await connection.add_listener(CHANNEL, self._heard)
                # Anything may have changed while nobody was listening.
                self.invalidate_all()
                self.enabled = True
                await lost.wait()
                log.warning("cache listener lost its connection (caches off until it is back)")
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("cache listener failed (caches off): %s", exc)
            finally:
                self.enabled = False
                self.invalidate_all()
                if not connection.is_closed():
                    connection.terminate()
            await asyncio.sleep(self.RETRY_SECONDS)


def coherence_for(url: str, metadata: MetaData) -> Coherence:
    """The coherence of a database URL (synchronous form)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return SqliteCoherence(metadata, parsed.database or ":memory:")
    return PostgresCoherence(metadata, url)


def read_cache(request: Request, spec: CacheSpec) -> ReadCache[Any, Any]:
    """The running application's cache of ``spec``."""
    coherence: Coherence = request.app.state.coherence
    return coherence.cache(spec)
