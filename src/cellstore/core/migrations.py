"""Running the Alembic migrations from code (``serve`` start-up, ``admin migrate``, tests)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from cellstore.core.settings import Settings


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", "cellstore:migrations")
    config.set_main_option("sqlalchemy.url", settings.sync_database_url.replace("%", "%%"))
    return config


def upgrade_database(settings: Settings) -> None:
    """Bring the schema to the newest revision, creating it on an empty database."""
    if settings.sync_database_url.startswith("sqlite:///"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(settings), "head")


def check_database(settings: Settings) -> None:
    """Fail if the models hold changes that no migration carries (``alembic check``)."""
    command.check(alembic_config(settings))
