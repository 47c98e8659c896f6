"""Building the sink of a stream from its stored configuration."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from datastreams.security.endpoints import IPNetwork
from datastreams.sinks.base import Sink
from datastreams.sinks.https import HttpsSink, HttpsSinkConfig
from datastreams.store.records import StreamRecord


class UnsupportedStreamType(Exception):
    """The service cannot deliver to this type of stream yet."""


@dataclass(frozen=True, slots=True)
class SinkOptions:
    """Service-wide settings that every sink of a type shares."""

    allowed_networks: Sequence[IPNetwork] = ()
    tls_ca_file: str | None = None


def build_sink(record: StreamRecord, secrets: Mapping[str, Any], options: SinkOptions) -> Sink:
    """Return a sink for the stream. Raises ``UnsupportedStreamType`` for other types."""
    if record.type == "https":
        config = HttpsSinkConfig.from_stream(record.config["https"], secrets)
        return HttpsSink(
            config, allowed_networks=options.allowed_networks, ca_file=options.tls_ca_file
        )

    # TODO: Firehose, Kinesis and SQS sinks; until they exist such streams keep their
    # queue and show the state "failing" with this message.
    raise UnsupportedStreamType(f"delivery to {record.type} streams is not available yet")
