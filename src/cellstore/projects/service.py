"""Rules about projects and who works in them."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cellstore.accounts import repository as accounts
from cellstore.accounts.membership import add_to_organization
from cellstore.accounts.roles import ORG_MEMBER, PROJECT_ADMIN, PROJECT_ROLES_BY_ID, ProjectAccess
from cellstore.accounts.schemas import InviteResult
from cellstore.cells.models import CellInstance
from cellstore.core.errors import InvalidInput, NotFound
from cellstore.core.tenancy import Principal, require_project_access
from cellstore.measurements.cleanup import forget_measurements
from cellstore.projects import repository
from cellstore.projects.models import Project, ProjectMember
from cellstore.projects.schemas import ProjectUpdate
from cellstore.raw_data.cleanup import forget_raw_data


async def create_project(
    session: AsyncSession, principal: Principal, name: str, description: str | None
) -> Project:
    """A new project; its creator becomes its Project Admin."""
    project = Project(
        organization_id=principal.organization_id,
        name=name,
        description=description,
        created_by=principal.user_id,
        created_by_email=principal.email,
    )
    session.add(project)
    await session.flush()
    session.add(
        ProjectMember(
            project_id=project.id,
            user_id=principal.user_id,
            organization_id=principal.organization_id,
            project_role_id=PROJECT_ADMIN.id,
        )
    )
    await session.flush()
    return project


async def get_project(session: AsyncSession, principal: Principal, project_id: str) -> Project:
    project = await repository.get(session, principal, project_id)
    if project is None:
        raise NotFound("Project")
    return project


async def update_project(
    session: AsyncSession, principal: Principal, project_id: str, changes: ProjectUpdate
) -> Project:
    await require_project_access(session, principal, project_id, ProjectAccess.ADMINISTER)
    project = await get_project(session, principal, project_id)
    for field, value in changes.model_dump(exclude_unset=True).items():
        if field == "name" and value is None:
            raise InvalidInput("name", "must not be null")
        setattr(project, field, value)
    await session.flush()
    await session.refresh(project)
    return project


async def delete_project(session: AsyncSession, principal: Principal, project_id: str) -> None:
    """Delete a project and, by cascade, all of its cell data and stored objects."""
    await require_project_access(session, principal, project_id, ProjectAccess.ADMINISTER)
    project = await get_project(session, principal, project_id)
    await forget_measurements(session, project.organization_id, CellInstance.project_id == project.id)
    await forget_raw_data(session, project.organization_id, project.id)
    await session.delete(project)
    await session.flush()


def _role(project_role_id: str) -> str:
    if project_role_id not in PROJECT_ROLES_BY_ID:
        raise InvalidInput("project_role_id", "is not a project role; see GET /roles/project")
    return project_role_id


async def set_member(
    session: AsyncSession, principal: Principal, project_id: str, user_id: str, project_role_id: str
) -> ProjectMember:
    """Grant an organization member a role in the project, or change the role they hold."""
    await require_project_access(session, principal, project_id, ProjectAccess.ADMINISTER)
    role_id = _role(project_role_id)
    org_member = await accounts.member(session, principal.organization_id, user_id)
    if org_member is None:
        raise NotFound("User")
    membership = await repository.membership(session, project_id, user_id)
    if membership is None:
        membership = ProjectMember(
            project_id=project_id,
            user_id=user_id,
            organization_id=principal.organization_id,
            project_role_id=role_id,
        )
        session.add(membership)
    else:
        membership.project_role_id = role_id
    await session.flush()
    return membership


async def update_member(
    session: AsyncSession, principal: Principal, project_id: str, user_id: str, project_role_id: str
) -> None:
    await require_project_access(session, principal, project_id, ProjectAccess.ADMINISTER)
    role_id = _role(project_role_id)
    membership = await repository.membership(session, project_id, user_id)
    if membership is None:
        raise NotFound("Project member")
    membership.project_role_id = role_id
    await session.flush()


async def remove_member(session: AsyncSession, principal: Principal, project_id: str, user_id: str) -> None:
    await require_project_access(session, principal, project_id, ProjectAccess.ADMINISTER)
    membership = await repository.membership(session, project_id, user_id)
    if membership is None:
        raise NotFound("Project member")
    await session.delete(membership)
    await session.flush()


async def invite(
    session: AsyncSession, principal: Principal, project_id: str, email: str, project_role_id: str
) -> InviteResult:
    """Invite by email: someone new joins the organization as a Member, then the project."""
    await require_project_access(session, principal, project_id, ProjectAccess.ADMINISTER)
    _role(project_role_id)
    user, membership, already = await add_to_organization(session, principal, email, ORG_MEMBER)
    await set_member(session, principal, project_id, user.id, project_role_id)
    # As the client documents InviteResult: whether they were already in the
    # organization, and the organization role they hold after the call.
    return InviteResult(user_id=user.id, invite_sent=False, already_member=already, role_name=membership.role)
