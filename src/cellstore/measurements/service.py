"""Rules of measurement metadata: creation, updates, deletion, tags and watches."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cellstore.accounts.roles import ProjectAccess
from cellstore.cells import service as cells
from cellstore.cells.models import CellInstance
from cellstore.core.database import new_id, utcnow
from cellstore.core.errors import BadRequest, InvalidInput, NotFound
from cellstore.core.filters import parse_timestamp
from cellstore.core.merge import merge_patch
from cellstore.core.schemas import check_quantity_map
from cellstore.core.tenancy import Principal, require_project_access
from cellstore.core.writes import flush_unique, other_than
from cellstore.jobs.objects import delete_objects_later
from cellstore.measurements import keys, repository, tags
from cellstore.measurements.models import PROPERTIES, READY, CellMeasurement, MeasurementWatch
from cellstore.measurements.schemas import MeasurementFields, PropertiesCreate

COLUMN_FIELDS = ("notes", "protocol", "test_setup", "step_labels_validated")
TIME_FIELDS = ("start_time", "end_time")


async def get_measurement(
    session: AsyncSession, principal: Principal, measurement_id: str
) -> CellMeasurement:
    measurement = await repository.get(session, principal, measurement_id)
    if measurement is None:
        raise NotFound("Cell measurement")
    return measurement


async def writable_instance(session: AsyncSession, principal: Principal, instance_id: str) -> CellInstance:
    """The instance, if the caller may add measurements to it (404 if invisible, 403 if read-only)."""
    instance, _ = await cells.get_instance(session, principal, instance_id)
    await require_project_access(session, principal, instance.project_id, ProjectAccess.CONTRIBUTE)
    return instance


async def writable_measurement(
    session: AsyncSession, principal: Principal, measurement_id: str
) -> CellMeasurement:
    measurement = await repository.get_for_update(session, principal, measurement_id)
    if measurement is None:
        raise NotFound("Cell measurement")
    await require_project_access(session, principal, measurement.project_id, ProjectAccess.CONTRIBUTE)
    return measurement


def _parse_time(field: str, value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(field, "must be an ISO-8601 timestamp")
    return parse_timestamp(field, value)


def apply_fields(measurement: CellMeasurement, fields: dict[str, Any], *, patch: bool) -> list[str] | None:
    """Write the metadata fields onto the row; returns the tags to set (None: unchanged).

    Known fields go to their columns, anything else is kept in ``attributes``
    (merged on PATCH, where ``null`` removes a custom field).
    """
    fields = dict(fields)
    new_tags = fields.pop("tags", None)
    fields.pop("measurement_type", None)
    if "name" in fields:
        if fields["name"] is None:
            raise InvalidInput("name", "must not be null")
        measurement.name = fields.pop("name")
    for field in ("channel_id", "protocol_id"):
        if fields.pop(field, None) is not None:
            raise BadRequest(
                f"{field} cannot be set: cellstore does not manage lab channels or saved protocols yet",
                {"field": field},
            )
    for field in COLUMN_FIELDS:
        if field in fields:
            value = fields.pop(field)
            if field == "step_labels_validated":
                value = bool(value)
            setattr(measurement, field, value)
    for field in TIME_FIELDS:
        if field in fields:
            setattr(measurement, field, _parse_time(field, fields.pop(field)))
    if "properties" in fields:
        properties = fields.pop("properties")
        if properties is not None and measurement.measurement_type != PROPERTIES:
            raise BadRequest("properties belong to properties measurements only", {"field": "properties"})
        check_quantity_map("properties", properties)
        measurement.properties = properties
    if measurement.start_time and measurement.end_time and measurement.end_time < measurement.start_time:
        raise BadRequest("end_time is before start_time", {"field": "end_time"})
    measurement.attributes = (
        merge_patch(measurement.attributes or {}, fields)
        if patch
        else {k: v for k, v in fields.items() if v is not None}
    )
    return new_tags


async def create_measurement(
    session: AsyncSession,
    principal: Principal,
    instance: CellInstance,
    measurement_id: str,
    measurement_type: str,
    fields: dict[str, Any],
) -> CellMeasurement:
    """A new measurement row (name unique within the instance, 409 with the existing id otherwise)."""
    if not fields.get("name"):
        raise InvalidInput("measurement.name", "is required")
    measurement = CellMeasurement(
        id=measurement_id,
        organization_id=principal.organization_id,
        project_id=instance.project_id,
        cell_instance_id=instance.id,
        measurement_type=measurement_type,
        processing_status=READY,
        tags=[],
        attributes={},
        created_by=principal.user_id,
        created_by_email=principal.email,
    )
    new_tags = apply_fields(measurement, fields, patch=False)
    name = measurement.name
    await flush_unique(
        session,
        f"A measurement named {name!r} already exists for this cell instance",
        lambda: repository.id_by_name(session, instance.id, name),
        lambda: session.add(measurement),
    )
    if new_tags:
        await tags.replace_tags(session, measurement, new_tags)
        await session.flush()
    return measurement


async def create_properties(
    session: AsyncSession, principal: Principal, instance_id: str, body: PropertiesCreate
) -> CellMeasurement:
    instance = await writable_instance(session, principal, instance_id)
    return await create_measurement(session, principal, instance, new_id(), PROPERTIES, body.fields_sent())


async def update_measurement(
    session: AsyncSession, principal: Principal, measurement_id: str, body: MeasurementFields
) -> CellMeasurement:
    """Change metadata; ``tags`` replaces the set. The data itself never changes through PATCH."""
    measurement = await writable_measurement(session, principal, measurement_id)
    fields = body.fields_sent()
    old_name = measurement.name
    new_tags = apply_fields(measurement, fields, patch=True)
    if new_tags is not None:
        await tags.replace_tags(session, measurement, new_tags)
    measurement.updated_at = utcnow()
    if measurement.name != old_name:
        new_name = measurement.name
        measurement.name = old_name
        await flush_unique(
            session,
            f"A measurement named {new_name!r} already exists for this cell instance",
            other_than(
                measurement.id, lambda: repository.id_by_name(session, measurement.cell_instance_id, new_name)
            ),
            lambda: setattr(measurement, "name", new_name),
        )
    await session.flush()
    return measurement


async def delete_measurement(session: AsyncSession, principal: Principal, measurement_id: str) -> None:
    measurement = await writable_measurement(session, principal, measurement_id)
    prefix = keys.measurement_prefix(measurement.organization_id, measurement.id)
    await delete_objects_later(session, measurement.organization_id, [prefix])
    await session.delete(measurement)
    await session.flush()


async def bulk_tags(
    session: AsyncSession, principal: Principal, ids: list[str], add: list[str], remove: list[str]
) -> int:
    """Add and remove tags on many measurements at once; returns how many changed."""
    found = {
        m.id: m
        for m in (
            await session.scalars(repository.measurements(principal).where(CellMeasurement.id.in_(set(ids))))
        ).all()
    }
    if missing := [i for i in dict.fromkeys(ids) if i not in found]:
        raise NotFound("Cell measurement", {"missing_ids": missing[:20]})
    for project_id in {m.project_id for m in found.values()}:
        await require_project_access(session, principal, project_id, ProjectAccess.CONTRIBUTE)
    add = tags.normalize(add) if add else []
    remove_keys = {tags.tag_key(t) for t in remove if isinstance(t, str)}
    changed = 0
    for measurement in found.values():
        current = [t for t in measurement.tags or [] if tags.tag_key(t) not in remove_keys]
        if await tags.replace_tags(session, measurement, current + add):
            measurement.updated_at = utcnow()
            changed += 1
    await session.flush()
    return changed


async def watch(session: AsyncSession, principal: Principal, measurement_id: str, watching: bool) -> None:
    measurement = await get_measurement(session, principal, measurement_id)
    existing = await session.get(MeasurementWatch, (measurement.id, principal.user_id))
    if watching and existing is None:
        session.add(
            MeasurementWatch(
                measurement_id=measurement.id,
                user_id=principal.user_id,
                organization_id=principal.organization_id,
            )
        )
    elif not watching and existing is not None:
        await session.delete(existing)
    await session.flush()
