"""``/storage/{key}``: the local backend's objects over HTTP, authorised by URL signature.

No API key is asked for: the ``ionworks`` client PUTs uploads with a bare
``requests`` call, and polars reads downloads with nothing but the URL, so the
signature in the query string is the whole authorisation (see
:mod:`cellstore.storage.signing`). When the client follows a redirect here it
still sends its API headers (``X-API-Key``, ``Authorization``,
``Accept``/``Content-Type: application/json``); they are ignored.

Bodies never pass through memory whole: uploads stream to a temporary file
that is renamed into place once complete and within the size cap, and
downloads stream from the file in large chunks read off the event loop.
"""

from __future__ import annotations

import mimetypes
import os
from email.utils import formatdate
from pathlib import Path
from stat import S_ISREG
from typing import Any

import anyio
from fastapi import APIRouter, Request, Response
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from cellstore.core.errors import BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, error_response
from cellstore.storage.dependencies import StoreDep
from cellstore.storage.local import InvalidKey, LocalObjectStore, PendingObject
from cellstore.storage.ranges import ByteRange, RangeNotSatisfiable, parse_range
from cellstore.storage.signing import SignatureRejected

router = APIRouter(include_in_schema=False)

#: Download chunk: large enough that per-chunk overhead (a thread hop, one ASGI
#: message) is small next to the copy, small enough to keep memory per request low.
READ_CHUNK_BYTES = 4 * 1024 * 1024
#: Uploads arrive in small ASGI messages; they are gathered to this size per disk write.
WRITE_CHUNK_BYTES = 1024 * 1024


def _local_store(store: Any) -> LocalObjectStore:
    if not isinstance(store, LocalObjectStore):  # objects live elsewhere (S3): nothing served here
        raise NotFound("Object")
    return store


def _authorise(store: LocalObjectStore, request: Request, key: str) -> None:
    try:
        store.verify(
            request.method, key, request.query_params.get("expires"), request.query_params.get("signature")
        )
    except SignatureRejected as exc:
        raise Forbidden(str(exc)) from None


def _object_path(store: LocalObjectStore, key: str) -> Path:
    try:
        return store.object_path(key)
    except InvalidKey as exc:
        raise BadRequest(str(exc)) from None


def _open(path: Path) -> tuple[int, os.stat_result]:
    """An open descriptor and its status: the bytes sent are those of the file opened,
    even when an upload replaces the object meanwhile."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        stat = os.fstat(descriptor)
        if not S_ISREG(stat.st_mode):
            raise FileNotFoundError(path)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor, stat


@router.api_route("/storage/{key:path}", methods=["GET", "HEAD"])
async def read_object(key: str, request: Request, store: StoreDep) -> Response:
    """The object's bytes, or the one range the ``Range`` header asks for."""
    local = _local_store(store)
    _authorise(local, request, key)
    path = _object_path(local, key)
    try:
        descriptor, stat = await anyio.to_thread.run_sync(_open, path)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        raise NotFound("Object", {"key": key}) from None
    size = stat.st_size
    etag = f'"{stat.st_ino:x}-{stat.st_mtime_ns:x}-{size:x}"'
    last_modified = formatdate(stat.st_mtime, usegmt=True)
    headers = {
        "accept-ranges": "bytes",
        "etag": etag,
        "last-modified": last_modified,
        "content-type": mimetypes.guess_type(key)[0] or "application/octet-stream",
    }
    byte_range = None
    if_range = request.headers.get("if-range")
    if if_range is None or if_range in (etag, last_modified):
        try:
            byte_range = parse_range(request.headers.get("range"), size)
        except RangeNotSatisfiable:
            os.close(descriptor)
            response = error_response(
                416, "RANGE_NOT_SATISFIABLE", f"The range is outside the object's {size} bytes"
            )
            response.headers["content-range"] = f"bytes */{size}"
            response.headers["accept-ranges"] = "bytes"
            return response
    if byte_range is None:
        return DescriptorResponse(descriptor, ByteRange(0, size - 1), 200, headers)
    headers["content-range"] = byte_range.content_range(size)
    return DescriptorResponse(descriptor, byte_range, 206, headers)


@router.put("/storage/{key:path}")
async def write_object(key: str, request: Request, store: StoreDep) -> Response:
    """Store the request body under ``key``, replacing any object there."""
    local = _local_store(store)
    _authorise(local, request, key)
    _object_path(local, key)
    limit: int = request.app.state.settings.max_upload_bytes
    header = request.headers.get("content-length")
    declared = int(header) if header is not None and header.isdigit() else None
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"The upload of {declared} bytes exceeds the limit of {limit} bytes")
    try:
        pending = await anyio.to_thread.run_sync(local.begin_write, key)
    except (FileExistsError, NotADirectoryError) as exc:  # a part of the key is an object
        raise Conflict(f"Object key {key!r} runs through another object") from exc
    try:
        received = await _receive_into(pending, request, limit)
        if declared is not None and received != declared:
            raise BadRequest(f"The upload ended after {received} of {declared} bytes")
    except BaseException:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(pending.discard)
        raise
    try:
        await anyio.to_thread.run_sync(pending.commit)
    except IsADirectoryError as exc:  # other objects live under this key
        raise Conflict(f"Object key {key!r} is a prefix of other objects") from exc
    return Response(status_code=200)


async def _receive_into(pending: PendingObject, request: Request, limit: int) -> int:
    """Copy the request body to ``pending`` in large writes; the byte count."""
    received = 0
    buffer = bytearray()
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise PayloadTooLarge(f"The upload exceeds the limit of {limit} bytes")
            buffer += chunk
            if len(buffer) >= WRITE_CHUNK_BYTES:
                await anyio.to_thread.run_sync(pending.write, bytes(buffer))
                buffer.clear()
    except ClientDisconnect:
        raise BadRequest("The client went away during the upload") from None
    await anyio.to_thread.run_sync(pending.write, bytes(buffer))
    return received


class DescriptorResponse(Response):
    """Bytes ``byte_range`` of an open file, streamed in :data:`READ_CHUNK_BYTES` chunks.

    Starlette's ``FileResponse`` reads 64 KiB at a time, which caps a loopback
    download at a few hundred MB/s; chunks of megabytes reach GB/s. The next
    chunk is read while the previous one is being sent. A client that goes away
    stops the transfer instead of letting it run on into a closed socket. The
    response owns the descriptor and closes it.
    """

    def __init__(self, descriptor: int, byte_range: ByteRange, status_code: int, headers: dict[str, str]):
        super().__init__(status_code=status_code, headers=headers)
        self.descriptor = descriptor
        self.byte_range = byte_range
        self.headers["content-length"] = str(max(byte_range.length, 0))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send(
                {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
            )
            if scope["method"] == "HEAD" or self.byte_range.length <= 0:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            async with anyio.create_task_group() as group:

                async def stream() -> None:
                    await self._stream(send)
                    group.cancel_scope.cancel()

                group.start_soon(stream)
                while (await receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()
        finally:
            os.close(self.descriptor)

    async def _stream(self, send: Send) -> None:
        offset, end = self.byte_range.start, self.byte_range.end + 1
        pending = await anyio.to_thread.run_sync(_read, self.descriptor, offset, end)
        while pending:
            offset += len(pending)
            following: list[bytes] = []
            async with anyio.create_task_group() as group:
                if offset < end:
                    group.start_soon(_read_into, following, self.descriptor, offset, end)
                await send({"type": "http.response.body", "body": pending, "more_body": offset < end})
            pending = following[0] if following else b""
        if offset < end:  # the headers are sent: all that is left is to break the connection
            raise RuntimeError("the object is shorter than its announced length")


def _read(descriptor: int, offset: int, end: int) -> bytes:
    return os.pread(descriptor, min(READ_CHUNK_BYTES, end - offset), offset)


async def _read_into(out: list[bytes], descriptor: int, offset: int, end: int) -> None:
    out.append(await anyio.to_thread.run_sync(_read, descriptor, offset, end))
