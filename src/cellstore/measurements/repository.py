"""Every query about measurements, scoped by :func:`cellstore.core.tenancy.visible`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Row, Select, Text, cast, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cellstore.cells.models import CellInstance, CellSpecification
from cellstore.core.errors import InvalidInput
from cellstore.core.filters import FilterSpec, filtered, standard_spec
from cellstore.core.pagination import PageParams, fetch_page
from cellstore.core.tenancy import Principal, visible
from cellstore.measurements import tags
from cellstore.measurements.models import (
    MEASUREMENT_TYPES,
    CellMeasurement,
    MeasurementTag,
    UploadReservation,
)

INSTANCE_LIST_FILTERS: FilterSpec = standard_spec(
    CellMeasurement,
    exact={"measurement_type": CellMeasurement.measurement_type},
    ranges={"start_time": CellMeasurement.start_time},
    order_by={"start_time": CellMeasurement.start_time},
    handled=frozenset({"tags_all", "tags_any"}),
)
PROJECT_LIST_FILTERS: FilterSpec = standard_spec(
    CellMeasurement,
    exact={"measurement_type": CellMeasurement.measurement_type},
    ids={"cell_instance_id": CellMeasurement.cell_instance_id},
    ranges={"start_time": CellMeasurement.start_time},
    order_by={"start_time": CellMeasurement.start_time},
    handled=frozenset({"tags_all", "tags_any", "q", "project_id", "cell_specification_id"}),
)


def measurements(principal: Principal) -> Select[Any]:
    return select(CellMeasurement).where(visible(principal, CellMeasurement))


def measurement_rows(principal: Principal) -> Select[Any]:
    """Plain rows of the table rather than ORM objects, for list pages, which load them faster.

    JSON columns come as their text, which the page writes out as is
    (:class:`cellstore.core.jsontext.RawJson`) instead of parsing and serialising it again.
    """
    columns = [
        cast(column, Text).label(column.name) if isinstance(column.type, JSON) else column
        for column in CellMeasurement.__table__.columns
    ]
    return select(*columns).where(visible(principal, CellMeasurement))


def visible_ids(principal: Principal) -> Select[Any]:
    return select(CellMeasurement.id).where(visible(principal, CellMeasurement))


async def get(session: AsyncSession, principal: Principal, measurement_id: str) -> CellMeasurement | None:
    return await session.scalar(measurements(principal).where(CellMeasurement.id == measurement_id))


async def get_for_update(
    session: AsyncSession, principal: Principal, measurement_id: str
) -> CellMeasurement | None:
    """The row locked for the rest of the transaction (PostgreSQL), so state changes do not race."""
    stmt = measurements(principal).where(CellMeasurement.id == measurement_id)
    if session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def get_unscoped(session: AsyncSession, measurement_id: str) -> CellMeasurement | None:
    """For background jobs, which act on ids their own (already authorised) requests recorded."""
    return await session.get(CellMeasurement, measurement_id, populate_existing=True)


async def id_by_name(session: AsyncSession, instance_id: str, name: str) -> str | None:
    return await session.scalar(
        select(CellMeasurement.id).where(
            CellMeasurement.cell_instance_id == instance_id, CellMeasurement.name == name
        )
    )


async def ids_by_instance(session: AsyncSession, instance_ids: list[str]) -> dict[str, list[str]]:
    """The measurement ids of each instance, oldest first, in one query."""
    found: dict[str, list[str]] = {}
    if not instance_ids:
        return found
    rows = await session.execute(
        select(CellMeasurement.cell_instance_id, CellMeasurement.id)
        .where(CellMeasurement.cell_instance_id.in_(instance_ids))
        .order_by(CellMeasurement.created_at, CellMeasurement.id)
    )
    for instance_id, measurement_id in rows:
        found.setdefault(instance_id, []).append(measurement_id)
    return found


def _check_type(query: Any) -> None:
    for value in query.getlist("measurement_type"):
        if value.removeprefix("eq.") not in MEASUREMENT_TYPES:
            raise InvalidInput("measurement_type", f"must be one of {', '.join(MEASUREMENT_TYPES)}")


async def page_of_instance(
    session: AsyncSession, principal: Principal, instance_id: str, query: Any, params: PageParams
) -> tuple[list[Row[Any]], int]:
    _check_type(query)
    stmt = measurement_rows(principal).where(
        CellMeasurement.cell_instance_id == instance_id, *tags.tag_predicates(query)
    )
    return await fetch_page(
        session, filtered(stmt, query, INSTANCE_LIST_FILTERS, CellMeasurement.id), params, rows=True
    )


async def page_of_project(
    session: AsyncSession, principal: Principal, project_id: str, query: Any, params: PageParams
) -> tuple[list[Row[Any]], int]:
    """A project's measurements, with ``q`` searching name, notes, protocol name and tags."""
    _check_type(query)
    stmt = measurement_rows(principal).where(
        CellMeasurement.project_id == project_id, *tags.tag_predicates(query)
    )
    if spec_id := query.get("cell_specification_id"):
        stmt = stmt.where(
            CellMeasurement.cell_instance_id.in_(
                select(CellInstance.id).where(CellInstance.cell_specification_id == spec_id)
            )
        )
    if q := (query.get("q") or "").strip():
        pattern = f"%{q}%"
        stmt = stmt.where(
            or_(
                CellMeasurement.name.ilike(pattern),
                CellMeasurement.notes.ilike(pattern),
                CellMeasurement.protocol["name"].as_string().ilike(pattern),
                CellMeasurement.id.in_(
                    select(MeasurementTag.measurement_id).where(MeasurementTag.tag_key.contains(q.casefold()))
                ),
            )
        )
    return await fetch_page(
        session, filtered(stmt, query, PROJECT_LIST_FILTERS, CellMeasurement.id), params, rows=True
    )


async def reservation(
    session: AsyncSession, principal: Principal, reservation_id: str
) -> UploadReservation | None:
    return await session.scalar(
        select(UploadReservation).where(
            UploadReservation.id == reservation_id,
            UploadReservation.organization_id == principal.organization_id,
        )
    )


async def rated_capacity_source(session: AsyncSession, instance_id: str) -> dict[str, Any] | None:
    """The ``ratings.capacity`` Quantity of the instance's specification, if it has one."""
    attributes = await session.scalar(
        select(CellSpecification.attributes)
        .join(CellInstance, CellInstance.cell_specification_id == CellSpecification.id)
        .where(CellInstance.id == instance_id)
    )
    capacity = ((attributes or {}).get("ratings") or {}).get("capacity")
    return capacity if isinstance(capacity, dict) else None
