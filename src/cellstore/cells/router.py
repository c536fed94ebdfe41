"""HTTP endpoints of cell specifications, batches and instances."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from cellstore.accounts.auth import PrincipalDep
from cellstore.cells import repository, service
from cellstore.cells.schemas import (
    CellBatchCreate,
    CellBatchRead,
    CellBatchUpdate,
    CellInstanceCreate,
    CellInstanceRead,
    CellInstanceUpdate,
    CellSpecificationCreate,
    CellSpecificationRead,
    CellSpecificationUpdate,
    present_batch,
    present_instance,
    present_specification,
)
from cellstore.core.database import SessionDep
from cellstore.core.pagination import Page, PageParams, page_of, page_params
from cellstore.core.schemas import id_path
from cellstore.measurements import repository as measurements

router = APIRouter(tags=["Cells"])
SpecId = id_path("Cell specification id")
BatchId = id_path("Cell batch id")
InstanceId = id_path("Cell instance id")


# Specifications


@router.get("/cell_specifications", response_model=Page[CellSpecificationRead])
async def list_specifications(
    request: Request, principal: PrincipalDep, session: SessionDep, page: PageParams = page_params(1000)
) -> dict[str, Any]:
    """Specifications the caller can see. Filters: project_id, name, form_factor, created_by_email,
    created_at_gt/lt, updated_at_gt/lt, material_id(s), <slot>_material_id, exclude_cell_spec_id."""
    items, total = await repository.page_specifications(session, principal, request.query_params, page)
    return page_of([present_specification(s) for s in items], total)


@router.post("/cell_specifications", response_model=CellSpecificationRead)
async def create_specification(
    body: CellSpecificationCreate, principal: PrincipalDep, session: SessionDep
) -> dict[str, Any]:
    """Create a specification; a name already used in the project answers 409 with its id."""
    return present_specification(await service.create_specification(session, principal, body))


@router.get("/cell_specifications/{cell_spec_id}", response_model=CellSpecificationRead)
async def get_specification(
    principal: PrincipalDep, session: SessionDep, cell_spec_id: SpecId
) -> dict[str, Any]:
    """One specification with its nested components and materials."""
    return present_specification(await service.get_specification(session, principal, cell_spec_id))


@router.patch("/cell_specifications/{cell_spec_id}", response_model=CellSpecificationRead)
async def update_specification(
    body: CellSpecificationUpdate, principal: PrincipalDep, session: SessionDep, cell_spec_id: SpecId
) -> dict[str, Any]:
    """Merge fields into a specification; nested objects merge and null removes."""
    return present_specification(await service.update_specification(session, principal, cell_spec_id, body))


@router.delete("/cell_specifications/{cell_spec_id}", status_code=204)
async def delete_specification(
    principal: PrincipalDep, session: SessionDep, cell_spec_id: SpecId
) -> Response:
    """Delete a specification with its batches, instances and measurements."""
    await service.delete_specification(session, principal, cell_spec_id)
    return Response(status_code=204)


# Batches


@router.get("/cell_specifications/{cell_spec_id}/cell_batches", response_model=Page[CellBatchRead])
async def list_batches(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    cell_spec_id: SpecId,
    page: PageParams = page_params(1000),
) -> dict[str, Any]:
    """Batches of a specification. Filters: name, created_at_gt/lt, updated_at_gt/lt, order_by, order."""
    await service.get_specification(session, principal, cell_spec_id)
    rows, total = await repository.page_batches(session, principal, cell_spec_id, request.query_params, page)
    return page_of([present_batch(batch, count) for batch, count, _total in rows], total)


@router.post("/cell_specifications/{cell_spec_id}/cell_batches", response_model=CellBatchRead)
async def create_batch(
    body: CellBatchCreate, principal: PrincipalDep, session: SessionDep, cell_spec_id: SpecId
) -> dict[str, Any]:
    """Create a batch; a name already used for the spec (ignoring case) answers 409 with its id."""
    batch = await service.create_batch(session, principal, cell_spec_id, body)
    return present_batch(batch, 0)


@router.get("/cell_batches/{batch_id}", response_model=CellBatchRead)
async def get_batch(principal: PrincipalDep, session: SessionDep, batch_id: BatchId) -> dict[str, Any]:
    """One batch with its current instance count."""
    return present_batch(*await service.get_batch(session, principal, batch_id))


@router.patch("/cell_batches/{batch_id}", response_model=CellBatchRead)
async def update_batch(
    body: CellBatchUpdate, principal: PrincipalDep, session: SessionDep, batch_id: BatchId
) -> dict[str, Any]:
    """Change a batch's name, notes, manufacturing date or properties."""
    await service.update_batch(session, principal, batch_id, body)
    return present_batch(*await service.get_batch(session, principal, batch_id))


@router.delete("/cell_batches/{batch_id}", status_code=204)
async def delete_batch(principal: PrincipalDep, session: SessionDep, batch_id: BatchId) -> Response:
    """Delete a batch; its instances are kept with batch_id null."""
    await service.delete_batch(session, principal, batch_id)
    return Response(status_code=204)


# Instances


async def _present_instance(session: SessionDep, principal: PrincipalDep, instance_id: str) -> dict[str, Any]:
    instance, batch_name = await service.get_instance(session, principal, instance_id)
    measurement_ids = await measurements.ids_by_instance(session, [instance.id])
    return present_instance(instance, batch_name, measurement_ids.get(instance.id, []))


@router.get("/cell_specifications/{cell_spec_id}/cell_instances", response_model=Page[CellInstanceRead])
async def list_instances(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    cell_spec_id: SpecId,
    page: PageParams = page_params(1000),
) -> dict[str, Any]:
    """Instances of a specification. Filters: name, batch_id, created_by_email, created_at_gt/lt,
    updated_at_gt/lt, order_by, order."""
    await service.get_specification(session, principal, cell_spec_id)
    rows, total = await repository.page_instances(
        session, principal, cell_spec_id, request.query_params, page
    )
    ids = await measurements.ids_by_instance(session, [instance.id for instance, _batch, _total in rows])
    return page_of(
        [present_instance(instance, batch, ids.get(instance.id)) for instance, batch, _total in rows], total
    )


@router.post("/cell_specifications/{cell_spec_id}/cell_instances", response_model=CellInstanceRead)
async def create_instance(
    body: CellInstanceCreate, principal: PrincipalDep, session: SessionDep, cell_spec_id: SpecId
) -> dict[str, Any]:
    """Create an instance; a name already used for the spec answers 409 with its id."""
    instance = await service.create_instance(session, principal, cell_spec_id, body)
    return await _present_instance(session, principal, instance.id)


@router.get("/cell_instances/{cell_instance_id}", response_model=CellInstanceRead)
async def get_instance(
    principal: PrincipalDep, session: SessionDep, cell_instance_id: InstanceId
) -> dict[str, Any]:
    """One instance, with the ids of its measurements."""
    return await _present_instance(session, principal, cell_instance_id)


@router.patch("/cell_instances/{cell_instance_id}", response_model=CellInstanceRead)
async def update_instance(
    body: CellInstanceUpdate, principal: PrincipalDep, session: SessionDep, cell_instance_id: InstanceId
) -> dict[str, Any]:
    """Merge fields into an instance; batch_id moves it into a batch of its spec (null: out)."""
    await service.update_instance(session, principal, cell_instance_id, body)
    return await _present_instance(session, principal, cell_instance_id)


@router.delete("/cell_instances/{cell_instance_id}", status_code=204)
async def delete_instance(
    principal: PrincipalDep, session: SessionDep, cell_instance_id: InstanceId
) -> Response:
    """Delete an instance and its measurements."""
    await service.delete_instance(session, principal, cell_instance_id)
    return Response(status_code=204)
