"""Every query about the cell hierarchy, always scoped by :func:`cellstore.core.tenancy.visible`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cellstore.cells.models import CellBatch, CellInstance, CellSpecification
from cellstore.cells.schemas import COMPONENT_SLOTS
from cellstore.core.filters import FilterSpec, filtered, parse_id, standard_spec
from cellstore.core.pagination import PageParams, fetch_page
from cellstore.core.tenancy import Principal, visible

SLOT_MATERIAL_PARAMS = {f"{slot}_material_id": slot for slot in COMPONENT_SLOTS}

SPEC_FILTERS: FilterSpec = standard_spec(
    CellSpecification,
    exact={"form_factor": CellSpecification.form_factor},
    ids={"project_id": CellSpecification.project_id},
    handled=frozenset({"full", "material_id", "material_ids", "exclude_cell_spec_id", *SLOT_MATERIAL_PARAMS}),
)
BATCH_FILTERS: FilterSpec = standard_spec(CellBatch)
INSTANCE_FILTERS: FilterSpec = standard_spec(CellInstance, ids={"batch_id": CellInstance.batch_id})


def _material_of(slot: str) -> Any:
    return CellSpecification.attributes[slot]["material_id"].as_string()


def material_predicates(query: Any) -> list[ColumnElement[bool]]:
    """Specs using any listed material in any slot, or the named slots' materials (OR)."""
    predicates: list[ColumnElement[bool]] = []
    any_slot = [parse_id(n, v) for n in ("material_id", "material_ids") for v in query.getlist(n)]
    if any_slot:
        predicates.append(or_(*(_material_of(slot).in_(any_slot) for slot in COMPONENT_SLOTS)))
    per_slot = [
        _material_of(slot) == parse_id(param, value)
        for param, slot in SLOT_MATERIAL_PARAMS.items()
        for value in query.getlist(param)
    ]
    if per_slot:
        predicates.append(or_(*per_slot))
    if excluded := query.get("exclude_cell_spec_id"):
        predicates.append(CellSpecification.id != parse_id("exclude_cell_spec_id", excluded))
    return predicates


# Specifications


def specifications(principal: Principal) -> Select[Any]:
    return select(CellSpecification).where(visible(principal, CellSpecification))


async def get_specification(
    session: AsyncSession, principal: Principal, spec_id: str
) -> CellSpecification | None:
    return await session.scalar(specifications(principal).where(CellSpecification.id == spec_id))


async def specification_id_by_name(session: AsyncSession, project_id: str, name: str) -> str | None:
    return await session.scalar(
        select(CellSpecification.id).where(
            CellSpecification.project_id == project_id, CellSpecification.name == name
        )
    )


async def page_specifications(
    session: AsyncSession, principal: Principal, query: Any, params: PageParams
) -> tuple[list[CellSpecification], int]:
    stmt = specifications(principal).where(*material_predicates(query))
    return await fetch_page(session, filtered(stmt, query, SPEC_FILTERS, CellSpecification.id), params)


# Batches

_INSTANCE_COUNT = (
    select(func.count(CellInstance.id)).where(CellInstance.batch_id == CellBatch.id).scalar_subquery()
)


def batches(principal: Principal) -> Select[Any]:
    return select(CellBatch, _INSTANCE_COUNT).where(visible(principal, CellBatch))


async def get_batch(
    session: AsyncSession, principal: Principal, batch_id: str
) -> tuple[CellBatch, int] | None:
    row = (await session.execute(batches(principal).where(CellBatch.id == batch_id))).first()
    return (row[0], int(row[1])) if row else None


async def batch_id_by_name(session: AsyncSession, spec_id: str, name: str) -> str | None:
    return await session.scalar(
        select(CellBatch.id).where(
            CellBatch.cell_specification_id == spec_id, CellBatch.name_key == name_key(name)
        )
    )


async def page_batches(
    session: AsyncSession, principal: Principal, spec_id: str, query: Any, params: PageParams
) -> tuple[list[Any], int]:
    stmt = batches(principal).where(CellBatch.cell_specification_id == spec_id)
    return await fetch_page(session, filtered(stmt, query, BATCH_FILTERS, CellBatch.id), params, rows=True)


def name_key(name: str) -> str:
    """The case-folded form under which batch names are unique."""
    return name.strip().casefold()


# Instances


def instances(principal: Principal) -> Select[Any]:
    return (
        select(CellInstance, CellBatch.name)
        .outerjoin(CellBatch, CellBatch.id == CellInstance.batch_id)
        .where(visible(principal, CellInstance))
    )


async def get_instance(
    session: AsyncSession, principal: Principal, instance_id: str
) -> tuple[CellInstance, str | None] | None:
    row = (await session.execute(instances(principal).where(CellInstance.id == instance_id))).first()
    return (row[0], row[1]) if row else None


async def instance_id_by_name(session: AsyncSession, spec_id: str, name: str) -> str | None:
    return await session.scalar(
        select(CellInstance.id).where(
            CellInstance.cell_specification_id == spec_id, CellInstance.name == name
        )
    )


async def page_instances(
    session: AsyncSession, principal: Principal, spec_id: str, query: Any, params: PageParams
) -> tuple[list[Any], int]:
    stmt = instances(principal).where(CellInstance.cell_specification_id == spec_id)
    return await fetch_page(
        session, filtered(stmt, query, INSTANCE_FILTERS, CellInstance.id), params, rows=True
    )
