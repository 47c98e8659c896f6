"""Settings and limits of the SQS sink, built from a stream's ``name`` and ``aws`` members.

``name`` is a queue name, looked up with GetQueueUrl in the role's account, or a
queue URL. A queue whose name ends in ``.fifo`` is a FIFO queue: its messages carry
a message group id and a deduplication id.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from datastreams.aws.roles import AwsRole
from datastreams.sinks.aws_sink import role_for_stream
from datastreams.sinks.base import SinkLimits
from datastreams.store.records import StreamRecord

# SendMessageBatch takes at most 10 entries, and at most 1 MiB (1,048,576 bytes) of
# message bodies in all
# (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html).
MAX_ENTRIES_PER_CALL = 10
MAX_BYTES_PER_CALL = 1024 * 1024

# A message may be as large as the queue's MaximumMessageSize attribute: 1,024 bytes
# to 1 MiB since AWS raised the maximum from 256 KiB in 2025
# (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html).
# When the attribute cannot be read, the sink keeps to 256 KiB, the maximum before 2025.
DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024

FIFO_SUFFIX = ".fifo"


@dataclass(frozen=True, slots=True)
class SqsSinkConfig:
    """The queue (by name or URL), the role that writes to it, and the message group key."""

    queue_name: str
    role: AwsRole
    queue_url: str | None = None
    message_group_key: str = "domainId"

    @classmethod
    def from_stream(cls, stream: StreamRecord) -> SqsSinkConfig:
        aws = stream.config["aws"]
        queue_url: str | None = None
        queue_name = stream.name
        if stream.name.lower().startswith("https://"):
            queue_url = stream.name
            queue_name = urlsplit(stream.name).path.rstrip("/").rsplit("/", 1)[-1]

        return cls(
            queue_name=queue_name,
            role=role_for_stream(stream),
            queue_url=queue_url,
            message_group_key=str(aws.get("messageGroupKey", "domainId")),
        )

    @property
    def fifo(self) -> bool:
        return self.queue_name.endswith(FIFO_SUFFIX)

    @property
    def account_id(self) -> str:
        """The account that owns the queue: the URL's, else the role's."""
        if self.queue_url is not None:
            segments = urlsplit(self.queue_url).path.strip("/").split("/")
            if len(segments) == 2:
                return segments[0]
        return self.role.account_id


def sqs_limits(max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> SinkLimits:
    """Return the batch limits for a queue that takes messages of ``max_message_bytes``."""
    return SinkLimits(
        max_records_per_call=MAX_ENTRIES_PER_CALL,
        max_bytes_per_call=MAX_BYTES_PER_CALL,
        max_record_bytes=max_message_bytes,
    )
