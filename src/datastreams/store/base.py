"""The ``Store`` interface that every storage backend implements.

Callers (the API, the command line, the dispatchers) depend only on this protocol,
so a PostgreSQL store can replace the SQLite one without changes elsewhere. Every
method is a coroutine; implementations do blocking I/O off the event loop.

Errors: ``NotFound`` for unknown ids, ``Conflict`` for duplicates and stale
versions, ``StoreError`` when the database itself fails.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from datastreams.events.container import Event
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

# Attempts kept per stream for the status page; older ones are deleted as new ones come.
MAX_ATTEMPTS_KEPT = 200


class Store(Protocol):
    """Durable state of the service: domains, keys, streams, the event log and queues."""

    async def open(self) -> None:
        """Connect and apply pending migrations."""

    async def close(self) -> None:
        """Finish pending writes and release connections."""

    # Domains ---------------------------------------------------------------------

    async def create_domain(self, domain: Domain) -> Domain:
        """Insert a domain. ``Conflict`` if the id exists, ``NotFound`` if the parent does not."""

    async def get_domain(self, domain_id: str) -> Domain:
        """Return one domain or raise ``NotFound``."""

    async def list_domains(
        self, *, within: Sequence[str] | None = None, limit: int = 100, after: str | None = None
    ) -> list[Domain]:
        """List domains ordered by id, after the id ``after``.

        With ``within``, only those domains and their descendants.
        """

    async def update_domain(self, domain: Domain) -> Domain:
        """Change a domain's name or parent.

        ``ValidationError`` if the new parent is the domain itself or a descendant.
        """

    async def delete_domain(self, domain_id: str) -> None:
        """Delete a domain. ``Conflict`` while it has child domains, streams or keys."""

    async def is_within(self, domain_id: str, root_ids: Sequence[str]) -> bool:
        """Return whether ``domain_id`` is one of ``root_ids`` or a descendant of one."""

    # API keys --------------------------------------------------------------------

    async def create_api_key(self, key: ApiKeyRecord) -> ApiKeyRecord:
        """Insert a key record. ``NotFound`` if its domain does not exist."""

    async def find_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        """Return the key whose digest is ``key_hash``, revoked or not, or ``None``."""

    async def list_api_keys(
        self, *, within: Sequence[str] | None = None, limit: int = 100, after: str | None = None
    ) -> list[ApiKeyRecord]:
        """List keys ordered by id; with ``within``, only keys of those subtrees."""

    async def revoke_api_key(self, key_id: str) -> ApiKeyRecord:
        """Mark a key revoked and return it. ``NotFound`` for an unknown id."""

    # Streams ---------------------------------------------------------------------

    async def create_stream(self, stream: StreamRecord, audit_event: Event) -> StreamRecord:
        """Insert a stream and append ``audit_event`` in the same transaction.

        ``Conflict`` if the domain already has a stream of that type and name.
        """

    async def get_stream(self, domain_id: str, stream_id: str) -> StreamRecord:
        """Return one stream of a domain or raise ``NotFound``."""

    async def list_streams(
        self, domain_id: str | None = None, *, limit: int = 100, after: str | None = None
    ) -> list[StreamRecord]:
        """List the streams of one domain (or of all domains) ordered by id."""

    async def update_stream(
        self, stream: StreamRecord, expected_version: int, audit_event: Event
    ) -> StreamRecord:
        """Replace a stream whose stored version is ``expected_version``.

        Returns the stream with its version raised by one.

        ``Conflict`` for a stale version or a duplicate name, ``NotFound`` for an unknown id.
        """

    async def delete_stream(self, domain_id: str, stream_id: str, audit_event: Event) -> None:
        """Delete a stream and its queue, and append ``audit_event``."""

    # Events ----------------------------------------------------------------------

    async def append_events(self, events: Sequence[Event]) -> list[AppendOutcome]:
        """Append events to the log and queue a delivery for each matching enabled stream.

        Returns one outcome per input, in order. The call returns only once the
        transaction is durable. A guid already stored (or repeated earlier in the
        same call) gives ``duplicate`` and stores nothing.
        """

    async def get_event(self, guid: str) -> StoredEvent | None:
        """Return the stored event with this guid (lower case), or ``None``."""

    async def list_events(
        self,
        *,
        within: Sequence[str] | None = None,
        after_seq: int = 0,
        limit: int = 100,
    ) -> list[StoredEvent]:
        """List stored events in log order after ``after_seq``."""

    async def purge_expired_events(self, received_before: str) -> int:
        """Delete events received before the time given, except those still queued.

        Returns the number of events deleted.
        """

    async def purge_dead_letters(self, dead_before: str) -> int:
        """Delete dead letters that became dead before the time given; return how many."""

    async def count_queued(self, stream_id: str) -> int:
        """Return the number of deliveries queued for a stream."""

    async def config_epoch(self) -> int:
        """Return a number that grows with every change to domains, keys or streams.

        A long-running process polls it to notice changes made by another process,
        such as the command line working on the same database.
        """


class DeliveryStore(Protocol):
    """The queue side of the store, used by dispatchers and the delivery routes.

    Kept separate from ``Store`` so the delivery code and its fakes depend only on
    what they use; the SQLite and PostgreSQL stores implement both.
    """

    def add_append_listener(self, listener: Callable[[set[str]], None]) -> None:
        """Call ``listener`` on the event loop with the ids of streams that got new deliveries.

        It runs after each commit that queued deliveries. Deliveries queued by another
        process (the command line) do not call it, so dispatchers also poll.
        """

    async def fetch_queued(
        self, stream_id: str, limit: int, after_seq: int = 0
    ) -> list[QueuedDelivery]:
        """Return a stream's first ``limit`` queued deliveries after ``after_seq``, in log order.

        ``after_seq`` lets a dispatcher read ahead while the outcome of the rows it
        already sent is still being written.
        """

    async def record_outcome(self, outcome: DeliveryOutcome) -> None:
        """Write a dispatcher round's outcome in one transaction (see ``DeliveryOutcome``).

        Also adds to the per-minute statistics, keeps the stream's latest attempts
        (at most ``MAX_ATTEMPTS_KEPT`` per stream), and sets the stream's state.
        """

    async def set_stream_state(self, stream_id: str, state: str, error: str | None) -> None:
        """Store a stream's state (and last error, when given) without other changes."""

    async def stream_status(self, stream_id: str) -> StreamStatus:
        """Return the stream's state and counters."""

    async def list_attempts(self, stream_id: str, limit: int) -> list[AttemptRecord]:
        """Return the stream's latest attempts, newest first."""

    async def minute_stats(self, stream_id: str, since: str) -> list[MinuteStats]:
        """Return per-minute counts from the minute of ``since`` on, oldest first."""

    async def list_dead_letters(
        self, stream_id: str, *, limit: int = 100, after: int | None = None
    ) -> list[DeadLetter]:
        """List a stream's dead letters ordered by id, after the id ``after``."""

    async def redrive_dead_letters(self, stream_id: str, selection: Selection) -> int:
        """Queue the selected dead letters again (restoring events retention removed).

        Returns the number of deliveries queued; the dead letters are removed.
        """

    async def delete_dead_letters(self, stream_id: str, selection: Selection) -> int:
        """Delete the selected dead letters and return how many were deleted."""

    async def replay(
        self,
        stream_id: str,
        from_time: str,
        to_time: str,
        event_types: Callable[[str], bool],
    ) -> int:
        """Queue stored events of the stream's domain subtree again.

        Selects events with ``from_time <= time < to_time``.

        ``event_types`` is the stream's current filter; events already queued for the
        stream are skipped. Returns the number of deliveries queued.
        """
