"""JSON bodies made with orjson: several times faster than the standard library on list pages.

Everything cellstore answers is plain JSON data (strings, numbers, lists and
dicts); orjson refuses only integers beyond 64 bits, which a custom metadata
field may hold, and those fall back to the standard library.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from fastapi.responses import JSONResponse, Response


def dumps(content: Any) -> bytes:
    try:
        return orjson.dumps(content)
    except TypeError:
        return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


class FastJSONResponse(JSONResponse):
    """A JSONResponse rendered by :func:`dumps`; the content must already be JSON data."""

    def render(self, content: Any) -> bytes:
        return dumps(content)


def json_bytes_response(body: bytes) -> Response:
    """An answer whose JSON was serialised earlier (and perhaps cached)."""
    return Response(body, media_type="application/json")
