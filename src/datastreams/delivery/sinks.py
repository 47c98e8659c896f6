"""Building the sink of a stream from its stored configuration."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from datastreams.security.endpoints import IPNetwork
from datastreams.sinks.base import Sink
from datastreams.sinks.https import HttpsSink, HttpsSinkConfig
from datastreams.store.records import StreamRecord

if TYPE_CHECKING:
    from datastreams.aws.clients import AwsClientFactory

AWS_STREAM_TYPES = frozenset({"firehose", "kinesis", "sqs"})


class UnsupportedStreamType(Exception):
    """The service cannot deliver to this type of stream yet."""


@dataclass(frozen=True, slots=True)
class SinkOptions:
    """Service-wide settings that every sink of a type shares."""

    allowed_networks: Sequence[IPNetwork] = ()
    tls_ca_file: str | None = None
    # Credentials, clients and threads of the AWS sinks; ``None`` uses the process's.
    aws_clients: AwsClientFactory | None = None


def build_sink(record: StreamRecord, secrets: Mapping[str, Any], options: SinkOptions) -> Sink:
    """Return a sink for the stream. Raises ``UnsupportedStreamType`` for other types."""
    if record.type == "https":
        config = HttpsSinkConfig.from_stream(record.config["https"], secrets)
        return HttpsSink(
            config, allowed_networks=options.allowed_networks, ca_file=options.tls_ca_file
        )

    if record.type in AWS_STREAM_TYPES:
        return _build_aws_sink(record, options)

    raise UnsupportedStreamType(f"delivery to {record.type} streams is not available")


def _build_aws_sink(record: StreamRecord, options: SinkOptions) -> Sink:
    # Imported here because botocore adds about 0.2 s to the start of every command,
    # and only processes that deliver to AWS need it.
    from datastreams.aws.clients import shared_client_factory
    from datastreams.sinks.firehose import FirehoseSink, FirehoseSinkConfig
    from datastreams.sinks.kinesis import KinesisSink, KinesisSinkConfig
    from datastreams.sinks.sqs import SqsSink, SqsSinkConfig

    clients = options.aws_clients or shared_client_factory()
    if record.type == "firehose":
        return FirehoseSink(FirehoseSinkConfig.from_stream(record), clients)
    if record.type == "kinesis":
        return KinesisSink(KinesisSinkConfig.from_stream(record), clients)
    return SqsSink(SqsSinkConfig.from_stream(record), clients)
