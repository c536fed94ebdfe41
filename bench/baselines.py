"""The baselines cellstore is measured against, served by uvicorn from ``bench/_server.py``.

``bare``: a FastAPI endpoint at the polling path that returns a constant, the
ceiling of any endpoint under these uvicorn settings.

``naive_list``: the textbook way to write the measurement list, over the same
database and table as cellstore (``BENCH_DATABASE_URL``, a synchronous
SQLAlchemy URL): a sync endpoint, a sync session per request, the API key
looked up by its hash, ORM objects, and a pydantic ``response_model`` that
validates every row.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel, ConfigDict
from sqlalchemy import JSON, Boolean, DateTime, String, create_engine, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

bare = FastAPI()


@bare.get("/healthz")
def bare_health() -> dict[str, str]:
    return {"status": "ok"}


@bare.get("/cell_measurements/{measurement_id}")
async def bare_measurement(measurement_id: str) -> dict[str, str]:
    return {"status": "ok"}


# --- the naive list -------------------------------------------------------------------------------


class Base(DeclarativeBase):
    pass


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String)
    organization_id: Mapped[str | None] = mapped_column(String)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Measurement(Base):
    __tablename__ = "cell_measurements"

    id: Mapped[str] = mapped_column(String, primary_key=True)
    name: Mapped[str] = mapped_column(String)
    cell_instance_id: Mapped[str] = mapped_column(String)
    project_id: Mapped[str] = mapped_column(String)
    organization_id: Mapped[str] = mapped_column(String)
    measurement_type: Mapped[str] = mapped_column(String)
    processing_status: Mapped[str | None] = mapped_column(String)
    processing_error: Mapped[str | None] = mapped_column(String)
    tags: Mapped[list[str]] = mapped_column(JSON)
    notes: Mapped[str | None] = mapped_column(String)
    protocol: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    test_setup: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    file_metadata: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    start_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    end_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    step_labels_validated: Mapped[bool] = mapped_column(Boolean)
    channel_id: Mapped[str | None] = mapped_column(String)
    protocol_id: Mapped[str | None] = mapped_column(String)
    created_by: Mapped[str | None] = mapped_column(String)
    created_by_email: Mapped[str | None] = mapped_column(String)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MeasurementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    cell_instance_id: str
    project_id: str
    organization_id: str
    measurement_type: str
    processing_status: str | None
    processing_error: str | None
    tags: list[str]
    notes: str | None
    protocol: dict[str, Any] | None
    test_setup: dict[str, Any] | None
    start_time: datetime | None
    end_time: datetime | None
    properties: dict[str, Any] | None
    file_metadata: dict[str, Any] | None
    step_labels_validated: bool
    channel_id: str | None
    protocol_id: str | None
    created_by: str | None
    created_by_email: str | None
    created_at: datetime
    updated_at: datetime


class MeasurementPage(BaseModel):
    items: list[MeasurementOut]
    count: int
    total: int


naive_list = FastAPI()
_url = os.environ.get("BENCH_DATABASE_URL")
_engine = create_engine(_url, pool_size=16, max_overflow=16) if _url else None
_sessions = sessionmaker(_engine)


def get_db() -> Iterator[Session]:
    with _sessions() as session:
        yield session


@naive_list.get("/healthz")
def naive_health() -> dict[str, str]:
    return {"status": "ok"}


@naive_list.get("/cell_instances/{cell_instance_id}/cell_measurements", response_model=MeasurementPage)
def naive_measurements(
    cell_instance_id: str,
    db: Annotated[Session, Depends(get_db)],
    x_api_key: Annotated[str, Header()],
    limit: int = 100,
    offset: int = 0,
) -> Any:
    key = db.scalar(select(ApiKey).where(ApiKey.key_hash == hashlib.sha256(x_api_key.encode()).hexdigest()))
    if key is None or key.revoked_at is not None:
        raise HTTPException(401)
    scope = (
        Measurement.cell_instance_id == cell_instance_id,
        Measurement.organization_id == key.organization_id,
    )
    total = db.scalar(select(func.count()).select_from(Measurement).where(*scope))
    rows = db.scalars(
        select(Measurement)
        .where(*scope)
        .order_by(Measurement.created_at.desc(), Measurement.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return {"items": rows, "count": len(rows), "total": total}
