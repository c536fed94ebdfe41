"""Tables of raw-data files and their links to measurements."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cellstore.cells.models import ProjectOwned
from cellstore.core.database import Base, IdColumn, JSONDocument

PENDING = "pending"
READY = "ready"


class RawData(ProjectOwned, Base):
    """An original instrument file. Immutable once confirmed; ``status`` is pending until then."""

    __tablename__ = "raw_data"

    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255), default="application/octet-stream")
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONDocument, default=dict)
    source: Mapped[str | None] = mapped_column(Text, nullable=True)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=PENDING, index=True)


class RawDataLink(Base):
    """A raw-data file a measurement was made from."""

    __tablename__ = "measurement_raw_data"

    measurement_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("cell_measurements.id", ondelete="CASCADE"), primary_key=True
    )
    raw_data_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("raw_data.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    organization_id: Mapped[str] = mapped_column(IdColumn, index=True)
