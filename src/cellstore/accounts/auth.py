"""Authentication: from the request's credential to a :class:`Principal`.

``X-API-Key`` carries an organization key; ``Authorization: Bearer`` carries
either kind. A user-wide token acts in the organization named by
``X-Organization-Id``, or in the user's only organization. Missing, unknown and
revoked credentials all answer 401 the same way.

Resolved callers are cached per process (:mod:`cellstore.core.cache`): a
revoked key, a removed or deactivated member is dropped from every process's
cache when its change commits, so a request costs a SHA-256 and a dict lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import and_, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from cellstore.accounts.models import ApiKey, Organization, OrganizationMember, User
from cellstore.accounts.security import hash_secret
from cellstore.core.cache import CacheSpec, read_cache
from cellstore.core.database import database_of
from cellstore.core.errors import BadRequest, NotFound, Unauthorized
from cellstore.core.tenancy import Principal

CALLERS = CacheSpec(
    "callers",
    frozenset(
        {
            ApiKey.__tablename__,
            User.__tablename__,
            OrganizationMember.__tablename__,
            Organization.__tablename__,
        }
    ),
)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling; ``principal`` is None when the organization could not be decided."""

    user_id: str
    email: str
    principal: Principal | None


def read_credential(request: Request) -> str:
    key = request.headers.get("x-api-key", "").strip()
    if key:
        return key
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    raise Unauthorized("Missing credentials: send X-API-Key or Authorization: Bearer")


async def authenticate(request: Request) -> Caller:
    """The caller of a request: from the cache, or resolved in one database round trip."""
    requested_org = request.headers.get("x-organization-id", "").strip() or None
    key = (hash_secret(read_credential(request)), requested_org)
    callers = read_cache(request, CALLERS)
    caller = callers.get(key)
    if caller is None:
        token = callers.token()
        async with database_of(request).reading() as session:
            caller = await resolve_caller(session, *key)
        callers.put(key, caller, token)
    return caller


async def resolve_caller(session: AsyncSession, key_hash: str, requested_org: str | None) -> Caller:
    """Resolve a key's hash and the organization asked for; raises 401 or 404 when they do not fit."""
    org_ref = literal(requested_org) if requested_org else ApiKey.organization_id
    row = (
        await session.execute(
            select(
                ApiKey.id,
                ApiKey.organization_id,
                ApiKey.revoked_at,
                User.id,
                User.email,
                OrganizationMember.role,
                OrganizationMember.is_active,
                Organization.id,
                Organization.name,
            )
            .join(User, User.id == ApiKey.user_id)
            .outerjoin(
                OrganizationMember,
                and_(OrganizationMember.user_id == User.id, OrganizationMember.organization_id == org_ref),
            )
            .outerjoin(Organization, Organization.id == OrganizationMember.organization_id)
            .where(ApiKey.key_hash == key_hash)
        )
    ).first()
    if row is None or row[2] is not None:
        raise Unauthorized("Invalid or revoked credentials")
    key_id, key_org, _, user_id, email, role, is_active, org_id, org_name = row
    if key_org is not None and requested_org is not None and requested_org != key_org:
        raise NotFound("Organization")
    if org_id is None:
        if requested_org is not None:
            raise NotFound("Organization")
        if key_org is not None:
            raise Unauthorized("This API key's organization membership no longer exists")
        return await _sole_organization(session, key_id, user_id, email)
    if not is_active:
        raise Unauthorized("This user's membership of the organization is deactivated")
    return Caller(user_id, email, Principal(user_id, email, key_id, org_id, org_name, role))


async def _sole_organization(session: AsyncSession, key_id: str, user_id: str, email: str) -> Caller:
    """A user-wide token without ``X-Organization-Id``: usable only if the user has one organization."""
    rows = (
        await session.execute(
            select(Organization.id, Organization.name, OrganizationMember.role)
            .join(OrganizationMember, OrganizationMember.organization_id == Organization.id)
            .where(OrganizationMember.user_id == user_id, OrganizationMember.is_active.is_(True))
        )
    ).all()
    if len(rows) != 1:
        return Caller(user_id, email, None)
    org_id, org_name, role = rows[0]
    return Caller(user_id, email, Principal(user_id, email, key_id, org_id, org_name, role))


async def current_principal(caller: Annotated[Caller, Depends(authenticate)]) -> Principal:
    if caller.principal is None:
        raise BadRequest(
            "This token belongs to several organizations: choose one with the X-Organization-Id header"
        )
    return caller.principal


CallerDep = Annotated[Caller, Depends(authenticate)]
PrincipalDep = Annotated[Principal, Depends(current_principal)]
