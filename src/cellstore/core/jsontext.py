"""JSON text both ways: orjson where it is exact, the standard library where it is not.

orjson is several times faster, which list pages feel (every row carries several
JSON columns), but it refuses integers beyond 64 bits when writing and reads
them as floats; a custom metadata field may hold one, and must come back as sent.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

# 19 digits in a row: an integer that might not fit in 64 bits (or a digit string, which is harmless).
_LONG_DIGIT_RUN = re.compile(r"\d{19}")


class RawJson:
    """JSON text as the database holds it, written into an answer as is: a list page need not
    parse every JSON column of every row only to serialise it again."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _as_fragment(value: Any) -> Any:
    if isinstance(value, RawJson):
        return orjson.Fragment(value.text)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _as_value(value: Any) -> Any:
    if isinstance(value, RawJson):
        return loads(value.text)
    raise TypeError(f"{type(value).__name__} is not JSON")


def dumps(content: Any) -> bytes:
    try:
        return orjson.dumps(content, default=_as_fragment)
    except TypeError:
        return json.dumps(
            content, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_as_value
        ).encode()


def dumps_text(content: Any) -> str:
    return dumps(content).decode()


def loads(text: str | bytes) -> Any:
    if _LONG_DIGIT_RUN.search(text if isinstance(text, str) else text.decode()):
        return json.loads(text)
    return orjson.loads(text)
