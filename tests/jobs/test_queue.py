"""The job queue on a database of its own (no server, so no other worker takes the jobs)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import make_url, select

from cellstore.core.database import Database, run_in_transaction, utcnow
from cellstore.core.migrations import upgrade_database
from cellstore.core.settings import Settings
from cellstore.jobs import queue
from cellstore.jobs.models import DONE, FAILED, QUEUED, RUNNING, Job


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path) -> Iterator[Settings]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        settings = Settings(data_dir=tmp_path)
        upgrade_database(settings)
        yield settings
        return
    admin = request.getfixturevalue("postgres_admin_url")
    name = f"cellstore_queue_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    settings = Settings(data_dir=tmp_path, database_url=url)
    upgrade_database(settings)
    yield settings
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(settings: Settings, work):  # type: ignore[no-untyped-def]
    return run_in_transaction(settings.async_database_url, work)


def run_committing(settings: Settings, work):  # type: ignore[no-untyped-def]
    """For the queue operations that commit themselves, as the worker calls them."""

    async def main():  # type: ignore[no-untyped-def]
        database = Database(settings.async_database_url)
        try:
            async with database.sessionmaker() as session:
                return await work(session)
        finally:
            await database.dispose()

    return asyncio.run(main())


def enqueue(settings: Settings, kind: str = "test") -> str:
    async def work(session):  # type: ignore[no-untyped-def]
        return (await queue.enqueue(session, kind, {"n": 1})).id

    return run(settings, work)


def claim(settings: Settings, worker: str, lease: float = 60) -> Job | None:
    async def work(session):  # type: ignore[no-untyped-def]
        return await queue.claim(session, worker, lease)

    return run_committing(settings, work)


def job(settings: Settings, job_id: str) -> Job:
    async def work(session):  # type: ignore[no-untyped-def]
        return await session.scalar(select(Job).where(Job.id == job_id))

    return run(settings, work)


def test_a_job_is_claimed_once_and_finished(settings: Settings) -> None:
    job_id = enqueue(settings)
    claimed = claim(settings, "w1")
    assert claimed is not None and claimed.id == job_id
    assert (claimed.status, claimed.attempts, claimed.locked_by) == (RUNNING, 1, "w1")
    assert claim(settings, "w2") is None

    async def finish(session):  # type: ignore[no-untyped-def]
        await queue.finish(session, job_id, "w1")

    run(settings, finish)
    assert job(settings, job_id).status == DONE
    assert claim(settings, "w2") is None


def test_an_expired_lease_lets_another_worker_take_the_job(settings: Settings) -> None:
    job_id = enqueue(settings)
    assert claim(settings, "dead", lease=0.001) is not None
    time.sleep(0.05)
    retaken = claim(settings, "alive")
    assert retaken is not None and retaken.id == job_id
    assert (retaken.attempts, retaken.locked_by) == (2, "alive")

    async def renew_dead(session):  # type: ignore[no-untyped-def]
        return await queue.renew(session, job_id, "dead", 60)

    assert run_committing(settings, renew_dead) is False

    async def finish_dead(session):  # type: ignore[no-untyped-def]
        await queue.finish(session, job_id, "dead")

    run(settings, finish_dead)
    assert job(settings, job_id).status == RUNNING  # the dead worker cannot finish what it lost


def test_failures_are_retried_with_backoff_then_given_up(settings: Settings) -> None:
    job_id = enqueue(settings)
    for attempt in range(1, 6):
        claimed = claim(settings, "w")
        assert claimed is not None and claimed.attempts == attempt

        async def fail(session, claimed=claimed):  # type: ignore[no-untyped-def]
            return await queue.retry_or_fail(session, claimed, "w", "boom")

        exhausted = run_committing(settings, fail)
        state = job(settings, job_id)
        if attempt < 5:
            assert not exhausted and state.status == QUEUED and state.run_after > utcnow()
            assert claim(settings, "w") is None  # backing off

            async def due_now(session):  # type: ignore[no-untyped-def]
                row = await session.get(Job, job_id)
                row.run_after = utcnow() - timedelta(seconds=1)

            run(settings, due_now)
        else:
            assert exhausted and state.status == FAILED and state.last_error == "boom"
    assert claim(settings, "w") is None


def test_concurrent_claims_take_distinct_jobs(settings: Settings) -> None:
    ids = {enqueue(settings) for _ in range(5)}
    taken = [claim(settings, f"w{i}") for i in range(7)]
    got = [t.id for t in taken if t is not None]
    assert sorted(got) == sorted(ids)
