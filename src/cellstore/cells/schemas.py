"""Bodies of cell specifications, batches and instances, and how rows are presented.

Specifications and instances are free-form: fields beyond the ones named here
are stored and returned as sent. Batches have a fixed shape.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from cellstore.cells.models import CellBatch, CellInstance, CellSpecification
from cellstore.core.schemas import IdText, Name

COMPONENT_SLOTS = ("anode", "cathode", "electrolyte", "separator", "case")
READ_ONLY_FIELDS = frozenset(
    {
        "id",
        "organization_id",
        "created_by",
        "created_by_email",
        "created_at",
        "updated_at",
        "instance_count",
        "instance_ids",
        "measurement_ids",
        "batch_name",
        "cell_specification_id",
    }
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date(value: str) -> str:
    if not _DATE.match(value):
        raise ValueError("must be a date YYYY-MM-DD")
    datetime.strptime(value, "%Y-%m-%d")
    return value


IsoDate = Annotated[str, AfterValidator(_iso_date)]


class FreeForm(BaseModel):
    """Unknown fields are kept; read-only fields sent back by a client are ignored."""

    model_config = ConfigDict(extra="allow")

    def fields_sent(self) -> dict[str, Any]:
        data = self.model_dump(exclude_unset=True)
        return {k: v for k, v in data.items() if k not in READ_ONLY_FIELDS}


class CellSpecificationCreate(FreeForm):
    name: Name = Field(description="Unique within the project.")
    project_id: IdText = Field(description="The project the specification belongs to.")
    form_factor: str | None = Field(default=None, description="e.g. 18650, 21700, R2032, pouch.")
    manufacturer: str | None = None
    ratings: dict[str, Any] | None = Field(
        default=None,
        description='Spec-sheet ratings, each a Quantity {"value", "unit"}: capacity, voltage_min, ...',
    )
    properties: dict[str, Any] | None = Field(
        default=None, description="Design properties; numbers as Quantities."
    )
    source: dict[str, Any] | None = Field(default=None, description="Provenance: doi, license, citation, ...")
    notes: str | None = None
    anode: dict[str, Any] | None = Field(
        default=None, description="{properties, material: {name, manufacturer}}"
    )
    cathode: dict[str, Any] | None = None
    electrolyte: dict[str, Any] | None = None
    separator: dict[str, Any] | None = None
    case: dict[str, Any] | None = None


class CellSpecificationUpdate(FreeForm):
    """A JSON merge patch: nested objects merge, ``null`` removes a field."""

    name: Name | None = None
    project_id: IdText | None = None
    form_factor: str | None = None
    manufacturer: str | None = None
    ratings: dict[str, Any] | None = None
    properties: dict[str, Any] | None = None
    notes: str | None = None


class CellSpecificationRead(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    name: str
    project_id: str
    organization_id: str
    form_factor: str | None = None
    manufacturer: str | None = None
    ratings: dict[str, Any] = Field(default_factory=dict)
    created_by: str | None = None
    created_by_email: str | None = None
    created_at: datetime
    updated_at: datetime


class CellBatchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="Unique within the specification, ignoring case.")
    notes: str | None = None
    date_manufactured: IsoDate | None = Field(default=None, description="YYYY-MM-DD")
    properties: dict[str, Any] | None = Field(default=None, description="Lot properties as Quantities.")


class CellBatchUpdate(CellBatchCreate):
    name: Name | None = None  # type: ignore[assignment]


class CellBatchRead(BaseModel):
    id: str
    name: str
    cell_specification_id: str
    project_id: str
    organization_id: str
    notes: str | None = None
    date_manufactured: str | None = None
    properties: dict[str, Any] | None = None
    created_by: str | None = None
    created_by_email: str | None = None
    created_at: datetime
    updated_at: datetime
    instance_count: int = Field(default=0, description="Instances currently in the lot.")


class CellInstanceCreate(FreeForm):
    name: Name = Field(description="Unique within the specification, e.g. a serial number.")
    batch_id: IdText | None = Field(default=None, description="A batch of the same specification.")
    date_manufactured: str | None = None
    measured_properties: dict[str, Any] | None = Field(
        default=None, description="Measured values grouped by component, numbers as Quantities."
    )
    notes: str | None = None


class CellInstanceUpdate(FreeForm):
    """A JSON merge patch; ``batch_id: null`` takes the cell out of its batch."""

    name: Name | None = None
    batch_id: IdText | None = None
    measured_properties: dict[str, Any] | None = None
    notes: str | None = None


class CellInstanceRead(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    name: str
    cell_specification_id: str
    project_id: str
    organization_id: str
    batch_id: str | None = None
    batch_name: str | None = None
    created_by: str | None = None
    created_by_email: str | None = None
    created_at: datetime
    updated_at: datetime
    measurement_ids: list[str] = Field(default_factory=list)


def _owned_fields(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "project_id": row.project_id,
        "organization_id": row.organization_id,
        "created_by": row.created_by,
        "created_by_email": row.created_by_email,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def present_specification(spec: CellSpecification) -> dict[str, Any]:
    return {
        "ratings": {},
        **(spec.attributes or {}),
        **_owned_fields(spec),
        "form_factor": spec.form_factor,
        "manufacturer": spec.manufacturer,
    }


def present_batch(batch: CellBatch, instance_count: int) -> dict[str, Any]:
    return {
        **_owned_fields(batch),
        "cell_specification_id": batch.cell_specification_id,
        "notes": batch.notes,
        "date_manufactured": batch.date_manufactured,
        "properties": batch.properties,
        "instance_count": instance_count,
    }


def present_instance(
    instance: CellInstance, batch_name: str | None, measurement_ids: list[str] | None = None
) -> dict[str, Any]:
    return {
        **(instance.attributes or {}),
        **_owned_fields(instance),
        "cell_specification_id": instance.cell_specification_id,
        "batch_id": instance.batch_id,
        "batch_name": batch_name,
        "measurement_ids": measurement_ids or [],
    }
