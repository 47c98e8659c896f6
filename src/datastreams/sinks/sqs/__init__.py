"""The SQS sink: SendMessageBatch to a customer's standard or FIFO queue."""

from datastreams.sinks.sqs.config import SqsSinkConfig
from datastreams.sinks.sqs.sink import SqsSink

__all__ = ["SqsSink", "SqsSinkConfig"]
