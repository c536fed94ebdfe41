"""The list of a cell's measurements, kept in memory per process like the poll.

Lab pages and scripts list a cell's measurements over and over while they watch it.
A page's JSON is kept per process, keyed by the cell and the query string, and
dropped whenever the measurements, their tags or the cell instances change (see
:mod:`cellstore.core.cache`). Tenancy is decided on every request from the project
kept beside the JSON, as the query's own filter decides it
(:func:`cellstore.core.tenancy.may_view`); a page whose rows span several projects,
and an empty page (which must tell "none" from an unknown cell), are not kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from cellstore.cells import service as cells
from cellstore.cells.models import CellInstance
from cellstore.core.cache import CacheSpec, read_cache
from cellstore.core.database import database_of
from cellstore.core.jsontext import dumps
from cellstore.core.pagination import PageParams, page_of
from cellstore.core.tenancy import Principal, may_view
from cellstore.measurements import repository
from cellstore.measurements.models import CellMeasurement, MeasurementTag
from cellstore.measurements.schemas import present_measurement

INSTANCE_PAGE_JSON = CacheSpec(
    "instance_page_json",
    frozenset({CellMeasurement.__tablename__, MeasurementTag.__tablename__, CellInstance.__tablename__}),
    max_entries=256,  # a page of 1,000 measurements is about a megabyte
)


@dataclass(frozen=True, slots=True)
class CachedPage:
    organization_id: str
    project_id: str
    body: bytes


async def instance_page_json(
    request: Request, principal: Principal, instance_id: str, page: PageParams
) -> bytes:
    """A page of the cell's measurements as JSON; NotFound if the caller may not see the cell."""
    cache = read_cache(request, INSTANCE_PAGE_JSON)
    key = (instance_id, tuple(sorted(request.query_params.multi_items())))
    cached = cache.get(key)
    if cached is not None and await may_view(request, principal, cached.organization_id, cached.project_id):
        return cached.body
    token = cache.token()  # before the query: a change meanwhile makes put() refuse the page
    async with database_of(request).reading() as session:
        rows, total = await repository.page_of_instance(
            session, principal, instance_id, request.query_params, page
        )
        if not rows:  # rows found prove the cell visible; an empty page must tell "none" from 404
            await cells.get_instance(session, principal, instance_id)
    body = dumps(page_of([present_measurement(row) for row in rows], total))
    owners = {(row.organization_id, row.project_id) for row in rows}
    if len(owners) == 1:
        organization_id, project_id = owners.pop()
        cache.put(key, CachedPage(organization_id, project_id, body), token)
    return body
