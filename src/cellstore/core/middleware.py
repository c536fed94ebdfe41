"""ASGI middleware for the transport conventions of the Ionworks API.

Written against raw ASGI rather than ``BaseHTTPMiddleware``: they sit on every
request, including the polling hot path, and must not buffer responses.
"""

from __future__ import annotations

import json
import uuid
import zlib
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cellstore.core.jsonbody import JsonRejected, sanitize_json

CORRELATION_HEADER = b"x-correlation-id"


class CorrelationIdMiddleware:
    """Give every response an ``x-correlation-id``: the caller's own, or a new one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        correlation_id = (
            next((v for k, v in scope["headers"] if k == CORRELATION_HEADER and 0 < len(v) <= 128), None)
            or uuid.uuid4().hex.encode()
        )
        scope.setdefault("state", {})["correlation_id"] = correlation_id.decode("latin-1")

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (CORRELATION_HEADER, correlation_id)]
            await send(message)

        await self.app(scope, receive, send_with_id)


async def _send_error(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error_code": code, "message": message, "detail": {}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestBodyMiddleware:
    """Cap request bodies, gunzip them when sent with ``Content-Encoding: gzip``, and
    make JSON bodies storable (see :mod:`cellstore.core.jsonbody`).

    The client gzips bodies of 512 KiB and more. A corrupt gzip stream answers
    400; a body (or a decompressed body) over ``max_bytes`` answers 413 before
    any of it reaches the application. Paths under ``passthrough`` (object
    storage uploads, which stream to disk) are left alone.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, passthrough: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.passthrough = passthrough

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"].startswith(self.passthrough)
            or scope["method"]
            in (
                "GET",
                "HEAD",
                "OPTIONS",
                "DELETE",
            )
        ):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        encoding = headers.get(b"content-encoding", b"identity").strip().lower()
        if encoding not in (b"gzip", b"identity", b""):
            await _send_error(
                send,
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                f"Content-Encoding {encoding.decode()!r} is not supported",
            )
            return
        body, too_large = await self._read(receive)
        if too_large:
            await _send_error(send, 413, "PAYLOAD_TOO_LARGE", f"Request body exceeds {self.max_bytes} bytes")
            return
        if encoding == b"gzip":
            try:
                body = self._gunzip(body)
            except _TooLarge:
                await _send_error(
                    send,
                    413,
                    "PAYLOAD_TOO_LARGE",
                    f"Decompressed request body exceeds {self.max_bytes} bytes",
                )
                return
            except (zlib.error, EOFError):
                await _send_error(send, 400, "BAD_REQUEST", "Request body is not a valid gzip stream")
                return
        if _is_json(headers):
            try:
                body = sanitize_json(body)
            except JsonRejected as exc:
                await _send_error(send, 422, "VALIDATION_ERROR", str(exc))
                return
        if encoding == b"gzip" or len(body) != int(headers.get(b"content-length", b"-1") or -1):
            scope = dict(scope)
            scope["headers"] = [
                (k, v) for k, v in scope["headers"] if k not in (b"content-encoding", b"content-length")
            ] + [(b"content-length", str(len(body)).encode())]
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive) -> tuple[bytes, bool]:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return b"", True
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks), False

    def _gunzip(self, body: bytes) -> bytes:
        """Inflate every member of a gzip stream, never past ``max_bytes`` of output."""
        out = bytearray()
        rest = body
        while rest:
            decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            out += decompressor.decompress(rest, self.max_bytes + 1 - len(out))
            if len(out) > self.max_bytes or decompressor.unconsumed_tail:
                raise _TooLarge
            if not decompressor.eof:
                raise EOFError("truncated gzip stream")
            rest = decompressor.unused_data
        return bytes(out)


def _is_json(headers: dict[bytes, bytes]) -> bool:
    return headers.get(b"content-type", b"").split(b";")[0].strip().lower() == b"application/json"


class _TooLarge(Exception):
    pass


def _replay(body: bytes, receive: Receive) -> Any:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
