"""Rules of raw data: upload, confirm, metadata, deletion, and links to measurements."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cellstore.accounts.roles import ProjectAccess
from cellstore.core.errors import BadRequest, Conflict, NotFound
from cellstore.core.filters import FilterSpec, filtered, standard_spec
from cellstore.core.pagination import PageParams, fetch_page
from cellstore.core.tenancy import Principal, require_project_access, visible
from cellstore.jobs.objects import delete_objects_later
from cellstore.measurements import service as measurements
from cellstore.measurements.uploads import check_filenames
from cellstore.raw_data.cleanup import raw_data_prefix
from cellstore.raw_data.models import PENDING, READY, RawData, RawDataLink
from cellstore.raw_data.schemas import RawDataConfirm, RawDataCreate, RawDataUpdate
from cellstore.storage.base import ObjectStore

RAW_DATA_FILTERS: FilterSpec = standard_spec(RawData, ids={"project_id": RawData.project_id})


def object_key(raw: RawData) -> str:
    return raw_data_prefix(raw.organization_id, raw.id) + raw.filename


def _ready(principal: Principal) -> Any:
    return select(RawData).where(visible(principal, RawData), RawData.status == READY)


async def get(
    session: AsyncSession, principal: Principal, raw_data_id: str, *, pending: bool = False
) -> RawData:
    stmt = select(RawData).where(visible(principal, RawData), RawData.id == raw_data_id)
    if not pending:
        stmt = stmt.where(RawData.status == READY)
    raw = await session.scalar(stmt)
    if raw is None:
        raise NotFound("Raw data")
    return raw


async def initiate(
    session: AsyncSession, principal: Principal, store: ObjectStore, body: RawDataCreate, base_url: str
) -> dict[str, Any]:
    """Record a pending raw-data file and answer where to PUT it."""
    await require_project_access(session, principal, body.project_id, ProjectAccess.CONTRIBUTE)
    (filename,) = check_filenames([body.filename])
    raw = RawData(
        organization_id=principal.organization_id,
        project_id=body.project_id,
        name=body.name,
        filename=filename,
        content_type=body.content_type,
        metadata_=body.metadata,
        source=body.source,
        status=PENDING,
        created_by=principal.user_id,
        created_by_email=principal.email,
    )
    session.add(raw)
    await session.flush()
    target = store.upload_target(object_key(raw), filename, base_url)
    return {"raw_data_id": raw.id, "uploads": [target.as_upload_info()]}


async def confirm(
    session: AsyncSession, principal: Principal, store: ObjectStore, raw_data_id: str, body: RawDataConfirm
) -> RawData:
    """Make a raw-data file visible once it is stored (idempotent)."""
    raw = await get(session, principal, raw_data_id, pending=True)
    await require_project_access(session, principal, raw.project_id, ProjectAccess.CONTRIBUTE)
    if raw.status == READY:
        return raw
    if body.project_id != raw.project_id or body.filename != raw.filename:
        raise BadRequest("project_id and filename must be those given to initiate-upload")
    size = await asyncio.to_thread(store.size, object_key(raw))
    if size is None:
        raise BadRequest(f"{raw.filename} was not uploaded: PUT it to its signed URL first")
    if body.size_bytes is not None and body.size_bytes != size:
        raise BadRequest(
            f"size_bytes is {body.size_bytes} but {size} bytes were stored", {"field": "size_bytes"}
        )
    raw.name, raw.content_type, raw.metadata_, raw.source = (
        body.name,
        body.content_type,
        body.metadata,
        body.source,
    )
    raw.size_bytes = size
    raw.status = READY
    await session.flush()
    return raw


async def page(
    session: AsyncSession, principal: Principal, query: Any, params: PageParams
) -> tuple[list[RawData], int]:
    return await fetch_page(session, filtered(_ready(principal), query, RAW_DATA_FILTERS, RawData.id), params)


async def update(
    session: AsyncSession, principal: Principal, raw_data_id: str, body: RawDataUpdate
) -> RawData:
    raw = await get(session, principal, raw_data_id)
    await require_project_access(session, principal, raw.project_id, ProjectAccess.CONTRIBUTE)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("name", raw.name) is None:
        raise BadRequest("name must not be null", {"field": "name"})
    raw.name = changes.get("name", raw.name)
    if "source" in changes:
        raw.source = changes["source"] or None
    if changes.get("metadata") is not None:
        raw.metadata_ = changes["metadata"]
    await session.flush()
    return raw


async def remove(session: AsyncSession, principal: Principal, raw_data_id: str) -> None:
    raw = await get(session, principal, raw_data_id, pending=True)
    await require_project_access(session, principal, raw.project_id, ProjectAccess.CONTRIBUTE)
    await delete_objects_later(session, raw.organization_id, [raw_data_prefix(raw.organization_id, raw.id)])
    await session.delete(raw)
    await session.flush()


async def linked_measurements(
    session: AsyncSession, principal: Principal, raw_data_id: str, params: PageParams
) -> tuple[list[str], int]:
    raw = await get(session, principal, raw_data_id)
    stmt = select(RawDataLink.measurement_id).where(RawDataLink.raw_data_id == raw.id)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    ids = await session.scalars(
        stmt.order_by(RawDataLink.measurement_id).limit(params.limit).offset(params.offset)
    )
    return list(ids), int(total or 0)


async def link(
    session: AsyncSession, principal: Principal, measurement_id: str, raw_data_ids: list[str]
) -> None:
    """Link raw-data files to a measurement (idempotent); both must be visible, in one project."""
    measurement = await measurements.writable_measurement(session, principal, measurement_id)
    wanted = set(raw_data_ids)
    found = (await session.scalars(_ready(principal).where(RawData.id.in_(wanted)))).all()
    if missing := sorted(wanted - {r.id for r in found}):
        raise NotFound("Raw data", {"missing_ids": missing[:20]})
    if any(r.project_id != measurement.project_id for r in found):
        raise Conflict("Raw data and measurement must belong to the same project")
    existing = set(
        await session.scalars(
            select(RawDataLink.raw_data_id).where(
                RawDataLink.measurement_id == measurement.id, RawDataLink.raw_data_id.in_(wanted)
            )
        )
    )
    session.add_all(
        RawDataLink(measurement_id=measurement.id, raw_data_id=r, organization_id=measurement.organization_id)
        for r in sorted(wanted - existing)
    )
    await session.flush()


async def unlink(session: AsyncSession, principal: Principal, measurement_id: str, raw_data_id: str) -> None:
    measurement = await measurements.writable_measurement(session, principal, measurement_id)
    await session.execute(
        delete(RawDataLink).where(
            RawDataLink.measurement_id == measurement.id, RawDataLink.raw_data_id == raw_data_id
        )
    )


async def page_of_measurement(
    session: AsyncSession, principal: Principal, measurement_id: str, params: PageParams
) -> tuple[list[RawData], int]:
    await measurements.get_measurement(session, principal, measurement_id)
    stmt = (
        _ready(principal)
        .join(RawDataLink, RawDataLink.raw_data_id == RawData.id)
        .where(RawDataLink.measurement_id == measurement_id)
        .order_by(RawData.created_at, RawData.id)
    )
    return await fetch_page(session, stmt, params)
