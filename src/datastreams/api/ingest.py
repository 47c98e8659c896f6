"""Route ``POST /api/v1/events``: producers publish events, one, an array, or NDJSON.

Each item is accepted, recognised as a duplicate of a stored guid, or rejected with
the field, value and reason, and one bad item never rejects its neighbours. The
response is 202 when at least one item was accepted or already stored, else 422, and
in both cases lists every item in input order.

This route carries the service's whole event load, so it avoids per-event overhead:
the raw body is parsed once by ``parse_ingest_body`` (no pydantic models), the key's
scope is a cached set, and the response is encoded by orjson.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from datastreams.api.auth import ProducerKey, authenticator_of, runtime_of
from datastreams.api.bodies import json_response, read_body
from datastreams.api.errors import error_body
from datastreams.errors import FieldError
from datastreams.events.container import Event
from datastreams.events.parse_pool import ParsedItems
from datastreams.events.parsing import ItemRejected, body_format_of, parse_ingest_body
from datastreams.metrics import Metrics
from datastreams.service import Runtime

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/events", tags=["events"])


@router.post("", status_code=202)
async def ingest_events(request: Request, principal: ProducerKey) -> Response:
    """Validate and store events; the module docstring describes the response."""
    runtime = runtime_of(request)
    settings = runtime.settings

    # The content type is checked before the body is read, so a wrong one costs nothing.
    content_type = request.headers.get("content-type")
    body_format_of(content_type)
    body = await read_body(request, settings.max_body_bytes)
    parsed = await _parse(runtime, body, content_type)
    scope = await authenticator_of(request).scope(principal.domain_id)

    # One result per item, in input order. Accepted events get their final status,
    # guid and time from the store's outcome.
    item_results: list[dict[str, Any]] = []
    pending_events: list[Event] = []
    pending_results: list[dict[str, Any]] = []
    for item in parsed:
        if isinstance(item, ItemRejected):
            item_results.append(_rejected(item.index, item.error, item.guid))
            continue

        event = item.event
        if event.domain_id not in scope:
            # The same reason for an unknown domain and another tenant's domain.
            error = FieldError("domainId", event.domain_id, "unknown domain")
            known_guid = None if item.guid_assigned else event.guid
            item_results.append(_rejected(item.index, error, known_guid))
        else:
            item_result: dict[str, Any] = {"index": item.index, "status": "accepted"}
            item_results.append(item_result)
            pending_events.append(event)
            pending_results.append(item_result)

    if pending_events:
        outcomes = await runtime.store.append_events(pending_events)
        for item_result, outcome in zip(pending_results, outcomes, strict=True):
            item_result["status"] = outcome.status
            item_result["guid"] = outcome.guid
            item_result["time"] = outcome.time

    return _summary_response(item_results, runtime.metrics)


async def _parse(runtime: Runtime, body: bytes, content_type: str | None) -> ParsedItems:
    settings = runtime.settings
    if runtime.parse_pool is not None:
        return await runtime.parse_pool.parse(
            body,
            content_type,
            max_event_bytes=settings.max_event_bytes,
            max_items=settings.max_batch_items,
        )

    # NOTE: without ingest workers, parsing runs on the event loop, so a body near the
    # size limit delays other requests while it is parsed.
    return parse_ingest_body(
        body,
        content_type,
        max_event_bytes=settings.max_event_bytes,
        max_items=settings.max_batch_items,
        is_known_type=runtime.is_known_type if settings.strict_event_types else None,
    )


def _rejected(index: int, error: FieldError, guid: str | None) -> dict[str, Any]:
    item_result: dict[str, Any] = {"index": index, "status": "rejected"}
    if guid is not None:
        item_result["guid"] = guid
    item_result["error"] = error.as_dict()
    return item_result


def _summary_response(item_results: list[dict[str, Any]], metrics: Metrics) -> Response:
    accepted = duplicates = rejected = 0
    for item_result in item_results:
        status = item_result["status"]
        if status == "accepted":
            accepted += 1
        elif status == "duplicate":
            duplicates += 1
        else:
            rejected += 1

    metrics.record_ingest(accepted, duplicates, rejected)
    summary: dict[str, Any] = {
        "accepted": accepted,
        "duplicates": duplicates,
        "rejected": rejected,
        "items": item_results,
    }
    if accepted or duplicates:
        logger.debug(
            "Stored %d events (%d duplicates, %d rejected)",
            accepted,
            duplicates,
            rejected,
            extra={"action": "events_ingested", "accepted": accepted, "rejected": rejected},
        )
        return json_response(summary, 202)

    # Nothing was stored, so the response is a 4xx and also has the shared error
    # member, next to the per-item results a client needs to fix its events.
    message = f"all {rejected} events were rejected"
    fields = [_item_field_error(item_result) for item_result in item_results]
    summary.update(error_body("events_rejected", message, fields))
    return json_response(summary, 422)


def _item_field_error(item_result: dict[str, Any]) -> FieldError:
    error = item_result["error"]
    path = f"[{item_result['index']}]"
    if error["field"]:
        path += f".{error['field']}"
    return FieldError(path, error["value"], error["message"])
