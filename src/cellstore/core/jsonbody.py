"""JSON request bodies made safe to store, the same way on SQLite and PostgreSQL.

Python's JSON parser accepts ``NaN`` and ``Infinity``, which the ionworks client
can send (§1.4 of the contract) but which are not JSON and which PostgreSQL
refuses; they become ``null``, as the client's own DataFrame helpers do. A NUL
character (``\\u0000``) cannot be stored in PostgreSQL text at all and is
refused with a 422 naming where it was. Bodies with neither (the usual case) are
passed through untouched, without parsing.
"""

from __future__ import annotations

import json
from typing import Any

_SUSPECT = (b"NaN", b"Infinity", b"\\u0000")


class JsonRejected(ValueError):
    pass


def _find_nul(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if "\x00" in key:
                return where
            if found := _find_nul(item, where):
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            if found := _find_nul(item, f"{path}[{index}]"):
                return found
    return None


def sanitize_json(body: bytes) -> bytes:
    """The body with non-finite numbers as ``null``; raises :class:`JsonRejected` on NUL."""
    if not any(token in body for token in _SUSPECT):
        return body
    try:
        parsed = json.loads(body, parse_constant=lambda _: None)
    except ValueError:
        return body  # not JSON: the endpoint's own parsing answers with the usual 400
    if (where := _find_nul(parsed, "")) is not None:
        raise JsonRejected(f"{where or 'body'}: text must not contain NUL characters")
    return json.dumps(parsed, ensure_ascii=False).encode()
