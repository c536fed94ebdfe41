"""Deleting stored objects after their rows are gone.

Rows are deleted in a request's transaction (directly or by cascade); their
objects are deleted by a durable job recorded in that same transaction, so
neither is lost if the other fails.
"""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession

from cellstore.jobs.queue import enqueue
from cellstore.jobs.registry import JobContext, task

DELETE_OBJECTS = "delete_objects"


async def delete_objects_later(session: AsyncSession, organization_id: str, prefixes: list[str]) -> None:
    """Record a job deleting every object under ``prefixes`` once the caller's transaction commits."""
    if prefixes:
        await enqueue(session, DELETE_OBJECTS, {"prefixes": prefixes}, organization_id)


@task(DELETE_OBJECTS)
async def delete_objects(context: JobContext) -> None:
    for prefix in context.payload["prefixes"]:
        await asyncio.to_thread(context.store.delete_prefix, prefix)
