"""The Firehose sink: PutRecordBatch to a customer's delivery stream, one line per record."""

from datastreams.sinks.firehose.config import FirehoseSinkConfig
from datastreams.sinks.firehose.sink import FirehoseSink

__all__ = ["FirehoseSink", "FirehoseSinkConfig"]
