"""Domain errors and the one place that renders every error into the standard body.

Every non-2xx answer of cellstore is ``{"error_code", "message", "detail"}`` with
``Content-Type: application/json`` exactly, because the ``ionworks`` client reads
``error_code`` and ``detail.existing_id`` from it.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger("cellstore")


class CellstoreError(Exception):
    """An expected failure with its HTTP status and machine-readable code."""

    status_code = 400
    error_code = "BAD_REQUEST"

    def __init__(self, message: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail or {}


class BadRequest(CellstoreError):
    status_code = 400
    error_code = "BAD_REQUEST"


class Unauthorized(CellstoreError):
    status_code = 401
    error_code = "UNAUTHORIZED"


class Forbidden(CellstoreError):
    status_code = 403
    error_code = "FORBIDDEN"


class NotFound(CellstoreError):
    status_code = 404
    error_code = "NOT_FOUND"

    def __init__(self, resource: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(f"{resource} not found", detail)


class Conflict(CellstoreError):
    status_code = 409
    error_code = "CONFLICT"

    def __init__(self, message: str, existing_id: str | None = None) -> None:
        super().__init__(message, {"existing_id": existing_id} if existing_id else {})


class PayloadTooLarge(CellstoreError):
    status_code = 413
    error_code = "PAYLOAD_TOO_LARGE"


class InvalidInput(CellstoreError):
    """Input that parsed but breaks a rule, answered 422 like request validation."""

    status_code = 422
    error_code = "VALIDATION_ERROR"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", {"errors": [{"field": field, "message": message}]})


class NotImplementedByCellstore(CellstoreError):
    status_code = 501
    error_code = "NOT_IMPLEMENTED"


def error_response(status_code: int, error_code: str, message: str, detail: Any = None) -> JSONResponse:
    """The standard error body."""
    return JSONResponse(
        status_code=status_code,
        content={"error_code": error_code, "message": message, "detail": detail or {}},
    )


_STATUS_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
}


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    """Route every exception through the standard body."""

    @app.exception_handler(CellstoreError)
    async def _domain(_: Request, exc: CellstoreError) -> JSONResponse:
        return error_response(exc.status_code, exc.error_code, exc.message, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            loc = tuple(err.get("loc", ()))
            if err.get("type") == "json_invalid":
                return error_response(400, "BAD_REQUEST", "Request body is not valid JSON", {})
            errors.append(
                {
                    "field": _field_path(loc),
                    "location": loc[0] if loc else None,
                    "message": err.get("msg", "invalid"),
                }
            )
        message = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "Invalid request"
        return error_response(422, "VALIDATION_ERROR", message, {"errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "ERROR")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ").capitalize()
        if exc.status_code == 404 and message == "Not Found":
            message = "No such endpoint"
        response = error_response(exc.status_code, code, message, {})
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error", exc_info=exc)
        return error_response(500, "INTERNAL_ERROR", "Internal server error", {})
