"""Routes ``/api/v1/domains/{domainId}/streams``: an admin key manages its subtree's streams.

A domain outside the key's subtree gets the same 404 as an unknown one, so a key
cannot probe for other tenants' ids. Changes are recorded with the key's id as the
actor of the audit events.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from datastreams.api.auth import AdminKey, Principal, authenticator_of, runtime_of
from datastreams.api.bodies import (
    JSON_MEDIA_TYPE,
    MERGE_PATCH_MEDIA_TYPE,
    json_response,
    read_json_object,
)
from datastreams.api.pagination import PageRequest, encode_cursor, list_body, page_request
from datastreams.errors import NotFound
from datastreams.streams.service import StreamService

router = APIRouter(prefix="/api/v1/domains/{domain_id}/streams", tags=["streams"])


@router.get("")
async def list_streams(
    request: Request,
    domain_id: str,
    principal: AdminKey,
    page: Annotated[PageRequest, Depends(page_request)],
) -> Response:
    """List the streams of one domain, ordered by id."""
    streams = await _stream_service(request, domain_id, principal)
    items, last_id = await streams.list(domain_id, limit=page.limit, cursor=page.after)
    next_cursor = encode_cursor(last_id) if last_id is not None else None
    return json_response(list_body(items, next_cursor))


@router.post("", status_code=201)
async def create_stream(request: Request, domain_id: str, principal: AdminKey) -> Response:
    """Create a stream; the response has ``warnings`` for filters of unknown event types."""
    streams = await _stream_service(request, domain_id, principal)
    body = await read_json_object(request)

    stream, warnings = await streams.create(domain_id, body)
    await runtime_of(request).apply_stream_changes()
    headers = {"Location": f"/api/v1/domains/{domain_id}/streams/{stream['id']}"}
    return json_response(_with_warnings(stream, warnings), 201, headers=headers)


@router.get("/{stream_id}")
async def get_stream(
    request: Request, domain_id: str, stream_id: str, principal: AdminKey
) -> Response:
    """Return one stream; secret values read as ``null``."""
    streams = await _stream_service(request, domain_id, principal)
    return json_response(await streams.get(domain_id, stream_id))


@router.put("/{stream_id}")
async def replace_stream(
    request: Request, domain_id: str, stream_id: str, principal: AdminKey
) -> Response:
    """Replace a stream's configuration; ``version`` must match the stored one."""
    streams = await _stream_service(request, domain_id, principal)
    body = await read_json_object(request)

    stream, warnings = await streams.replace(domain_id, stream_id, body)
    await runtime_of(request).apply_stream_changes()
    return json_response(_with_warnings(stream, warnings))


@router.patch("/{stream_id}")
async def patch_stream(
    request: Request, domain_id: str, stream_id: str, principal: AdminKey
) -> Response:
    """Change a stream with a JSON Merge Patch; ``version`` must match the stored one."""
    streams = await _stream_service(request, domain_id, principal)
    body = await read_json_object(request, media_types=(MERGE_PATCH_MEDIA_TYPE, JSON_MEDIA_TYPE))

    stream, warnings = await streams.patch(domain_id, stream_id, body)
    await runtime_of(request).apply_stream_changes()
    return json_response(_with_warnings(stream, warnings))


@router.delete("/{stream_id}", status_code=204)
async def delete_stream(
    request: Request, domain_id: str, stream_id: str, principal: AdminKey
) -> Response:
    """Delete a stream and drop the deliveries still queued for it."""
    streams = await _stream_service(request, domain_id, principal)
    await streams.delete(domain_id, stream_id)
    await runtime_of(request).apply_stream_changes()
    return Response(status_code=204)


async def _stream_service(request: Request, domain_id: str, principal: Principal) -> StreamService:
    scope = await authenticator_of(request).scope(principal.domain_id)
    if domain_id not in scope:
        raise NotFound(f"domain {domain_id!r} not found")
    return runtime_of(request).streams(actor=f"apiKey:{principal.key_id}")


def _with_warnings(stream: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    if not warnings:
        return stream
    return {**stream, "warnings": warnings}
