"""A small HTTP session for the command line: the server and key from the environment, and
errors that read as sentences."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"


class ApiError(RuntimeError):
    """The server refused a request; the message is its own ``message``."""

    def __init__(self, status: int, message: str, body: Any = None) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.body = body


@dataclass
class Remote:
    """The API at ``url``, called with ``api_key``."""

    url: str
    api_key: str
    timeout: float = 60.0

    @classmethod
    def from_environment(cls, url: str | None = None, api_key: str | None = None) -> Remote:
        key = api_key or os.environ.get("IONWORKS_API_KEY", "")
        if not key:
            raise ApiError(0, "no API key: set IONWORKS_API_KEY (or pass --api-key)")
        return cls((url or os.environ.get("IONWORKS_API_URL") or DEFAULT_URL).rstrip("/"), key)

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"X-API-Key": self.api_key, "Accept": "application/json"},
            timeout=self.timeout,
        )


def answer(response: httpx.Response) -> Any:
    """The JSON of a successful answer; :class:`ApiError` with the server's message otherwise."""
    if response.is_success:
        return response.json() if response.content else None
    try:
        body = response.json()
        message = body.get("message") or str(body)
    except ValueError:
        body, message = None, response.text[:500] or response.reason_phrase
    raise ApiError(response.status_code, message, body)


def chunks(path: Any, size: int, progress: Any) -> Iterator[bytes]:
    """The file's bytes in chunks, reporting each to ``progress`` (a callable taking a byte count)."""
    with open(path, "rb") as file:
        while chunk := file.read(size):
            progress(len(chunk))
            yield chunk
