"""The FastAPI application: routers, middleware and error handlers wired together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from cellstore import __version__
from cellstore.accounts.auth import current_principal
from cellstore.accounts.router import router as accounts_router
from cellstore.cells.router import router as cells_router
from cellstore.core.cache import coherence_for
from cellstore.core.database import Database
from cellstore.core.errors import install_error_handlers
from cellstore.core.middleware import CorrelationIdMiddleware, RequestBodyMiddleware
from cellstore.core.settings import Settings
from cellstore.discovery.router import router as discovery_router
from cellstore.jobs.worker import running_worker
from cellstore.measurements.router import router as measurements_router
from cellstore.models import Base
from cellstore.projects.router import router as projects_router
from cellstore.raw_data.router import router as raw_data_router
from cellstore.storage.factory import create_store
from cellstore.storage.router import router as storage_router
from cellstore.unsupported.router import router as unsupported_router
from cellstore.web.router import router as web_router


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application. The database schema must already be migrated."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.database = Database(settings.async_database_url, settings.database_echo)
        app.state.coherence = coherence_for(settings.sync_database_url, Base.metadata)
        app.state.coherence.track(app.state.database.engine)
        await app.state.coherence.start()
        try:
            async with running_worker(app.state.database, app.state.store, settings):
                yield
        finally:
            await app.state.coherence.stop()
            await app.state.database.dispose()

    app = FastAPI(
        title="cellstore",
        version=__version__,
        description="Self-hosted battery cell test data, speaking the Ionworks data API.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = create_store(settings)
    install_error_handlers(app)

    app.include_router(discovery_router)
    # The browser interface: open pages and assets; the page calls the API with the person's key.
    app.include_router(web_router)
    app.include_router(accounts_router)
    # Signed storage URLs carry their own authorisation (cellstore.storage.signing).
    app.include_router(storage_router)
    # Every data route requires an authenticated principal, declared once here
    # so that an open route would have to be written on purpose.
    authenticated = [Depends(current_principal)]
    app.include_router(projects_router, dependencies=authenticated)
    app.include_router(cells_router, dependencies=authenticated)
    app.include_router(measurements_router, dependencies=authenticated)
    app.include_router(raw_data_router, dependencies=authenticated)
    app.include_router(unsupported_router, dependencies=authenticated)

    # Object uploads stream to disk under their own cap (max_upload_bytes).
    app.add_middleware(
        RequestBodyMiddleware, max_bytes=settings.max_request_body_bytes, passthrough=("/storage/",)
    )
    app.add_middleware(CorrelationIdMiddleware)
    return app
