"""HTTP endpoints of raw data (§3.8) and its links to measurements (§3.7.12)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from cellstore.accounts.auth import PrincipalDep
from cellstore.core.database import SessionDep
from cellstore.core.pagination import Page, PageParams, page_of, page_params
from cellstore.core.schemas import id_path
from cellstore.measurements.schemas import CellMeasurementRead, RawDataLinks, present_measurement
from cellstore.raw_data import conversion, service
from cellstore.raw_data.schemas import (
    ConvertRawData,
    RawDataConfirm,
    RawDataCreate,
    RawDataRead,
    RawDataUpdate,
    present_raw_data,
)
from cellstore.storage.dependencies import BaseUrlDep, StoreDep

router = APIRouter(tags=["Raw data"])
RawDataId = id_path("Raw data id")
MeasurementId = id_path("Cell measurement id")


@router.post("/raw_data/initiate-upload")
async def initiate_upload(
    base_url: BaseUrlDep, body: RawDataCreate, principal: PrincipalDep, session: SessionDep, store: StoreDep
) -> dict[str, Any]:
    """Start storing an original instrument file; answers where to PUT it."""
    return await service.initiate(session, principal, store, body, base_url)


@router.post("/raw_data/{raw_data_id}/confirm-upload", response_model=RawDataRead)
async def confirm_upload(
    body: RawDataConfirm,
    principal: PrincipalDep,
    session: SessionDep,
    store: StoreDep,
    raw_data_id: RawDataId,
) -> dict[str, Any]:
    """Finish storing a raw-data file once its bytes are uploaded."""
    return present_raw_data(await service.confirm(session, principal, store, raw_data_id, body))


@router.post(
    "/raw_data/{raw_data_id}/convert",
    response_model=CellMeasurementRead,
    summary="Convert a raw instrument file into a time-series measurement (cellstore extension)",
)
async def convert(
    body: ConvertRawData,
    principal: PrincipalDep,
    session: SessionDep,
    store: StoreDep,
    raw_data_id: RawDataId,
) -> dict[str, Any]:
    """Parse the stored file on the server into a new time-series measurement of a cell instance,
    linked to this raw data. The format is recognised from the file's content (an unknown one answers
    400 listing the formats cellstore reads); the measurement is answered at once with
    ``processing_status: pending`` and moves to ``ready``, or ``failed`` with the reason, as it is
    parsed and processed. Not part of the Ionworks API: a cellstore extension."""
    return present_measurement(
        await conversion.start_conversion(session, principal, store, raw_data_id, body)
    )


@router.get("/raw_data", response_model=Page[RawDataRead])
async def list_raw_data(
    request: Request, principal: PrincipalDep, session: SessionDep, page: PageParams = page_params(100)
) -> dict[str, Any]:
    """Raw-data files the caller can see. Filters: project_id, name, created_at_gt/lt, order_by, order."""
    rows, total = await service.page(session, principal, request.query_params, page)
    return page_of([present_raw_data(r) for r in rows], total)


@router.get("/raw_data/{raw_data_id}", response_model=RawDataRead)
async def get_raw_data(
    principal: PrincipalDep, session: SessionDep, raw_data_id: RawDataId
) -> dict[str, Any]:
    """One raw-data file's record."""
    return present_raw_data(await service.get(session, principal, raw_data_id))


@router.get("/raw_data/{raw_data_id}/download-url")
async def download_url(
    base_url: BaseUrlDep,
    principal: PrincipalDep,
    session: SessionDep,
    store: StoreDep,
    raw_data_id: RawDataId,
) -> dict[str, str]:
    """A short-lived signed URL of the file's bytes."""
    raw = await service.get(session, principal, raw_data_id)
    return {"url": store.download_url(service.object_key(raw), base_url)}


@router.patch("/raw_data/{raw_data_id}", response_model=RawDataRead)
async def update_raw_data(
    body: RawDataUpdate, principal: PrincipalDep, session: SessionDep, raw_data_id: RawDataId
) -> dict[str, Any]:
    """Change name, source ("" clears) or metadata (replaced); the bytes never change."""
    return present_raw_data(await service.update(session, principal, raw_data_id, body))


@router.delete("/raw_data/{raw_data_id}", status_code=204)
async def delete_raw_data(principal: PrincipalDep, session: SessionDep, raw_data_id: RawDataId) -> Response:
    """Delete the record and the stored file."""
    await service.remove(session, principal, raw_data_id)
    return Response(status_code=204)


@router.get("/raw_data/{raw_data_id}/cell_measurements")
async def linked_measurements(
    principal: PrincipalDep, session: SessionDep, raw_data_id: RawDataId, page: PageParams = page_params(100)
) -> dict[str, Any]:
    """Ids of the measurements made from this file (strings, not objects)."""
    ids, total = await service.linked_measurements(session, principal, raw_data_id, page)
    return {"items": ids, "count": len(ids), "total": total}


@router.post("/cell_measurements/{measurement_id}/raw_data", status_code=204)
async def link(
    body: RawDataLinks, principal: PrincipalDep, session: SessionDep, measurement_id: MeasurementId
) -> Response:
    """Link raw-data files to a measurement (idempotent)."""
    await service.link(session, principal, measurement_id, body.raw_data_ids)
    return Response(status_code=204)


@router.get("/cell_measurements/{measurement_id}/raw_data", response_model=Page[RawDataRead])
async def list_links(
    principal: PrincipalDep,
    session: SessionDep,
    measurement_id: MeasurementId,
    page: PageParams = page_params(100),
) -> dict[str, Any]:
    """Raw-data files linked to a measurement."""
    rows, total = await service.page_of_measurement(session, principal, measurement_id, page)
    return page_of([present_raw_data(r) for r in rows], total)


@router.delete("/cell_measurements/{measurement_id}/raw_data/{raw_data_id}", status_code=204)
async def unlink(
    principal: PrincipalDep, session: SessionDep, measurement_id: MeasurementId, raw_data_id: RawDataId
) -> Response:
    """Unlink one raw-data file from a measurement."""
    await service.unlink(session, principal, measurement_id, raw_data_id)
    return Response(status_code=204)
