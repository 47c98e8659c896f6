"""An in-memory ``Store`` for unit tests of code that calls the store.

It follows the documented behaviour of the ``Store`` protocol (``NotFound``,
``Conflict`` for duplicates and stale versions, copies in and out so callers cannot
change stored rows) without durability or concurrency. ``audit_events`` records
the events passed with stream changes, in order.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from datastreams.errors import Conflict, NotFound, ValidationError
from datastreams.events.container import Event
from datastreams.events.timefmt import now_time
from datastreams.filters import compile_filters, filters_from_config
from datastreams.store.records import (
    ApiKeyRecord,
    AppendOutcome,
    Domain,
    StoredEvent,
    StreamRecord,
)


class InMemoryStore:
    """A ``Store`` kept in dicts; every instance starts empty."""

    def __init__(self) -> None:
        self.domains: dict[str, Domain] = {}
        self.api_keys: dict[str, ApiKeyRecord] = {}
        self.streams: dict[str, StreamRecord] = {}
        self.events: dict[str, StoredEvent] = {}
        self.queues: dict[str, list[int]] = {}
        self.audit_events: list[Event] = []
        self.opened = False
        self._next_seq = 1
        self._epoch = 0

    async def open(self) -> None:
        self.opened = True

    async def close(self) -> None:
        self.opened = False

    # Domains ---------------------------------------------------------------------

    async def create_domain(self, domain: Domain) -> Domain:
        if domain.id in self.domains:
            raise Conflict(f"domain {domain.id} already exists")
        if domain.parent_id is not None and domain.parent_id not in self.domains:
            raise NotFound(f"parent domain {domain.parent_id} not found")

        stored = copy.deepcopy(domain)
        stored.created_at = stored.created_at or now_time()
        stored.updated_at = stored.updated_at or stored.created_at
        self.domains[domain.id] = stored
        self._epoch += 1
        return copy.deepcopy(stored)

    async def get_domain(self, domain_id: str) -> Domain:
        if domain_id not in self.domains:
            raise NotFound(f"domain {domain_id} not found")
        return copy.deepcopy(self.domains[domain_id])

    async def list_domains(
        self, *, within: Sequence[str] | None = None, limit: int = 100, after: str | None = None
    ) -> list[Domain]:
        selected = [
            domain
            for domain_id, domain in sorted(self.domains.items())
            if (after is None or domain_id > after)
            and (within is None or await self.is_within(domain_id, within))
        ]
        return copy.deepcopy(selected[:limit])

    async def update_domain(self, domain: Domain) -> Domain:
        stored = self.domains.get(domain.id)
        if stored is None:
            raise NotFound(f"domain {domain.id} not found")
        if domain.parent_id is not None and await self.is_within(domain.parent_id, [domain.id]):
            raise ValidationError(f"domain {domain.parent_id} is a descendant of {domain.id}")

        stored.name = domain.name
        stored.parent_id = domain.parent_id
        stored.updated_at = now_time()
        self._epoch += 1
        return copy.deepcopy(stored)

    async def delete_domain(self, domain_id: str) -> None:
        if domain_id not in self.domains:
            raise NotFound(f"domain {domain_id} not found")
        in_use = (
            any(domain.parent_id == domain_id for domain in self.domains.values())
            or any(stream.domain_id == domain_id for stream in self.streams.values())
            or any(key.domain_id == domain_id for key in self.api_keys.values())
        )
        if in_use:
            raise Conflict(f"domain {domain_id} still has child domains, streams or keys")

        del self.domains[domain_id]
        self._epoch += 1

    async def is_within(self, domain_id: str, root_ids: Sequence[str]) -> bool:
        current: str | None = domain_id
        while current is not None:
            if current in root_ids:
                return True
            domain = self.domains.get(current)
            current = domain.parent_id if domain is not None else None
        return False

    # API keys --------------------------------------------------------------------

    async def create_api_key(self, key: ApiKeyRecord) -> ApiKeyRecord:
        if key.domain_id not in self.domains:
            raise NotFound(f"domain {key.domain_id} not found")
        if key.id in self.api_keys:
            raise Conflict(f"API key {key.id} already exists")

        stored = copy.deepcopy(key)
        stored.created_at = stored.created_at or now_time()
        self.api_keys[key.id] = stored
        self._epoch += 1
        return copy.deepcopy(stored)

    async def find_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        for key in self.api_keys.values():
            if key.key_hash == key_hash:
                return copy.deepcopy(key)
        return None

    async def list_api_keys(
        self, *, within: Sequence[str] | None = None, limit: int = 100, after: str | None = None
    ) -> list[ApiKeyRecord]:
        selected = [
            key
            for key_id, key in sorted(self.api_keys.items())
            if (after is None or key_id > after)
            and (within is None or await self.is_within(key.domain_id, within))
        ]
        return copy.deepcopy(selected[:limit])

    async def revoke_api_key(self, key_id: str) -> ApiKeyRecord:
        key = self.api_keys.get(key_id)
        if key is None:
            raise NotFound(f"API key {key_id} not found")
        key.revoked_at = key.revoked_at or now_time()
        self._epoch += 1
        return copy.deepcopy(key)

    # Streams ---------------------------------------------------------------------

    async def create_stream(self, stream: StreamRecord, audit_event: Event) -> StreamRecord:
        if stream.domain_id not in self.domains:
            raise NotFound(f"domain {stream.domain_id} not found")
        if stream.id in self.streams:
            raise Conflict(f"stream {stream.id} already exists")
        self._check_unique_name(stream)

        stored = copy.deepcopy(stream)
        stored.created_at = stored.created_at or now_time()
        stored.updated_at = stored.updated_at or stored.created_at
        self.streams[stream.id] = stored
        self.queues[stream.id] = []
        self.audit_events.append(copy.deepcopy(audit_event))
        self._epoch += 1
        return copy.deepcopy(stored)

    async def get_stream(self, domain_id: str, stream_id: str) -> StreamRecord:
        stream = self.streams.get(stream_id)
        if stream is None or stream.domain_id != domain_id:
            raise NotFound(f"stream {stream_id} not found")
        return copy.deepcopy(stream)

    async def list_streams(
        self, domain_id: str | None = None, *, limit: int = 100, after: str | None = None
    ) -> list[StreamRecord]:
        selected = [
            stream
            for stream_id, stream in sorted(self.streams.items())
            if (after is None or stream_id > after)
            and (domain_id is None or stream.domain_id == domain_id)
        ]
        return copy.deepcopy(selected[:limit])

    async def update_stream(
        self, stream: StreamRecord, expected_version: int, audit_event: Event
    ) -> StreamRecord:
        stored = self.streams.get(stream.id)
        if stored is None or stored.domain_id != stream.domain_id:
            raise NotFound(f"stream {stream.id} not found")
        if stored.version != expected_version:
            raise Conflict(f"stream {stream.id} is at version {stored.version}")
        self._check_unique_name(stream)

        updated = copy.deepcopy(stream)
        updated.version = expected_version + 1
        updated.created_at = stored.created_at
        updated.updated_at = stream.updated_at or now_time()
        self.streams[stream.id] = updated
        self.audit_events.append(copy.deepcopy(audit_event))
        self._epoch += 1
        return copy.deepcopy(updated)

    async def delete_stream(self, domain_id: str, stream_id: str, audit_event: Event) -> None:
        stream = self.streams.get(stream_id)
        if stream is None or stream.domain_id != domain_id:
            raise NotFound(f"stream {stream_id} not found")

        del self.streams[stream_id]
        self.queues.pop(stream_id, None)
        self.audit_events.append(copy.deepcopy(audit_event))
        self._epoch += 1

    def _check_unique_name(self, stream: StreamRecord) -> None:
        for other in self.streams.values():
            same_slot = (other.domain_id, other.type, other.name) == (
                stream.domain_id,
                stream.type,
                stream.name,
            )
            if same_slot and other.id != stream.id:
                raise Conflict(
                    f"domain {stream.domain_id} already has a {stream.type} stream "
                    f"named {stream.name!r}"
                )

    # Events ----------------------------------------------------------------------

    async def append_events(self, events: Sequence[Event]) -> list[AppendOutcome]:
        outcomes: list[AppendOutcome] = []
        for event in events:
            guid = event.guid.lower()
            existing = self.events.get(guid)
            if existing is not None:
                outcomes.append(AppendOutcome("duplicate", guid, existing.time))
                continue

            seq = self._next_seq
            self._next_seq += 1
            self.events[guid] = StoredEvent(
                seq=seq,
                guid=guid,
                domain_id=event.domain_id,
                type=event.type,
                time=event.time,
                received_at=now_time(),
                line=event.encode(),
            )
            await self._queue(event, seq)
            outcomes.append(AppendOutcome("accepted", guid, event.time, seq))
        return outcomes

    async def _queue(self, event: Event, seq: int) -> None:
        for stream in self.streams.values():
            if not stream.enabled:
                continue
            if not await self.is_within(event.domain_id, [stream.domain_id]):
                continue
            filters = compile_filters(filters_from_config(stream.config.get("filters") or []))
            if filters.matches(event.type):
                self.queues[stream.id].append(seq)

    async def get_event(self, guid: str) -> StoredEvent | None:
        return self.events.get(guid.lower())

    async def list_events(
        self,
        *,
        within: Sequence[str] | None = None,
        after_seq: int = 0,
        limit: int = 100,
    ) -> list[StoredEvent]:
        selected = [
            event
            for event in sorted(self.events.values(), key=lambda stored: stored.seq)
            if event.seq > after_seq
            and (within is None or await self.is_within(event.domain_id, within))
        ]
        return selected[:limit]

    async def purge_expired_events(self, received_before: str) -> int:
        queued = {seq for queue in self.queues.values() for seq in queue}
        expired = [
            guid
            for guid, event in self.events.items()
            if event.received_at < received_before and event.seq not in queued
        ]
        for guid in expired:
            del self.events[guid]
        return len(expired)

    async def count_queued(self, stream_id: str) -> int:
        return len(self.queues.get(stream_id, []))

    async def config_epoch(self) -> int:
        return self._epoch


def stream_record(stream_type: str, name: str, config: dict[str, Any]) -> StreamRecord:
    """Return an enabled stream of domain district with id s1."""
    return StreamRecord(
        id="s1",
        domain_id="district",
        type=stream_type,
        name=name,
        description="",
        enabled=True,
        version=1,
        config=config,
    )
