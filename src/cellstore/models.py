"""Every table, imported in one place so that Alembic sees the whole metadata."""

from cellstore.accounts.models import ApiKey, Organization, OrganizationMember, User
from cellstore.cells.models import CellBatch, CellInstance, CellSpecification
from cellstore.core.database import Base
from cellstore.jobs.models import Job
from cellstore.measurements.models import CellMeasurement, MeasurementTag, MeasurementWatch, UploadReservation
from cellstore.projects.models import Project, ProjectMember
from cellstore.raw_data.models import RawData, RawDataLink

__all__ = [
    "ApiKey",
    "Base",
    "CellBatch",
    "CellInstance",
    "CellMeasurement",
    "CellSpecification",
    "Job",
    "MeasurementTag",
    "MeasurementWatch",
    "Organization",
    "OrganizationMember",
    "Project",
    "ProjectMember",
    "RawData",
    "RawDataLink",
    "UploadReservation",
    "User",
]
