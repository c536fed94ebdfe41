"""The signed-URL upload flow: initiate, PUT to storage, confirm; and extend.

Initiate reserves an id and hands out upload targets; nothing exists until
confirm, which checks the objects are really there, creates the measurement
under the reserved id and, for a time series, records the processing job in
the same transaction. Confirm is idempotent: sent twice, it answers the same
measurement.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cellstore.accounts.roles import ProjectAccess
from cellstore.core.database import new_id
from cellstore.core.errors import BadRequest, Conflict, InvalidInput, NotFound
from cellstore.core.tenancy import Principal, require_project_access
from cellstore.jobs.queue import enqueue
from cellstore.measurements import keys, repository, service
from cellstore.measurements.models import (
    FILE,
    PENDING,
    PROPERTIES,
    READY,
    TIME_SERIES,
    CellMeasurement,
    UploadReservation,
)
from cellstore.measurements.schemas import ConfirmUpload, InitiateUpload
from cellstore.storage.base import ObjectStore

PROCESS_TIME_SERIES = "process_time_series"
EXTEND_TIME_SERIES = "extend_time_series"
COMPACT_TIME_SERIES = "compact_time_series"
MAX_FILES = 100


def check_filenames(filenames: list[str] | None) -> list[str]:
    """File measurements: plain, distinct base names."""
    if not filenames:
        raise InvalidInput("filenames", "list at least one file for a file measurement")
    if len(filenames) > MAX_FILES:
        raise InvalidInput("filenames", f"at most {MAX_FILES} files per measurement")
    for name in filenames:
        bad = not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name
        if bad or len(name) > 255:
            raise InvalidInput("filenames", f"{name!r} is not a plain file name")
    if len({n for n in filenames}) != len(filenames):
        raise InvalidInput("filenames", "file names must be distinct")
    return list(filenames)


async def initiate_upload(
    session: AsyncSession,
    principal: Principal,
    store: ObjectStore,
    instance_id: str,
    body: InitiateUpload,
    base_url: str,
) -> dict[str, Any]:
    """Reserve a measurement id and return where to PUT its objects."""
    instance = await service.writable_instance(session, principal, instance_id)
    name = body.measurement.name
    if not name:
        raise InvalidInput("measurement.name", "is required")
    if existing := await repository.id_by_name(session, instance.id, name):
        raise Conflict(f"A measurement named {name!r} already exists for this cell instance", existing)
    measurement_id = new_id()
    org = principal.organization_id
    if body.measurement_type == FILE:
        filenames = check_filenames(body.filenames)
        targets = [(f, keys.file_key(org, measurement_id, f)) for f in filenames]
    else:
        filenames = []
        targets = [
            (f, keys.upload_key(org, measurement_id, f)) for f in (keys.TIME_SERIES_FILE, keys.STEPS_FILE)
        ]
    session.add(
        UploadReservation(
            id=measurement_id,
            organization_id=org,
            cell_instance_id=instance.id,
            measurement_type=body.measurement_type,
            filenames=filenames,
        )
    )
    await session.flush()
    uploads = [store.upload_target(key, filename, base_url).as_upload_info() for filename, key in targets]
    return {"measurement_id": measurement_id, "uploads": uploads}


def _steps_parquet(steps: dict[str, list[Any]]) -> tuple[bytes, int]:
    import polars as pl

    lengths = {len(v) for v in steps.values() if isinstance(v, list)}
    if len(lengths) > 1 or any(not isinstance(v, list) for v in steps.values()):
        raise InvalidInput("steps", "must be column-oriented: every column a list of the same length")
    if steps and "Step count" not in steps:
        raise InvalidInput("steps", "needs a 'Step count' column")
    try:
        frame = pl.DataFrame(steps, strict=False)
    except Exception as exc:
        raise InvalidInput("steps", f"is not a table: {exc}") from None
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd")
    return buffer.getvalue(), frame.height


async def _missing_objects(store: ObjectStore, object_keys: dict[str, str]) -> list[str]:
    sizes = await asyncio.gather(*(asyncio.to_thread(store.size, key) for key in object_keys.values()))
    return [name for name, size in zip(object_keys, sizes, strict=True) if size is None]


async def confirm_upload(
    session: AsyncSession, principal: Principal, store: ObjectStore, measurement_id: str, body: ConfirmUpload
) -> tuple[CellMeasurement, int]:
    """Create the measurement under its reserved id once its objects are stored.

    Returns the measurement and how many uploaded steps were stored.
    """
    existing = await repository.get(session, principal, measurement_id)
    if existing is not None:
        await require_project_access(session, principal, existing.project_id, ProjectAccess.CONTRIBUTE)
        if existing.cell_instance_id != body.cell_instance_id:
            raise BadRequest(
                "This measurement belongs to another cell instance", {"field": "cell_instance_id"}
            )
        return existing, 0
    reservation = await repository.reservation(session, principal, measurement_id)
    if reservation is None or reservation.cell_instance_id != body.cell_instance_id:
        raise NotFound("Upload", {"hint": "call initiate-upload for this cell instance first"})
    instance = await service.writable_instance(session, principal, body.cell_instance_id)
    fields = body.measurement.fields_sent()
    org = principal.organization_id
    if body.measurement_type == PROPERTIES:
        raise BadRequest("properties measurements are created with POST .../cell_measurements/create")
    if body.measurement_type != reservation.measurement_type:
        raise BadRequest(
            f"this upload was initiated for a {reservation.measurement_type} measurement",
            {"field": "measurement_type"},
        )
    steps_created = 0
    if body.measurement_type == FILE:
        filenames = check_filenames(body.filenames or reservation.filenames)
        if set(filenames) - set(reservation.filenames):
            raise BadRequest("filenames differ from those given to initiate-upload", {"field": "filenames"})
        missing = await _missing_objects(store, {f: keys.file_key(org, measurement_id, f) for f in filenames})
        if missing:
            raise BadRequest(f"not uploaded yet: {', '.join(missing)}", {"missing": missing})
        metadata = dict(fields.pop("file_metadata", None) or {})
        metadata["filenames"] = filenames
        fields["file_metadata"] = metadata
    else:
        series = keys.upload_key(org, measurement_id, keys.TIME_SERIES_FILE)
        if await _missing_objects(store, {keys.TIME_SERIES_FILE: series}):
            raise BadRequest(
                f"{keys.TIME_SERIES_FILE} was not uploaded: PUT it to its signed URL before confirming",
                {"missing": [keys.TIME_SERIES_FILE]},
            )
        if body.steps is not None:
            data, steps_created = _steps_parquet(body.steps)
            await asyncio.to_thread(
                store.put_bytes, keys.upload_key(org, measurement_id, keys.STEPS_FILE), data
            )
    file_metadata = fields.pop("file_metadata", None)
    measurement = await service.create_measurement(
        session, principal, instance, measurement_id, body.measurement_type, fields
    )
    measurement.file_metadata = file_metadata
    if body.measurement_type == TIME_SERIES:
        measurement.processing_status = PENDING
        await enqueue(session, PROCESS_TIME_SERIES, {"measurement_id": measurement.id, "version": 0}, org)
    await session.delete(reservation)
    await session.flush()
    return measurement, steps_created


async def initiate_extend(
    session: AsyncSession, principal: Principal, store: ObjectStore, measurement_id: str, base_url: str
) -> dict[str, Any]:
    """Claim a time series for appending; answers where to PUT the delta."""
    measurement = await service.writable_measurement(session, principal, measurement_id)
    if measurement.measurement_type != TIME_SERIES:
        raise BadRequest(
            f"only time series can be extended, this is a {measurement.measurement_type} measurement"
        )
    if measurement.end_time is not None:
        raise Conflict("This measurement has an end_time: the test is finished and cannot be extended")
    if measurement.extend_state is not None:
        raise Conflict("Another extend of this measurement is in flight; retry when it has finished")
    if measurement.processing_status != READY or measurement.row_count is None:
        raise Conflict("This measurement is still processing (or failed); retry when it is ready")
    measurement.extend_state = "claimed"
    measurement.processing_error = None
    await session.flush()
    key = keys.upload_key(measurement.organization_id, measurement.id, keys.EXTEND_FILE)
    return {
        "measurement_id": measurement.id,
        "uploads": [store.upload_target(key, keys.EXTEND_FILE, base_url).as_upload_info()],
    }


async def confirm_extend(
    session: AsyncSession, principal: Principal, store: ObjectStore, measurement_id: str
) -> CellMeasurement:
    """Queue the stitching of the uploaded delta onto the series."""
    measurement = await service.writable_measurement(session, principal, measurement_id)
    if measurement.extend_state == "pending":
        return measurement  # the same confirm sent twice
    if measurement.extend_state != "claimed":
        raise Conflict("No extend is in flight: call initiate-extend first")
    delta = keys.upload_key(measurement.organization_id, measurement.id, keys.EXTEND_FILE)
    if await _missing_objects(store, {keys.EXTEND_FILE: delta}):
        raise BadRequest(f"{keys.EXTEND_FILE} was not uploaded", {"missing": [keys.EXTEND_FILE]})
    measurement.extend_state = "pending"
    measurement.processing_status = PENDING
    payload = {"measurement_id": measurement.id, "version": measurement.data_version + 1}
    await enqueue(session, EXTEND_TIME_SERIES, payload, measurement.organization_id)
    await session.flush()
    return measurement
