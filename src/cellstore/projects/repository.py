"""Every query about projects and project members, always scoped to the caller."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from cellstore.accounts.models import User
from cellstore.core.filters import FilterSpec, filtered, standard_spec
from cellstore.core.pagination import PageParams, fetch_page
from cellstore.core.tenancy import Principal, visible
from cellstore.projects.models import Project, ProjectMember

PROJECT_FILTERS: FilterSpec = standard_spec(Project)


def visible_projects(principal: Principal) -> Select[Any]:
    return select(Project).where(visible(principal, Project))


async def get(session: AsyncSession, principal: Principal, project_id: str) -> Project | None:
    return await session.scalar(visible_projects(principal).where(Project.id == project_id))


async def page(
    session: AsyncSession, principal: Principal, query: Any, params: PageParams
) -> tuple[list[Project], int]:
    stmt = filtered(visible_projects(principal), query, PROJECT_FILTERS, Project.id)
    return await fetch_page(session, stmt, params)


async def membership(session: AsyncSession, project_id: str, user_id: str) -> ProjectMember | None:
    return await session.get(ProjectMember, (project_id, user_id))


async def members(session: AsyncSession, project_id: str) -> list[tuple[ProjectMember, str]]:
    rows = await session.execute(
        select(ProjectMember, User.email)
        .join(User, User.id == ProjectMember.user_id)
        .where(ProjectMember.project_id == project_id)
        .order_by(User.email)
    )
    return [(m, e) for m, e in rows]
