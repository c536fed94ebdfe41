"""HTTP endpoints of identity, organizations and roles."""

from __future__ import annotations

from fastapi import APIRouter, Response

from cellstore.accounts import repository, service
from cellstore.accounts.auth import CallerDep, PrincipalDep
from cellstore.accounts.roles import PROJECT_ROLES
from cellstore.accounts.schemas import (
    ActivityChange,
    ComputeUsage,
    InviteByEmail,
    InviteResult,
    OrganizationMembershipRead,
    OrganizationRef,
    OrganizationUsage,
    OrganizationUserRead,
    ProjectRoleRead,
    RoleChange,
    SimulationUsage,
    WhoAmI,
)
from cellstore.core.database import SessionDep
from cellstore.core.errors import NotFound
from cellstore.core.schemas import OrganizationIdPath, UserIdPath

router = APIRouter(tags=["Identity and organizations"])


@router.get("/users/me", response_model=WhoAmI)
async def whoami(caller: CallerDep, session: SessionDep) -> WhoAmI:
    """Who the credential belongs to and which organization the request acts in."""
    memberships = await repository.memberships_of(session, caller.user_id)
    principal = caller.principal
    return WhoAmI(
        id=caller.user_id,
        email=caller.email,
        authorized_organization=OrganizationRef(
            id=principal.organization_id, name=principal.organization_name
        )
        if principal
        else None,
        organizations=[OrganizationMembershipRead(id=i, name=n, role=r) for i, n, r in memberships],
    )


@router.get("/organizations/current/usage", response_model=OrganizationUsage)
async def usage(principal: PrincipalDep) -> OrganizationUsage:
    """Usage of the current calendar month (cellstore meters no simulation or compute)."""
    start, end = service.current_month()
    return OrganizationUsage(
        period_start=start, period_end=end, simulation=SimulationUsage(), compute=ComputeUsage()
    )


@router.get("/organizations/{org_id}/users", response_model=list[OrganizationUserRead])
async def list_users(principal: PrincipalDep, session: SessionDep, org_id: OrganizationIdPath) -> list[dict]:
    """Every member of the organization, with their roles (a bare array)."""
    if org_id != principal.organization_id:
        raise NotFound("Organization")
    return await repository.members_with_projects(session, org_id)


@router.post("/organizations/{org_id}/users/by-email", response_model=InviteResult)
async def invite_user(
    body: InviteByEmail,
    principal: PrincipalDep,
    session: SessionDep,
    org_id: OrganizationIdPath,
) -> InviteResult:
    """Add a person to the organization by email (Admin only)."""
    return await service.invite(session, principal, org_id, body.email, body.role_name)


@router.patch("/organizations/{org_id}/users/{user_id}/role", status_code=204)
async def change_role(
    body: RoleChange,
    principal: PrincipalDep,
    session: SessionDep,
    org_id: OrganizationIdPath,
    user_id: UserIdPath,
) -> Response:
    """Make a member an Admin or a Member (Admin only)."""
    await service.change_role(session, principal, org_id, user_id, body.role_name)
    return Response(status_code=204)


@router.patch("/organizations/{org_id}/users/{user_id}", status_code=204)
async def set_active(
    body: ActivityChange,
    principal: PrincipalDep,
    session: SessionDep,
    org_id: OrganizationIdPath,
    user_id: UserIdPath,
) -> Response:
    """Deactivate or reactivate a member; a deactivated member's credentials stop working here."""
    await service.set_active(session, principal, org_id, user_id, body.is_active)
    return Response(status_code=204)


@router.post("/organizations/{org_id}/users/{user_id}/resend-invite", status_code=204)
async def resend_invite(
    principal: PrincipalDep,
    session: SessionDep,
    org_id: OrganizationIdPath,
    user_id: UserIdPath,
) -> Response:
    """Record a new invitation time (cellstore sends no email)."""
    await service.resend_invite(session, principal, org_id, user_id)
    return Response(status_code=204)


@router.delete("/organizations/{org_id}/users/{user_id}", status_code=204)
async def remove_user(
    principal: PrincipalDep,
    session: SessionDep,
    org_id: OrganizationIdPath,
    user_id: UserIdPath,
) -> Response:
    """Remove a member, their project roles and their keys for this organization."""
    await service.remove_member(session, principal, org_id, user_id)
    return Response(status_code=204)


@router.get("/roles/project", response_model=list[ProjectRoleRead])
async def project_roles(principal: PrincipalDep) -> list[ProjectRoleRead]:
    """The project roles that can be granted (a bare array)."""
    return [ProjectRoleRead(id=r.id, name=r.name, description=r.description) for r in PROJECT_ROLES]
