"""The fixed roles of cellstore and what each may do.

Organization roles: ``Admin`` (everything in the organization) and ``Member``
(the projects they hold a role in). Project roles, from least to most:
Viewer (read), Contributor (write cell data), Admin (manage the project and its
members). Their ids are fixed so that every installation answers the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

ORG_ADMIN = "Admin"
ORG_MEMBER = "Member"
ORG_ROLES = (ORG_ADMIN, ORG_MEMBER)


class ProjectAccess(IntEnum):
    """What an operation needs in a project, ordered so that a higher role passes a lower check."""

    VIEW = 1
    CONTRIBUTE = 2
    ADMINISTER = 3


@dataclass(frozen=True)
class ProjectRole:
    id: str
    name: str
    description: str
    access: ProjectAccess


PROJECT_ROLES = (
    ProjectRole(
        "6f0c0a51-0b0e-4f54-9a43-5a3d1c2b7e01",
        "Project Admin",
        "Manages the project, its members and all of its data.",
        ProjectAccess.ADMINISTER,
    ),
    ProjectRole(
        "6f0c0a51-0b0e-4f54-9a43-5a3d1c2b7e02",
        "Project Contributor",
        "Creates, updates and deletes the project's cell data.",
        ProjectAccess.CONTRIBUTE,
    ),
    ProjectRole(
        "6f0c0a51-0b0e-4f54-9a43-5a3d1c2b7e03",
        "Project Viewer",
        "Reads the project's cell data.",
        ProjectAccess.VIEW,
    ),
)
PROJECT_ROLES_BY_ID = {role.id: role for role in PROJECT_ROLES}
PROJECT_ADMIN = PROJECT_ROLES[0]
