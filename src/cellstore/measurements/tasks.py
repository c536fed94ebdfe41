"""Background work on measurements: processing uploads, extends and their compaction, deleting objects.

Every handler is idempotent: a job may run again after a worker died, and must
then reach the same end state. Problems with the data itself end the job with
the measurement ``failed`` and a message a person can act on; anything else
raises, and the queue retries.
"""

from __future__ import annotations

import asyncio
import io
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl

from cellstore.core.database import utcnow
from cellstore.jobs.queue import enqueue
from cellstore.jobs.registry import JobContext, task
from cellstore.measurements import analysis, keys, repository, segments
from cellstore.measurements.models import FAILED, READY, RUNNING, CellMeasurement
from cellstore.measurements.uploads import COMPACT_TIME_SERIES, EXTEND_TIME_SERIES, PROCESS_TIME_SERIES
from cellstore.processing.errors import SeriesError
from cellstore.processing.pipeline import derive_extended, process_series, read_steps, write_segment
from cellstore.processing.units import capacity_in_amp_hours
from cellstore.storage.base import ObjectStore


async def _load(context: JobContext) -> tuple[CellMeasurement, dict[str, Any] | None] | None:
    async with context.database.sessionmaker() as session:
        measurement = await repository.get_unscoped(session, context.payload["measurement_id"])
        if measurement is None:
            return None
        capacity = await repository.rated_capacity_source(session, measurement.cell_instance_id)
        return measurement, capacity


async def _update(context: JobContext, **values: Any) -> None:
    async with context.database.sessionmaker() as session, session.begin():
        measurement = await repository.get_unscoped(session, context.payload["measurement_id"])
        if measurement is not None:
            for field, value in values.items():
                setattr(measurement, field, value)
            measurement.updated_at = utcnow()


async def _give_up(context: JobContext, error: str) -> None:
    """After the last retry of processing an upload: tell the person why."""
    await _update(
        context, processing_status=FAILED, processing_error=f"processing failed repeatedly: {error}"
    )


async def _give_up_extend(context: JobContext, error: str) -> None:
    """After the last retry of an extend: the previous version stays ready and readable."""
    await _update(
        context,
        processing_status=READY,
        processing_error=f"extend failed repeatedly: {error}",
        extend_state=None,
    )


def _derive(store: ObjectStore, org: str, mid: str, version: int, series: Path, capacity: Any) -> int:
    """Process one version of the series and store its steps and cycles; returns the row count."""
    uploaded_steps = keys.upload_key(org, mid, keys.STEPS_FILE) if version == 0 else None
    with tempfile.TemporaryDirectory(prefix="cellstore-process-") as tmp:
        steps, cycles, tail = io.BytesIO(), io.BytesIO(), io.BytesIO()
        steps_input = None
        if uploaded_steps is not None and store.size(uploaded_steps) is not None:
            steps_input = Path(tmp) / "uploaded_steps.parquet"
            with store.reading(uploaded_steps) as source:
                shutil.copyfile(source, steps_input)
        result = process_series(
            series,
            steps,
            cycles,
            rated_capacity_ah=capacity_in_amp_hours(capacity),
            uploaded_steps=steps_input,
            tail_out=tail,
        )
        derived = _derived_files(org, mid, version, steps, cycles, tail if result.kept_tail else None)
        _put_files(store, derived)
        # For /series: the multi-resolution overview (after an extend, only the touched buckets).
        analysis.store_overview(store, org, mid, version, series)
        return result.rows


def _process_upload(store: ObjectStore, org: str, mid: str, capacity: Any) -> int:
    with store.reading(keys.series_key(org, mid, 0)) as series:
        return _derive(store, org, mid, 0, series, capacity)


@task(PROCESS_TIME_SERIES, give_up=_give_up)
async def process_time_series(context: JobContext) -> None:
    """Validate an uploaded series, derive its steps and cycles, and mark it ready (or failed)."""
    loaded = await _load(context)
    if loaded is None:
        return  # deleted meanwhile
    measurement, capacity = loaded
    if measurement.row_count is not None and measurement.data_version >= context.payload["version"]:
        return  # already done by an earlier run of this job
    await _update(context, processing_status=RUNNING)
    org, mid = measurement.organization_id, measurement.id
    try:
        rows = await asyncio.to_thread(_process_upload, context.store, org, mid, capacity)
    except SeriesError as exc:
        await _update(context, processing_status=FAILED, processing_error=str(exc))
        return
    await _update(context, processing_status=READY, processing_error=None, row_count=rows)


def _stitch(store: ObjectStore, org: str, mid: str, version: int, capacity: Any) -> int:
    """Store the next version: the delta as a segment after the previous version's series, with only
    the steps and cycles it touches recomputed (from the previous version's steps).

    The previous series is not copied, nor read beyond its footers and the rows of its last step,
    which the previous version's tail object usually holds (then the series' rows are not read at
    all); the manifest, stored last, completes the version (:mod:`~cellstore.measurements.segments`).
    The overview for ``/series`` is left to the compaction job.
    """
    # Left-overs of an earlier attempt at this version (never live) must not be taken for its objects.
    store.delete_prefix(keys.version_prefix(org, mid, version))
    base, manifest = segments.base_of_next(store, org, mid, version - 1)
    previous_steps = _derived_steps(store, org, mid, version - 1)
    previous_tail = keys.derived_key(org, mid, version - 1, keys.TAIL_FILE)
    with (
        store.reading(keys.upload_key(org, mid, keys.EXTEND_FILE)) as delta,
        _reading_if_stored(store, previous_tail if previous_steps is not None else None) as tail_path,
        tempfile.TemporaryDirectory(prefix="cellstore-extend-") as tmp,
    ):
        segment = Path(tmp) / keys.SEGMENT_FILE
        written = write_segment(
            segments.sources(store, base),
            delta,
            segment,
            previous_steps=previous_steps,
            previous_rows=manifest.rows if manifest is not None else None,  # counted when stored
        )
        segment_key = keys.segment_key(org, mid, version)
        steps, cycles, tail = io.BytesIO(), io.BytesIO(), io.BytesIO()
        result = derive_extended(
            [*segments.sources(store, base), segment],
            written.previous_rows,
            steps,
            cycles,
            rows=written.previous_rows + written.rows,
            previous_steps=previous_steps,
            rated_capacity_ah=capacity_in_amp_hours(capacity),
            extension=written.frame,
            previous_tail=tail_path,
            tail_out=tail,
        )
        derived = _derived_files(org, mid, version, steps, cycles, tail if result.kept_tail else None)
        _put_files(store, {segment_key: written.stored, **derived})
    parts = manifest.parts if manifest is not None else (segments.Part(base[0], written.previous_rows),)
    segments.write_manifest(
        store, org, mid, segments.Manifest(version, (*parts, segments.Part(segment_key, written.rows)))
    )
    return result.rows


def _derived_files(
    org: str, mid: str, version: int, steps: io.BytesIO, cycles: io.BytesIO, tail: io.BytesIO | None
) -> dict[str, Path | io.BytesIO]:
    """The version's steps, cycles and, when processing kept it, tail, by their keys."""
    files: dict[str, Path | io.BytesIO] = {
        keys.derived_key(org, mid, version, keys.STEPS_FILE): steps,
        keys.derived_key(org, mid, version, keys.CYCLES_FILE): cycles,
    }
    if tail is not None:
        files[keys.derived_key(org, mid, version, keys.TAIL_FILE)] = tail
    return files


@contextmanager
def _reading_if_stored(store: ObjectStore, key: str | None) -> Iterator[Path | None]:
    """A local path of the object at ``key`` while the block runs, or None when there is none."""
    if key is None or store.size(key) is None:
        yield None
        return
    with store.reading(key) as path:
        yield Path(path)


def _put_files(store: ObjectStore, files: dict[str, Path | io.BytesIO]) -> None:
    """Store local files and tables written into buffers as objects, side by side: on S3 each is
    a round trip and on a local disk an fsync, mostly waiting. Callers store once their files are
    all written, since an fsync running meanwhile makes their writes wait on the disk."""

    def put(key: str, content: Path | io.BytesIO) -> None:
        if isinstance(content, Path):
            store.put_file(key, content)
        else:
            store.put_bytes(key, content.getvalue())

    with ThreadPoolExecutor(max_workers=len(files)) as pool:
        for stored in [pool.submit(put, key, content) for key, content in files.items()]:
            stored.result()


def _derived_steps(store: ObjectStore, org: str, mid: str, version: int) -> pl.DataFrame | None:
    """The steps the server derived for ``version``; None for a client's uploaded table."""
    if version == 0 and store.size(keys.upload_key(org, mid, keys.STEPS_FILE)) is not None:
        return None
    try:
        with store.reading(keys.derived_key(org, mid, version, keys.STEPS_FILE)) as path:
            return read_steps(Path(path))
    except FileNotFoundError:
        return None


@task(EXTEND_TIME_SERIES, give_up=_give_up_extend)
async def extend_time_series(context: JobContext) -> None:
    """Append the uploaded delta as the next version; the current version stays served until it is done."""
    loaded = await _load(context)
    if loaded is None:
        return
    measurement, capacity = loaded
    version = int(context.payload["version"])
    if measurement.data_version >= version:
        return  # this extend was already applied
    await _update(context, processing_status=RUNNING)
    org, mid = measurement.organization_id, measurement.id
    try:
        rows = await asyncio.to_thread(_stitch, context.store, org, mid, version, capacity)
    except SeriesError as exc:
        await asyncio.to_thread(context.store.delete_prefix, keys.version_prefix(org, mid, version))
        await _update(
            context, processing_status=READY, processing_error=f"extend failed: {exc}", extend_state=None
        )
        return
    async with context.database.sessionmaker() as session, session.begin():
        current = await repository.get_unscoped(session, mid)
        if current is None:
            return
        current.processing_status, current.processing_error, current.extend_state = READY, None, None
        current.row_count, current.data_version, current.updated_at = rows, version, utcnow()
        # In the same transaction: the version is live only together with the job that compacts it.
        await enqueue(session, COMPACT_TIME_SERIES, {"measurement_id": mid, "version": version}, org)
    await asyncio.to_thread(segments.forget_before, context.store, org, mid, version)


def _compact(store: ObjectStore, org: str, mid: str, version: int) -> None:
    """The version's overview (from the newest earlier one and the appended rows), then its series
    as one file if its segments are worth joining; then the earlier overview it was made from goes."""
    series = segments.sources(store, segments.parts_of(store, org, mid, version))
    analysis.store_overview(store, org, mid, version, series)
    manifest = segments.read_manifest(store, org, mid, version)
    if manifest is not None and segments.worth_joining(manifest):
        segments.compact(store, org, mid, version)
    segments.forget_before(store, org, mid, version)


@task(COMPACT_TIME_SERIES)
async def compact_time_series(context: JobContext) -> None:
    """Store an extended version's overview for ``/series`` and, once its segments are worth
    joining, its series as one file for the readers that need one."""
    loaded = await _load(context)
    if loaded is None:
        return
    measurement, _ = loaded
    if measurement.data_version != int(context.payload["version"]):
        return  # superseded: the next version has its own compaction, this one's objects go
    org, mid, version = measurement.organization_id, measurement.id, measurement.data_version
    await asyncio.to_thread(_compact, context.store, org, mid, version)
    # An extend that went live meanwhile cleaned up before this job stored its objects: clean up
    # again for the version that is live now (what this job stored then goes, or is kept to
    # make that version's overview from).
    loaded = await _load(context)
    if loaded is not None and loaded[0].data_version > version:
        await asyncio.to_thread(segments.forget_before, context.store, org, mid, loaded[0].data_version)
