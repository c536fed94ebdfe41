"""HTTP endpoints of projects and their members."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from cellstore.accounts.auth import PrincipalDep
from cellstore.accounts.roles import PROJECT_ROLES_BY_ID, ProjectAccess
from cellstore.accounts.schemas import InviteResult
from cellstore.core.database import SessionDep
from cellstore.core.pagination import Page, PageParams, page_of, page_params
from cellstore.core.schemas import UserIdPath, id_path
from cellstore.core.tenancy import require_project_access
from cellstore.projects import repository, service
from cellstore.projects.schemas import (
    MemberAdd,
    MemberInvite,
    MemberRoleChange,
    ProjectCreate,
    ProjectMemberRead,
    ProjectRead,
    ProjectUpdate,
)

router = APIRouter(prefix="/projects", tags=["Projects"])
ProjectId = id_path("Project id")


@router.get("", response_model=Page[ProjectRead])
async def list_projects(
    request: Request, principal: PrincipalDep, session: SessionDep, page: PageParams = page_params(100)
) -> dict:
    """Projects the caller can see; filters: name, created_at_gt/lt, updated_at_gt/lt, order_by, order."""
    items, total = await repository.page(session, principal, request.query_params, page)
    return page_of(items, total)


@router.post("", response_model=ProjectRead)
async def create_project(body: ProjectCreate, principal: PrincipalDep, session: SessionDep) -> object:
    """Create a project; the caller becomes its Project Admin."""
    return await service.create_project(session, principal, body.name, body.description)


@router.get("/{project_id}", response_model=ProjectRead)
async def get_project(principal: PrincipalDep, session: SessionDep, project_id: ProjectId) -> object:
    """One project."""
    return await service.get_project(session, principal, project_id)


@router.patch("/{project_id}", response_model=ProjectRead)
async def update_project(
    body: ProjectUpdate, principal: PrincipalDep, session: SessionDep, project_id: ProjectId
) -> object:
    """Rename a project or change its description (Project Admin)."""
    return await service.update_project(session, principal, project_id, body)


@router.delete("/{project_id}", status_code=204)
async def delete_project(principal: PrincipalDep, session: SessionDep, project_id: ProjectId) -> Response:
    """Delete a project with all of its cell data (Project Admin)."""
    await service.delete_project(session, principal, project_id)
    return Response(status_code=204)


@router.get("/{project_id}/members", response_model=list[ProjectMemberRead])
async def list_members(principal: PrincipalDep, session: SessionDep, project_id: ProjectId) -> list:
    """Everyone holding a role in the project."""
    await require_project_access(session, principal, project_id, ProjectAccess.VIEW)
    return [
        ProjectMemberRead(
            user_id=m.user_id,
            email=email,
            project_role_id=m.project_role_id,
            role_name=PROJECT_ROLES_BY_ID[m.project_role_id].name,
        )
        for m, email in await repository.members(session, project_id)
    ]


@router.post("/{project_id}/members", response_model=ProjectMemberRead)
async def add_member(
    body: MemberAdd, principal: PrincipalDep, session: SessionDep, project_id: ProjectId
) -> ProjectMemberRead:
    """Grant an organization member a project role, or change the role they hold."""
    member = await service.set_member(session, principal, project_id, body.user_id, body.project_role_id)
    members = dict((m.user_id, e) for m, e in await repository.members(session, project_id))
    return ProjectMemberRead(
        user_id=member.user_id,
        email=members.get(member.user_id, ""),
        project_role_id=member.project_role_id,
        role_name=PROJECT_ROLES_BY_ID[member.project_role_id].name,
    )


@router.post("/{project_id}/invites", response_model=InviteResult)
async def invite_member(
    body: MemberInvite, principal: PrincipalDep, session: SessionDep, project_id: ProjectId
) -> InviteResult:
    """Invite someone by email; a person new to the organization joins it as a Member."""
    return await service.invite(session, principal, project_id, body.email, body.project_role_id)


@router.patch("/{project_id}/members/{user_id}", status_code=204)
async def update_member(
    body: MemberRoleChange,
    principal: PrincipalDep,
    session: SessionDep,
    project_id: ProjectId,
    user_id: UserIdPath,
) -> Response:
    """Change a project member's role."""
    await service.update_member(session, principal, project_id, user_id, body.project_role_id)
    return Response(status_code=204)


@router.delete("/{project_id}/members/{user_id}", status_code=204)
async def remove_member(
    principal: PrincipalDep,
    session: SessionDep,
    project_id: ProjectId,
    user_id: UserIdPath,
) -> Response:
    """Remove someone from the project; their organization membership is kept."""
    await service.remove_member(session, principal, project_id, user_id)
    return Response(status_code=204)
