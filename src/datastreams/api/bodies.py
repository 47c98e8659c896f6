"""Request and response bodies: bounded reading, media types, and JSON through orjson.

Routes read the raw body themselves rather than through pydantic models: the ingest
route must stop reading at the size limit, and orjson is several times faster than the
standard library on both sides.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from datastreams.errors import BodyError, LimitExceeded, UnsupportedMediaType

JSON_MEDIA_TYPE = "application/json"
MERGE_PATCH_MEDIA_TYPE = "application/merge-patch+json"
NDJSON_MEDIA_TYPE = "application/x-ndjson"

# Bodies of the management routes are small; this bounds what one request can make
# the server buffer and parse.
MAX_JSON_BODY_BYTES = 1_048_576


def json_response(
    body: Any, status_code: int = 200, *, headers: Mapping[str, str] | None = None
) -> Response:
    """Return a response whose body is ``body`` encoded by orjson."""
    return Response(
        orjson.dumps(body, default=str),
        status_code=status_code,
        headers=headers,
        media_type=JSON_MEDIA_TYPE,
    )


def media_type_of(request: Request) -> str:
    """Return the request's media type in lower case, without parameters such as charset."""
    content_type = request.headers.get("content-type", "")
    return content_type.split(";", 1)[0].strip().lower()


def require_media_type(request: Request, accepted: Collection[str]) -> str:
    """Return the request's media type; raise ``UnsupportedMediaType`` unless it is accepted."""
    media_type = media_type_of(request)
    if media_type not in accepted:
        shown = media_type or "(none)"
        raise UnsupportedMediaType(
            f"content type {shown} is not supported; send {' or '.join(sorted(accepted))}"
        )
    return media_type


async def read_body(request: Request, max_bytes: int) -> bytes:
    """Read the whole body, or raise ``LimitExceeded`` as soon as it exceeds ``max_bytes``.

    A declared ``Content-Length`` over the limit is rejected before anything is read.
    A body sent without one (chunked) is counted while it arrives, and reading stops
    at the first chunk past the limit.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            declared_bytes = int(declared)
        except ValueError:
            raise BodyError(f"Content-Length {declared!r} is not a number") from None
        if declared_bytes > max_bytes:
            raise _body_too_large(max_bytes)

    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > max_bytes:
            raise _body_too_large(max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json_object(
    request: Request,
    *,
    media_types: Collection[str] = (JSON_MEDIA_TYPE,),
    max_bytes: int = MAX_JSON_BODY_BYTES,
) -> dict[str, Any]:
    """Read a body that must be one JSON object in one of ``media_types``.

    Raises ``UnsupportedMediaType`` (415), ``LimitExceeded`` (413) or ``BodyError``
    (400) for a body that is not valid JSON or not an object.
    """
    require_media_type(request, media_types)
    raw = await read_body(request, max_bytes)

    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BodyError(f"the body is not valid JSON: {exc}") from None

    if not isinstance(body, dict):
        raise BodyError(f"the body must be a JSON object, not {_json_kind(body)}")
    return body


def _body_too_large(max_bytes: int) -> LimitExceeded:
    return LimitExceeded(f"the request body exceeds the limit of {max_bytes} bytes")


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"
