"""Tables of measurements, upload reservations, tags and watches."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cellstore.cells.models import ProjectOwned
from cellstore.core.database import Base, IdColumn, JSONDocument, UTCDateTime, utcnow

TIME_SERIES = "time_series"
FILE = "file"
PROPERTIES = "properties"
MEASUREMENT_TYPES = (TIME_SERIES, FILE, PROPERTIES)

PENDING = "pending"
RUNNING = "running"
READY = "ready"
FAILED = "failed"


class CellMeasurement(ProjectOwned, Base):
    """One measurement of one cell instance.

    For a time series, ``data_version`` names the stored objects in use: an
    extend writes the next version beside the current one and switches to it
    only when it is complete, so a ready measurement stays readable throughout.
    """

    __tablename__ = "cell_measurements"
    __table_args__ = (UniqueConstraint("cell_instance_id", "name"),)

    cell_instance_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("cell_instances.id", ondelete="CASCADE"), index=True
    )
    measurement_type: Mapped[str] = mapped_column(String(16), index=True)
    processing_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    processing_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    protocol: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument, nullable=True)
    test_setup: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument, nullable=True)
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument, nullable=True)
    file_metadata: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument, nullable=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    tags: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    start_time: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    channel_id: Mapped[str | None] = mapped_column(IdColumn, nullable=True, index=True)
    protocol_id: Mapped[str | None] = mapped_column(IdColumn, nullable=True)
    step_labels_validated: Mapped[bool] = mapped_column(Boolean, default=False)
    data_version: Mapped[int] = mapped_column(Integer, default=0)
    row_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    extend_state: Mapped[str | None] = mapped_column(String(16), nullable=True)


class UploadReservation(Base):
    """An id handed out by initiate-upload, redeemed by confirm-upload.

    No measurement exists until confirm; the reservation ties the id to the
    organization and instance that asked for it, so nobody else can confirm it.
    """

    __tablename__ = "upload_reservations"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True)
    organization_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    cell_instance_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("cell_instances.id", ondelete="CASCADE"), index=True
    )
    measurement_type: Mapped[str] = mapped_column(String(16))
    filenames: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MeasurementTag(Base):
    """One tag of one measurement, kept as rows so tag filters and usage counts are queries."""

    __tablename__ = "measurement_tags"

    measurement_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("cell_measurements.id", ondelete="CASCADE"), primary_key=True
    )
    tag_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64))
    organization_id: Mapped[str] = mapped_column(IdColumn, index=True)
    project_id: Mapped[str] = mapped_column(IdColumn, index=True)


class MeasurementWatch(Base):
    """A user watching a measurement (surfaced as watching its channel in the lab view)."""

    __tablename__ = "measurement_watches"

    measurement_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("cell_measurements.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    organization_id: Mapped[str] = mapped_column(IdColumn, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
