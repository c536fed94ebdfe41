"""Enqueue, claim, renew, finish: the queue's operations as plain SQL on the job table.

Claiming is portable: pick a candidate (with ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so concurrent workers pick different rows), then take it with a
conditional UPDATE that only succeeds if the row is still claimable. SQLite
serialises writers, so the conditional UPDATE alone is enough there.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cellstore.core.database import utcnow
from cellstore.jobs.models import DONE, FAILED, QUEUED, RUNNING, Job

RETRY_BACKOFF_SECONDS = (2, 10, 30, 120, 600)


async def enqueue(
    session: AsyncSession, kind: str, payload: dict[str, Any], organization_id: str | None = None
) -> Job:
    """Record a job in the caller's transaction: it becomes visible to workers when that commits."""
    job = Job(kind=kind, payload=payload, organization_id=organization_id, status=QUEUED, run_after=utcnow())
    session.add(job)
    await session.flush()
    return job


def _claimable(now: Any) -> Any:
    return or_(
        and_(Job.status == QUEUED, Job.run_after <= now),
        and_(Job.status == RUNNING, Job.lease_expires_at < now),
    )


async def claim(session: AsyncSession, worker_id: str, lease_seconds: float) -> Job | None:
    """Take the oldest claimable job for ``worker_id``, or None. Commits."""
    now = utcnow()
    candidate = select(Job.id).where(_claimable(now)).order_by(Job.run_after, Job.created_at).limit(1)
    if session.bind.dialect.name == "postgresql":
        candidate = candidate.with_for_update(skip_locked=True)
    job_id = await session.scalar(candidate)
    if job_id is None:
        await session.rollback()
        return None
    result = await session.execute(
        update(Job)
        .where(Job.id == job_id, _claimable(now))
        .values(
            status=RUNNING,
            attempts=Job.attempts + 1,
            locked_by=worker_id,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    if result.rowcount != 1:
        return None
    return await session.get(Job, job_id, populate_existing=True)


async def renew(session: AsyncSession, job_id: str, worker_id: str, lease_seconds: float) -> bool:
    """Extend the lease of a job this worker still holds. Commits; False if the job was lost."""
    now = utcnow()
    result = await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.locked_by == worker_id, Job.status == RUNNING)
        .values(lease_expires_at=now + timedelta(seconds=lease_seconds), updated_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    return result.rowcount == 1


async def finish(session: AsyncSession, job_id: str, worker_id: str) -> None:
    """Mark a job done (only if this worker still holds it). Does not commit."""
    now = utcnow()
    await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.locked_by == worker_id)
        .values(status=DONE, finished_at=now, lease_expires_at=None, updated_at=now, last_error=None)
        .execution_options(synchronize_session=False)
    )


async def retry_or_fail(session: AsyncSession, job: Job, worker_id: str, error: str) -> bool:
    """After an unexpected error: queue the job again with back-off, or fail it for good.

    Returns True when the job has no attempts left. Commits.
    """
    now = utcnow()
    exhausted = job.attempts >= job.max_attempts
    backoff = RETRY_BACKOFF_SECONDS[min(job.attempts, len(RETRY_BACKOFF_SECONDS)) - 1]
    await session.execute(
        update(Job)
        .where(Job.id == job.id, Job.locked_by == worker_id)
        .values(
            status=FAILED if exhausted else QUEUED,
            run_after=now + timedelta(seconds=backoff),
            lease_expires_at=None,
            locked_by=None,
            last_error=error[:4000],
            finished_at=now if exhausted else None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    return exhausted
