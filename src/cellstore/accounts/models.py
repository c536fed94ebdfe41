"""Tables of who may do what: organizations, users, memberships and credentials."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from cellstore.core.database import Base, IdColumn, TimestampMixin, UTCDateTime, new_id


class Organization(TimestampMixin, Base):
    """A tenant. Every other row belongs to exactly one."""

    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255))


class User(TimestampMixin, Base):
    """A person (or a service account), identified by a unique, lower-cased email."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)


class OrganizationMember(TimestampMixin, Base):
    """A user's membership of an organization, with role ``Admin`` or ``Member``."""

    __tablename__ = "organization_members"

    organization_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    invited_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ApiKey(TimestampMixin, Base):
    """A credential. Only the SHA-256 of the secret is stored.

    With ``organization_id`` set it is an organization API key (sent as
    ``X-API-Key``); without, it is a user-wide bearer token that reaches every
    organization the user belongs to, chosen by ``X-Organization-Id``.
    """

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[str | None] = mapped_column(
        IdColumn, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=True, index=True
    )
    name: Mapped[str] = mapped_column(String(255), default="")
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
