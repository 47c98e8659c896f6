"""The Firehose sink: PutRecordBatch calls to one delivery stream with the customer's role."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from datastreams.aws.clients import AwsClientFactory
from datastreams.sinks.aws_sink import AwsSink, CallOutcome, PlannedCalls
from datastreams.sinks.base import OutboundRecord
from datastreams.sinks.errors import ConfigurationDeliveryError
from datastreams.sinks.firehose.config import FirehoseSinkConfig
from datastreams.sinks.firehose.request import build_request, plan_calls
from datastreams.sinks.firehose.retry import read_response

# Only a Direct PUT delivery stream accepts PutRecordBatch; one that reads from a
# Kinesis stream or an MSK cluster rejects it.
DIRECT_PUT = "DirectPut"


class FirehoseSink(AwsSink):
    """Delivers events to a customer's Firehose delivery stream."""

    service = "firehose"

    def __init__(self, config: FirehoseSinkConfig, clients: AwsClientFactory) -> None:
        super().__init__(config.role, clients, config.limits)
        self.config = config
        role = config.role
        self._target = (
            f"arn:{role.partition}:firehose:{role.region}:{role.account_id}:"
            f"deliverystream/{config.delivery_stream_name}"
        )

    @property
    def target(self) -> str:
        return self._target

    def prepare(self, client: Any) -> None:
        """Nothing to read: the limits of PutRecordBatch are the same for every delivery stream."""

    def describe(self, client: Any) -> str:
        response = client.describe_delivery_stream(
            DeliveryStreamName=self.config.delivery_stream_name
        )
        description = response["DeliveryStreamDescription"]
        status = str(description.get("DeliveryStreamStatus"))
        source = str(description.get("DeliveryStreamType") or DIRECT_PUT)

        if status != "ACTIVE":
            raise ConfigurationDeliveryError(
                f"the delivery stream is {status}; it accepts records once it is ACTIVE",
                error_code="not_active",
                endpoint=self.target,
            )
        if source != DIRECT_PUT:
            raise ConfigurationDeliveryError(
                f"the delivery stream's source is {source}, so it does not accept "
                "PutRecordBatch; create a Direct PUT delivery stream",
                error_code="not_direct_put",
                endpoint=self.target,
            )
        return f"{status}, {source}"

    def plan(self, records: Sequence[OutboundRecord]) -> PlannedCalls:
        return plan_calls(records, self.limits, self.config.append_newline)

    def put(self, client: Any, records: Sequence[OutboundRecord]) -> CallOutcome:
        request = build_request(
            self.config.delivery_stream_name, records, self.config.append_newline
        )
        response = client.put_record_batch(**request)
        return read_response(response, self.target)
