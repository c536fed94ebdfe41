"""Rules of the cell hierarchy: who may write, what must be unique, what values must look like."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cellstore.accounts.roles import ProjectAccess
from cellstore.cells import repository
from cellstore.cells.models import CellBatch, CellInstance, CellSpecification
from cellstore.cells.schemas import (
    COMPONENT_SLOTS,
    CellBatchCreate,
    CellBatchUpdate,
    CellInstanceCreate,
    CellInstanceUpdate,
    CellSpecificationCreate,
    CellSpecificationUpdate,
)
from cellstore.core.database import utcnow
from cellstore.core.errors import BadRequest, InvalidInput, NotFound
from cellstore.core.merge import merge_patch
from cellstore.core.schemas import check_quantity_map
from cellstore.core.tenancy import Principal, require_project_access
from cellstore.core.writes import flush_unique, other_than
from cellstore.measurements.cleanup import forget_measurements

SPEC_COLUMNS = ("form_factor", "manufacturer")
_MATERIAL_NAMESPACE = uuid.UUID("0b7e3c6e-8f0a-4c55-9d0c-3e1f6a2d9b41")


# Specifications


def material_id_for(organization_id: str, material: dict[str, Any]) -> str:
    """A stable id for a material named inline, so specs sharing a material can be found together."""
    key = f"{organization_id}|{str(material.get('name', '')).strip().casefold()}|"
    key += str(material.get("manufacturer") or "").strip().casefold()
    return str(uuid.uuid5(_MATERIAL_NAMESPACE, key))


def _prepare_specification(organization_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Check Quantities and give inline materials their ids; returns a new dict."""
    check_quantity_map("ratings", fields.get("ratings"), strict=True)
    check_quantity_map("properties", fields.get("properties"))
    prepared = dict(fields)
    for slot in COMPONENT_SLOTS:
        component = prepared.get(slot)
        if component is None:
            continue
        if not isinstance(component, dict):
            raise InvalidInput(slot, "must be an object {properties, material}")
        check_quantity_map(f"{slot}.properties", component.get("properties"))
        component = {**component, "component_type": slot}
        material = component.get("material")
        if material is not None:
            if not isinstance(material, dict) or not str(material.get("name", "")).strip():
                raise InvalidInput(f"{slot}.material", "must be an object with a name")
            material_id = component.get("material_id") or material.get("id")
            material_id = material_id or material_id_for(organization_id, material)
            component["material_id"] = material_id
            component["material"] = {**material, "id": material_id}
        prepared[slot] = component
    return prepared


def _forget_replaced_materials(attributes: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Drop the stored material of every component whose material the patch changes or removes,
    so that the new material's id is derived afresh rather than merged over the old one."""
    current = dict(attributes or {})
    for slot in COMPONENT_SLOTS:
        component, change = current.get(slot), patch.get(slot)
        replaced = isinstance(change, dict) and "material" in change and "material_id" not in change
        if isinstance(component, dict) and replaced:
            current[slot] = {k: v for k, v in component.items() if k not in ("material", "material_id")}
    return current


async def get_specification(session: AsyncSession, principal: Principal, spec_id: str) -> CellSpecification:
    spec = await repository.get_specification(session, principal, spec_id)
    if spec is None:
        raise NotFound("Cell specification")
    return spec


async def create_specification(
    session: AsyncSession, principal: Principal, body: CellSpecificationCreate
) -> CellSpecification:
    fields = body.fields_sent()
    project_id, name = fields.pop("project_id"), fields.pop("name")
    await require_project_access(session, principal, project_id, ProjectAccess.CONTRIBUTE)
    fields = _prepare_specification(principal.organization_id, fields)
    spec = CellSpecification(
        organization_id=principal.organization_id,
        project_id=project_id,
        name=name,
        form_factor=fields.pop("form_factor", None),
        manufacturer=fields.pop("manufacturer", None),
        attributes=fields,
        created_by=principal.user_id,
        created_by_email=principal.email,
    )
    await flush_unique(
        session,
        f"A cell specification named {name!r} already exists in this project",
        lambda: repository.specification_id_by_name(session, project_id, name),
        lambda: session.add(spec),
    )
    return spec


async def update_specification(
    session: AsyncSession, principal: Principal, spec_id: str, body: CellSpecificationUpdate
) -> CellSpecification:
    """Merge the sent fields into the specification (JSON Merge Patch on nested objects)."""
    spec = await get_specification(session, principal, spec_id)
    await require_project_access(session, principal, spec.project_id, ProjectAccess.CONTRIBUTE)
    patch = body.fields_sent()
    project_id = patch.pop("project_id", spec.project_id)
    if project_id != spec.project_id:
        raise BadRequest("A cell specification cannot move to another project")
    name = patch.pop("name", spec.name)
    if name is None:
        raise InvalidInput("name", "must not be null")
    for column in SPEC_COLUMNS:
        if column in patch:
            setattr(spec, column, patch.pop(column))
    current = _forget_replaced_materials(spec.attributes, patch)
    spec.attributes = _prepare_specification(principal.organization_id, merge_patch(current, patch))
    spec.updated_at = utcnow()
    if name != spec.name:
        await flush_unique(
            session,
            f"A cell specification named {name!r} already exists in this project",
            other_than(spec.id, lambda: repository.specification_id_by_name(session, spec.project_id, name)),
            lambda: setattr(spec, "name", name),
        )
    await session.flush()
    return spec


async def delete_specification(session: AsyncSession, principal: Principal, spec_id: str) -> None:
    """Delete a specification with its batches, instances and their measurements."""
    spec = await get_specification(session, principal, spec_id)
    await require_project_access(session, principal, spec.project_id, ProjectAccess.CONTRIBUTE)
    await forget_measurements(session, spec.organization_id, CellInstance.cell_specification_id == spec.id)
    await session.delete(spec)
    await session.flush()


# Batches


async def get_batch(session: AsyncSession, principal: Principal, batch_id: str) -> tuple[CellBatch, int]:
    found = await repository.get_batch(session, principal, batch_id)
    if found is None:
        raise NotFound("Cell batch")
    return found


async def create_batch(
    session: AsyncSession, principal: Principal, spec_id: str, body: CellBatchCreate
) -> CellBatch:
    spec = await get_specification(session, principal, spec_id)
    await require_project_access(session, principal, spec.project_id, ProjectAccess.CONTRIBUTE)
    check_quantity_map("properties", body.properties)
    batch = CellBatch(
        organization_id=principal.organization_id,
        project_id=spec.project_id,
        cell_specification_id=spec.id,
        name=body.name,
        name_key=repository.name_key(body.name),
        notes=body.notes,
        date_manufactured=body.date_manufactured,
        properties=body.properties,
        created_by=principal.user_id,
        created_by_email=principal.email,
    )
    await flush_unique(
        session,
        f"A batch named {body.name!r} already exists for this cell specification",
        lambda: repository.batch_id_by_name(session, spec.id, body.name),
        lambda: session.add(batch),
    )
    return batch


async def update_batch(
    session: AsyncSession, principal: Principal, batch_id: str, body: CellBatchUpdate
) -> None:
    batch, _ = await get_batch(session, principal, batch_id)
    await require_project_access(session, principal, batch.project_id, ProjectAccess.CONTRIBUTE)
    changes = body.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] is None:
        raise InvalidInput("name", "must not be null")
    check_quantity_map("properties", changes.get("properties"))
    name = changes.pop("name", batch.name)
    for field, value in changes.items():
        setattr(batch, field, value)
    batch.updated_at = utcnow()
    if repository.name_key(name) != batch.name_key or name != batch.name:

        def rename() -> None:
            batch.name, batch.name_key = name, repository.name_key(name)

        await flush_unique(
            session,
            f"A batch named {name!r} already exists for this cell specification",
            other_than(
                batch.id, lambda: repository.batch_id_by_name(session, batch.cell_specification_id, name)
            ),
            rename,
        )
    await session.flush()


async def delete_batch(session: AsyncSession, principal: Principal, batch_id: str) -> None:
    """Delete a lot; its cells are kept, outside any batch."""
    batch, _ = await get_batch(session, principal, batch_id)
    await require_project_access(session, principal, batch.project_id, ProjectAccess.CONTRIBUTE)
    await session.delete(batch)
    await session.flush()


# Instances


async def get_instance(
    session: AsyncSession, principal: Principal, instance_id: str
) -> tuple[CellInstance, str | None]:
    found = await repository.get_instance(session, principal, instance_id)
    if found is None:
        raise NotFound("Cell instance")
    return found


async def _check_batch_of(session: AsyncSession, principal: Principal, batch_id: str, spec_id: str) -> None:
    found = await repository.get_batch(session, principal, batch_id)
    if found is None or found[0].cell_specification_id != spec_id:
        raise BadRequest(
            f"batch_id {batch_id} is not a batch of cell specification {spec_id}",
            {"field": "batch_id"},
        )


def _instance_fields(fields: dict[str, Any]) -> dict[str, Any]:
    if "batch" in fields:
        raise BadRequest("The 'batch' field is retired: create a cell batch and send its batch_id")
    check_quantity_map("measured_properties", fields.get("measured_properties"))
    return fields


async def create_instance(
    session: AsyncSession, principal: Principal, spec_id: str, body: CellInstanceCreate
) -> CellInstance:
    spec = await get_specification(session, principal, spec_id)
    await require_project_access(session, principal, spec.project_id, ProjectAccess.CONTRIBUTE)
    fields = _instance_fields(body.fields_sent())
    name, batch_id = fields.pop("name"), fields.pop("batch_id", None)
    if batch_id is not None:
        await _check_batch_of(session, principal, batch_id, spec.id)
    instance = CellInstance(
        organization_id=principal.organization_id,
        project_id=spec.project_id,
        cell_specification_id=spec.id,
        batch_id=batch_id,
        name=name,
        attributes=fields,
        created_by=principal.user_id,
        created_by_email=principal.email,
    )
    await flush_unique(
        session,
        f"A cell instance named {name!r} already exists for this cell specification",
        lambda: repository.instance_id_by_name(session, spec.id, name),
        lambda: session.add(instance),
    )
    return instance


async def update_instance(
    session: AsyncSession, principal: Principal, instance_id: str, body: CellInstanceUpdate
) -> None:
    """Merge the sent fields; ``batch_id`` moves the cell into a lot of its spec, or out with null."""
    instance, _ = await get_instance(session, principal, instance_id)
    await require_project_access(session, principal, instance.project_id, ProjectAccess.CONTRIBUTE)
    patch = _instance_fields(body.fields_sent())
    if "batch_id" in patch:
        batch_id = patch.pop("batch_id")
        if batch_id is not None:
            await _check_batch_of(session, principal, batch_id, instance.cell_specification_id)
        instance.batch_id = batch_id
    name = patch.pop("name", instance.name)
    if name is None:
        raise InvalidInput("name", "must not be null")
    instance.attributes = merge_patch(instance.attributes, patch)
    instance.updated_at = utcnow()
    if name != instance.name:
        await flush_unique(
            session,
            f"A cell instance named {name!r} already exists for this cell specification",
            other_than(
                instance.id,
                lambda: repository.instance_id_by_name(session, instance.cell_specification_id, name),
            ),
            lambda: setattr(instance, "name", name),
        )
    await session.flush()


async def delete_instance(session: AsyncSession, principal: Principal, instance_id: str) -> None:
    instance, _ = await get_instance(session, principal, instance_id)
    await require_project_access(session, principal, instance.project_id, ProjectAccess.CONTRIBUTE)
    await forget_measurements(session, instance.organization_id, CellInstance.id == instance.id)
    await session.delete(instance)
    await session.flush()
