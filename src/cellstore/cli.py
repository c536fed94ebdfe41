"""The ``cellstore`` command line: run the server, and administer tenants and keys.

Other tools drive these commands, so their output is a contract: ``--json``
prints exactly one JSON line on standard output.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cellstore.core.settings import Settings
from cellstore.processing.command import process_command

app = typer.Typer(help="cellstore: self-hosted battery cell test data.", no_args_is_help=True)
admin = typer.Typer(help="Administer tenants, keys and the database schema.", no_args_is_help=True)
app.add_typer(admin, name="admin")
app.command("process")(process_command)

T = TypeVar("T")
DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory (SQLite database and objects). Env: CELLSTORE_DATA_DIR."),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON line.")]


def load_settings(data_dir: Path | None) -> Settings:
    """Settings from the environment, with ``--data-dir`` taking precedence when given."""
    if data_dir is not None:
        os.environ["CELLSTORE_DATA_DIR"] = str(data_dir.expanduser().resolve())
    return Settings()


def run_in_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Migrate, then run ``work`` in one committed transaction."""
    from cellstore.core.database import run_in_transaction
    from cellstore.core.migrations import upgrade_database

    upgrade_database(settings)
    return run_in_transaction(settings.async_database_url, work)


def fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)


def client_example(api_url: str, api_key: str, project_id: str) -> str:
    return (
        "from ionworks import Ionworks\n"
        f'client = Ionworks(api_key="{api_key}", api_url="{api_url}", project_id="{project_id}")\n'
        'print(client.cell_spec.create({"name": "My first cell"}))'
    )


@app.command()
def serve(
    data_dir: DataDir = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes.")] = 1,
    access_log: Annotated[
        bool, typer.Option(help="Log every request (costs about a fifth of the throughput of short reads).")
    ] = False,
) -> None:
    """Run cellstore. On an empty database, create a first tenant and print its API key."""
    import uvicorn

    from cellstore.accounts.models import Organization
    from cellstore.accounts.service import bootstrap_tenant

    settings = load_settings(data_dir)

    async def first_tenant(session: AsyncSession) -> dict[str, Any] | None:
        if await session.scalar(select(func.count()).select_from(Organization)):
            return None
        return await bootstrap_tenant(session, "Default organization", "admin@cellstore.local")

    created = run_in_session(settings, first_tenant)
    api_url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    if created:
        typer.echo(f"Created organization {created['organization_id']} with admin {created['email']}.")
        typer.echo(f"API key (shown once, keep it): {created['api_key']}\n")
        typer.echo(f"Open {api_url} in a browser and sign in with it.\n")
        typer.echo(
            "Or use it from Python:\n" + client_example(api_url, created["api_key"], created["project_id"])
        )
        typer.echo("")
    typer.echo(f"cellstore on {api_url} (database: {settings.sync_database_url.split('://')[0]})")
    uvicorn.run(
        "cellstore.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=access_log,
        loop="uvloop",
        http="httptools",
    )


@app.command()
def worker(data_dir: DataDir = None) -> None:
    """Run a job worker (processing of uploads and extends, object clean-up) until stopped.

    Any number of workers, on any machines, share one database and one object store.
    """
    from cellstore.core.migrations import upgrade_database
    from cellstore.jobs.worker import run_standalone

    settings = load_settings(data_dir)
    upgrade_database(settings)
    typer.echo(f"cellstore worker (database: {settings.sync_database_url.split('://')[0]})")
    asyncio.run(run_standalone(settings))


@admin.command()
def migrate(data_dir: DataDir = None) -> None:
    """Create or upgrade the database schema to the newest revision."""
    from cellstore.core.migrations import upgrade_database

    upgrade_database(load_settings(data_dir))
    typer.echo("database schema is up to date")


@admin.command()
def bootstrap(
    data_dir: DataDir = None,
    org_name: Annotated[
        str, typer.Option("--org-name", help="Name of the new organization.")
    ] = "Organization",
    admin_email: Annotated[str | None, typer.Option("--admin-email", help="Email of its admin user.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a new organization with an admin user, a default project and an API key."""
    from cellstore.accounts.service import bootstrap_tenant

    created = run_in_session(load_settings(data_dir), lambda s: bootstrap_tenant(s, org_name, admin_email))
    if as_json:
        keys = ("organization_id", "project_id", "user_id", "api_key")
        typer.echo(json.dumps({k: created[k] for k in keys}))
    else:
        for key, value in created.items():
            typer.echo(f"{key}: {value}")


@admin.command("create-api-key")
def create_api_key(
    data_dir: DataDir = None,
    organization_id: Annotated[
        str | None, typer.Option("--organization-id", help="Organization of the key (default: the only one).")
    ] = None,
    email: Annotated[
        str | None,
        typer.Option("--email", help="User the key acts as (default: the organization's first admin)."),
    ] = None,
    name: Annotated[str, typer.Option("--name", help="A label to tell keys apart.")] = "",
    token: Annotated[
        bool, typer.Option("--token", help="A user-wide bearer token instead of an organization key.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Create an API key (shown once)."""
    from cellstore.accounts import service

    async def work(session: AsyncSession) -> dict[str, Any]:
        user_id, org_id = await service.resolve_key_owner(session, organization_id, email)
        key, secret = await service.create_api_key(session, user_id, None if token else org_id, name)
        return {"id": key.id, "organization_id": key.organization_id, "user_id": user_id, "api_key": secret}

    try:
        created = run_in_session(load_settings(data_dir), work)
    except Exception as exc:  # a domain error from the service, reported as a message
        fail(str(exc))
    typer.echo(
        json.dumps(created) if as_json else f"API key (shown once): {created['api_key']}\nid: {created['id']}"
    )


@admin.command("revoke-api-key")
def revoke_api_key(
    key: Annotated[str, typer.Argument(help="The key's id, or the prefix shown when it was listed.")],
    data_dir: DataDir = None,
) -> None:
    """Revoke an API key; requests with it answer 401 from then on."""
    from cellstore.accounts import service

    async def work(session: AsyncSession) -> str:
        return (await service.revoke_api_key(session, key)).id

    try:
        revoked = run_in_session(load_settings(data_dir), work)
    except Exception as exc:
        fail(str(exc))
    typer.echo(f"revoked {revoked}")


@app.command()
def ingest(
    files: Annotated[list[Path], typer.Argument(help="Instrument files, of any format cellstore reads.")],
    instance: Annotated[str, typer.Option("--instance", help="The cell instance the files measured.")],
    name: Annotated[
        str | None, typer.Option(help="Measurement name (default: the file name); one file only.")
    ] = None,
    api_url: Annotated[str | None, typer.Option(help="Server. Env: IONWORKS_API_URL.")] = None,
    api_key: Annotated[str | None, typer.Option(help="API key. Env: IONWORKS_API_KEY.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each file's processing.")] = 3600,
    timezone: Annotated[
        str | None,
        typer.Option(
            help="The instrument clock's zone (IANA name, e.g. Europe/Berlin), for files that "
            "write local time without a zone; taken as UTC otherwise."
        ),
    ] = None,
) -> None:
    """Upload raw cycler files, have the server parse and process them, and wait for the result.

    Prints one JSON line per file (file, measurement_id, raw_data_id, status, and error when it
    failed) and exits non-zero if any file did not become a ready measurement.
    """
    from cellstore.remote.api import ApiError, Remote
    from cellstore.remote.ingest import ingest_file

    if name is not None and len(files) > 1:
        fail("--name names one measurement: give one file with it")
    if timezone is not None:
        from cellstore.formats.normalise import zone_named

        try:
            zone_named(timezone)
        except ValueError as exc:
            fail(str(exc))
    try:
        remote = Remote.from_environment(api_url, api_key)
    except ApiError as exc:
        fail(str(exc).removeprefix("0: "))
    failed = 0
    with remote.client() as http:
        for path in files:
            size = path.stat().st_size if path.is_file() else 0
            with typer.progressbar(length=size, label=path.name, file=sys.stderr) as bar:
                result = ingest_file(http, path, instance, name, bar.update, timeout, timezone=timezone)
            failed += result.status != "ready"
            typer.echo(json.dumps(result.as_json()))
    if failed:
        raise typer.Exit(code=1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
