"""Every query about organizations, users, memberships and keys."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cellstore.accounts.models import ApiKey, Organization, OrganizationMember, User
from cellstore.accounts.roles import ORG_ADMIN
from cellstore.projects.models import ProjectMember


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email.lower()))


async def user_by_id(session: AsyncSession, user_id: str) -> User | None:
    return await session.get(User, user_id)


async def organization_by_id(session: AsyncSession, organization_id: str) -> Organization | None:
    return await session.get(Organization, organization_id)


async def memberships_of(session: AsyncSession, user_id: str) -> list[tuple[str, str, str]]:
    """``(organization id, name, role)`` of the user's active memberships, oldest first."""
    rows = await session.execute(
        select(Organization.id, Organization.name, OrganizationMember.role)
        .join(OrganizationMember, OrganizationMember.organization_id == Organization.id)
        .where(OrganizationMember.user_id == user_id, OrganizationMember.is_active.is_(True))
        .order_by(OrganizationMember.created_at)
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


async def member(session: AsyncSession, organization_id: str, user_id: str) -> OrganizationMember | None:
    return await session.get(OrganizationMember, (organization_id, user_id))


async def members_with_projects(session: AsyncSession, organization_id: str) -> list[dict[str, Any]]:
    """Every member of the organization with email and project roles, oldest member first.

    The role is under ``organization_role.name`` only: the client builds its
    ``OrganizationMember`` from the row's other keys plus ``role=``, so a
    top-level ``role`` (or ``projects``) key would collide.
    """
    rows = (
        await session.execute(
            select(OrganizationMember, User.email)
            .join(User, User.id == OrganizationMember.user_id)
            .where(OrganizationMember.organization_id == organization_id)
            .order_by(OrganizationMember.created_at, User.email)
        )
    ).all()
    roles: dict[str, list[dict[str, str]]] = defaultdict(list)
    for project_id, user_id, role_id in await session.execute(
        select(ProjectMember.project_id, ProjectMember.user_id, ProjectMember.project_role_id).where(
            ProjectMember.organization_id == organization_id
        )
    ):
        roles[user_id].append({"project_id": project_id, "project_role_id": role_id})
    return [
        {
            "id": m.user_id,
            "email": email,
            "is_active": m.is_active,
            "organization_role": {"name": m.role},
            "user_project_roles": roles[m.user_id],
            "invited_at": m.invited_at,
            "created_at": m.created_at,
        }
        for m, email in rows
    ]


async def count_active_admins(session: AsyncSession, organization_id: str) -> int:
    return int(
        await session.scalar(
            select(func.count()).where(
                OrganizationMember.organization_id == organization_id,
                OrganizationMember.role == ORG_ADMIN,
                OrganizationMember.is_active.is_(True),
            )
        )
        or 0
    )


async def api_key_by_id_or_prefix(session: AsyncSession, value: str) -> list[ApiKey]:
    return list(
        (await session.scalars(select(ApiKey).where((ApiKey.id == value) | (ApiKey.prefix == value)))).all()
    )


async def organization_ids(session: AsyncSession) -> list[str]:
    return list((await session.scalars(select(Organization.id).order_by(Organization.created_at))).all())


async def first_admin(session: AsyncSession, organization_id: str) -> str | None:
    return await session.scalar(
        select(OrganizationMember.user_id)
        .where(OrganizationMember.organization_id == organization_id, OrganizationMember.role == ORG_ADMIN)
        .order_by(OrganizationMember.created_at)
        .limit(1)
    )
