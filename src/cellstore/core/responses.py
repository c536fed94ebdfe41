"""JSON responses rendered by :mod:`cellstore.core.jsontext` (orjson where it is exact)."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse, Response

from cellstore.core.jsontext import dumps


class FastJSONResponse(JSONResponse):
    """A JSONResponse rendered by :func:`dumps`; the content must already be JSON data."""

    def render(self, content: Any) -> bytes:
        return dumps(content)


def json_bytes_response(body: bytes) -> Response:
    """An answer whose JSON was serialised earlier (and perhaps cached)."""
    return Response(body, media_type="application/json")
