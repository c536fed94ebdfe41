"""Measurement tags: normalised on write, stored as rows, queried for filters and usage."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cellstore.core.errors import BadRequest
from cellstore.measurements.models import CellMeasurement, MeasurementTag

MAX_TAGS = 50
MAX_TAG_LENGTH = 50


def tag_key(tag: str) -> str:
    return tag.strip().casefold()


def normalize(tags: list[str]) -> list[str]:
    """Trim, drop case-insensitive duplicates (first spelling wins), sort; refuse bad tags."""
    seen: dict[str, str] = {}
    for raw in tags:
        if not isinstance(raw, str):
            raise BadRequest("Tags must be strings", {"field": "tags"})
        tag = raw.strip()
        if not tag:
            raise BadRequest("Tags must not be empty", {"field": "tags"})
        if len(tag) > MAX_TAG_LENGTH:
            raise BadRequest(
                f"Tag {tag[:60]!r} is longer than {MAX_TAG_LENGTH} characters", {"field": "tags"}
            )
        if "\x00" in tag:
            raise BadRequest("Tags must not contain NUL characters", {"field": "tags"})
        seen.setdefault(tag_key(tag), tag)
    if len(seen) > MAX_TAGS:
        raise BadRequest(f"A measurement carries at most {MAX_TAGS} tags, not {len(seen)}", {"field": "tags"})
    return sorted(seen.values(), key=lambda t: (t.casefold(), t))


async def project_spellings(session: AsyncSession, project_id: str, keys: list[str]) -> dict[str, str]:
    """The spelling each tag already has in the project, so a project keeps one spelling per tag."""
    if not keys:
        return {}
    rows = await session.execute(
        select(MeasurementTag.tag_key, MeasurementTag.tag)
        .where(MeasurementTag.project_id == project_id, MeasurementTag.tag_key.in_(keys))
        .distinct()
    )
    return {key: tag for key, tag in rows}


async def replace_tags(session: AsyncSession, measurement: CellMeasurement, tags: list[str]) -> bool:
    """Set the measurement's tags to ``tags`` (normalised); True if the set changed."""
    wanted = normalize(tags)
    spellings = await project_spellings(session, measurement.project_id, [tag_key(t) for t in wanted])
    final = sorted({spellings.get(tag_key(t), t) for t in wanted}, key=lambda t: (t.casefold(), t))
    if [tag_key(t) for t in final] == [tag_key(t) for t in measurement.tags or []]:
        return False
    await session.execute(delete(MeasurementTag).where(MeasurementTag.measurement_id == measurement.id))
    session.add_all(
        MeasurementTag(
            measurement_id=measurement.id,
            tag_key=tag_key(tag),
            tag=tag,
            organization_id=measurement.organization_id,
            project_id=measurement.project_id,
        )
        for tag in final
    )
    measurement.tags = final
    return True


def tag_predicates(query: Any) -> list[ColumnElement[bool]]:
    """``tags_all`` (every tag) and ``tags_any`` (at least one), case-insensitive."""
    predicates: list[ColumnElement[bool]] = []

    def has(keys: list[str]) -> ColumnElement[bool]:
        return exists().where(
            MeasurementTag.measurement_id == CellMeasurement.id, MeasurementTag.tag_key.in_(keys)
        )

    for tag in query.getlist("tags_all"):
        predicates.append(has([tag_key(tag)]))
    if any_tags := [tag_key(t) for t in query.getlist("tags_any")]:
        predicates.append(has(any_tags))
    return predicates


async def usage(
    session: AsyncSession, visible_ids: Any, project_id: str, q: str | None, limit: int
) -> tuple[list[tuple[str, int]], int]:
    """Distinct tags of the project's visible measurements, most used first."""
    conditions = [MeasurementTag.project_id == project_id, MeasurementTag.measurement_id.in_(visible_ids)]
    if q:
        conditions.append(MeasurementTag.tag_key.contains(q.strip().casefold(), autoescape=True))
    grouped = (
        select(func.min(MeasurementTag.tag).label("tag"), func.count().label("usage_count"))
        .where(*conditions)
        .group_by(MeasurementTag.tag_key)
    )
    total = await session.scalar(select(func.count()).select_from(grouped.subquery()))
    rows = await session.execute(
        grouped.order_by(func.count().desc(), func.min(MeasurementTag.tag)).limit(limit)
    )
    return [(tag, int(count)) for tag, count in rows], int(total or 0)
