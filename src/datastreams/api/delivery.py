"""Routes about a stream's deliveries: Test, status, attempts, statistics, dead letters, replay.

All of them need an admin key whose subtree contains the domain; other domains get 404.
The Test routes return 200 whether or not the probe got through, and the body reports it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from datastreams.api.auth import AdminKey, Principal, authenticator_of, runtime_of
from datastreams.api.bodies import json_response, read_json_object
from datastreams.api.pagination import PageRequest, encode_cursor, list_body, page_request
from datastreams.delivery.service import DeliveryService
from datastreams.errors import FieldError, NotFound, ValidationError

router = APIRouter(prefix="/api/v1/domains/{domain_id}/streams", tags=["delivery"])


@router.post("/test")
async def test_configuration(request: Request, domain_id: str, principal: AdminKey) -> Response:
    """Send a probe event through the configuration in the body, saved or not."""
    deliveries = await _delivery_service(request, domain_id, principal)
    body = await read_json_object(request)
    return json_response(await deliveries.test_body(domain_id, body))


@router.post("/{stream_id}/test")
async def test_stream(
    request: Request, domain_id: str, stream_id: str, principal: AdminKey
) -> Response:
    """Send a probe event through a saved stream, ignoring its filters and Enabled switch."""
    deliveries = await _delivery_service(request, domain_id, principal)
    return json_response(await deliveries.test_saved(domain_id, stream_id))


@router.get("/{stream_id}/status")
async def stream_status(
    request: Request, domain_id: str, stream_id: str, principal: AdminKey
) -> Response:
    """Return the stream's state, queue depth and counters."""
    deliveries = await _delivery_service(request, domain_id, principal)
    return json_response(await deliveries.status(domain_id, stream_id))


@router.get("/{stream_id}/attempts")
async def stream_attempts(
    request: Request,
    domain_id: str,
    stream_id: str,
    principal: AdminKey,
    limit: Annotated[int, Query()] = 50,
) -> Response:
    """Return the latest calls to the destination, newest first."""
    deliveries = await _delivery_service(request, domain_id, principal)
    return json_response(await deliveries.attempts(domain_id, stream_id, limit))


@router.get("/{stream_id}/stats")
async def stream_stats(
    request: Request,
    domain_id: str,
    stream_id: str,
    principal: AdminKey,
    minutes: Annotated[int, Query()] = 60,
) -> Response:
    """Return delivered and failed events per minute over the last ``minutes``."""
    deliveries = await _delivery_service(request, domain_id, principal)
    return json_response(await deliveries.stats(domain_id, stream_id, minutes))


@router.get("/{stream_id}/dead-letters")
async def list_dead_letters(
    request: Request,
    domain_id: str,
    stream_id: str,
    principal: AdminKey,
    page: Annotated[PageRequest, Depends(page_request)],
) -> Response:
    """List the stream's dead letters with their last error, oldest first."""
    deliveries = await _delivery_service(request, domain_id, principal)
    after = _dead_letter_cursor(page.after)

    items, next_after = await deliveries.dead_letters(
        domain_id, stream_id, limit=page.limit, after=after
    )
    next_cursor = encode_cursor(str(next_after)) if next_after is not None else None
    return json_response(list_body(items, next_cursor))


@router.post("/{stream_id}/dead-letters/redrive")
async def redrive_dead_letters(
    request: Request, domain_id: str, stream_id: str, principal: AdminKey
) -> Response:
    """Queue the selected dead letters again: ``ids``, a ``from``/``to`` range, or ``all``."""
    deliveries = await _delivery_service(request, domain_id, principal)
    body = await read_json_object(request)
    return json_response(await deliveries.redrive(domain_id, stream_id, body))


@router.post("/{stream_id}/dead-letters/delete")
async def delete_dead_letters(
    request: Request, domain_id: str, stream_id: str, principal: AdminKey
) -> Response:
    """Delete the selected dead letters: ``ids``, a ``from``/``to`` range, or ``all``."""
    deliveries = await _delivery_service(request, domain_id, principal)
    body = await read_json_object(request)
    return json_response(await deliveries.delete_dead_letters(domain_id, stream_id, body))


@router.post("/{stream_id}/replay", status_code=202)
async def replay(request: Request, domain_id: str, stream_id: str, principal: AdminKey) -> Response:
    """Queue the stored events with ``from <= time < to`` through the stream's current filters."""
    deliveries = await _delivery_service(request, domain_id, principal)
    body = await read_json_object(request)
    return json_response(await deliveries.replay(domain_id, stream_id, body), 202)


@router.post("/{stream_id}/signing-secret")
async def rotate_signing_secret(
    request: Request, domain_id: str, stream_id: str, principal: AdminKey
) -> Response:
    """Generate a new signing secret, returned only in this response.

    The previous secret stays valid for 24 hours, during which requests carry both
    signatures.
    """
    await _delivery_service(request, domain_id, principal)
    streams = runtime_of(request).streams(actor=f"apiKey:{principal.key_id}")

    stream, secret = await streams.rotate_signing_secret(domain_id, stream_id)

    # The running dispatcher still signs with the old secret alone. It is replaced
    # before the response, so every request sent after it carries the new signature.
    await runtime_of(request).apply_stream_changes()
    return json_response({"signingSecret": secret, "stream": stream})


async def _delivery_service(
    request: Request, domain_id: str, principal: Principal
) -> DeliveryService:
    scope = await authenticator_of(request).scope(principal.domain_id)
    if domain_id not in scope:
        raise NotFound(f"domain {domain_id!r} not found")
    return runtime_of(request).deliveries(actor=f"apiKey:{principal.key_id}")


def _dead_letter_cursor(after: str | None) -> int | None:
    if after is None:
        return None
    if not after.isdigit():
        raise ValidationError(fields=[FieldError("cursor", after, "is not a valid cursor")])
    return int(after)
