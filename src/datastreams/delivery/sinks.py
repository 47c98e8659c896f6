"""Building the sink of a stream, and its number of calls in flight, from its configuration."""

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

# Calls in flight of an AWS stream, which has no ``maxInFlight`` setting, unless
# DATASTREAMS_AWS_CALLS_IN_FLIGHT sets another number. With one call at a time a stream
# sits idle for every round trip to AWS: an SQS queue, at 10 messages a call and 20 ms
# a round trip, would take at most 500 messages a second. Against a stream of few
# shards or a throttled queue, more calls would only add throttled calls.
# NOTE: the gain from hiding AWS round trips is not measured here. The loopback stub of
# benchmark 7 responds at once, and on 2 cores its Kinesis figure fell from about 8,800
# to 6,400 events/s with 4 calls in flight (docs/aws.md has the command), because
# botocore's CPU work in more threads at once slowed ingest and the other streams.
DEFAULT_AWS_CALLS_IN_FLIGHT = 4

# Container members whose value events of several domains can share. Lanes keep only a
# domain's records together, so records of such an ordered key (Kinesis partition key,
# FIFO message group) could be in two calls at once. Those streams make one at a time.
_KEYS_ACROSS_DOMAINS = frozenset({"userId", "type"})


class UnsupportedStreamType(Exception):
    """The service cannot deliver to this type of stream yet."""


@dataclass(frozen=True, slots=True)
class SinkOptions:
    """Service-wide settings that every sink of a type shares."""

    allowed_networks: Sequence[IPNetwork] = ()
    tls_ca_file: str | None = None
    # Credentials, clients and threads of the AWS sinks; ``None`` uses the process's.
    aws_clients: AwsClientFactory | None = None
    # Calls each AWS stream may have in flight (DATASTREAMS_AWS_CALLS_IN_FLIGHT).
    aws_calls_in_flight: int = DEFAULT_AWS_CALLS_IN_FLIGHT


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


def calls_in_flight(record: StreamRecord, aws_calls: int = DEFAULT_AWS_CALLS_IN_FLIGHT) -> int:
    """Return how many calls the stream's dispatcher may have in flight: its number of lanes.

    An HTTPS stream sets it with ``maxInFlight``. AWS streams get ``aws_calls`` unless
    their records are ordered by a key that spans domains.
    """
    https = record.config.get("https") or {}
    if "maxInFlight" in https:
        return max(1, int(https["maxInFlight"]))
    if record.type not in AWS_STREAM_TYPES:
        return 1

    aws = record.config.get("aws") or {}
    if record.type == "kinesis":
        order_key = str(aws.get("partitionKey", "domainId"))
    elif record.type == "sqs" and record.name.rstrip("/").endswith(".fifo"):
        order_key = str(aws.get("messageGroupKey", "domainId"))
    else:
        # Firehose and standard SQS queues keep no order between records.
        return aws_calls
    return 1 if order_key in _KEYS_ACROSS_DOMAINS else aws_calls


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
