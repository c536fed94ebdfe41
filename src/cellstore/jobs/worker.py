"""The worker: claims jobs, runs their handlers under a renewed lease, retries what fails.

``cellstore serve`` runs one inside the server process; ``cellstore worker``
runs one on its own. Any number share one database and one object store.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import traceback
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from cellstore.core.database import Database
from cellstore.core.settings import Settings
from cellstore.jobs import queue
from cellstore.jobs.registry import SWEEPS, TASKS, JobContext
from cellstore.storage.base import ObjectStore

logger = logging.getLogger("cellstore.worker")
SWEEP_INTERVAL_SECONDS = 600


def load_tasks() -> None:
    """Import every module that registers tasks (kept in one wiring module)."""
    import cellstore.tasks  # noqa: F401


class Worker:
    def __init__(self, database: Database, store: ObjectStore, settings: Settings) -> None:
        self.database = database
        self.store = store
        self.settings = settings
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease_seconds = settings.job_lease_seconds
        load_tasks()

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set, polling when idle and running the sweeps now and then."""
        logger.info("worker %s started", self.worker_id)
        next_sweep = 0.0
        while not stop.is_set():
            try:
                ran = await self.run_once()
                if not ran and time.monotonic() >= next_sweep:
                    await self.sweep()
                    next_sweep = time.monotonic() + SWEEP_INTERVAL_SECONDS
            except Exception:  # a database hiccup must not end the worker
                logger.exception("worker loop error")
                ran = False
            if not ran:
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.settings.job_poll_seconds)

    async def sweep(self) -> None:
        """Run the registered housekeeping, each in its own transaction."""
        for run in SWEEPS:
            async with self.database.sessionmaker() as session, session.begin():
                if cleaned := await run(session, self.settings):
                    logger.info("%s cleaned up %d", run.__name__, cleaned)

    async def run_once(self) -> bool:
        """Claim and run one job; False when none was waiting."""
        async with self.database.sessionmaker() as session:
            job = await queue.claim(session, self.worker_id, self.lease_seconds)
        if job is None:
            return False
        task = TASKS.get(job.kind)
        context = JobContext(
            job.id, job.attempts, dict(job.payload), self.database, self.store, self.settings
        )
        heartbeat = asyncio.create_task(self._renew(job.id))
        try:
            if task is None:
                raise LookupError(f"no handler for job kind {job.kind!r}")
            await task.run(context)
        except Exception as exc:
            logger.warning("job %s (%s) failed: %s", job.id, job.kind, exc)
            error = "".join(traceback.format_exception_only(exc)).strip()
            async with self.database.sessionmaker() as session:
                exhausted = await queue.retry_or_fail(session, job, self.worker_id, error)
            if exhausted and task is not None and task.give_up is not None:
                await task.give_up(context, error)
        else:
            async with self.database.sessionmaker() as session, session.begin():
                await queue.finish(session, job.id, self.worker_id)
        finally:
            heartbeat.cancel()
            with suppress(asyncio.CancelledError):
                await heartbeat
        return True

    async def _renew(self, job_id: str) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                async with self.database.sessionmaker() as session:
                    await queue.renew(session, job_id, self.worker_id, self.lease_seconds)
            except Exception:
                logger.exception("could not renew the lease of job %s", job_id)


@asynccontextmanager
async def running_worker(database: Database, store: ObjectStore, settings: Settings) -> AsyncIterator[None]:
    """Run a worker beside the server for the duration of the context, if the settings ask for one."""
    if not settings.embedded_worker:
        yield
        return
    stop = asyncio.Event()
    loop = asyncio.create_task(Worker(database, store, settings).run_forever(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(loop, timeout=max(settings.job_lease_seconds, 30))


async def run_standalone(settings: Settings) -> None:
    """``cellstore worker``: work until SIGTERM or SIGINT, finishing the job in hand."""
    import signal

    from cellstore.storage.factory import create_store

    database = Database(settings.async_database_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await Worker(database, create_store(settings), settings).run_forever(stop)
    finally:
        await database.dispose()
