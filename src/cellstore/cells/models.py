"""Tables of the cell hierarchy. Free-form fields live in JSON next to the indexed columns."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cellstore.core.database import Base, IdColumn, JSONDocument, TimestampMixin, new_id


class ProjectOwned(TimestampMixin):
    """Columns every row of project data carries: tenancy is checked on these two ids."""

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255), index=True)
    created_by: Mapped[str | None] = mapped_column(IdColumn, nullable=True)
    created_by_email: Mapped[str | None] = mapped_column(String(320), nullable=True, index=True)


class CellSpecification(ProjectOwned, Base):
    """A cell design. ``attributes`` keeps ratings, components and any other spec fields."""

    __tablename__ = "cell_specifications"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    form_factor: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    manufacturer: Mapped[str | None] = mapped_column(String(255), nullable=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)


class CellBatch(ProjectOwned, Base):
    """A manufacturing lot of one specification. Names are unique per spec, ignoring case."""

    __tablename__ = "cell_batches"
    __table_args__ = (UniqueConstraint("cell_specification_id", "name_key"),)

    cell_specification_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("cell_specifications.id", ondelete="CASCADE"), index=True
    )
    name_key: Mapped[str] = mapped_column(String(255))
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    date_manufactured: Mapped[str | None] = mapped_column(String(10), nullable=True)
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument, nullable=True)


class CellInstance(ProjectOwned, Base):
    """One physical cell. ``attributes`` keeps notes, measured properties and other fields."""

    __tablename__ = "cell_instances"
    __table_args__ = (UniqueConstraint("cell_specification_id", "name"),)

    cell_specification_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("cell_specifications.id", ondelete="CASCADE"), index=True
    )
    batch_id: Mapped[str | None] = mapped_column(
        IdColumn, ForeignKey("cell_batches.id", ondelete="SET NULL"), nullable=True, index=True
    )
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
