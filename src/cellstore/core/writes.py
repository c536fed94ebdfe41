"""Writing rows whose names must be unique, without races and without losing the transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cellstore.core.errors import Conflict


async def flush_unique(
    session: AsyncSession,
    message: str,
    find_existing: Callable[[], Awaitable[str | None]],
    change: Callable[[], Any] | None = None,
) -> None:
    """Apply ``change`` and flush; a uniqueness violation becomes a Conflict.

    ``find_existing`` is asked first (the common case, a clean 409 with the
    existing id) and again if the database still refuses the row because a
    concurrent request won the race. Then the whole transaction is rolled back,
    since the request fails anyway: no savepoint is used, because SQLite's
    Python driver commits the outermost savepoint on release, which would let a
    later error in the same request leave this row behind.
    """
    existing = await find_existing()
    if existing is not None:
        raise Conflict(message, existing)
    if change is not None:
        change()
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise Conflict(message, await find_existing()) from None


def other_than(
    own_id: str, lookup: Callable[[], Awaitable[str | None]]
) -> Callable[[], Awaitable[str | None]]:
    """Wrap a name lookup so that finding the row being renamed itself does not count."""

    async def find() -> str | None:
        existing = await lookup()
        return existing if existing != own_id else None

    return find
