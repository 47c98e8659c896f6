"""The SQLite implementation of the ``Store`` and ``DeliveryStore`` protocols.

The store is one database file in WAL mode.

Reads run on worker threads (``asyncio.to_thread``) with pooled read-only
connections. Every write runs on the single writer thread (see ``writer``), which
commits concurrent appends together. Several processes may open the same file, for
example a running service and the command line. SQLite's locks serialise their
writes, and a change of the configuration epoch makes the service reload its routing.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from functools import cache, partial
from typing import Any, TypeVar

import orjson

from datastreams.errors import Conflict, FieldError, NotFound, StoreError, ValidationError
from datastreams.events.container import Event
from datastreams.events.timefmt import now_time
from datastreams.store.queries import load_queries
from datastreams.store.records import (
    ApiKeyRecord,
    AppendOutcome,
    AttemptRecord,
    DeadLetter,
    DeliveryOutcome,
    Domain,
    MinuteStats,
    QueuedDelivery,
    Selection,
    StoredEvent,
    StreamRecord,
    StreamStatus,
)
from datastreams.store.sqlite.appender import EventAppender
from datastreams.store.sqlite.checkpointer import Checkpointer, disable_automatic_checkpoint
from datastreams.store.sqlite.connection import ReadPool, connect, enable_wal, translate_error
from datastreams.store.sqlite.delivery_queue import DeliveryQueue, minute_of, selection_query
from datastreams.store.sqlite.migrations import apply_migrations
from datastreams.store.sqlite.rows import (
    api_key_from_row,
    attempt_from_row,
    dead_letter_from_row,
    domain_from_row,
    minute_stats_from_row,
    stored_event_from_row,
    stream_from_row,
    stream_params,
    stream_status_from_row,
)
from datastreams.store.sqlite.writer import Writer, WriterStats

logger = logging.getLogger(__name__)

T = TypeVar("T")

QUERIES = load_queries("sqlite_queries.sql")

# Events deleted per retention transaction, so ingest waits at most one chunk.
PURGE_CHUNK_ROWS = 10_000

# Seqs of the log one replay step reads, so a replay transaction queues at most this
# many deliveries and ingest waits for at most one step.
REPLAY_CHUNK_ROWS = 10_000

# Dead letters redriven or deleted per transaction. Smaller than the other chunks
# because a redrive may copy each event's line back into the log.
DEAD_LETTER_CHUNK_ROWS = 1_000

AppendListener = Callable[[set[str]], None]


class SQLiteStore:
    """Domains, keys, streams, the event log and the delivery queues in one SQLite file."""

    purge_chunk_rows = PURGE_CHUNK_ROWS
    replay_chunk_rows = REPLAY_CHUNK_ROWS
    dead_letter_chunk_rows = DEAD_LETTER_CHUNK_ROWS

    def __init__(self, path: str, *, now: Callable[[], str] | None = None) -> None:
        self.path = path
        self._now = now or now_time
        self._appender = EventAppender(QUERIES, self._now)
        self._delivery_queue = DeliveryQueue(QUERIES, self._appender, self._now)
        self._append_listeners: list[tuple[asyncio.AbstractEventLoop, AppendListener]] = []
        self._writer: Writer | None = None
        self._checkpointer: Checkpointer | None = None
        self._readers: ReadPool | None = None

    @property
    def stats(self) -> WriterStats:
        """Counters of the writer thread (commits, groups), all zero before ``open``."""
        return self._writer.stats if self._writer is not None else WriterStats()

    async def open(self) -> None:
        """Create the file if needed, apply pending migrations and start the writer thread."""
        if self._writer is not None:
            return

        await asyncio.to_thread(self._prepare_database)

        checkpointer = Checkpointer(partial(connect, self.path))
        writer = Writer(
            partial(_writer_connection, self.path),
            self._appender,
            on_queued=self._schedule_listeners,
            on_commit=checkpointer.committed,
        )
        await writer.start()
        checkpointer.start()
        self._writer = writer
        self._checkpointer = checkpointer
        self._readers = ReadPool(self.path)
        logger.info("Opened the SQLite store %s", self.path, extra={"action": "store_opened"})

    async def close(self) -> None:
        """Finish the writes queued so far, then close every connection."""
        writer, checkpointer, readers = self._writer, self._checkpointer, self._readers
        self._writer = None
        self._checkpointer = None
        self._readers = None

        if writer is not None:
            await writer.close()
        if checkpointer is not None:
            await asyncio.to_thread(checkpointer.close)
        if readers is not None:
            readers.close()

    # Domains ---------------------------------------------------------------------

    async def create_domain(self, domain: Domain) -> Domain:
        """Insert a domain. The store sets its times, and its external id when that is empty."""
        return await self._write(partial(self._insert_domain, domain))

    async def get_domain(self, domain_id: str) -> Domain:
        row = await self._read(partial(_fetch_one, "get_domain", {"id": domain_id}))
        if row is None:
            raise NotFound(f"domain {domain_id!r} not found")
        return domain_from_row(row)

    async def list_domains(
        self, *, within: Sequence[str] | None = None, limit: int = 100, after: str | None = None
    ) -> list[Domain]:
        if within is None:
            query, params = "list_domains", {"limit": limit, "after": after}
        else:
            query = "list_domains_within"
            params = {"limit": limit, "after": after, "root_ids": _json_list(within)}

        rows = await self._read(partial(_fetch_all, query, params))
        return [domain_from_row(row) for row in rows]

    async def update_domain(self, domain: Domain) -> Domain:
        """Change a domain's name and parent. Its external id and creation time stay."""
        return await self._write(partial(self._update_domain, domain))

    async def delete_domain(self, domain_id: str) -> None:
        await self._write(partial(self._delete_domain, domain_id))

    async def is_within(self, domain_id: str, root_ids: Sequence[str]) -> bool:
        params = {"domain_id": domain_id, "root_ids": _json_list(root_ids)}
        row = await self._read(partial(_fetch_one, "is_within", params))
        return row is not None and bool(row[0])

    # API keys --------------------------------------------------------------------

    async def create_api_key(self, key: ApiKeyRecord) -> ApiKeyRecord:
        """Insert a key record. The store sets its creation time."""
        return await self._write(partial(self._insert_api_key, key))

    async def find_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        row = await self._read(partial(_fetch_one, "find_api_key", {"key_hash": key_hash}))
        return api_key_from_row(row) if row is not None else None

    async def list_api_keys(
        self, *, within: Sequence[str] | None = None, limit: int = 100, after: str | None = None
    ) -> list[ApiKeyRecord]:
        if within is None:
            query, params = "list_api_keys", {"limit": limit, "after": after}
        else:
            query = "list_api_keys_within"
            params = {"limit": limit, "after": after, "root_ids": _json_list(within)}

        rows = await self._read(partial(_fetch_all, query, params))
        return [api_key_from_row(row) for row in rows]

    async def revoke_api_key(self, key_id: str) -> ApiKeyRecord:
        """Mark a key revoked. Revoking it again keeps the first revocation time."""
        return await self._write(partial(self._revoke_api_key, key_id))

    # Streams ---------------------------------------------------------------------

    async def create_stream(self, stream: StreamRecord, audit_event: Event) -> StreamRecord:
        """Insert a stream at version 1 and append ``audit_event`` in the same transaction.

        The audit event is routed with the new stream in place, so the stream receives
        its own creation event when its filters let it through.
        """
        return await self._write(partial(self._insert_stream, stream, audit_event))

    async def get_stream(self, domain_id: str, stream_id: str) -> StreamRecord:
        params = {"domain_id": domain_id, "id": stream_id}
        row = await self._read(partial(_fetch_one, "get_stream", params))
        if row is None:
            raise NotFound(f"stream {stream_id!r} not found in domain {domain_id!r}")
        return stream_from_row(row)

    async def list_streams(
        self, domain_id: str | None = None, *, limit: int = 100, after: str | None = None
    ) -> list[StreamRecord]:
        params: dict[str, Any] = {"limit": limit, "after": after}
        if domain_id is None:
            query = "list_streams"
        else:
            query = "list_streams_of_domain"
            params["domain_id"] = domain_id

        rows = await self._read(partial(_fetch_all, query, params))
        return [stream_from_row(row) for row in rows]

    async def update_stream(
        self, stream: StreamRecord, expected_version: int, audit_event: Event
    ) -> StreamRecord:
        """Replace a stream's name, description, enabled flag, config and secrets.

        ``ValidationError`` naming ``type`` if the type differs from the stored one.
        """
        return await self._write(
            partial(self._update_stream, stream, expected_version, audit_event)
        )

    async def delete_stream(self, domain_id: str, stream_id: str, audit_event: Event) -> None:
        await self._write(partial(self._delete_stream, domain_id, stream_id, audit_event))

    # Events ----------------------------------------------------------------------

    async def append_events(self, events: Sequence[Event]) -> list[AppendOutcome]:
        return await self._require_writer().append(events)

    async def get_event(self, guid: str) -> StoredEvent | None:
        row = await self._read(partial(_fetch_one, "get_event", {"guid": guid.lower()}))
        return stored_event_from_row(row) if row is not None else None

    async def list_events(
        self,
        *,
        within: Sequence[str] | None = None,
        after_seq: int = 0,
        limit: int = 100,
    ) -> list[StoredEvent]:
        params: dict[str, Any] = {"after_seq": after_seq, "limit": limit}
        if within is None:
            query = "list_events"
        else:
            query = "list_events_within"
            params["root_ids"] = _json_list(within)

        rows = await self._read(partial(_fetch_all, query, params))
        return [stored_event_from_row(row) for row in rows]

    async def purge_expired_events(self, received_before: str) -> int:
        """Delete expired events without a queued delivery, ``purge_chunk_rows`` per transaction.

        Appends queued meanwhile run between the chunks.
        """
        deleted = 0
        cursor: tuple[str, int] = ("", 0)

        while True:
            chunk = partial(self._purge_chunk, received_before, cursor)
            chunk_deleted, examined, cursor = await self._write(chunk)
            deleted += chunk_deleted
            if examined < self.purge_chunk_rows:
                break

        if deleted:
            logger.info(
                "Deleted %d events received before %s",
                deleted,
                received_before,
                extra={"action": "events_purged", "deleted": deleted},
            )
        return deleted

    async def purge_dead_letters(self, dead_before: str) -> int:
        """Delete dead letters that died before ``dead_before``, in chunks; return how many."""
        deleted = 0
        params = {"dead_before": dead_before, "limit": self.purge_chunk_rows}

        while True:
            chunk = partial(_execute_count, QUERIES["delete_expired_dead_letters"], params)
            chunk_deleted = await self._write(chunk)
            deleted += chunk_deleted
            if chunk_deleted < self.purge_chunk_rows:
                break

        if deleted:
            logger.info(
                "Deleted %d dead letters older than %s",
                deleted,
                dead_before,
                extra={"action": "dead_letters_purged", "deleted": deleted},
            )
        return deleted

    async def count_queued(self, stream_id: str) -> int:
        row = await self._read(partial(_fetch_one, "count_queued", {"stream_id": stream_id}))
        return int(row[0]) if row is not None else 0

    async def config_epoch(self) -> int:
        row = await self._read(partial(_fetch_one, "get_config_epoch", {}))
        if row is None:
            raise StoreError("the config_epoch table has no row; the database is damaged")
        return int(row[0])

    # Delivery queues ------------------------------------------------------------------

    def add_append_listener(self, listener: AppendListener) -> None:
        """Call ``listener`` with the ids of the streams that got deliveries, after each commit.

        Call this from the event loop that should run ``listener``. The commits that
        count are appends (stream changes append an audit event too), replays and
        redrives. The listener runs before the write call that committed returns to its
        caller. A listener that raises is logged and stays registered.
        """
        self._append_listeners.append((asyncio.get_running_loop(), listener))

    async def fetch_queued(
        self, stream_id: str, limit: int, after_seq: int = 0
    ) -> list[QueuedDelivery]:
        params = {"stream_id": stream_id, "limit": limit, "after_seq": after_seq}
        return await self._read(partial(_fetch_queued, params))

    async def record_outcome(self, outcome: DeliveryOutcome) -> None:
        """Write a dispatcher round. The outcome of a stream deleted meanwhile is dropped."""
        recorded = await self._write(partial(self._delivery_queue.record_outcome, outcome))
        if not recorded:
            logger.info(
                "Dropped the delivery outcome of stream %s: the stream was deleted",
                outcome.stream_id,
                extra={"action": "outcome_dropped", "stream_id": outcome.stream_id},
            )

    async def set_stream_state(self, stream_id: str, state: str, error: str | None) -> None:
        """Store a stream's state. An unknown stream id (deleted meanwhile) is ignored."""
        await self._write(partial(self._delivery_queue.set_state, stream_id, state, error))

    async def stream_status(self, stream_id: str) -> StreamStatus:
        """Return the stream's state and counters (``idle`` and zeros for a stream without any)."""
        row = await self._read(partial(_fetch_one, "get_stream_status", {"stream_id": stream_id}))
        assert row is not None
        return stream_status_from_row(row)

    async def list_attempts(self, stream_id: str, limit: int) -> list[AttemptRecord]:
        params = {"stream_id": stream_id, "limit": limit}
        rows = await self._read(partial(_fetch_all, "list_attempts", params))
        return [attempt_from_row(row) for row in rows]

    async def minute_stats(self, stream_id: str, since: str) -> list[MinuteStats]:
        params = {"stream_id": stream_id, "since": minute_of(since)}
        rows = await self._read(partial(_fetch_all, "list_minute_stats", params))
        return [minute_stats_from_row(row) for row in rows]

    async def list_dead_letters(
        self, stream_id: str, *, limit: int = 100, after: int | None = None
    ) -> list[DeadLetter]:
        params = {"stream_id": stream_id, "limit": limit, "after": after}
        rows = await self._read(partial(_fetch_all, "list_dead_letters", params))
        return [dead_letter_from_row(row) for row in rows]

    async def redrive_dead_letters(self, stream_id: str, selection: Selection) -> int:
        """Queue the selected dead letters again, ``dead_letter_chunk_rows`` per transaction.

        Ids of another stream's dead letters select nothing. ``ValidationError``
        unless the selection gives exactly one of ids, a time range, or all.
        """
        kind, params = selection_query(stream_id, selection, self.dead_letter_chunk_rows)
        queued = 0

        while True:
            chunk = partial(self._delivery_queue.redrive_chunk, kind, params)
            chunk_queued, selected = await self._write(chunk)
            queued += chunk_queued
            if selected < self.dead_letter_chunk_rows:
                break

        logger.info(
            "Redrove %d dead letters of stream %s",
            queued,
            stream_id,
            extra={"action": "dead_letters_redriven", "stream_id": stream_id, "queued": queued},
        )
        return queued

    async def delete_dead_letters(self, stream_id: str, selection: Selection) -> int:
        """Delete the selected dead letters, ``dead_letter_chunk_rows`` per transaction.

        ``ValidationError`` unless the selection gives exactly one of ids, a time
        range, or all.
        """
        kind, params = selection_query(stream_id, selection, self.dead_letter_chunk_rows)
        deleted = 0

        while True:
            chunk_deleted = await self._write(
                partial(self._delivery_queue.delete_chunk, kind, params)
            )
            deleted += chunk_deleted
            if chunk_deleted < self.dead_letter_chunk_rows:
                break

        logger.info(
            "Deleted %d dead letters of stream %s",
            deleted,
            stream_id,
            extra={"action": "dead_letters_deleted", "stream_id": stream_id, "deleted": deleted},
        )
        return deleted

    async def replay(
        self,
        stream_id: str,
        from_time: str,
        to_time: str,
        event_types: Callable[[str], bool],
    ) -> int:
        """Queue stored events again, reading ``replay_chunk_rows`` seqs of the log per step.

        The replay covers the events stored when it starts. Each step reads on a
        reader thread and queues its events in a write transaction of its own, so
        appends run between the steps. ``NotFound`` for an unknown stream, also
        when the stream is deleted during the replay.
        """
        row = await self._read(partial(_fetch_one, "get_stream_domain", {"id": stream_id}))
        if row is None:
            raise NotFound(f"stream {stream_id!r} not found")
        domain_id = row["domain_id"]

        seq_range = await self._read(partial(_fetch_one, "get_seq_range", {}))
        assert seq_range is not None
        after_seq = seq_range["first_seq"] - 1
        last_seq = seq_range["last_seq"]

        # The filter runs once per event type, because a log has few distinct types.
        type_passes = cache(event_types)
        queued = 0

        while after_seq < last_seq:
            until_seq = min(after_seq + self.replay_chunk_rows, last_seq)
            params = {
                "domain_id": domain_id,
                "after_seq": after_seq,
                "until_seq": until_seq,
                "from_time": from_time,
                "to_time": to_time,
            }
            candidates = await self._read(partial(_fetch_all, "list_replay_candidates", params))

            seqs = [candidate["seq"] for candidate in candidates if type_passes(candidate["type"])]
            if seqs:
                step = partial(self._delivery_queue.queue_replay, stream_id, seqs)
                queued += await self._write(step)
            after_seq = until_seq

        logger.info(
            "Replayed %d events from %s to %s to stream %s",
            queued,
            from_time,
            to_time,
            stream_id,
            extra={"action": "replay_queued", "stream_id": stream_id, "queued": queued},
        )
        return queued

    def _schedule_listeners(self, stream_ids: set[str]) -> None:
        """Hand ``stream_ids`` to every append listener on its loop. Runs on the writer thread."""
        for loop, listener in tuple(self._append_listeners):
            try:
                loop.call_soon_threadsafe(_call_listener, listener, set(stream_ids))
            except RuntimeError:
                # The listener's event loop is closed, so its owner has stopped.
                logger.debug(
                    "Skipped an append listener: its event loop is closed",
                    extra={"action": "append_listener_skipped"},
                )

    # Write transactions (run on the writer thread) -----------------------------------

    def _insert_domain(self, domain: Domain, connection: sqlite3.Connection) -> Domain:
        if _fetch_one("get_domain", {"id": domain.id}, connection) is not None:
            raise Conflict(f"domain {domain.id!r} already exists")
        if domain.parent_id is not None:
            _require_domain(connection, domain.parent_id, role="parent domain")

        now = self._now()
        stored = replace(
            domain,
            external_id=domain.external_id or _new_external_id(),
            created_at=now,
            updated_at=now,
        )
        connection.execute(QUERIES["insert_domain"], asdict(stored))
        return stored

    def _update_domain(self, domain: Domain, connection: sqlite3.Connection) -> Domain:
        current = _require_domain(connection, domain.id)

        if domain.parent_id is not None:
            _require_domain(connection, domain.parent_id, role="parent domain")
            cycle_params = {"domain_id": domain.parent_id, "root_ids": _json_list([domain.id])}
            creates_cycle = _fetch_one("is_within", cycle_params, connection)
            if creates_cycle is not None and creates_cycle[0]:
                raise ValidationError(
                    fields=[
                        FieldError(
                            "parentId",
                            domain.parent_id,
                            "must not be the domain itself or one of its descendants",
                        )
                    ]
                )

        stored = replace(
            current, name=domain.name, parent_id=domain.parent_id, updated_at=self._now()
        )
        connection.execute(QUERIES["update_domain"], asdict(stored))
        return stored

    def _delete_domain(self, domain_id: str, connection: sqlite3.Connection) -> None:
        _require_domain(connection, domain_id)

        counts = _fetch_one("count_domain_dependents", {"id": domain_id}, connection)
        assert counts is not None
        dependents = [
            f"{counts['child_domains']} child domain(s)" if counts["child_domains"] else "",
            f"{counts['streams']} stream(s)" if counts["streams"] else "",
            f"{counts['api_keys']} API key(s)" if counts["api_keys"] else "",
        ]
        listed = [item for item in dependents if item]
        if listed:
            raise Conflict(
                f"domain {domain_id!r} still has {', '.join(listed)}; delete or move them first"
            )

        connection.execute(QUERIES["delete_domain"], {"id": domain_id})

    def _insert_api_key(self, key: ApiKeyRecord, connection: sqlite3.Connection) -> ApiKeyRecord:
        _require_domain(connection, key.domain_id)

        existing = _fetch_one(
            "api_key_exists", {"id": key.id, "key_hash": key.key_hash}, connection
        )
        assert existing is not None
        if existing["id_taken"]:
            raise Conflict(f"API key {key.id!r} already exists")
        if existing["hash_taken"]:
            # The hash is not echoed: it identifies a working key.
            raise Conflict("an API key with the same hash already exists; generate a new key")

        stored = replace(key, created_at=self._now())
        connection.execute(QUERIES["insert_api_key"], asdict(stored))
        return stored

    def _revoke_api_key(self, key_id: str, connection: sqlite3.Connection) -> ApiKeyRecord:
        params = {"id": key_id, "revoked_at": self._now()}
        if connection.execute(QUERIES["revoke_api_key"], params).rowcount == 0:
            raise NotFound(f"API key {key_id!r} not found")

        row = _fetch_one("get_api_key", {"id": key_id}, connection)
        assert row is not None
        return api_key_from_row(row)

    def _insert_stream(
        self, stream: StreamRecord, audit_event: Event, connection: sqlite3.Connection
    ) -> StreamRecord:
        _require_domain(connection, stream.domain_id)
        id_taken = _fetch_one("stream_id_exists", {"id": stream.id}, connection)
        if id_taken is not None and id_taken[0]:
            raise Conflict(f"stream {stream.id!r} already exists")
        _require_unique_name(connection, stream)

        now = self._now()
        stored = replace(stream, version=1, created_at=now, updated_at=now)
        connection.execute(QUERIES["insert_stream"], stream_params(stored))

        self._appender.append(connection, [[audit_event]])
        return stored

    def _update_stream(
        self,
        stream: StreamRecord,
        expected_version: int,
        audit_event: Event,
        connection: sqlite3.Connection,
    ) -> StreamRecord:
        params = {"domain_id": stream.domain_id, "id": stream.id}
        row = _fetch_one("get_stream", params, connection)
        if row is None:
            raise NotFound(f"stream {stream.id!r} not found in domain {stream.domain_id!r}")
        current = stream_from_row(row)

        if current.version != expected_version:
            raise Conflict(f"stale version: stored {current.version}, given {expected_version}")
        if stream.type != current.type:
            raise ValidationError(
                fields=[FieldError("type", stream.type, f"cannot change from {current.type!r}")]
            )
        _require_unique_name(connection, stream)

        stored = replace(
            stream,
            version=current.version + 1,
            created_at=current.created_at,
            updated_at=self._now(),
        )
        update_params = stream_params(stored)
        update_params["expected_version"] = expected_version
        connection.execute(QUERIES["update_stream"], update_params)

        self._appender.append(connection, [[audit_event]])
        return stored

    def _delete_stream(
        self,
        domain_id: str,
        stream_id: str,
        audit_event: Event,
        connection: sqlite3.Connection,
    ) -> None:
        params = {"domain_id": domain_id, "id": stream_id}
        if connection.execute(QUERIES["delete_stream"], params).rowcount == 0:
            raise NotFound(f"stream {stream_id!r} not found in domain {domain_id!r}")

        self._appender.append(connection, [[audit_event]])

    def _purge_chunk(
        self, received_before: str, after: tuple[str, int], connection: sqlite3.Connection
    ) -> tuple[int, int, tuple[str, int]]:
        """Delete one chunk. Return the counts deleted and examined, and the next cursor."""
        params = {
            "received_before": received_before,
            "after_received_at": after[0],
            "after_seq": after[1],
            "limit": self.purge_chunk_rows,
        }
        candidates = connection.execute(QUERIES["list_expired_events"], params).fetchall()
        if not candidates:
            return 0, 0, after

        seqs = _json_list([row["seq"] for row in candidates])
        deleted = connection.execute(QUERIES["delete_unqueued_events"], {"seqs": seqs}).rowcount
        last = candidates[-1]
        return deleted, len(candidates), (last["received_at"], last["seq"])

    # Plumbing --------------------------------------------------------------------

    async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await self._require_writer().run(work)

    async def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        readers = self._readers
        if readers is None:
            raise StoreError("the store is closed; open it before reading")
        return await asyncio.to_thread(_run_read, readers, work)

    def _require_writer(self) -> Writer:
        if self._writer is None:
            raise StoreError("the store is closed; open it before writing")
        return self._writer

    def _prepare_database(self) -> None:
        try:
            connection = connect(self.path)
        except sqlite3.Error as exc:
            raise StoreError(f"could not open the database {self.path!r}: {exc}") from exc

        try:
            enable_wal(connection)
            apply_migrations(connection, self._now)
        except sqlite3.Error as exc:
            raise translate_error(exc) from exc
        finally:
            connection.close()


def _call_listener(listener: AppendListener, stream_ids: set[str]) -> None:
    try:
        listener(stream_ids)
    except Exception:
        logger.exception(
            "An append listener failed for streams %s",
            sorted(stream_ids),
            extra={"action": "append_listener_failed"},
        )


def _run_read(readers: ReadPool, work: Callable[[sqlite3.Connection], T]) -> T:
    try:
        connection = readers.acquire()
    except sqlite3.Error as exc:
        raise translate_error(exc) from exc

    try:
        return work(connection)
    except sqlite3.Error as exc:
        raise translate_error(exc) from exc
    finally:
        readers.release(connection)


def _fetch_one(
    query: str, params: dict[str, Any], connection: sqlite3.Connection
) -> sqlite3.Row | None:
    row: sqlite3.Row | None = connection.execute(QUERIES[query], params).fetchone()
    return row


def _fetch_all(
    query: str, params: dict[str, Any], connection: sqlite3.Connection
) -> list[sqlite3.Row]:
    return connection.execute(QUERIES[query], params).fetchall()


def _fetch_queued(params: dict[str, Any], connection: sqlite3.Connection) -> list[QueuedDelivery]:
    # Dispatchers read up to a thousand rows per call, so the rows are plain tuples in
    # the order of QueuedDelivery's fields (no sqlite3.Row, no copy of the line), built
    # on the reading thread.
    cursor = connection.cursor()
    cursor.row_factory = None
    rows = cursor.execute(QUERIES["fetch_queued"], params).fetchall()
    return [QueuedDelivery(*row) for row in rows]


def _require_domain(
    connection: sqlite3.Connection, domain_id: str, *, role: str = "domain"
) -> Domain:
    row = _fetch_one("get_domain", {"id": domain_id}, connection)
    if row is None:
        raise NotFound(f"{role} {domain_id!r} not found")
    return domain_from_row(row)


def _require_unique_name(connection: sqlite3.Connection, stream: StreamRecord) -> None:
    params = {"domain_id": stream.domain_id, "type": stream.type, "name": stream.name}
    row = _fetch_one("find_stream_by_name", params, connection)
    if row is not None and row["id"] != stream.id:
        raise Conflict(
            f"domain {stream.domain_id!r} already has a {stream.type} stream named {stream.name!r}"
        )


def _json_list(values: Sequence[Any]) -> str:
    # Text, not bytes: a bytes parameter arrives as a BLOB, which SQLite 3.45 and later
    # read as binary JSONB rather than JSON text.
    return orjson.dumps(list(values)).decode("utf-8")


def _new_external_id() -> str:
    return uuid.uuid4().hex


def _execute_count(sql: str, params: dict[str, Any], connection: sqlite3.Connection) -> int:
    return connection.execute(sql, params).rowcount


def _writer_connection(path: str) -> sqlite3.Connection:
    # The store's Checkpointer copies the log on its own thread instead.
    connection = connect(path)
    disable_automatic_checkpoint(connection)
    return connection
