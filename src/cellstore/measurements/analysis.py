"""Analysis of a stored time series: dQ/dV of a cycle, and downsampled windows for plotting.

Both read only what they need: dQ/dV slices the rows of the chosen steps out of the
parquet file, and ``/series`` answers from the series' overview
(:mod:`cellstore.processing.overview`), stored beside ``steps.parquet`` as
``overview.parquet`` when an upload is processed or an extend compacted, plus a few
raw row groups. A version without one yet gets it made on its first ``/series``
request; that object is a cache of the series, so writing it on a GET changes
nothing a client can see except speed.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy.ext.asyncio import AsyncSession

from cellstore.core.errors import BadRequest, Conflict, NotFound
from cellstore.core.tenancy import Principal
from cellstore.measurements import data, keys, segments, service
from cellstore.measurements.models import CellMeasurement
from cellstore.processing import dqdv as ic
from cellstore.processing import overview as ov
from cellstore.storage.base import ObjectStore

logger = logging.getLogger("cellstore")

#: Overviews kept in memory per process (a 50M-row series has one of about 15 MB).
CACHE_BYTES = 256 * 1024 * 1024


# -- the overview object -------------------------------------------------------------------------


class _Cache:
    """Overviews by store key, least recently used dropped first. Keys name one version of one
    series and a version never changes, so entries never go stale."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: OrderedDict[str, ov.Overview] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[str, threading.Lock] = {}

    def get(self, key: str) -> ov.Overview | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: str, overview: ov.Overview) -> None:
        with self._lock:
            self._items[key] = overview
            self._items.move_to_end(key)
            while len(self._items) > 1 and sum(o.nbytes() for o in self._items.values()) > self.limit:
                self._items.popitem(last=False)

    def building(self, key: str) -> threading.Lock:
        """One lock per key, so concurrent first requests build an overview once."""
        with self._lock:
            return self._building.setdefault(key, threading.Lock())

    def built(self, key: str) -> None:
        with self._lock:
            self._building.pop(key, None)


_cache = _Cache(CACHE_BYTES)


def _read_stored(store: ObjectStore, key: str) -> ov.Overview | None:
    try:
        with store.reading(key) as path:
            return ov.read_overview(path)
    except FileNotFoundError:
        return None


def _put(store: ObjectStore, key: str, overview: ov.Overview) -> None:
    with tempfile.TemporaryDirectory(prefix="cellstore-overview-") as tmp:
        path = Path(tmp) / keys.OVERVIEW_FILE
        ov.write_overview(overview, path)
        store.put_file(key, path)


def store_overview(store: ObjectStore, org: str, mid: str, version: int, series: ov.Source) -> None:
    """Build and store the overview of one processed version (the series at ``series``, one file or
    the version's parts).

    After an extend only the buckets the appended rows touch are recomputed, from the newest
    overview of an earlier version. Idempotent: an overview already stored for the version is
    kept. A failure is logged, not raised: the overview is a cache that ``/series`` rebuilds
    when it is missing, and must not fail the processing of the data itself.
    """
    key = keys.overview_key(org, mid, version)
    try:
        if store.size(key) is None:
            _put(store, key, _derive_overview(store, org, mid, version, series))
    except Exception:
        logger.warning(
            "could not build the overview of measurement %s version %s", mid, version, exc_info=True
        )


def _derive_overview(store: ObjectStore, org: str, mid: str, version: int, series: ov.Source) -> ov.Overview:
    """The overview of ``version``: updated from the newest earlier one when there is one (an
    extend only appends rows), else built from the whole series."""
    earlier = segments.newest_overview_before(store, org, mid, version) if version > 0 else None
    previous = (_cache.get(earlier) or _read_stored(store, earlier)) if earlier else None
    return ov.update_overview(previous, series) if previous else ov.build_overview(series)


def load_overview(store: ObjectStore, measurement: CellMeasurement) -> ov.Overview:
    """The current version's overview: from memory, from the store, or made now and stored.

    Made now when ``/series`` comes before the job that stores it (just after an extend, from
    the previous overview and the appended rows) or for a series processed before overviews
    existed. Only reads fill the memory cache: workers, which write overviews, seldom read them.
    """
    org, mid, version = measurement.organization_id, measurement.id, measurement.data_version
    key = keys.overview_key(org, mid, version)
    found = _cache.get(key)
    if found is not None:
        return found
    with _cache.building(key):
        found = _cache.get(key) or _read_stored(store, key)
        if found is None:
            source = segments.sources(store, segments.parts_of(store, org, mid, version))
            found = _derive_overview(store, org, mid, version, source)
            _put(store, key, found)
        _cache.put(key, found)
    _cache.built(key)
    return found


def version_source(store: ObjectStore, measurement: CellMeasurement) -> ov.Source:
    """What polars scans to read the current version's series: its one file, or (after an extend,
    until it is compacted) its base and segments read as one."""
    org, mid, version = measurement.organization_id, measurement.id, measurement.data_version
    return segments.sources(store, segments.parts_of(store, org, mid, version))


# -- /series -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesQuery:
    """What ``/series`` was asked: columns, how many points, and the window (by x or by rows)."""

    x: str
    y: list[str]
    max_points: int
    start: float | None = None
    end: float | None = None
    row_start: int | None = None
    row_end: int | None = None

    def check(self) -> None:
        if not self.y:
            raise BadRequest("give at least one y column")
        by_value = self.start is not None or self.end is not None
        by_row = self.row_start is not None or self.row_end is not None
        if by_value and by_row:
            raise BadRequest("window by x (start, end) or by rows (row_start, row_end), not both")
        if self.start is not None and self.end is not None and self.start > self.end:
            raise BadRequest(f"start ({self.start}) is after end ({self.end})")
        if self.row_start is not None and self.row_end is not None and self.row_start > self.row_end:
            raise BadRequest(f"row_start ({self.row_start}) is after row_end ({self.row_end})")


def series_window(overview: ov.Overview, source: ov.Source, query: SeriesQuery) -> dict[str, Any]:
    """The ``/series`` answer, computed from an overview and the series it describes."""
    query.check()
    try:
        if query.start is not None or query.end is not None:
            row_start, row_end = ov.rows_of_x_window(overview, source, query.x, query.start, query.end)
        else:
            row_start, row_end = (
                query.row_start or 0,
                overview.rows if query.row_end is None else query.row_end,
            )
        window = ov.downsample(overview, source, query.x, query.y, query.max_points, row_start, row_end)
    except ov.OverviewError as exc:
        raise BadRequest(str(exc)) from None
    return {
        "x": query.x,
        "y": query.y,
        "rows": overview.rows,
        "row_start": window.row_start,
        "row_end": window.row_end,
        "max_points": query.max_points,
        "source": window.source,
        "level": window.level,
        "bucket_rows": window.bucket_rows,
        "exact": window.exact,
        "series": ov.window_columns(window, query.x),
    }


def _series(store: ObjectStore, measurement: CellMeasurement, query: SeriesQuery) -> dict[str, Any]:
    query.check()
    overview = load_overview(store, measurement)
    return series_window(overview, version_source(store, measurement), query)


async def series(
    session: AsyncSession, principal: Principal, store: ObjectStore, measurement_id: str, query: SeriesQuery
) -> dict[str, Any]:
    """A downsampled window of a visible, processed time series."""
    measurement = await service.get_measurement(session, principal, measurement_id)
    data.require_processed(measurement)
    try:
        return await asyncio.to_thread(_series, store, measurement, query)
    except FileNotFoundError as exc:
        logger.info("series of %s unreadable: %s", measurement_id, exc)
        raise Conflict("The data of this measurement is being rewritten; retry shortly") from None


# -- dQ/dV ---------------------------------------------------------------------------------------


def _dqdv(
    store: ObjectStore,
    measurement: CellMeasurement,
    cycle: int | None,
    step: int | None,
    voltage_step: float,
    smoothing: float,
) -> dict[str, Any]:
    org, mid, version = measurement.organization_id, measurement.id, measurement.data_version
    with store.reading(keys.derived_key(org, mid, version, keys.STEPS_FILE)) as path:
        steps = pl.read_parquet(path)
    source = version_source(store, measurement)
    try:
        return ic.dqdv(source, steps, cycle=cycle, step=step, voltage_step=voltage_step, smoothing=smoothing)
    except ic.SelectionNotFound as exc:
        raise NotFound(str(exc)) from None
    except ic.DqdvError as exc:
        raise BadRequest(str(exc)) from None


async def dqdv(
    session: AsyncSession,
    principal: Principal,
    store: ObjectStore,
    measurement_id: str,
    *,
    cycle: int | None,
    step: int | None,
    voltage_step: float,
    smoothing: float,
) -> dict[str, Any]:
    """Incremental capacity of one cycle or step of a visible, processed time series."""
    if (cycle is None) == (step is None):
        raise BadRequest("give exactly one of cycle and step")
    measurement = await service.get_measurement(session, principal, measurement_id)
    data.require_processed(measurement)
    try:
        return await asyncio.to_thread(_dqdv, store, measurement, cycle, step, voltage_step, smoothing)
    except FileNotFoundError as exc:
        logger.info("dQ/dV of %s unreadable: %s", measurement_id, exc)
        raise Conflict("The data of this measurement is being rewritten; retry shortly") from None
