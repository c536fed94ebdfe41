"""Request and response bodies of projects and project members."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from cellstore.accounts.schemas import Email
from cellstore.core.schemas import IdText, Name


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="Project name, 1 to 255 characters.")
    description: str | None = Field(default=None, description="Free text.")


class ProjectUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: str | None = None


class ProjectRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    description: str | None
    organization_id: str
    created_by: str | None
    created_by_email: str | None
    created_at: datetime
    updated_at: datetime


class MemberAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: IdText = Field(description="An organization member's user id.")
    project_role_id: IdText = Field(description="Id of a role from GET /roles/project.")


class MemberInvite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    project_role_id: IdText


class MemberRoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project_role_id: IdText


class ProjectMemberRead(BaseModel):
    user_id: str
    email: str
    project_role_id: str
    role_name: str
