"""The list envelope ``{items, count, total}`` and the ``limit``/``offset`` parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

MAX_LIMIT = 1000
MAX_OFFSET = 2**31 - 1
T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list. ``total`` counts every match, so clients can page to the end."""

    items: list[T] = Field(description="The rows of this page.")
    count: int = Field(description="Number of rows in this page.")
    total: int = Field(description="Number of rows matching the filters, across all pages.")


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int
    offset: int


def page_params(default_limit: int) -> Any:
    """A dependency reading ``limit`` (1 to 1000) and ``offset`` (0 or more)."""

    def dependency(
        limit: Annotated[
            int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, at most {MAX_LIMIT}.")
        ] = default_limit,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip.")] = 0,
    ) -> PageParams:
        return PageParams(limit=limit, offset=offset)

    return Depends(dependency)


async def fetch_page(
    session: AsyncSession, stmt: Select[Any], params: PageParams, *, rows: bool = False
) -> tuple[list[Any], int]:
    """Run a filtered, ordered select for one page, and count all its matches.

    One round trip: the total rides on every row as ``count(*) OVER ()`` (which
    counts before LIMIT; ``stmt`` must not use DISTINCT). Only an empty page past
    the first needs a second query for the total. Returns the first entity of
    each row, or with ``rows=True`` whole rows, read by name, whose last column
    is that total.
    """
    counted = stmt.add_columns(func.count().over().label("page_total"))
    found = (await session.execute(counted.limit(params.limit).offset(params.offset))).all()
    if found:
        total = int(found[0][-1])
    elif params.offset == 0:
        total = 0
    else:
        everything = select(func.count()).select_from(stmt.order_by(None).subquery())
        total = int(await session.scalar(everything) or 0)
    return (found if rows else [row[0] for row in found]), total


def page_of(items: list[Any], total: int) -> dict[str, Any]:
    return {"items": items, "count": len(items), "total": total}
