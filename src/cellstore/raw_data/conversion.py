"""Raw instrument files into time-series measurements: a cellstore extension of the API.

The request checks what can be checked at once (the file's format, from its first
bytes; the instance; the names) and creates the measurement, linked to its raw
data, with a conversion job queued in the same transaction. The job
(:mod:`cellstore.raw_data.tasks`) parses and normalises the file into the
measurement's series, then hands over to the ordinary processing of uploads.
"""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession

from cellstore.core.database import new_id
from cellstore.core.errors import BadRequest, Conflict
from cellstore.core.tenancy import Principal
from cellstore.formats.base import SNIFF_BYTES
from cellstore.formats.detect import UnknownFormat, detect_head, supported_formats
from cellstore.jobs.queue import enqueue
from cellstore.measurements import service as measurements
from cellstore.measurements.models import PENDING, TIME_SERIES, CellMeasurement
from cellstore.raw_data import service
from cellstore.raw_data.models import RawDataLink
from cellstore.raw_data.schemas import ConvertRawData
from cellstore.storage.base import ObjectStore

CONVERT_RAW_DATA = "convert_raw_data"


async def start_conversion(
    session: AsyncSession, principal: Principal, store: ObjectStore, raw_data_id: str, body: ConvertRawData
) -> CellMeasurement:
    """A new pending measurement of ``body.cell_instance_id`` made from the raw-data file."""
    raw = await service.get(session, principal, raw_data_id)
    instance = await measurements.writable_instance(session, principal, body.cell_instance_id)
    if instance.project_id != raw.project_id:
        raise Conflict("The raw data and the cell instance belong to different projects")
    head = await asyncio.to_thread(store.head, service.object_key(raw), SNIFF_BYTES)
    try:
        reader = detect_head(head, raw.filename)
    except UnknownFormat as exc:
        raise BadRequest(str(exc), {"supported_formats": supported_formats()}) from None
    fields = body.measurement.fields_sent()
    fields.setdefault("name", raw.name)
    measurement = await measurements.create_measurement(
        session, principal, instance, new_id(), TIME_SERIES, fields
    )
    measurement.processing_status = PENDING
    session.add(
        RawDataLink(measurement_id=measurement.id, raw_data_id=raw.id, organization_id=raw.organization_id)
    )
    payload = {
        "measurement_id": measurement.id,
        "raw_data_id": raw.id,
        "family": reader.family,
        "timezone": body.timezone,
    }
    await enqueue(session, CONVERT_RAW_DATA, payload, principal.organization_id)
    await session.flush()
    return measurement
