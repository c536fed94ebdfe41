"""Projects group cell data inside an organization; members hold a project role."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cellstore.core.database import Base, IdColumn, TimestampMixin, new_id


class Project(TimestampMixin, Base):
    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255), index=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str | None] = mapped_column(IdColumn, nullable=True)
    created_by_email: Mapped[str | None] = mapped_column(String(320), nullable=True)


class ProjectMember(TimestampMixin, Base):
    """A user's role in one project (see :mod:`cellstore.accounts.roles`)."""

    __tablename__ = "project_members"

    project_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    organization_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    project_role_id: Mapped[str] = mapped_column(IdColumn)
