"""Deleting raw-data objects when their rows go with a project."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cellstore.jobs.objects import delete_objects_later
from cellstore.raw_data.models import RawData


def raw_data_prefix(organization_id: str, raw_data_id: str) -> str:
    return f"orgs/{organization_id}/raw_data/{raw_data_id}/"


async def forget_raw_data(session: AsyncSession, organization_id: str, project_id: str) -> None:
    ids = await session.scalars(
        select(RawData.id).where(RawData.organization_id == organization_id, RawData.project_id == project_id)
    )
    await delete_objects_later(session, organization_id, [raw_data_prefix(organization_id, i) for i in ids])
