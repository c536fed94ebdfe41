"""Task kinds and their handlers. Domain packages register theirs with :func:`task`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cellstore.core.database import Database
    from cellstore.core.settings import Settings
    from cellstore.storage.base import ObjectStore


@dataclass(frozen=True)
class JobContext:
    """What a handler gets: the job's payload and the services to do it with."""

    job_id: str
    attempt: int
    payload: dict[str, Any]
    database: Database
    store: ObjectStore
    settings: Settings


Handler = Callable[[JobContext], Awaitable[None]]


@dataclass(frozen=True)
class Task:
    run: Handler
    give_up: Callable[[JobContext, str], Awaitable[None]] | None = None


TASKS: dict[str, Task] = {}


def task(
    kind: str, give_up: Callable[[JobContext, str], Awaitable[None]] | None = None
) -> Callable[[Handler], Handler]:
    """Register ``run`` for jobs of ``kind``; ``give_up`` runs once when retries are exhausted."""

    def register(run: Handler) -> Handler:
        TASKS[kind] = Task(run, give_up)
        return run

    return register


Sweep = Callable[[Any, Any], Awaitable[int]]
SWEEPS: list[Sweep] = []


def sweep(run: Sweep) -> Sweep:
    """Register housekeeping that idle workers run now and then: ``run(session, settings)``
    returns how many things it cleaned up. It must be safe to run from several workers at once."""
    SWEEPS.append(run)
    return run
