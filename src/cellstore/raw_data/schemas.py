"""Bodies of the raw-data endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from cellstore.core.schemas import IdText, Name
from cellstore.formats.normalise import zone_named
from cellstore.measurements.schemas import MeasurementFields
from cellstore.raw_data.models import RawData


class RawDataCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project_id: IdText
    name: Name
    filename: str = Field(min_length=1, max_length=255, description="The file's base name.")
    content_type: str = Field(default="application/octet-stream", max_length=255)
    metadata: dict[str, Any] = Field(default_factory=dict)
    source: str | None = None


class RawDataConfirm(RawDataCreate):
    size_bytes: int | None = Field(
        default=None, ge=0, description="The uploaded size, checked against storage."
    )


class RawDataUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    source: str | None = Field(default=None, description='"" clears it.')
    metadata: dict[str, Any] | None = Field(default=None, description="Replaces the metadata.")


class RawDataRead(BaseModel):
    id: str
    project_id: str
    organization_id: str
    name: str
    filename: str
    content_type: str
    metadata: dict[str, Any]
    source: str | None
    size_bytes: int | None
    created_by: str | None
    created_by_email: str | None
    created_at: datetime
    updated_at: datetime


def present_raw_data(raw: RawData) -> dict[str, Any]:
    return {
        "id": raw.id,
        "project_id": raw.project_id,
        "organization_id": raw.organization_id,
        "name": raw.name,
        "filename": raw.filename,
        "content_type": raw.content_type,
        "metadata": raw.metadata_ or {},
        "source": raw.source,
        "size_bytes": raw.size_bytes,
        "created_by": raw.created_by,
        "created_by_email": raw.created_by_email,
        "created_at": raw.created_at,
        "updated_at": raw.updated_at,
    }


def _time_zone(name: str) -> str:
    zone_named(name)
    return name


TimeZoneName = Annotated[str, AfterValidator(_time_zone)]


class ConvertRawData(BaseModel):
    """What to make of a raw-data file: a time-series measurement of this cell instance."""

    model_config = ConfigDict(extra="forbid")

    cell_instance_id: IdText = Field(description="The cell the file measured; in the raw data's project.")
    measurement: MeasurementFields = Field(
        default_factory=MeasurementFields,
        description="Metadata of the new measurement; the name defaults to the raw data's name. "
        "start_time, test_setup and protocol are filled from the file where it says them.",
    )
    timezone: TimeZoneName | None = Field(
        default=None,
        description="The zone of the instrument's clock, an IANA name such as Europe/Berlin. Most "
        "cyclers write local time without a zone: the file's start is read in this zone (and "
        "recorded in test_setup.timezone); without it, such times are taken as UTC. Times that "
        "carry their zone are not changed.",
    )
