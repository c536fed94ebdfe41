"""Typed request dependencies for object storage.

The store is built once at start-up (``app.state.store``), so requests share
its connections (boto3 clients are thread-safe) and its signing secret.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from cellstore.storage.base import ObjectStore


def get_store(request: Request) -> ObjectStore:
    """The application's object store."""
    store: ObjectStore = request.app.state.store
    return store


def get_base_url(request: Request) -> str:
    """The API's address as this client reached it, without a trailing slash: what
    :meth:`ObjectStore.upload_target` and :meth:`ObjectStore.download_url` take."""
    return str(request.base_url).rstrip("/")


StoreDep = Annotated[ObjectStore, Depends(get_store)]
BaseUrlDep = Annotated[str, Depends(get_base_url)]
