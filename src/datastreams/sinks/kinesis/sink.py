"""The Kinesis sink: PutRecords calls to one data stream with the customer's role.

Records of one partition key arrive in order: after a record fails, later records
with its key wait for the next attempt.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from datastreams.aws.clients import AwsClientFactory
from datastreams.sinks.aws_sink import AwsSink, CallOutcome, PlannedCalls
from datastreams.sinks.base import OutboundRecord
from datastreams.sinks.errors import ConfigurationDeliveryError
from datastreams.sinks.kinesis.config import (
    DEFAULT_MAX_RECORD_BYTES,
    KinesisSinkConfig,
    kinesis_limits,
)
from datastreams.sinks.kinesis.request import build_request, partition_key, plan_calls
from datastreams.sinks.kinesis.retry import read_response

logger = logging.getLogger(__name__)

# Statuses in which a stream accepts records.
WRITABLE_STATUSES = frozenset({"ACTIVE", "UPDATING"})

# After DescribeStreamSummary fails (the role may not allow it), the sink sends with
# the default record size and calls it again after this long. AWS allows 20 calls of
# DescribeStreamSummary per second and account, shared with the customer's own tools.
DESCRIBE_RETRY_INTERVAL_S = 300.0


class KinesisSink(AwsSink):
    """Delivers events to a customer's Kinesis data stream."""

    service = "kinesis"

    def __init__(self, config: KinesisSinkConfig, clients: AwsClientFactory) -> None:
        super().__init__(config.role, clients, kinesis_limits())
        self.config = config
        role = config.role
        self._target = (
            f"arn:{role.partition}:kinesis:{role.region}:{role.account_id}:"
            f"stream/{config.stream_name}"
        )
        self._described = False
        self._describe_failed_at: float | None = None

    @property
    def target(self) -> str:
        return self._target

    def order_key(self, record: OutboundRecord) -> str | None:
        return partition_key(record)

    def prepare(self, client: Any) -> None:
        """Read the stream's maximum record size once; without it, keep to 1 MiB."""
        if self._described:
            return
        failed_at = self._describe_failed_at
        if failed_at is not None and time.monotonic() - failed_at < DESCRIBE_RETRY_INTERVAL_S:
            return

        try:
            self._read_summary(client)
        except Exception as exc:
            # PutRecords reports a missing stream or denied access itself; this call
            # only tunes the limits.
            self._describe_failed_at = time.monotonic()
            logger.info(
                "reading the maximum record size of %s failed (%s); records are kept within "
                "%d bytes",
                self.target,
                exc,
                DEFAULT_MAX_RECORD_BYTES,
                extra={"action": "kinesis_describe_failed", "endpoint": self.target},
            )

    def describe(self, client: Any) -> str:
        summary = self._read_summary(client)
        status = str(summary.get("StreamStatus"))
        if status not in WRITABLE_STATUSES:
            raise ConfigurationDeliveryError(
                f"the stream is {status}; it accepts records once it is ACTIVE",
                error_code="not_active",
                endpoint=self.target,
            )
        return f"{status}, records up to {self.limits.max_record_bytes} bytes of data"

    def plan(self, records: Sequence[OutboundRecord]) -> PlannedCalls:
        return plan_calls(records, self.limits)

    def put(self, client: Any, records: Sequence[OutboundRecord]) -> CallOutcome:
        response = client.put_records(**build_request(self.config.stream_name, records))
        return read_response(response, self.target)

    def _read_summary(self, client: Any) -> dict[str, Any]:
        response = client.describe_stream_summary(StreamName=self.config.stream_name)
        summary: dict[str, Any] = response["StreamDescriptionSummary"]

        max_record_kib = summary.get("MaxRecordSizeInKiB")
        record_bytes = int(max_record_kib) * 1024 if max_record_kib else DEFAULT_MAX_RECORD_BYTES
        self.limits = kinesis_limits(record_bytes)
        self._described = True
        return summary
