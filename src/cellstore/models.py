"""Every table, imported in one place so that Alembic sees the whole metadata."""

from cellstore.accounts.models import ApiKey, Organization, OrganizationMember, User
from cellstore.cells.models import CellBatch, CellInstance, CellSpecification
from cellstore.core.database import Base
from cellstore.projects.models import Project, ProjectMember

__all__ = [
    "ApiKey",
    "Base",
    "CellBatch",
    "CellInstance",
    "CellSpecification",
    "Organization",
    "OrganizationMember",
    "Project",
    "ProjectMember",
    "User",
]
