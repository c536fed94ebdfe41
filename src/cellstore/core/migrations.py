"""Running the Alembic migrations from code (``serve`` start-up, ``admin migrate``, tests)."""

from __future__ import annotations

import fcntl
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import make_url

from cellstore.core.settings import Settings


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", "cellstore:migrations")
    config.set_main_option("sqlalchemy.url", settings.sync_database_url.replace("%", "%%"))
    return config


def upgrade_database(settings: Settings) -> None:
    """Bring the schema to the newest revision, creating it on an empty database.

    Several processes may start at once (servers and workers of one
    deployment): on PostgreSQL an advisory lock in the migration environment
    serialises them, on SQLite a file lock beside the database does.
    """
    url = make_url(settings.sync_database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        command.upgrade(alembic_config(settings), "head")
        return
    database = Path(url.database)
    database.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{database}.migrate-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            command.upgrade(alembic_config(settings), "head")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def check_database(settings: Settings) -> None:
    """Fail if the models hold changes that no migration carries (``alembic check``)."""
    command.check(alembic_config(settings))
