"""Reading a measurement's data: redirects to stored objects, and steps and cycles as JSON."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from cellstore.core.errors import BadRequest, Conflict, NotFound
from cellstore.formats.export import ExportFormat
from cellstore.measurements import keys, segments
from cellstore.measurements.models import FAILED, FILE, TIME_SERIES, CellMeasurement
from cellstore.storage.base import ObjectStore


def require_time_series(measurement: CellMeasurement) -> None:
    if measurement.measurement_type != TIME_SERIES:
        raise BadRequest(f"this is a {measurement.measurement_type} measurement, not a time series")


def require_processed(measurement: CellMeasurement) -> None:
    """Steps and cycles exist once a version of the series has been processed.

    During an extend the previous version stays readable. A 4xx, never a 5xx:
    the client retries 5xx answers to GET five times.
    """
    require_time_series(measurement)
    if measurement.row_count is not None:
        return
    if measurement.processing_status == FAILED:
        raise Conflict(f"Processing failed, so there are no steps: {measurement.processing_error}")
    raise Conflict(
        f"Steps are not ready yet (processing_status: {measurement.processing_status}); retry shortly"
    )


def series_file(store: ObjectStore, measurement: CellMeasurement) -> str:
    """The key of the current version's series as one file.

    After an extend the series is stored as segments until a background job compacts them;
    a reader that comes first compacts it now (once; the file is kept for the next).
    """
    org, mid, version = measurement.organization_id, measurement.id, measurement.data_version
    try:
        return segments.compact(store, org, mid, version)
    except FileNotFoundError:
        raise Conflict("The data of this measurement is being rewritten; retry shortly") from None


async def series_url(store: ObjectStore, measurement: CellMeasurement, base_url: str) -> str:
    """Where to download the series: one parquet file, which clients read whole or by range requests
    (found, or compacted once, in a thread: it is storage I/O)."""
    require_time_series(measurement)
    return store.download_url(await asyncio.to_thread(series_file, store, measurement), base_url)


def export_key(measurement: CellMeasurement, export_format: ExportFormat) -> str:
    return keys.derived_key(
        measurement.organization_id, measurement.id, measurement.data_version, f"export.{export_format}"
    )


def _write_export(store: ObjectStore, measurement: CellMeasurement, export_format: ExportFormat) -> None:
    import polars as pl

    from cellstore.formats.export import write_export

    series = series_file(store, measurement)
    with store.reading(series) as path, tempfile.TemporaryDirectory(prefix="cellstore-export-") as tmp:
        out = Path(tmp) / f"export.{export_format}"
        write_export(pl.read_parquet(path), measurement.start_time, export_format, out)
        store.put_file(export_key(measurement, export_format), out)


async def export_url(
    store: ObjectStore, measurement: CellMeasurement, export_format: ExportFormat, base_url: str
) -> str:
    """Where to download the series as ``export_format``: written once per version, then kept."""
    require_time_series(measurement)
    if measurement.row_count is None:
        raise Conflict(
            f"The series is not processed yet (processing_status: {measurement.processing_status})"
        )
    key = export_key(measurement, export_format)
    if await asyncio.to_thread(store.size, key) is None:
        await asyncio.to_thread(_write_export, store, measurement, export_format)
    return store.download_url(key, base_url)


def steps_url(store: ObjectStore, measurement: CellMeasurement, base_url: str) -> str:
    require_processed(measurement)
    key = keys.derived_key(
        measurement.organization_id, measurement.id, measurement.data_version, keys.STEPS_FILE
    )
    return store.download_url(key, base_url)


def _read_columns(store: ObjectStore, key: str) -> dict[str, list[Any]]:
    import polars as pl

    from cellstore.processing.frames import to_columns

    with store.reading(key) as path:
        return to_columns(pl.read_parquet(path))


async def derived_columns(
    store: ObjectStore, measurement: CellMeasurement, filename: str
) -> dict[str, list[Any]]:
    """Steps or cycles of the current version, column-oriented."""
    require_processed(measurement)
    key = keys.derived_key(measurement.organization_id, measurement.id, measurement.data_version, filename)
    try:
        return await asyncio.to_thread(_read_columns, store, key)
    except FileNotFoundError:
        raise Conflict("The derived data of this measurement is being rewritten; retry shortly") from None


def filenames(measurement: CellMeasurement) -> list[str]:
    if measurement.measurement_type != FILE:
        raise BadRequest(f"this is a {measurement.measurement_type} measurement, not a file measurement")
    return list((measurement.file_metadata or {}).get("filenames", []))


def file_url(store: ObjectStore, measurement: CellMeasurement, filename: str, base_url: str) -> str:
    if filename not in filenames(measurement):
        raise NotFound(f"File {filename!r}")
    return store.download_url(keys.file_key(measurement.organization_id, measurement.id, filename), base_url)
