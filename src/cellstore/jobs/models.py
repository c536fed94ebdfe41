"""The job table: the queue is rows, so a job is recorded in the same transaction as its cause."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cellstore.core.database import Base, IdColumn, JSONDocument, TimestampMixin, UTCDateTime, new_id, utcnow

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"


class Job(TimestampMixin, Base):
    """One unit of background work.

    A running job holds a lease (``lease_expires_at``) that its worker renews
    while it works; a worker that dies stops renewing, the lease expires, and
    another worker claims the job again. Handlers are therefore idempotent.
    """

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_claimable", "status", "run_after"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    organization_id: Mapped[str | None] = mapped_column(IdColumn, nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    locked_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
