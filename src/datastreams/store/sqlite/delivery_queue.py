"""Writes of the delivery side: dispatcher outcomes, stream states, dead letters, replays.

Runs on the writer thread, inside a transaction the caller opened, like the
appender. Each method takes the connection last, so the store can hand it to the
writer with ``functools.partial``.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

import orjson

from datastreams.errors import FieldError, NotFound, ValidationError
from datastreams.store.base import MAX_ATTEMPTS_KEPT
from datastreams.store.records import DeliveryOutcome, Selection
from datastreams.store.sqlite.appender import EventAppender
from datastreams.store.sqlite.rows import attempt_params

logger = logging.getLogger(__name__)

# Per-minute counts older than this, measured from the newest outcome of the stream,
# are deleted when the stream records its next outcome.
MINUTE_STATS_KEPT = timedelta(days=7)

SelectionKind = Literal["by_ids", "in_range", "all"]


def minute_of(canonical_time: str) -> str:
    """Return the minute of a canonical time, such as ``2024-01-01T10:05:00Z``."""
    return canonical_time[:16] + ":00Z"


def selection_query(
    stream_id: str, selection: Selection, limit: int
) -> tuple[SelectionKind, dict[str, Any]]:
    """Return the kind of a dead letter selection and its query parameters.

    The kind names the query variant (``select_dead_letters_<kind>`` and
    ``delete_dead_letters_<kind>``). Raises ``ValidationError`` unless the selection
    gives exactly one of ids, a time range, or all.
    """
    kinds_given: list[FieldError] = []
    if selection.ids is not None:
        kinds_given.append(FieldError("ids", list(selection.ids), "selects dead letters by id"))
    if selection.from_time is not None or selection.to_time is not None:
        kinds_given.append(FieldError("from", selection.from_time, "selects dead letters by time"))
    if selection.all:
        kinds_given.append(FieldError("all", True, "selects every dead letter"))

    if not kinds_given:
        raise ValidationError(
            fields=[FieldError("all", False, "give ids, a time range (from, to) or all: true")]
        )
    if len(kinds_given) > 1:
        first, second = kinds_given[0], kinds_given[1]
        raise ValidationError(
            fields=[
                FieldError(second.field, second.value, f"cannot be combined with {first.field}")
            ]
        )

    params: dict[str, Any] = {"stream_id": stream_id, "limit": limit}
    if selection.ids is not None:
        # Text, not bytes: SQLite 3.45 and later read a BLOB parameter as binary JSONB.
        params["ids"] = orjson.dumps(list(selection.ids)).decode("utf-8")
        return "by_ids", params
    if selection.all:
        return "all", params

    params["from_time"] = selection.from_time
    params["to_time"] = selection.to_time
    return "in_range", params


class DeliveryQueue:
    """Changes the stream queues and what the dispatchers record about them.

    Deliveries it queues (replays, redrives) are noted with the appender, so the
    writer announces them after the commit like appended events.
    """

    def __init__(
        self, queries: Mapping[str, str], appender: EventAppender, now: Callable[[], str]
    ) -> None:
        self._queries = queries
        self._appender = appender
        self._now = now

    def record_outcome(self, outcome: DeliveryOutcome, connection: sqlite3.Connection) -> bool:
        """Write one dispatcher round. Returns ``False`` when the stream no longer exists.

        A deleted stream took its queue with it (ON DELETE CASCADE), so nothing
        of the round is left to write.
        """
        stream_id = outcome.stream_id
        if not self._stream_exists(connection, stream_id):
            return False

        self._remove_from_queue(connection, stream_id, outcome.delivered)
        self._remove_from_queue(connection, stream_id, outcome.skipped)
        self._move_to_dead_letters(connection, stream_id, outcome.dead, outcome.at)
        self._mark_retried(connection, stream_id, outcome.retry, outcome.retry_error)
        self._insert_attempts(connection, outcome)
        self._add_minute_stats(connection, outcome)
        self._update_status(connection, outcome)
        return True

    def set_state(
        self,
        stream_id: str,
        state: str,
        error: str | None,
        connection: sqlite3.Connection,
    ) -> None:
        """Store a stream's state, and its last error unless ``error`` is ``None``.

        An unknown stream (deleted meanwhile) is ignored.
        """
        params = {
            "stream_id": stream_id,
            "state": state,
            "last_error": error,
            "updated_at": self._now(),
        }
        connection.execute(self._queries["set_stream_state"], params)

    def redrive_chunk(
        self,
        kind: SelectionKind,
        params: dict[str, Any],
        connection: sqlite3.Connection,
    ) -> tuple[int, int]:
        """Queue the first ``params["limit"]`` selected dead letters again and delete them.

        Returns the number of deliveries queued and of dead letters selected. An
        event that retention deleted is restored from the dead letter's copy. A dead
        letter whose event is already queued is deleted without queueing it twice.
        """
        stream_id = params["stream_id"]
        rows = connection.execute(self._queries[f"select_dead_letters_{kind}"], params).fetchall()
        if not rows:
            return 0, 0

        ids = [{"id": row["id"]} for row in rows]
        connection.executemany(self._queries["restore_dead_letter_event"], ids)

        queued_at = self._now()
        queue_rows = [
            {"stream_id": stream_id, "queued_at": queued_at, "guid": row["guid"]} for row in rows
        ]
        queued = connection.executemany(self._queries["queue_event_by_guid"], queue_rows).rowcount

        connection.executemany(self._queries["delete_dead_letter"], ids)
        if queued:
            self._appender.note_queued([stream_id])
        return queued, len(rows)

    def delete_chunk(
        self,
        kind: SelectionKind,
        params: dict[str, Any],
        connection: sqlite3.Connection,
    ) -> int:
        """Delete the first ``params["limit"]`` selected dead letters and return how many."""
        cursor = connection.execute(self._queries[f"delete_dead_letters_{kind}"], params)
        return cursor.rowcount

    def queue_replay(
        self, stream_id: str, seqs: Sequence[int], connection: sqlite3.Connection
    ) -> int:
        """Queue the events ``seqs`` for the stream and return how many were not queued yet.

        ``NotFound`` when the stream was deleted since the replay started.
        """
        if not self._stream_exists(connection, stream_id):
            raise NotFound(f"stream {stream_id!r} not found")

        queued_at = self._now()
        rows = [{"stream_id": stream_id, "queued_at": queued_at, "seq": seq} for seq in seqs]
        queued = connection.executemany(self._queries["queue_event_by_seq"], rows).rowcount

        if queued:
            self._appender.note_queued([stream_id])
        return queued

    # Steps of record_outcome ---------------------------------------------------------

    def _stream_exists(self, connection: sqlite3.Connection, stream_id: str) -> bool:
        row = connection.execute(self._queries["stream_id_exists"], {"id": stream_id}).fetchone()
        return bool(row[0])

    def _remove_from_queue(
        self, connection: sqlite3.Connection, stream_id: str, seqs: Sequence[int]
    ) -> None:
        if not seqs:
            return
        params = {"stream_id": stream_id, "seqs": orjson.dumps(list(seqs)).decode("ascii")}
        connection.execute(self._queries["delete_deliveries"], params)

    def _move_to_dead_letters(
        self,
        connection: sqlite3.Connection,
        stream_id: str,
        dead: Mapping[int, str],
        dead_at: str,
    ) -> None:
        if not dead:
            return

        rows = [
            {"stream_id": stream_id, "seq": seq, "error": error, "dead_at": dead_at}
            for seq, error in dead.items()
        ]
        connection.executemany(self._queries["insert_dead_letter"], rows)
        connection.executemany(self._queries["delete_delivery"], rows)

    def _mark_retried(
        self,
        connection: sqlite3.Connection,
        stream_id: str,
        seqs: Sequence[int],
        error: str | None,
    ) -> None:
        if not seqs:
            return
        rows = [{"stream_id": stream_id, "seq": seq, "error": error} for seq in seqs]
        connection.executemany(self._queries["retry_delivery"], rows)

    def _insert_attempts(self, connection: sqlite3.Connection, outcome: DeliveryOutcome) -> None:
        if not outcome.attempts:
            return

        rows = [attempt_params(outcome.stream_id, attempt) for attempt in outcome.attempts]
        connection.executemany(self._queries["insert_attempt"], rows)
        connection.execute(
            self._queries["trim_attempts"],
            {"stream_id": outcome.stream_id, "keep": MAX_ATTEMPTS_KEPT},
        )

    def _add_minute_stats(self, connection: sqlite3.Connection, outcome: DeliveryOutcome) -> None:
        # A seek on the primary key, cheap enough to run with every outcome.
        connection.execute(
            self._queries["trim_minute_stats"],
            {"stream_id": outcome.stream_id, "before": _minute_stats_cutoff(outcome.at)},
        )

        failed = len(outcome.retry) + len(outcome.dead)
        if not outcome.delivered and not failed:
            return

        params = {
            "stream_id": outcome.stream_id,
            "minute": minute_of(outcome.at),
            "delivered": len(outcome.delivered),
            "failed": failed,
        }
        connection.execute(self._queries["add_minute_stats"], params)

    def _update_status(self, connection: sqlite3.Connection, outcome: DeliveryOutcome) -> None:
        # The retry error describes the stream's current trouble, so it wins over the
        # reason of a dead letter. With neither, the stored error stays.
        last_error = outcome.retry_error
        if last_error is None and outcome.dead:
            last_error = next(reversed(outcome.dead.values()))

        params = {
            "stream_id": outcome.stream_id,
            "state": outcome.state,
            "last_error": last_error,
            "last_delivered_at": outcome.at if outcome.delivered else None,
            "delivered": len(outcome.delivered),
            "failed": len(outcome.retry) + len(outcome.dead),
            "updated_at": self._now(),
        }
        connection.execute(self._queries["record_stream_status"], params)


def _minute_stats_cutoff(canonical_time: str) -> str:
    moment = datetime.fromisoformat(canonical_time[:19])
    return (moment - MINUTE_STATS_KEPT).isoformat(timespec="minutes") + ":00Z"
