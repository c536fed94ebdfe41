"""Deleting stored objects after their rows are gone, for every way a measurement can be deleted.

Rows are deleted in the request's transaction (directly, or by cascade from an
instance, a specification or a project); the objects are deleted by a durable
job recorded in that same transaction, so neither is lost if the other fails.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cellstore.cells.models import CellInstance
from cellstore.jobs.queue import enqueue
from cellstore.measurements import keys
from cellstore.measurements.models import CellMeasurement

DELETE_OBJECTS = "delete_objects"


async def delete_objects_later(session: AsyncSession, organization_id: str, prefixes: list[str]) -> None:
    if prefixes:
        await enqueue(session, DELETE_OBJECTS, {"prefixes": prefixes}, organization_id)


async def forget_measurements(session: AsyncSession, organization_id: str, where: Any) -> None:
    """Schedule deletion of the objects of every measurement matching ``where`` (a predicate on
    measurements or their instances), before the rows go by cascade."""
    ids = await session.scalars(
        select(CellMeasurement.id)
        .join(CellInstance, CellInstance.id == CellMeasurement.cell_instance_id)
        .where(CellMeasurement.organization_id == organization_id, where)
    )
    await delete_objects_later(
        session, organization_id, [keys.measurement_prefix(organization_id, mid) for mid in ids]
    )
