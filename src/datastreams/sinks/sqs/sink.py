"""The SQS sink: SendMessageBatch calls to one queue with the customer's role.

For a FIFO queue, messages of one message group arrive in order: after a message
fails, later messages of its group wait for the next attempt.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from datastreams.aws.clients import AwsClientFactory
from datastreams.sinks.aws_sink import AwsSink, CallOutcome, PlannedCalls, split_calls
from datastreams.sinks.base import OutboundRecord
from datastreams.sinks.errors import DeliveryError, PermanentDeliveryError
from datastreams.sinks.sqs.config import DEFAULT_MAX_MESSAGE_BYTES, SqsSinkConfig, sqs_limits
from datastreams.sinks.sqs.request import build_request, message_body, message_group_id
from datastreams.sinks.sqs.retry import read_response

logger = logging.getLogger(__name__)

# After GetQueueAttributes fails (the role may not allow it), the sink sends with the
# default message size and calls it again after this long.
ATTRIBUTES_RETRY_INTERVAL_S = 300.0


class SqsSink(AwsSink):
    """Delivers events to a customer's SQS queue."""

    service = "sqs"

    def __init__(self, config: SqsSinkConfig, clients: AwsClientFactory) -> None:
        super().__init__(config.role, clients, sqs_limits())
        self.config = config
        role = config.role
        self._target = (
            f"arn:{role.partition}:sqs:{role.region}:{config.account_id}:{config.queue_name}"
        )
        self._queue_url = config.queue_url
        self._attributes_read = False
        self._attributes_failed_at: float | None = None

    @property
    def target(self) -> str:
        return self._target

    def order_key(self, record: OutboundRecord) -> str | None:
        if not self.config.fifo:
            return None
        return message_group_id(record, self.config.message_group_key)

    def prepare(self, client: Any) -> None:
        """Look up the queue URL (a failure ends the send) and the queue's message size."""
        queue_url = self._resolve_queue_url(client)

        if self._attributes_read:
            return
        failed_at = self._attributes_failed_at
        if failed_at is not None and time.monotonic() - failed_at < ATTRIBUTES_RETRY_INTERVAL_S:
            return

        try:
            self._read_attributes(client, queue_url)
        except Exception as exc:
            self._attributes_failed_at = time.monotonic()
            logger.info(
                "reading the MaximumMessageSize of %s failed (%s); messages are kept within "
                "%d bytes",
                self.target,
                exc,
                DEFAULT_MAX_MESSAGE_BYTES,
                extra={"action": "sqs_attributes_failed", "endpoint": self.target},
            )

    def describe(self, client: Any) -> str:
        queue_url = self._resolve_queue_url(client)
        attributes = self._read_attributes(client, queue_url)
        kind = "FIFO" if attributes.get("FifoQueue") == "true" else "standard"
        return f"{kind} queue, messages up to {self.limits.max_record_bytes} bytes"

    def plan(self, records: Sequence[OutboundRecord]) -> PlannedCalls:
        rejected: dict[int, DeliveryError] = {}
        sizes: dict[int, int] = {}
        for record in records:
            try:
                sizes[record.seq] = len(message_body(record).encode("utf-8"))
            except UnicodeDecodeError as exc:
                rejected[record.seq] = PermanentDeliveryError(
                    f"the record is not valid UTF-8, which SQS requires: {exc}",
                    error_code="invalid_utf8",
                    endpoint=self.target,
                )

        sendable = [record for record in records if record.seq not in rejected]
        planned = split_calls(
            sendable,
            lambda record: sizes[record.seq],
            self.limits,
            ("queue's MaximumMessageSize", self.limits.max_record_bytes),
        )
        planned.rejected.update(rejected)
        return planned

    def put(self, client: Any, records: Sequence[OutboundRecord]) -> CallOutcome:
        assert self._queue_url is not None, "prepare() looks up the queue URL first"
        request = build_request(
            self._queue_url,
            records,
            fifo=self.config.fifo,
            message_group_key=self.config.message_group_key,
        )
        response = client.send_message_batch(**request)
        return read_response(response, len(records), self.target)

    def _resolve_queue_url(self, client: Any) -> str:
        if self._queue_url is None:
            response = client.get_queue_url(
                QueueName=self.config.queue_name,
                QueueOwnerAWSAccountId=self.config.account_id,
            )
            self._queue_url = str(response["QueueUrl"])
        return self._queue_url

    def _read_attributes(self, client: Any, queue_url: str) -> dict[str, str]:
        response = client.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["MaximumMessageSize", "FifoQueue"]
        )
        attributes: dict[str, str] = response.get("Attributes") or {}

        max_message_bytes = attributes.get("MaximumMessageSize")
        limit = int(max_message_bytes) if max_message_bytes else DEFAULT_MAX_MESSAGE_BYTES
        self.limits = sqs_limits(limit)
        self._attributes_read = True
        return attributes
