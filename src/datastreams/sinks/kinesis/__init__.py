"""The Kinesis sink: PutRecords to a customer's data stream, keyed by ``aws.partitionKey``."""

from datastreams.sinks.kinesis.config import KinesisSinkConfig
from datastreams.sinks.kinesis.sink import KinesisSink

__all__ = ["KinesisSink", "KinesisSinkConfig"]
