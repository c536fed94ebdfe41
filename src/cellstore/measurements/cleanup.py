"""Deleting the stored objects of measurements: by cascade, and of uploads never confirmed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cellstore.cells.models import CellInstance
from cellstore.core.database import utcnow
from cellstore.core.settings import Settings
from cellstore.jobs.objects import delete_objects_later
from cellstore.jobs.registry import sweep
from cellstore.measurements import keys
from cellstore.measurements.models import CellMeasurement, UploadReservation
from cellstore.raw_data.cleanup import raw_data_prefix
from cellstore.raw_data.models import PENDING, RawData


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


@sweep
async def sweep_abandoned_uploads(session: AsyncSession, settings: Settings) -> int:
    """Forget uploads that were initiated but never confirmed, and delete what they stored.

    Measurement reservations and pending raw-data files older than
    ``abandoned_upload_hours`` go; their objects are deleted by a job.
    """
    cutoff = utcnow() - timedelta(hours=settings.abandoned_upload_hours)
    reservations = (
        await session.execute(
            select(UploadReservation.id, UploadReservation.organization_id).where(
                UploadReservation.created_at < cutoff
            )
        )
    ).all()
    raw = (
        await session.execute(
            select(RawData.id, RawData.organization_id).where(
                RawData.status == PENDING, RawData.created_at < cutoff
            )
        )
    ).all()
    for reservation_id, organization_id in reservations:
        await delete_objects_later(
            session, organization_id, [keys.measurement_prefix(organization_id, reservation_id)]
        )
    for raw_id, organization_id in raw:
        await delete_objects_later(session, organization_id, [raw_data_prefix(organization_id, raw_id)])
    if reservations:
        await session.execute(
            delete(UploadReservation).where(UploadReservation.id.in_([r[0] for r in reservations]))
        )
    if raw:
        await session.execute(delete(RawData).where(RawData.id.in_([r[0] for r in raw])))
    return len(reservations) + len(raw)
