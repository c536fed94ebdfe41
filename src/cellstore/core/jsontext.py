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


def dumps(content: Any) -> bytes:
    try:
        return orjson.dumps(content)
    except TypeError:
        return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def dumps_text(content: Any) -> str:
    return dumps(content).decode()


def loads(text: str | bytes) -> Any:
    if _LONG_DIGIT_RUN.search(text if isinstance(text, str) else text.decode()):
        return json.loads(text)
    return orjson.loads(text)
