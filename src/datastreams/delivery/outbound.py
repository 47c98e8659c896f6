"""Turning queued deliveries into records a sink can send.

Each event's stored line passes through the stream's filters (which may keep only
some members of ``data``) and, when it is still larger than the destination allows,
becomes the overflow form: ``data`` is replaced by ``{"overflow": true}`` plus the
members that the catalogue lists as the type's id and version members, so the
receiver can fetch the entity itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from datastreams.events.catalogue import Catalogue
from datastreams.events.parsing import event_from_line
from datastreams.filters import CompiledFilters
from datastreams.sinks.base import OutboundRecord, SinkLimits
from datastreams.store.records import QueuedDelivery

PARTITION_KEY_MEMBERS = {
    "domainId": "domain_id",
    "userId": "user_id",
    "guid": "guid",
    "type": "type",
}

# Partition keys that the queued delivery carries itself, without parsing the line.
_KEYS_OF_DELIVERY = {"guid": "guid", "type": "type"}


def build_record(
    delivery: QueuedDelivery,
    filters: CompiledFilters,
    catalogue: Catalogue,
    max_record_bytes: int,
    partition_key: str = "domainId",
) -> OutboundRecord:
    """Return the record to send for one delivery, projected and within ``max_record_bytes``."""
    payload = delivery.line
    event = None

    # The stored line is parsed only when something in it must change.
    if filters.projects(delivery.type):
        event = event_from_line(payload)
        projected = filters.project(event.type, event.data)
        if projected is not event.data:
            event = event.with_data(projected)
            payload = event.encode()

    if len(payload) > max_record_bytes:
        event = event or event_from_line(payload)
        event = event.with_data(overflow_data(event.type, event.data, catalogue))
        payload = event.encode()

    key = delivery.domain_id
    if partition_key in _KEYS_OF_DELIVERY:
        key = getattr(delivery, _KEYS_OF_DELIVERY[partition_key])
    elif partition_key != "domainId":
        event = event or event_from_line(payload)
        key = getattr(event, PARTITION_KEY_MEMBERS.get(partition_key, "domain_id")) or key

    return OutboundRecord(
        seq=delivery.seq,
        guid=delivery.guid,
        domain_id=delivery.domain_id,
        payload=payload,
        partition_key=key,
        queued_at=delivery.queued_at,
        size_limit=max_record_bytes,
    )


def overflow_data(event_type: str, data: dict[str, Any], catalogue: Catalogue) -> dict[str, Any]:
    """Return the overflow form of ``data``: the flag plus the type's id and version members."""
    reduced: dict[str, Any] = {"overflow": True}
    known = catalogue.get(event_type)
    if known is None:
        return reduced

    for member in (*known.id_members, *known.version_members):
        if member in data and member != "overflow":
            reduced[member] = data[member]
    return reduced


def split_batches(
    records: Sequence[OutboundRecord], limits: SinkLimits
) -> Iterator[list[OutboundRecord]]:
    """Yield batches in order, each within the records-per-call and bytes-per-call limits."""
    batch: list[OutboundRecord] = []
    batch_bytes = 0

    for record in records:
        size = len(record.payload) + 1
        full = len(batch) >= limits.max_records_per_call
        too_big = batch and batch_bytes + size > limits.max_bytes_per_call
        if full or too_big:
            yield batch
            batch, batch_bytes = [], 0
        batch.append(record)
        batch_bytes += size

    if batch:
        yield batch
