"""The Test action: one ``ValidateDataStreamConfiguration`` event sent outside the queue.

The probe goes through the same sink code as real deliveries, ignores the stream's
filters and ``enabled`` switch, tries each endpoint once, and reports every step.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from datastreams.delivery.sinks import SinkOptions, UnsupportedStreamType, build_sink
from datastreams.events.container import Event
from datastreams.events.timefmt import now_time
from datastreams.sinks.base import OutboundRecord, ProbeStep
from datastreams.store.records import StreamRecord

PROBE_EVENT_TYPE = "ValidateDataStreamConfiguration"
PROBE_MESSAGE = "Test event from Data Streams. It can be ignored."


def probe_event(stream: StreamRecord) -> Event:
    """Return a new probe event for the stream (saved or not)."""
    return Event(
        time=now_time(),
        guid=str(uuid.uuid4()),
        domain_id=stream.domain_id,
        type=PROBE_EVENT_TYPE,
        data={
            "streamId": stream.id or None,
            "streamType": stream.type,
            "message": PROBE_MESSAGE,
        },
    )


async def run_probe(
    stream: StreamRecord, secrets: Mapping[str, Any], options: SinkOptions
) -> dict[str, Any]:
    """Send one probe through the stream's sink and return the Test action's response body."""
    event = probe_event(stream)

    try:
        sink = build_sink(stream, secrets, options)
    except UnsupportedStreamType as exc:
        step = ProbeStep("send", None, None, "unsupported_stream_type", str(exc), 0.0)
        return {"passed": False, "event": event.to_json_object(), "steps": [step.to_api()]}

    record = OutboundRecord(
        seq=0, guid=event.guid, domain_id=event.domain_id, payload=event.encode()
    )
    try:
        passed, steps = await sink.probe(record)
    finally:
        await sink.close()

    return {
        "passed": passed,
        "event": event.to_json_object(),
        "steps": [step.to_api() for step in steps],
    }
