"""Rules about tenants, members and credentials. Services flush; the caller commits."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from cellstore.accounts import repository
from cellstore.accounts.membership import add_to_organization, get_or_create_user
from cellstore.accounts.models import ApiKey, Organization, OrganizationMember
from cellstore.accounts.roles import ORG_ADMIN, ORG_MEMBER
from cellstore.accounts.schemas import InviteResult
from cellstore.accounts.security import display_prefix, generate_secret, hash_secret
from cellstore.core.database import utcnow
from cellstore.core.errors import BadRequest, Conflict, NotFound
from cellstore.core.tenancy import Principal, require_org_admin
from cellstore.projects import service as projects
from cellstore.projects.models import ProjectMember


async def create_api_key(
    session: AsyncSession, user_id: str, organization_id: str | None, name: str = ""
) -> tuple[ApiKey, str]:
    """A new credential; the secret is returned once and only its hash is kept."""
    secret = generate_secret()
    key = ApiKey(
        user_id=user_id,
        organization_id=organization_id,
        name=name,
        prefix=display_prefix(secret),
        key_hash=hash_secret(secret),
    )
    session.add(key)
    await session.flush()
    return key, secret


async def revoke_api_key(session: AsyncSession, id_or_prefix: str) -> ApiKey:
    matches = await repository.api_key_by_id_or_prefix(session, id_or_prefix)
    if not matches:
        raise NotFound("API key")
    if len(matches) > 1:
        raise BadRequest("Several keys share that prefix; give the key id")
    key = matches[0]
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    await session.flush()
    return key


async def bootstrap_tenant(
    session: AsyncSession,
    org_name: str,
    admin_email: str | None = None,
    project_name: str = "Default project",
) -> dict[str, Any]:
    """A new organization with an Admin user, a default project and an API key for that user."""
    organization = Organization(name=org_name)
    session.add(organization)
    await session.flush()
    email = admin_email or f"admin-{uuid.uuid4().hex[:8]}@cellstore.local"
    user, _ = await get_or_create_user(session, email)
    session.add(OrganizationMember(organization_id=organization.id, user_id=user.id, role=ORG_ADMIN))
    await session.flush()
    principal = Principal(user.id, user.email, "", organization.id, organization.name, ORG_ADMIN)
    project = await projects.create_project(session, principal, project_name, None)
    _, secret = await create_api_key(session, user.id, organization.id, "bootstrap")
    return {
        "organization_id": organization.id,
        "project_id": project.id,
        "user_id": user.id,
        "email": user.email,
        "api_key": secret,
    }


async def _member_or_404(
    session: AsyncSession, principal: Principal, org_id: str, user_id: str
) -> OrganizationMember:
    if org_id != principal.organization_id:
        raise NotFound("Organization")
    membership = await repository.member(session, org_id, user_id)
    if membership is None:
        raise NotFound("User")
    return membership


async def invite(
    session: AsyncSession, principal: Principal, org_id: str, email: str, role: str
) -> InviteResult:
    require_org_admin(principal)
    if org_id != principal.organization_id:
        raise NotFound("Organization")
    user, membership, already = await add_to_organization(session, principal, email, role)
    return InviteResult(user_id=user.id, invite_sent=False, already_member=already, role_name=membership.role)


async def _keep_an_admin(session: AsyncSession, membership: OrganizationMember) -> None:
    is_active_admin = membership.role == ORG_ADMIN and membership.is_active
    if is_active_admin and await repository.count_active_admins(session, membership.organization_id) <= 1:
        raise Conflict("An organization must keep at least one active Admin")


async def change_role(
    session: AsyncSession, principal: Principal, org_id: str, user_id: str, role: str
) -> None:
    require_org_admin(principal)
    membership = await _member_or_404(session, principal, org_id, user_id)
    if role == ORG_MEMBER:
        await _keep_an_admin(session, membership)
    membership.role = role
    await session.flush()


async def set_active(
    session: AsyncSession, principal: Principal, org_id: str, user_id: str, active: bool
) -> None:
    require_org_admin(principal)
    membership = await _member_or_404(session, principal, org_id, user_id)
    if not active:
        await _keep_an_admin(session, membership)
    membership.is_active = active
    await session.flush()


async def resend_invite(session: AsyncSession, principal: Principal, org_id: str, user_id: str) -> None:
    require_org_admin(principal)
    membership = await _member_or_404(session, principal, org_id, user_id)
    membership.invited_at = utcnow()
    await session.flush()


async def remove_member(session: AsyncSession, principal: Principal, org_id: str, user_id: str) -> None:
    """Remove a member, their project roles and their keys for this organization."""
    require_org_admin(principal)
    membership = await _member_or_404(session, principal, org_id, user_id)
    await _keep_an_admin(session, membership)
    await session.execute(
        delete(ProjectMember).where(ProjectMember.organization_id == org_id, ProjectMember.user_id == user_id)
    )
    await session.execute(
        update(ApiKey)
        .where(ApiKey.organization_id == org_id, ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    await session.delete(membership)
    await session.flush()


def current_month(now: datetime | None = None) -> tuple[datetime, datetime]:
    now = now or datetime.now(UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end


async def resolve_key_owner(
    session: AsyncSession, organization_id: str | None, email: str | None
) -> tuple[str, str]:
    """Who a new key belongs to: the named or only organization, and the named user or its first admin."""
    if organization_id is None:
        ids = await repository.organization_ids(session)
        if len(ids) != 1:
            raise BadRequest("Several organizations exist: name one with --organization-id")
        organization_id = ids[0]
    elif await repository.organization_by_id(session, organization_id) is None:
        raise NotFound("Organization")
    if email is None:
        admin_id = await repository.first_admin(session, organization_id)
        if admin_id is None:
            raise NotFound("Admin of the organization")
        return admin_id, organization_id
    user = await repository.user_by_email(session, email)
    if user is None or await repository.member(session, organization_id, user.id) is None:
        raise NotFound("Member with that email")
    return user.id, organization_id
