"""Conversion between SQLite rows and the store's records."""

from __future__ import annotations

import sqlite3
from typing import Any, cast

import orjson

from datastreams.store.records import (
    ApiKeyRecord,
    ApiKeyRole,
    AttemptRecord,
    DeadLetter,
    Domain,
    MinuteStats,
    StoredEvent,
    StreamRecord,
    StreamStatus,
)


def domain_from_row(row: sqlite3.Row) -> Domain:
    return Domain(
        id=row["id"],
        name=row["name"],
        parent_id=row["parent_id"],
        external_id=row["external_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def api_key_from_row(row: sqlite3.Row) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=row["id"],
        role=cast(ApiKeyRole, row["role"]),
        domain_id=row["domain_id"],
        key_hash=row["key_hash"],
        prefix=row["prefix"],
        name=row["name"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )


def stream_from_row(row: sqlite3.Row) -> StreamRecord:
    return StreamRecord(
        id=row["id"],
        domain_id=row["domain_id"],
        type=row["type"],
        name=row["name"],
        description=row["description"],
        enabled=bool(row["enabled"]),
        version=row["version"],
        config=orjson.loads(row["config"]),
        secrets=row["secrets"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def stream_params(stream: StreamRecord) -> dict[str, Any]:
    return {
        "id": stream.id,
        "domain_id": stream.domain_id,
        "type": stream.type,
        "name": stream.name,
        "description": stream.description,
        "enabled": int(stream.enabled),
        "version": stream.version,
        # Stored as text so that SQLite's JSON functions can read it.
        "config": orjson.dumps(stream.config).decode("utf-8"),
        "secrets": stream.secrets,
        "created_at": stream.created_at,
        "updated_at": stream.updated_at,
    }


def stored_event_from_row(row: sqlite3.Row) -> StoredEvent:
    return StoredEvent(
        seq=row["seq"],
        guid=row["guid"],
        domain_id=row["domain_id"],
        type=row["type"],
        time=row["time"],
        received_at=row["received_at"],
        line=bytes(row["line"]),
    )


def attempt_from_row(row: sqlite3.Row) -> AttemptRecord:
    return AttemptRecord(
        at=row["at"],
        outcome=row["outcome"],
        records=row["records"],
        endpoint=row["endpoint"],
        status=row["status"],
        error_code=row["error_code"],
        message=row["message"],
        latency_ms=row["latency_ms"],
    )


def attempt_params(stream_id: str, attempt: AttemptRecord) -> dict[str, Any]:
    return {
        "stream_id": stream_id,
        "at": attempt.at,
        "outcome": attempt.outcome,
        "records": attempt.records,
        "endpoint": attempt.endpoint,
        "status": attempt.status,
        "error_code": attempt.error_code,
        "message": attempt.message,
        "latency_ms": attempt.latency_ms,
    }


def minute_stats_from_row(row: sqlite3.Row) -> MinuteStats:
    return MinuteStats(minute=row["minute"], delivered=row["delivered"], failed=row["failed"])


def stream_status_from_row(row: sqlite3.Row) -> StreamStatus:
    return StreamStatus(
        state=row["state"],
        queue_depth=row["queue_depth"],
        oldest_queued_at=row["oldest_queued_at"],
        delivered=row["delivered"],
        failed=row["failed"],
        dead_letters=row["dead_letters"],
        last_error=row["last_error"],
        last_delivered_at=row["last_delivered_at"],
    )


def dead_letter_from_row(row: sqlite3.Row) -> DeadLetter:
    return DeadLetter(
        id=row["id"],
        stream_id=row["stream_id"],
        seq=row["seq"],
        guid=row["guid"],
        domain_id=row["domain_id"],
        type=row["type"],
        time=row["time"],
        line=bytes(row["line"]),
        error=row["error"],
        attempts=row["attempts"],
        queued_at=row["queued_at"],
        dead_at=row["dead_at"],
    )
