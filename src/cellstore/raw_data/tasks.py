"""The conversion job: a raw instrument file parsed, normalised and stored as a measurement's series.

Idempotent like every job: running it again rewrites the same series and queues
processing again, which finds the work done. A file that turns out unreadable
ends with the measurement ``failed`` and the reader's message; nothing else is touched.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from cellstore.core.database import utcnow
from cellstore.formats.base import FormatError
from cellstore.formats.detect import READERS, UnknownFormat, detect
from cellstore.formats.normalise import NormalisedSeries, in_zone, normalise, zone_named
from cellstore.formats.stream import convert
from cellstore.jobs.queue import enqueue
from cellstore.jobs.registry import JobContext, task
from cellstore.measurements import keys, repository
from cellstore.measurements.models import FAILED, RUNNING, CellMeasurement
from cellstore.measurements.uploads import PROCESS_TIME_SERIES
from cellstore.raw_data import service
from cellstore.raw_data.conversion import CONVERT_RAW_DATA
from cellstore.raw_data.models import RawData
from cellstore.storage.base import ObjectStore


def convert_file(path: Path, filename: str, family: str | None = None) -> NormalisedSeries:
    """Read and normalise one instrument file whole (the family found at upload, or detected again)."""
    reader = READERS.get(family or "") or detect(path, filename)
    return normalise(reader.read(path))


def convert_file_to(path: Path, filename: str, out: Path, family: str | None = None) -> NormalisedSeries:
    """Read, normalise and write one instrument file as the stored series parquet ``out``.

    Text exports stream in batches (bounded memory, :mod:`cellstore.formats.stream`); other
    files, and text files that turn out not to stream, are read whole. The result's ``frame``
    holds the rows only when the file was read whole.
    """
    reader = READERS.get(family or "") or detect(path, filename)
    return convert(reader, path, out)


def _convert(store: ObjectStore, raw: RawData, family: str | None, series_key: str) -> NormalisedSeries:
    with (
        store.reading(service.object_key(raw)) as path,
        tempfile.TemporaryDirectory(prefix="cellstore-convert-") as tmp,
    ):
        series = Path(tmp) / keys.TIME_SERIES_FILE
        normalised = convert_file_to(path, raw.filename, series, family)
        store.put_file(series_key, series)
    return normalised


async def _fail(context: JobContext, message: str) -> None:
    async with context.database.sessionmaker() as session, session.begin():
        measurement = await repository.get_unscoped(session, context.payload["measurement_id"])
        if measurement is not None:
            measurement.processing_status = FAILED
            measurement.processing_error = message
            measurement.updated_at = utcnow()


async def _give_up(context: JobContext, error: str) -> None:
    await _fail(context, f"conversion of the raw file failed repeatedly: {error}")


def _fill(measurement: CellMeasurement, normalised: NormalisedSeries) -> None:
    """What the file says about the test, where the person did not say it already."""
    if measurement.start_time is None and normalised.start_time is not None:
        measurement.start_time = normalised.start_time
    measurement.test_setup = {**normalised.test_setup, **(measurement.test_setup or {})}
    if normalised.protocol:
        measurement.protocol = {**normalised.protocol, **(measurement.protocol or {})}


@task(CONVERT_RAW_DATA, give_up=_give_up)
async def convert_raw_data(context: JobContext) -> None:
    """Parse the raw file into the measurement's series, then queue its processing."""
    payload: dict[str, Any] = context.payload
    async with context.database.sessionmaker() as session, session.begin():
        measurement = await repository.get_unscoped(session, payload["measurement_id"])
        raw = await session.get(RawData, payload["raw_data_id"])
        if measurement is None or raw is None:
            return  # deleted meanwhile
        if measurement.row_count is not None:
            return  # converted and processed by an earlier run
        measurement.processing_status = RUNNING
        org, mid = measurement.organization_id, measurement.id
    try:
        normalised = await asyncio.to_thread(
            _convert, context.store, raw, payload.get("family"), keys.series_key(org, mid, 0)
        )
        if zone := payload.get("timezone"):
            normalised = in_zone(normalised, zone_named(zone))
    except (FormatError, UnknownFormat) as exc:
        await _fail(context, f"{raw.filename}: {exc}")
        return
    async with context.database.sessionmaker() as session, session.begin():
        measurement = await repository.get_unscoped(session, mid)
        if measurement is None:
            return
        _fill(measurement, normalised)
        measurement.updated_at = utcnow()
        await enqueue(session, PROCESS_TIME_SERIES, {"measurement_id": mid, "version": 0}, org)
