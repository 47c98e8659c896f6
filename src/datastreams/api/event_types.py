"""Route ``/api/v1/event-types``: the event catalogue, readable with a key of any role."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from datastreams.api.auth import AnyKey, runtime_of
from datastreams.api.bodies import json_response

router = APIRouter(prefix="/api/v1/event-types", tags=["event types"])


@router.get("")
async def list_event_types(request: Request, principal: AnyKey) -> Response:
    """List every event type of the catalogue with the JSON Schema of its ``data``."""
    catalogue = runtime_of(request).catalogue
    items = [event_type.to_api() for event_type in catalogue]
    # The whole catalogue is one page; ``nextCursor`` keeps the shape of every list.
    return json_response({"items": items, "nextCursor": None})
