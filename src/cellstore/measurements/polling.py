"""The read every client polls: ``GET /cell_measurements/{id}``, every two seconds per upload.

Its JSON is kept in memory per process, serialised once, and dropped whenever
the ``cell_measurements`` table changes (status moves, PATCH, tags, deletes; see
:mod:`cellstore.core.cache`). Tenancy is decided on every request from the
ids kept beside the JSON, exactly as :func:`cellstore.core.tenancy.visible` does.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from cellstore.core.cache import CacheSpec, read_cache
from cellstore.core.database import database_of
from cellstore.core.errors import NotFound
from cellstore.core.jsontext import dumps
from cellstore.core.tenancy import Principal, may_view
from cellstore.measurements import repository
from cellstore.measurements.models import CellMeasurement
from cellstore.measurements.schemas import present_measurement

MEASUREMENT_JSON = CacheSpec("measurement_json", frozenset({CellMeasurement.__tablename__}))


@dataclass(frozen=True, slots=True)
class PresentedMeasurement:
    organization_id: str
    project_id: str
    body: bytes


async def measurement_json(request: Request, principal: Principal, measurement_id: str) -> bytes:
    """The flat measurement as JSON, or NotFound if it does not exist or the caller may not see it."""
    cache = read_cache(request, MEASUREMENT_JSON)
    presented = cache.get(measurement_id)
    if presented is None:
        token = cache.token()
        async with database_of(request).reading() as session:
            measurement = await repository.get_unscoped(session, measurement_id)
        if measurement is None:
            raise NotFound("Cell measurement")
        presented = PresentedMeasurement(
            measurement.organization_id, measurement.project_id, dumps(present_measurement(measurement))
        )
        cache.put(measurement_id, presented, token)
    if not await may_view(request, principal, presented.organization_id, presented.project_id):
        raise NotFound("Cell measurement")
    return presented.body
