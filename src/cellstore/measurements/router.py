"""HTTP endpoints of cell measurements (§3.7 of the contract)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse

from cellstore.accounts.auth import PrincipalDep
from cellstore.accounts.roles import ProjectAccess
from cellstore.cells import service as cells
from cellstore.cells.schemas import present_instance
from cellstore.core.database import SessionDep
from cellstore.core.filters import parse_id
from cellstore.core.pagination import Page, PageParams, page_of, page_params
from cellstore.core.responses import FastJSONResponse, json_bytes_response
from cellstore.core.schemas import id_path
from cellstore.core.tenancy import require_project_access
from cellstore.formats.export import ExportFormat
from cellstore.measurements import analysis, data, keys, listing, polling, repository, service, tags, uploads
from cellstore.measurements.models import CellMeasurement
from cellstore.measurements.schemas import (
    CellMeasurementRead,
    ConfirmUpload,
    InitiateUpload,
    InitiateUploadResponse,
    MeasurementFields,
    PropertiesCreate,
    TagsBulk,
    TagUsage,
    present_measurement,
)
from cellstore.storage.dependencies import BaseUrlDep, StoreDep

router = APIRouter(tags=["Cell measurements"])
InstanceId = id_path("Cell instance id")
MeasurementId = id_path("Cell measurement id")


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=307)


async def bundle(
    session: SessionDep, principal: PrincipalDep, measurement: CellMeasurement, steps: int
) -> dict:
    """The flat measurement, its parent instance and ``steps_created``: what confirm answers."""
    instance, batch_name = await cells.get_instance(session, principal, measurement.cell_instance_id)
    ids = (await repository.ids_by_instance(session, [instance.id])).get(instance.id, [])
    return {
        **present_measurement(measurement),
        "instance": present_instance(instance, batch_name, ids),
        "steps_created": steps,
    }


# Lists and tags


@router.get("/cell_instances/{cell_instance_id}/cell_measurements", response_model=Page[CellMeasurementRead])
async def list_of_instance(
    request: Request,
    principal: PrincipalDep,
    cell_instance_id: InstanceId,
    page: PageParams = page_params(1000),
) -> Response:
    """Measurements of a cell. Filters: measurement_type, tags_all, tags_any, name, created_by_email,
    created_at/updated_at/start_time _gt/_lt, order_by (name, created_at, updated_at, start_time), order."""
    return json_bytes_response(await listing.instance_page_json(request, principal, cell_instance_id, page))


@router.get("/cell_measurements", response_model=Page[CellMeasurementRead])
async def list_of_project(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    project_id: Annotated[str, Query(description="The project to list.")],
    page: PageParams = page_params(25),
) -> FastJSONResponse:
    """Measurements of a project; ``q`` searches name, notes, protocol name and tags."""
    project_id = parse_id("project_id", project_id)
    await require_project_access(session, principal, project_id, ProjectAccess.VIEW)
    rows, total = await repository.page_of_project(session, principal, project_id, request.query_params, page)
    return FastJSONResponse(page_of([present_measurement(m) for m in rows], total))


@router.get("/cell_measurements/tags", response_model=Page[TagUsage])
async def tag_usage(
    principal: PrincipalDep,
    session: SessionDep,
    project_id: Annotated[str, Query(description="The project whose tags to count.")],
    q: Annotated[str | None, Query(description="Case-insensitive substring.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> dict[str, Any]:
    """Distinct tags of a project with how many measurements carry each, most used first."""
    project_id = parse_id("project_id", project_id)
    await require_project_access(session, principal, project_id, ProjectAccess.VIEW)
    rows, total = await tags.usage(session, repository.visible_ids(principal), project_id, q, limit)
    return page_of([{"tag": t, "usage_count": n} for t, n in rows], total)


@router.post("/cell_measurements/tags/bulk")
async def bulk_tags(body: TagsBulk, principal: PrincipalDep, session: SessionDep) -> dict[str, int]:
    """Add or remove tags on up to 1000 measurements; answers how many changed."""
    changed = await service.bulk_tags(session, principal, body.measurement_ids, body.add, body.remove)
    return {"updated_count": changed}


# One measurement


@router.get("/cell_measurements/{measurement_id}", response_model=CellMeasurementRead)
async def get_measurement(
    request: Request,
    principal: PrincipalDep,
    measurement_id: MeasurementId,
    include_steps: bool = False,
    include_time_series: bool = False,
) -> Response:
    """One measurement's metadata and processing status (never its data; polled every two seconds)."""
    return json_bytes_response(await polling.measurement_json(request, principal, measurement_id))


@router.patch("/cell_measurements/{measurement_id}", response_model=CellMeasurementRead)
async def update_measurement(
    body: MeasurementFields, principal: PrincipalDep, session: SessionDep, measurement_id: MeasurementId
) -> dict[str, Any]:
    """Change metadata (name, notes, protocol, test_setup, times, tags, properties, custom fields)."""
    return present_measurement(await service.update_measurement(session, principal, measurement_id, body))


@router.delete("/cell_measurements/{measurement_id}", status_code=204)
async def delete_measurement(
    principal: PrincipalDep, session: SessionDep, measurement_id: MeasurementId
) -> Response:
    """Delete a measurement and its stored objects."""
    await service.delete_measurement(session, principal, measurement_id)
    return Response(status_code=204)


# Uploads


@router.post(
    "/cell_instances/{cell_instance_id}/cell_measurements/initiate-upload",
    response_model=InitiateUploadResponse,
)
async def initiate_upload(
    base_url: BaseUrlDep,
    body: InitiateUpload,
    principal: PrincipalDep,
    session: SessionDep,
    store: StoreDep,
    cell_instance_id: InstanceId,
) -> dict[str, Any]:
    """Reserve a measurement id and get signed URLs to PUT its objects to."""
    return await uploads.initiate_upload(session, principal, store, cell_instance_id, body, base_url)


@router.post("/cell_measurements/{measurement_id}/confirm-upload")
async def confirm_upload(
    body: ConfirmUpload,
    principal: PrincipalDep,
    session: SessionDep,
    store: StoreDep,
    measurement_id: MeasurementId,
) -> dict[str, Any]:
    """Create the measurement once its objects are uploaded; a time series is then processed."""
    measurement, steps = await uploads.confirm_upload(session, principal, store, measurement_id, body)
    return await bundle(session, principal, measurement, steps)


@router.post(
    "/cell_instances/{cell_instance_id}/cell_measurements/create", response_model=CellMeasurementRead
)
async def create_properties(
    body: PropertiesCreate, principal: PrincipalDep, session: SessionDep, cell_instance_id: InstanceId
) -> dict[str, Any]:
    """Create a properties measurement: a flat set of values with units."""
    return present_measurement(await service.create_properties(session, principal, cell_instance_id, body))


@router.post("/cell_measurements/{measurement_id}/initiate-extend", response_model=InitiateUploadResponse)
async def initiate_extend(
    base_url: BaseUrlDep,
    principal: PrincipalDep,
    session: SessionDep,
    store: StoreDep,
    measurement_id: MeasurementId,
) -> dict[str, Any]:
    """Claim a running time series for appending rows; answers where to PUT them."""
    return await uploads.initiate_extend(session, principal, store, measurement_id, base_url)


@router.post("/cell_measurements/{measurement_id}/confirm-extend")
async def confirm_extend(
    principal: PrincipalDep, session: SessionDep, store: StoreDep, measurement_id: MeasurementId
) -> dict[str, Any]:
    """Append the uploaded rows (in the background) and re-derive steps and cycles."""
    measurement = await uploads.confirm_extend(session, principal, store, measurement_id)
    return await bundle(session, principal, measurement, 0)


# Data


@router.get("/cell_measurements/{measurement_id}/time_series/download", status_code=307)
async def download_time_series(
    base_url: BaseUrlDep,
    principal: PrincipalDep,
    session: SessionDep,
    store: StoreDep,
    measurement_id: MeasurementId,
) -> RedirectResponse:
    """Redirect to the stored time_series.parquet (which answers Range requests)."""
    measurement = await service.get_measurement(session, principal, measurement_id)
    return redirect(await data.series_url(store, measurement, base_url))


@router.get("/cell_measurements/{measurement_id}/time_series/export", status_code=307)
async def export_time_series(
    base_url: BaseUrlDep,
    principal: PrincipalDep,
    session: SessionDep,
    store: StoreDep,
    measurement_id: MeasurementId,
    export_format: Annotated[
        ExportFormat,
        Query(
            alias="format",
            description="bdf.csv or bdf.parquet (Battery Data Format v1.0), csv or parquet (§6.1 columns).",
        ),
    ] = "bdf.csv",
) -> RedirectResponse:
    """Redirect to the time series as a file to take elsewhere (a cellstore extension).

    The Battery Data Format counts current as positive on charge and capacities from the start of
    the test, so those columns differ from the stored series; ``csv`` and ``parquet`` keep cellstore's
    own columns. Each export is written once per version of the series and kept."""
    measurement = await service.get_measurement(session, principal, measurement_id)
    return redirect(await data.export_url(store, measurement, export_format, base_url))


@router.get("/cell_measurements/{measurement_id}/steps/download", status_code=307)
async def download_steps(
    base_url: BaseUrlDep,
    principal: PrincipalDep,
    session: SessionDep,
    store: StoreDep,
    measurement_id: MeasurementId,
) -> RedirectResponse:
    """Redirect to steps.parquet; 409 while it is not derived yet."""
    measurement = await service.get_measurement(session, principal, measurement_id)
    return redirect(data.steps_url(store, measurement, base_url))


@router.get("/cell_measurements/{measurement_id}/cycles")
async def cycles(
    principal: PrincipalDep, session: SessionDep, store: StoreDep, measurement_id: MeasurementId
) -> dict[str, Any]:
    """Cycle metrics, column-oriented."""
    measurement = await service.get_measurement(session, principal, measurement_id)
    return {"cycles": await data.derived_columns(store, measurement, keys.CYCLES_FILE)}


@router.get("/cell_measurements/{measurement_id}/steps_and_cycles")
async def steps_and_cycles(
    principal: PrincipalDep, session: SessionDep, store: StoreDep, measurement_id: MeasurementId
) -> dict[str, Any]:
    """Steps and cycle metrics, both column-oriented."""
    measurement = await service.get_measurement(session, principal, measurement_id)
    return {
        "steps": await data.derived_columns(store, measurement, keys.STEPS_FILE),
        "cycles": await data.derived_columns(store, measurement, keys.CYCLES_FILE),
    }


@router.get("/cell_measurements/{measurement_id}/files")
async def list_files(
    principal: PrincipalDep, session: SessionDep, measurement_id: MeasurementId
) -> dict[str, Any]:
    """The file names of a file measurement."""
    measurement = await service.get_measurement(session, principal, measurement_id)
    return {"filenames": data.filenames(measurement)}


@router.get("/cell_measurements/{measurement_id}/files/{filename}", status_code=307)
async def get_file(
    base_url: BaseUrlDep,
    principal: PrincipalDep,
    session: SessionDep,
    store: StoreDep,
    measurement_id: MeasurementId,
    filename: str,
) -> RedirectResponse:
    """Redirect to one stored file."""
    measurement = await service.get_measurement(session, principal, measurement_id)
    return redirect(data.file_url(store, measurement, filename, base_url))


@router.post("/cell_measurements/{measurement_id}/watch", status_code=204)
async def watch(principal: PrincipalDep, session: SessionDep, measurement_id: MeasurementId) -> Response:
    """Watch a measurement (idempotent)."""
    await service.watch(session, principal, measurement_id, True)
    return Response(status_code=204)


@router.delete("/cell_measurements/{measurement_id}/watch", status_code=204)
async def unwatch(principal: PrincipalDep, session: SessionDep, measurement_id: MeasurementId) -> Response:
    """Stop watching a measurement (idempotent)."""
    await service.watch(session, principal, measurement_id, False)
    return Response(status_code=204)


# Analysis


@router.get("/cell_measurements/{measurement_id}/analysis/dqdv")
async def dqdv(
    principal: PrincipalDep,
    session: SessionDep,
    store: StoreDep,
    measurement_id: MeasurementId,
    cycle: Annotated[int | None, Query(description="The cycle (its `Cycle count`); or give `step`.")] = None,
    step: Annotated[int | None, Query(description="One step (its `Step count`); or give `cycle`.")] = None,
    voltage_step: Annotated[
        float, Query(gt=0.0001, le=0.5, description="Width of the uniform voltage grid, in V.")
    ] = 0.005,
    smoothing: Annotated[
        float, Query(ge=0, le=0.5, description="Standard deviation of the Gaussian smoothing in V; 0: none.")
    ] = 0.01,
) -> FastJSONResponse:
    """Incremental capacity dQ/dV against voltage of one cycle's charge and discharge (or of one step).

    Answers `{"cycle", "step", "voltage_step", "smoothing", "charge": {...}, "discharge": {...},
    "charge_steps", "discharge_steps", "skipped_steps"}`, where `charge` and `discharge` are
    column-oriented: `"Voltage [V]"` (bin centres, ascending), `"Capacity [A.h]"` (capacity passed
    below that voltage on charge, above it on discharge) and `"dQ/dV [A.h/V]"` (positive for both
    directions, smoothed). The capacity of each pair of consecutive rows is binned by voltage, so
    noisy or briefly reversing voltage is handled; rests and constant-voltage holds are skipped
    (`skipped_steps`). Capacity comes from the cumulative capacity columns, else from |Current|
    integrated over time. 404 for an unknown cycle or step; 409 while the series is not processed.
    """
    body = await analysis.dqdv(
        session,
        principal,
        store,
        measurement_id,
        cycle=cycle,
        step=step,
        voltage_step=voltage_step,
        smoothing=smoothing,
    )
    return FastJSONResponse(body)


@router.get("/cell_measurements/{measurement_id}/series")
async def series(
    principal: PrincipalDep,
    session: SessionDep,
    store: StoreDep,
    measurement_id: MeasurementId,
    y: Annotated[list[str], Query(description="One or more numeric columns to plot (repeat `y`).")],
    x: Annotated[str, Query(description="The numeric column along the x axis.")] = "Time [s]",
    max_points: Annotated[int, Query(ge=8, le=100_000, description="Most points per y column.")] = 2000,
    start: Annotated[float | None, Query(description="Window start, in x units (x monotonic).")] = None,
    end: Annotated[float | None, Query(description="Window end, in x units, inclusive.")] = None,
    row_start: Annotated[int | None, Query(ge=0, description="Window by rows: the first row.")] = None,
    row_end: Annotated[int | None, Query(ge=0, description="Window by rows: one past the last row.")] = None,
) -> FastJSONResponse:
    """A downsampled window of a time series for plotting; peaks are kept (M4: per bucket the first,
    min, max and last point of each y column).

    Answers `{"x", "y", "rows", "row_start", "row_end", "max_points", "source", "level",
    "bucket_rows", "exact", "series": {<y>: {"row": [...], <x>: [...], <y>: [...]}}}`: for each y
    column at most `max_points` points, with their row offsets. `source` is `raw` (read from the
    rows; `exact` true) or `overview` (from the precomputed buckets of 2**`level` rows, merged into
    buckets of `bucket_rows`; y values and rows are true, the x of a min/max point is interpolated
    between its bucket's first and last x, so `exact` is false). Window by x values with
    `start`/`end` (inclusive; x must be monotonic) or by rows with `row_start`/`row_end`.
    """
    query = analysis.SeriesQuery(x, y, max_points, start, end, row_start, row_end)
    return FastJSONResponse(await analysis.series(session, principal, store, measurement_id, query))
