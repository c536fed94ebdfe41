"""The schema comes from the migrations alone, and the models agree with them."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, MetaData, String, create_engine, inspect

from cellstore.core.migrations import check_database, upgrade_database
from cellstore.core.settings import Settings
from cellstore.models import Base
from tests.support import LiveServer


def test_models_and_migrations_agree(server: LiveServer) -> None:
    """``alembic check`` on the database the server migrated at start-up finds nothing to add."""
    check_database(server.settings)


def test_upgrade_is_idempotent_and_creates_every_table(server: LiveServer) -> None:
    upgrade_database(server.settings)
    engine = create_engine(server.settings.sync_database_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_a_model_change_without_migration_is_detected(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The comparison behind the check can fail: a column no migration adds is reported."""
    settings = Settings(data_dir=tmp_path)
    upgrade_database(settings)
    changed = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["projects"].append_column(Column("unmigrated", String(10), nullable=True))
    engine = create_engine(settings.sync_database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection)
            assert compare_metadata(context, Base.metadata) == []
            diffs = compare_metadata(context, changed)
    finally:
        engine.dispose()
    assert [d[0] for d in diffs] == ["add_column"]
