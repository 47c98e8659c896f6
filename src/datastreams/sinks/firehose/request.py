"""Request building for the Firehose sink: each record is the event's line, plus ``\\n``.

Firehose concatenates records into the objects it writes (to S3, for example), so
the newline keeps one event per line there. ``aws.appendNewline`` false sends the
line alone, for delivery streams that add their own delimiter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from datastreams.sinks.aws_sink import PlannedCalls, split_calls
from datastreams.sinks.base import OutboundRecord, SinkLimits
from datastreams.sinks.firehose.config import MAX_RECORD_BYTES


def record_data(record: OutboundRecord, append_newline: bool) -> bytes:
    """Return the bytes of one Firehose record."""
    return record.payload + b"\n" if append_newline else record.payload


def plan_calls(
    records: Sequence[OutboundRecord], limits: SinkLimits, append_newline: bool
) -> PlannedCalls:
    """Split records into PutRecordBatch calls, measuring each record's data."""
    return split_calls(
        records,
        lambda record: len(record_data(record, append_newline)),
        limits,
        ("Firehose record limit", MAX_RECORD_BYTES),
    )


def build_request(
    delivery_stream_name: str, records: Sequence[OutboundRecord], append_newline: bool
) -> dict[str, Any]:
    """Return the arguments of one PutRecordBatch call."""
    return {
        "DeliveryStreamName": delivery_stream_name,
        "Records": [{"Data": record_data(record, append_newline)} for record in records],
    }
