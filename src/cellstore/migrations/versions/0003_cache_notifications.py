"""cache notifications: a statement trigger per table sends NOTIFY cellstore_cache on PostgreSQL

Every server process keeps read caches (cellstore.core.cache) and listens on the
``cellstore_cache`` channel; the trigger names the table, and the notification is
delivered when the writing transaction commits. SQLite needs none of this: its
processes notice other connections' commits through ``PRAGMA data_version``.
The job queue is left out: it changes constantly and nothing caches it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 03:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "api_keys",
    "cell_batches",
    "cell_instances",
    "cell_measurements",
    "cell_specifications",
    "measurement_raw_data",
    "measurement_tags",
    "measurement_watches",
    "organization_members",
    "organizations",
    "project_members",
    "projects",
    "raw_data",
    "upload_reservations",
    "users",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION cellstore_notify_cache() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('cellstore_cache', TG_TABLE_NAME);
            RETURN NULL;
        END
        $$
        """
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER cellstore_notify_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION cellstore_notify_cache()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER cellstore_notify_cache ON {table}")
    op.execute("DROP FUNCTION cellstore_notify_cache()")
