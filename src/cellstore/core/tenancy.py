"""Tenancy: who is asking, and the one filter that scopes every query to what they may see.

Every row of cellstore carries ``organization_id``; project data also carries
``project_id``. :func:`visible` is the predicate every repository applies, so a
row of another organization, or of a project the caller holds no role in,
behaves exactly like a row that does not exist (404).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from cellstore.accounts.roles import ORG_ADMIN, PROJECT_ROLES_BY_ID, ProjectAccess
from cellstore.core.cache import CacheSpec, read_cache
from cellstore.core.database import database_of
from cellstore.core.errors import Forbidden, NotFound
from cellstore.projects.models import Project, ProjectMember


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller and the organization the request acts in."""

    user_id: str
    email: str
    api_key_id: str
    organization_id: str
    organization_name: str
    org_role: str

    @property
    def is_org_admin(self) -> bool:
        return self.org_role == ORG_ADMIN


def member_project_ids(principal: Principal) -> Any:
    """Subquery of the projects in which the caller holds a role."""
    return select(ProjectMember.project_id).where(
        ProjectMember.user_id == principal.user_id,
        ProjectMember.organization_id == principal.organization_id,
    )


def visible(principal: Principal, model: Any) -> ColumnElement[bool]:
    """The predicate that limits ``model`` to rows the caller may read."""
    condition: ColumnElement[bool] = model.organization_id == principal.organization_id
    if principal.is_org_admin:
        return condition
    project_column = model.id if model is Project else getattr(model, "project_id", None)
    if project_column is None:
        return condition
    return condition & project_column.in_(member_project_ids(principal))


MEMBER_PROJECTS = CacheSpec("member_projects", frozenset({ProjectMember.__tablename__}))


async def may_view(request: Request, principal: Principal, organization_id: str, project_id: str) -> bool:
    """What :func:`visible` decides, for a row already in memory (cached reads)."""
    if organization_id != principal.organization_id:
        return False
    if principal.is_org_admin:
        return True
    cache = read_cache(request, MEMBER_PROJECTS)
    key = (principal.user_id, principal.organization_id)
    project_ids = cache.get(key)
    if project_ids is None:
        token = cache.token()
        async with database_of(request).reading() as session:
            project_ids = frozenset((await session.scalars(member_project_ids(principal))).all())
        cache.put(key, project_ids, token)
    return project_id in project_ids


async def require_project_access(
    session: AsyncSession, principal: Principal, project_id: str, needed: ProjectAccess
) -> None:
    """Raise unless the caller may act on the project at the ``needed`` level.

    A project the caller cannot see answers NotFound, one they can see but may
    not change answers Forbidden.
    """
    if principal.is_org_admin:
        exists = await session.scalar(
            select(Project.id).where(
                Project.id == project_id, Project.organization_id == principal.organization_id
            )
        )
        if exists is None:
            raise NotFound("Project")
        return
    role_id = await session.scalar(
        select(ProjectMember.project_role_id).where(
            ProjectMember.project_id == project_id,
            ProjectMember.user_id == principal.user_id,
            ProjectMember.organization_id == principal.organization_id,
        )
    )
    if role_id is None:
        raise NotFound("Project")
    role = PROJECT_ROLES_BY_ID.get(role_id)
    if role is None or role.access < needed:
        raise Forbidden(f"Your role in this project does not allow this action (needs {needed.name.lower()})")


def require_org_admin(principal: Principal) -> None:
    if not principal.is_org_admin:
        raise Forbidden("Only an organization Admin may do this")
