"""Serve the browser interface: ``/`` is the page, ``/static/...`` its files, all shipped in the package.

The page is a static single-page app (plain ES modules, no build step) that signs in with an API
key and calls the same JSON API as the Python client, so it needs no session or permission logic
of its own here: these routes are open and only hand out files.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from cellstore.core.errors import NotFound

STATIC_DIR = Path(__file__).parent / "static"

# Only what ships is served: the map is built once from the package directory, so a request path
# is a key to look up, never a path to resolve on disk.
STATIC_FILES = {
    path.relative_to(STATIC_DIR).as_posix(): path for path in STATIC_DIR.rglob("*") if path.is_file()
}
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}

# The page loads its own scripts and styles only (labs run offline); it talks to the API and to
# storage URLs, which may be an S3 endpoint on another origin, hence the open connect-src.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' blob: data:; connect-src 'self' http: https:; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

router = APIRouter(include_in_schema=False)


@router.get("/")
async def index() -> Response:
    """The web interface."""
    return FileResponse(
        STATIC_DIR / "index.html",
        media_type="text/html",
        headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"},
    )


@router.get("/static/{path:path}")
async def static_file(path: str) -> Response:
    """One file of the web interface; revalidated on each load so an upgrade shows at once."""
    file = STATIC_FILES.get(path)
    if file is None:
        raise NotFound("File of the web interface")
    media_type = CONTENT_TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0]
    return FileResponse(
        file,
        media_type=media_type or "application/octet-stream",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
    )
