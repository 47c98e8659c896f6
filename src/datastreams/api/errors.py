"""Error responses: every exception becomes one status code and one body shape.

Each 4xx body is ``{"error": {"code": ..., "message": ..., "fields": [...]}}``, also
for FastAPI's own request validation and for unknown routes and methods. A 5xx body
is generic: the cause is logged, never sent.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from datastreams.api.bodies import json_response
from datastreams.errors import (
    BodyError,
    Conflict,
    DataStreamsError,
    FieldError,
    Forbidden,
    LimitExceeded,
    NotFound,
    StoreError,
    Unauthorized,
    UnsupportedMediaType,
    ValidationError,
)

logger = logging.getLogger(__name__)

# Ordered from the most specific class: BodyError is a ValidationError.
STATUS_BY_ERROR: tuple[tuple[type[DataStreamsError], int], ...] = (
    (BodyError, 400),
    (ValidationError, 422),
    (Unauthorized, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (LimitExceeded, 413),
    (UnsupportedMediaType, 415),
    (StoreError, 503),
)

CODES_BY_HTTP_STATUS = {
    400: "invalid_body",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "limit_exceeded",
    415: "unsupported_media_type",
    422: "validation_failed",
}

# Seconds a client should wait before retrying after the database failed.
STORE_RETRY_AFTER_S = 1


def error_body(code: str, message: str, fields: list[FieldError] | None = None) -> dict[str, Any]:
    """Return the error body shared by every 4xx response."""
    return {
        "error": {
            "code": code,
            "message": message,
            "fields": [field.as_dict() for field in fields or []],
        }
    }


def status_of(error: DataStreamsError) -> int:
    """Return the HTTP status code for an exception of the service (500 if none fits)."""
    for error_class, status in STATUS_BY_ERROR:
        if isinstance(error, error_class):
            return status
    return 500


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that give every error response the shape described above."""
    app.add_exception_handler(DataStreamsError, _handle_service_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _handle_request_validation)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _handle_http_exception)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _handle_unexpected)


async def _handle_service_error(request: Request, error: DataStreamsError) -> Response:
    status = status_of(error)
    if status >= 500:
        return _server_error(request, error, status)

    fields = error.fields if isinstance(error, ValidationError) else []
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return json_response(error_body(error.code, error.message, fields), status, headers=headers)


async def _handle_request_validation(request: Request, error: RequestValidationError) -> Response:
    fields = [_field_error_of(detail) for detail in error.errors()]
    return json_response(error_body("validation_failed", "the request is invalid", fields), 422)


async def _handle_http_exception(request: Request, error: StarletteHTTPException) -> Response:
    if error.status_code >= 500:
        return _server_error(request, error, error.status_code)

    code = CODES_BY_HTTP_STATUS.get(error.status_code, "error")
    message = error.detail if isinstance(error.detail, str) else code.replace("_", " ")
    if error.status_code == 404 and message == "Not Found":
        message = f"no route {request.url.path}"
    elif error.status_code == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
    return json_response(error_body(code, message), error.status_code, headers=error.headers)


async def _handle_unexpected(request: Request, error: Exception) -> Response:
    return _server_error(request, error, 500)


def _server_error(request: Request, error: Exception, status: int) -> Response:
    logger.error(
        "Request %s %s failed: %s",
        request.method,
        request.url.path,
        type(error).__name__,
        exc_info=error,
        extra={"action": "request_failed", "path": request.url.path, "status": status},
    )

    if status == 503:
        body = error_body("unavailable", "the service is unavailable; retry later")
        return json_response(body, 503, headers={"Retry-After": str(STORE_RETRY_AFTER_S)})
    return json_response(error_body("internal_error", "internal server error"), status)


def _field_error_of(detail: Any) -> FieldError:
    # A FastAPI location starts with where the value came from ("query", "path" or
    # "body"). The rest is the path inside it, which is what a client calls the field.
    location = [part for part in detail.get("loc", ()) if part not in ("query", "path", "body")]
    field = ""
    for part in location:
        if isinstance(part, int):
            field += f"[{part}]"
        elif field:
            field += f".{part}"
        else:
            field = str(part)
    return FieldError(field or "(request)", detail.get("input"), str(detail.get("msg", "invalid")))
