"""Joining an organization: shared by organization invites and project invites."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cellstore.accounts import repository
from cellstore.accounts.models import OrganizationMember, User
from cellstore.core.database import utcnow
from cellstore.core.errors import Conflict
from cellstore.core.tenancy import Principal


async def get_or_create_user(session: AsyncSession, email: str) -> tuple[User, bool]:
    user = await repository.user_by_email(session, email)
    if user is not None:
        return user, False
    user = User(email=email.lower())
    session.add(user)
    await session.flush()
    return user, True


async def add_to_organization(
    session: AsyncSession, principal: Principal, email: str, role: str
) -> tuple[User, OrganizationMember, bool]:
    """Make ``email`` a member (creating the user if new). Returns whether they already were."""
    user, _ = await get_or_create_user(session, email)
    membership = await repository.member(session, principal.organization_id, user.id)
    if membership is not None:
        if not membership.is_active:
            raise Conflict("This user is deactivated in the organization; reactivate them instead", user.id)
        return user, membership, True
    membership = OrganizationMember(
        organization_id=principal.organization_id, user_id=user.id, role=role, invited_at=utcnow()
    )
    session.add(membership)
    await session.flush()
    return user, membership, False
