"""Request building for the Kinesis sink: each record is the event's line and its partition key.

The partition key is the container member that ``aws.partitionKey`` names (the
dispatcher sets it), so events with the same key go to the same shard in order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from datastreams.sinks.aws_sink import PlannedCalls, split_calls
from datastreams.sinks.base import OutboundRecord, SinkLimits
from datastreams.sinks.kinesis.config import MAX_PARTITION_KEY_BYTES, MAX_PARTITION_KEY_CHARS


def partition_key(record: OutboundRecord) -> str:
    """Return the record's partition key; a key over 256 characters becomes its SHA-256.

    The digest maps every long key to one shard, so those records keep their order too.
    """
    key = record.partition_key or record.domain_id
    if len(key) > MAX_PARTITION_KEY_CHARS:
        return hashlib.sha256(key.encode("utf-8")).hexdigest()
    return key


def record_size(record: OutboundRecord) -> int:
    """Return the size that Kinesis counts for a record: data plus partition key."""
    return len(record.payload) + len(partition_key(record).encode("utf-8"))


def plan_calls(records: Sequence[OutboundRecord], limits: SinkLimits) -> PlannedCalls:
    """Split records into PutRecords calls within the stream's limits."""
    # ``limits.max_record_bytes`` leaves room for the longest key; each record is
    # measured with its own key against the stream's whole record size.
    record_limit = limits.max_record_bytes + MAX_PARTITION_KEY_BYTES
    return split_calls(records, record_size, limits, ("stream's maximum record size", record_limit))


def build_request(stream_name: str, records: Sequence[OutboundRecord]) -> dict[str, Any]:
    """Return the arguments of one PutRecords call."""
    return {
        "StreamName": stream_name,
        "Records": [
            {"Data": record.payload, "PartitionKey": partition_key(record)} for record in records
        ],
    }
