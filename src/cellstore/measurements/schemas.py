"""Bodies of the measurement endpoints, and how a measurement row is presented.

Measurement metadata is free-form: the fields named here are checked and stored
in their own columns, any other key is kept and returned as sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Row

from cellstore.cells.schemas import FreeForm
from cellstore.core.jsontext import RawJson, loads
from cellstore.core.schemas import IdText, Name
from cellstore.measurements.models import CellMeasurement

MeasurementType = Literal["time_series", "file", "properties"]


class MeasurementFields(FreeForm):
    """Metadata of a measurement as clients send it (confirm-upload, create, PATCH)."""

    name: Name | None = Field(
        default=None, description="Unique within the cell instance, 1 to 255 characters."
    )
    notes: str | None = None
    protocol: dict[str, Any] | None = Field(
        default=None, description="name, ambient_temperature_degc, definition"
    )
    test_setup: dict[str, Any] | None = Field(
        default=None, description="cycler, operator, lab, channel_number"
    )
    start_time: str | None = Field(default=None, description="ISO-8601 with timezone, when the test started.")
    end_time: str | None = Field(default=None, description="When the test ended; null while it runs.")
    tags: list[str] | None = Field(default=None, description="At most 50 tags of at most 50 characters.")
    properties: dict[str, Any] | None = Field(default=None, description="Quantities; properties type only.")
    step_labels_validated: bool | None = None
    channel_id: str | None = None
    protocol_id: str | None = None


class InitiateUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    measurement: MeasurementFields = Field(
        description="At least the name; the rest is sent again at confirm."
    )
    measurement_type: Literal["time_series", "file"] = "time_series"
    filenames: list[str] | None = Field(default=None, description="For file measurements: the basenames.")


class ConfirmUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cell_instance_id: IdText = Field(description="The parent cell instance.")
    measurement: MeasurementFields = Field(description="The measurement's metadata, custom fields included.")
    measurement_type: MeasurementType = "time_series"
    steps: dict[str, list[Any]] | None = Field(
        default=None, description="A column-oriented steps table to store instead of deriving steps."
    )
    filenames: list[str] | None = Field(
        default=None, description="File measurements: the uploaded basenames."
    )


class PropertiesCreate(MeasurementFields):
    name: Name  # type: ignore[assignment]
    measurement_type: Literal["properties"] = "properties"
    properties: dict[str, Any]  # type: ignore[assignment]


class InitiateUploadResponse(BaseModel):
    measurement_id: str
    uploads: list[dict[str, Any]]


class TagsBulk(BaseModel):
    model_config = ConfigDict(extra="forbid")

    measurement_ids: list[IdText] = Field(min_length=1, max_length=1000)
    add: list[str] = Field(default_factory=list)
    remove: list[str] = Field(default_factory=list)


class TagUsage(BaseModel):
    tag: str
    usage_count: int


class RawDataLinks(BaseModel):
    model_config = ConfigDict(extra="forbid")

    raw_data_ids: list[IdText] = Field(min_length=1, max_length=1000)


class CellMeasurementRead(BaseModel):
    """A measurement as the client's ``CellMeasurement`` model reads it; custom fields ride along."""

    model_config = ConfigDict(extra="allow")

    id: str
    name: str
    cell_instance_id: str
    project_id: str
    organization_id: str
    measurement_type: MeasurementType
    processing_status: str | None
    processing_error: str | None
    tags: list[str]
    notes: str | None = None
    protocol: dict[str, Any] | None = None
    test_setup: dict[str, Any] | None = None
    start_time: str | None = None
    end_time: str | None = None
    properties: dict[str, Any] | None = None
    file_metadata: dict[str, Any] | None = None
    step_labels_validated: bool = False
    channel_id: str | None = None
    protocol_id: str | None = None
    created_by: str | None = None
    created_by_email: str | None = None
    created_at: datetime
    updated_at: datetime


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def present_measurement(m: CellMeasurement | Row[Any]) -> dict[str, Any]:
    """The flat measurement, from the ORM object or a list row (whose JSON columns are still text,
    see :func:`cellstore.measurements.repository.measurement_rows`); custom fields first so the
    server's own fields always win."""
    if isinstance(m, Row):
        v: Any = m._mapping  # several times faster than a row's attributes
        json_value: Any = _raw_json
        attributes = _custom_fields(v["attributes"])
    else:
        v = _Attributes(m)
        json_value = _same
        attributes = m.attributes or {}
    return {
        **attributes,
        "id": v["id"],
        "name": v["name"],
        "cell_instance_id": v["cell_instance_id"],
        "project_id": v["project_id"],
        "organization_id": v["organization_id"],
        "measurement_type": v["measurement_type"],
        "processing_status": v["processing_status"],
        "processing_error": v["processing_error"],
        "tags": json_value(v["tags"]) or [],
        "notes": v["notes"],
        "protocol": json_value(v["protocol"]),
        "test_setup": json_value(v["test_setup"]),
        "start_time": iso(v["start_time"]),
        "end_time": iso(v["end_time"]),
        "properties": json_value(v["properties"]),
        "file_metadata": json_value(v["file_metadata"]),
        "step_labels_validated": v["step_labels_validated"],
        "channel_id": v["channel_id"],
        "protocol_id": v["protocol_id"],
        "created_by": v["created_by"],
        "created_by_email": v["created_by_email"],
        "created_at": iso(v["created_at"]),
        "updated_at": iso(v["updated_at"]),
    }


def _same(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


def _raw_json(text: str | None) -> RawJson | None:
    return None if text is None else RawJson(text)


def _custom_fields(text: str | None) -> dict[str, Any]:
    """The custom fields of a list row: usually none, so the common ``{}`` is not even parsed."""
    if text is None or text in ("{}", "null"):
        return {}
    value = loads(text)
    return value if isinstance(value, dict) else {}


class _Attributes:
    """An ORM object read by key, like a row's ``_mapping``."""

    __slots__ = ("_obj",)

    def __init__(self, obj: object) -> None:
        self._obj = obj

    def __getitem__(self, name: str) -> Any:
        return getattr(self._obj, name)
