"""Request and response bodies of identity, organizations and roles."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str) -> str:
    value = value.strip().lower()
    if not _EMAIL.match(value) or len(value) > 320:
        raise ValueError("is not a valid email address")
    return value


Email = Annotated[str, AfterValidator(_email)]
OrgRoleName = Literal["Admin", "Member"]


class OrganizationRef(BaseModel):
    id: str
    name: str


class OrganizationMembershipRead(OrganizationRef):
    role: str = Field(description="The user's role in this organization: Admin or Member.")


class WhoAmI(BaseModel):
    id: str = Field(description="The user's id.")
    email: str
    authorized_organization: OrganizationRef | None = Field(
        description="The organization this request acts in; null if the token spans several "
        "and no X-Organization-Id was sent."
    )
    organizations: list[OrganizationMembershipRead] = Field(description="Every organization of the user.")


class SimulationUsage(BaseModel):
    usage: float = 0.0
    limit: float | None = None


class ComputeUsage(BaseModel):
    usage: float = 0.0
    usage_by_type: dict[str, float] = Field(default_factory=dict)
    limit: float | None = None


class OrganizationUsage(BaseModel):
    """Usage of the current calendar month. cellstore runs no simulations, so compute is zero."""

    period_start: datetime
    period_end: datetime
    simulation: SimulationUsage
    compute: ComputeUsage


class RoleName(BaseModel):
    name: str


class ProjectRoleAssignment(BaseModel):
    project_id: str
    project_role_id: str


class OrganizationUserRead(BaseModel):
    """One member row, in the shape the client's ``OrganizationMember.from_api`` reads."""

    id: str
    email: str
    is_active: bool
    organization_role: RoleName
    user_project_roles: list[ProjectRoleAssignment]
    invited_at: datetime | None = None
    created_at: datetime


class InviteByEmail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    role_name: OrgRoleName = "Member"


class InviteResult(BaseModel):
    user_id: str
    invite_sent: bool = Field(description="cellstore sends no email, so this is always false.")
    already_member: bool = False
    role_name: str | None = None


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role_name: OrgRoleName


class ActivityChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    is_active: bool


class ProjectRoleRead(BaseModel):
    id: str
    name: str
    description: str | None = None
