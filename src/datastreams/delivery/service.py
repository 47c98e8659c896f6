"""Delivery operations of one stream, shared by the HTTP API and the command line.

Status and statistics, the latest attempts, dead letters (list, redrive, delete),
replay of stored events, and the Test action. Every method takes the stream's domain
and id, so callers check a key's scope once and pass the ids on.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from datastreams.delivery.dispatcher import STATE_DISABLED
from datastreams.delivery.probe import run_probe
from datastreams.delivery.sinks import SinkOptions
from datastreams.errors import FieldError, ValidationError
from datastreams.events.timefmt import epoch_seconds, format_time, parse_time
from datastreams.filters import compile_filters, filters_from_config
from datastreams.store.records import DeadLetter, Selection, StreamRecord
from datastreams.streams.model import parse_stream_body
from datastreams.streams.service import StreamService

MAX_ATTEMPTS_LIMIT = 200
MAX_STATS_MINUTES = 24 * 60
DEFAULT_STATS_MINUTES = 60


class DeliveryService:
    """Operations an administrator runs on one stream's deliveries."""

    def __init__(self, store: Any, streams: StreamService, sink_options: SinkOptions) -> None:
        self._store = store
        self._streams = streams
        self._sink_options = sink_options

    async def status(self, domain_id: str, stream_id: str) -> dict[str, Any]:
        stream = await self._store.get_stream(domain_id, stream_id)
        status = await self._store.stream_status(stream_id)

        oldest_age = None
        if status.oldest_queued_at is not None:
            oldest_age = round(max(0.0, time.time() - epoch_seconds(status.oldest_queued_at)), 3)

        return {
            "state": status.state if stream.enabled else STATE_DISABLED,
            "queueDepth": status.queue_depth,
            "oldestQueuedAgeSeconds": oldest_age,
            "delivered": status.delivered,
            "failed": status.failed,
            "deadLetters": status.dead_letters,
            "lastError": status.last_error,
            "lastDeliveredAt": status.last_delivered_at,
        }

    async def attempts(self, domain_id: str, stream_id: str, limit: int) -> dict[str, Any]:
        _check_range("limit", limit, 1, MAX_ATTEMPTS_LIMIT)
        await self._store.get_stream(domain_id, stream_id)

        attempts = await self._store.list_attempts(stream_id, limit)
        return {
            "items": [
                {
                    "at": attempt.at,
                    "outcome": attempt.outcome,
                    "records": attempt.records,
                    "endpoint": attempt.endpoint,
                    "status": attempt.status,
                    "errorCode": attempt.error_code,
                    "message": attempt.message,
                    "latencyMs": round(attempt.latency_ms, 1),
                }
                for attempt in attempts
            ],
            # The latest attempts are one page by design; the member keeps the list shape.
            "nextCursor": None,
        }

    async def stats(self, domain_id: str, stream_id: str, minutes: int) -> dict[str, Any]:
        """Return delivered and failed events per minute, one item for every minute."""
        _check_range("minutes", minutes, 1, MAX_STATS_MINUTES)
        await self._store.get_stream(domain_id, stream_id)

        now = datetime.now(UTC).replace(second=0, microsecond=0)
        first = now - timedelta(minutes=minutes - 1)
        rows = await self._store.minute_stats(stream_id, format_time(first))
        by_minute = {row.minute[:16]: row for row in rows}

        items = []
        for offset in range(minutes):
            minute = first + timedelta(minutes=offset)
            key = minute.strftime("%Y-%m-%dT%H:%M")
            row = by_minute.get(key)
            items.append(
                {
                    "minute": key + ":00Z",
                    "delivered": row.delivered if row else 0,
                    "failed": row.failed if row else 0,
                }
            )
        return {"minutes": minutes, "items": items}

    async def dead_letters(
        self, domain_id: str, stream_id: str, *, limit: int, after: int | None
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Return a page of dead letters and the id the next page starts after (or ``None``)."""
        await self._store.get_stream(domain_id, stream_id)

        rows = await self._store.list_dead_letters(stream_id, limit=limit + 1, after=after)
        page = rows[:limit]
        next_after = page[-1].id if len(rows) > limit else None
        return [dead_letter_to_api(row) for row in page], next_after

    async def redrive(self, domain_id: str, stream_id: str, body: Any) -> dict[str, int]:
        selection = parse_selection(body)
        await self._store.get_stream(domain_id, stream_id)
        return {"queued": await self._store.redrive_dead_letters(stream_id, selection)}

    async def delete_dead_letters(
        self, domain_id: str, stream_id: str, body: Any
    ) -> dict[str, int]:
        selection = parse_selection(body)
        await self._store.get_stream(domain_id, stream_id)
        return {"deleted": await self._store.delete_dead_letters(stream_id, selection)}

    async def replay(self, domain_id: str, stream_id: str, body: Any) -> dict[str, int]:
        """Queue the stored events of a time range through the stream's current filters."""
        if isinstance(body, dict):
            unknown = sorted(set(body) - {"from", "to"})
            if unknown:
                raise ValidationError(
                    fields=[
                        FieldError(name, body[name], "is not a known member") for name in unknown
                    ]
                )
        from_time, to_time = _parse_range(body, required=True)
        stream = await self._store.get_stream(domain_id, stream_id)

        filters = compile_filters(filters_from_config(stream.config.get("filters") or []))
        assert from_time is not None and to_time is not None
        queued = await self._store.replay(stream_id, from_time, to_time, filters.matches)
        return {"queued": queued}

    async def test_saved(self, domain_id: str, stream_id: str) -> dict[str, Any]:
        """Send a probe through a saved stream's configuration."""
        stream = await self._store.get_stream(domain_id, stream_id)
        return await run_probe(stream, self._streams.read_secrets(stream), self._sink_options)

    async def test_body(self, domain_id: str, body: Any) -> dict[str, Any]:
        """Send a probe through a configuration in a request body, saved or not.

        With an ``id``, secrets the body leaves out come from the saved stream, and
        ``version`` may be left out.
        """
        domain = await self._store.get_domain(domain_id)
        current: StreamRecord | None = None
        if isinstance(body, dict) and body.get("id"):
            current = await self._store.get_stream(domain_id, str(body["id"]))
            body = {**body}
            body.setdefault("version", current.version)

        draft = parse_stream_body(
            body,
            domain=domain,
            current=current,
            current_secrets=self._streams.read_secrets(current) if current else None,
            is_known_type=lambda _name: True,
            strict_event_types=False,
        )
        await self._streams.check_endpoints(draft)

        stream = StreamRecord(
            id=current.id if current else "",
            domain_id=domain.id,
            type=draft.type,
            name=draft.name,
            description=draft.description,
            enabled=draft.enabled,
            version=current.version if current else 0,
            config=draft.config,
        )
        secrets = draft.secrets or {"headers": {}, "signingSecret": None}
        return await run_probe(stream, secrets, self._sink_options)


def dead_letter_to_api(row: DeadLetter) -> dict[str, Any]:
    return {
        "id": row.id,
        "guid": row.guid,
        "domainId": row.domain_id,
        "type": row.type,
        "time": row.time,
        "error": row.error,
        "attempts": row.attempts,
        "queuedAt": row.queued_at,
        "deadAt": row.dead_at,
        # The stored line is sent as it is, so numbers keep their text.
        "event": orjson.Fragment(row.line),
    }


def parse_selection(body: Any) -> Selection:
    """Read exactly one of ``{"ids": [...]}``, ``{"from": t, "to": t}`` or ``{"all": true}``."""
    if not isinstance(body, dict):
        raise ValidationError(fields=[FieldError("body", None, "must be a JSON object")])

    unknown = sorted(set(body) - {"ids", "from", "to", "all"})
    if unknown:
        raise ValidationError(
            fields=[FieldError(name, body[name], "is not a known member") for name in unknown]
        )

    given = [name for name in ("ids", "range", "all") if _selects(body, name)]
    if len(given) != 1:
        raise ValidationError(
            fields=[
                FieldError(
                    "body",
                    None,
                    'must contain exactly one of {"ids": [...]}, {"from": t, "to": t} '
                    'or {"all": true}',
                )
            ]
        )

    if given[0] == "ids":
        ids = body["ids"]
        if not isinstance(ids, list) or not ids or len(ids) > 10_000:
            raise ValidationError(
                fields=[FieldError("ids", ids, "must be a list of 1 to 10000 dead letter ids")]
            )
        for index, value in enumerate(ids):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValidationError(
                    fields=[FieldError(f"ids[{index}]", value, "must be an integer id")]
                )
        return Selection(ids=tuple(ids))

    if given[0] == "all":
        if body["all"] is not True:
            raise ValidationError(fields=[FieldError("all", body["all"], "must be true")])
        return Selection(all=True)

    from_time, to_time = _parse_range(body, required=True)
    return Selection(from_time=from_time, to_time=to_time)


def _selects(body: dict[str, Any], name: str) -> bool:
    if name == "range":
        return "from" in body or "to" in body
    return name in body


def _parse_range(body: Any, *, required: bool) -> tuple[str | None, str | None]:
    if not isinstance(body, dict):
        raise ValidationError(fields=[FieldError("body", None, "must be a JSON object")])

    errors: list[FieldError] = []
    times: dict[str, str | None] = {}
    for member in ("from", "to"):
        raw = body.get(member)
        times[member] = None
        if raw is None:
            if required:
                errors.append(FieldError(member, None, "is required: an ISO 8601 time with a zone"))
            continue
        if not isinstance(raw, str):
            errors.append(FieldError(member, raw, "must be a string: an ISO 8601 time with a zone"))
            continue
        try:
            times[member] = parse_time(raw)
        except ValueError as exc:
            errors.append(FieldError(member, raw, str(exc)))

    if not errors and times["from"] and times["to"] and times["from"] >= times["to"]:
        errors.append(FieldError("to", body.get("to"), "must be later than from"))
    if errors:
        raise ValidationError(fields=errors)
    return times["from"], times["to"]


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(
            fields=[FieldError(name, value, f"must be an integer from {low} to {high}")]
        )
