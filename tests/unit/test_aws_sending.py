"""The sending logic that the AWS sinks share, with fake botocore clients instead of AWS."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from fakes import stream_record

from datastreams.aws.roles import AwsRole
from datastreams.delivery.sinks import (
    DEFAULT_AWS_CALLS_IN_FLIGHT,
    SinkOptions,
    build_sink,
    calls_in_flight,
)
from datastreams.sinks.base import OutboundRecord
from datastreams.sinks.errors import (
    ConfigurationDeliveryError,
    RetryableDeliveryError,
)
from datastreams.sinks.firehose import FirehoseSink, FirehoseSinkConfig
from datastreams.sinks.kinesis import KinesisSink, KinesisSinkConfig
from datastreams.sinks.sqs import SqsSink, SqsSinkConfig
from datastreams.store.records import StreamRecord

ROLE = AwsRole("arn:aws:iam::111122223333:role/datastreams", "ext-1", "us-east-1", "district")
MIB = 1024 * 1024


def client_error(code: str, operation: str, status: int = 400) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": f"injected {code}"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


class FakeClient:
    """Returns a response for each botocore operation, from a function of its arguments."""

    def __init__(self, **operations: Callable[..., dict[str, Any]]) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._operations = operations

    def __getattr__(self, operation: str) -> Callable[..., dict[str, Any]]:
        def call(**kwargs: Any) -> dict[str, Any]:
            self.calls.append((operation, kwargs))
            return self._operations[operation](**kwargs)

        return call

    def of(self, operation: str) -> list[dict[str, Any]]:
        return [kwargs for name, kwargs in self.calls if name == operation]


class FakeFactory:
    """Stands in for ``AwsClientFactory``: runs calls inline and hands out one client."""

    def __init__(self, client: FakeClient) -> None:
        self.client_object = client
        self.forgotten: list[AwsRole] = []

    async def run(self, function: Callable[..., Any], *args: Any) -> Any:
        return function(*args)

    def client(self, service: str, role: AwsRole) -> FakeClient:
        return self.client_object

    def forget(self, role: AwsRole) -> None:
        self.forgotten.append(role)

    def assume_role_now(self, role: AwsRole) -> dict[str, str]:
        return {"access_key": "a", "secret_key": "s", "token": "t", "expiry_time": ""}

    def client_with_credentials(
        self, service: str, role: AwsRole, credentials: dict[str, str]
    ) -> FakeClient:
        return self.client_object


def outbound(seq: int, *, key: str = "", size: int = 0) -> OutboundRecord:
    payload = json.dumps({"n": seq, "pad": "x" * size}).encode()
    return OutboundRecord(
        seq=seq, guid=f"g{seq}", domain_id="school-a", payload=payload, partition_key=key
    )


def seq_of(data: bytes) -> int:
    return int(json.loads(data)["n"])


def all_delivered(**kwargs: Any) -> dict[str, Any]:
    return {"FailedRecordCount": 0, "Records": [{} for _ in kwargs["Records"]]}


def kinesis_sink(client: FakeClient) -> tuple[KinesisSink, FakeFactory]:
    factory = FakeFactory(client)
    sink = KinesisSink(KinesisSinkConfig("events", ROLE), factory)  # type: ignore[arg-type]
    return sink, factory


def summary(max_kib: int | None = None) -> Callable[..., dict[str, Any]]:
    def describe(**_: Any) -> dict[str, Any]:
        described: dict[str, Any] = {"StreamStatus": "ACTIVE"}
        if max_kib is not None:
            described["MaxRecordSizeInKiB"] = max_kib
        return {"StreamDescriptionSummary": described}

    return describe


def denied(**_: Any) -> dict[str, Any]:
    raise client_error("AccessDeniedException", "DescribeStreamSummary")


async def test_kinesis_limit_from_stream() -> None:
    client = FakeClient(describe_stream_summary=summary(10_240), put_records=all_delivered)
    sink, _factory = kinesis_sink(client)

    result = await sink.send([outbound(1, size=3 * MIB)])

    assert sink.limits.max_record_bytes == 10 * MIB - 1024
    assert result.delivered == [1]


async def test_kinesis_limit_default_when_denied() -> None:
    client = FakeClient(describe_stream_summary=denied, put_records=all_delivered)
    sink, _factory = kinesis_sink(client)

    first = await sink.send([outbound(1)])
    second = await sink.send([outbound(2)])

    assert sink.limits.max_record_bytes == MIB - 1024
    assert first.delivered == [1]
    assert second.delivered == [2]
    assert len(client.of("describe_stream_summary")) == 1


async def test_invalid_record_narrowed_down() -> None:
    def put_records(**kwargs: Any) -> dict[str, Any]:
        if any(seq_of(entry["Data"]) == 3 for entry in kwargs["Records"]):
            raise client_error("InvalidArgumentException", "PutRecords")
        return all_delivered(**kwargs)

    client = FakeClient(describe_stream_summary=summary(), put_records=put_records)
    sink, _factory = kinesis_sink(client)

    result = await sink.send([outbound(seq) for seq in range(1, 6)])

    calls = [
        [seq_of(entry["Data"]) for entry in call["Records"]] for call in client.of("put_records")
    ]
    assert calls == [[1, 2, 3, 4, 5], [1, 2], [3, 4, 5], [3], [4, 5]]
    assert result.delivered == [1, 2, 4, 5]
    assert list(result.dead) == [3]
    assert result.retry == []


async def test_throttled_call_stops_later_calls() -> None:
    def put_records(**kwargs: Any) -> dict[str, Any]:
        if len(client.of("put_records")) == 2:
            raise client_error("ProvisionedThroughputExceededException", "PutRecords")
        return all_delivered(**kwargs)

    client = FakeClient(describe_stream_summary=summary(), put_records=put_records)
    sink, _factory = kinesis_sink(client)
    records = [outbound(seq) for seq in range(1, 1201)]

    result = await sink.send(records)

    assert len(client.of("put_records")) == 2
    assert result.delivered == list(range(1, 501))
    assert result.retry == list(range(501, 1201))
    assert isinstance(result.error, RetryableDeliveryError)


async def test_failed_key_held_in_later_calls() -> None:
    def put_records(**kwargs: Any) -> dict[str, Any]:
        results: list[dict[str, Any]] = [
            {"ErrorCode": "InternalFailure"} if seq_of(entry["Data"]) == 2 else {}
            for entry in kwargs["Records"]
        ]
        failed = sum(1 for entry in results if entry)
        return {"FailedRecordCount": failed, "Records": results}

    client = FakeClient(describe_stream_summary=summary(), put_records=put_records)
    sink, _factory = kinesis_sink(client)
    keys = ["a", "a", "b"] + ["a", "b"] * 300
    records = [outbound(seq, key=key) for seq, key in enumerate(keys, start=1)]

    result = await sink.send(records)

    later_a = [item.seq for item in records[500:] if item.partition_key == "a"]
    assert sorted(result.retry) == [2, *later_a]
    second_call = [seq_of(entry["Data"]) for entry in client.of("put_records")[1]["Records"]]
    assert all(records[seq - 1].partition_key == "b" for seq in second_call)


async def test_rejected_credentials_forgotten() -> None:
    def put_records(**_: Any) -> dict[str, Any]:
        raise client_error("ExpiredTokenException", "PutRecords")

    client = FakeClient(describe_stream_summary=summary(), put_records=put_records)
    sink, factory = kinesis_sink(client)

    result = await sink.send([outbound(1)])

    assert isinstance(result.error, ConfigurationDeliveryError)
    assert factory.forgotten == [ROLE]


async def test_sqs_missing_queue_retries_all() -> None:
    def get_queue_url(**_: Any) -> dict[str, Any]:
        raise client_error("QueueDoesNotExist", "GetQueueUrl")

    client = FakeClient(get_queue_url=get_queue_url)
    factory = FakeFactory(client)
    sink = SqsSink(SqsSinkConfig("orders", ROLE), factory)  # type: ignore[arg-type]

    result = await sink.send([outbound(1), outbound(2)])

    assert result.retry == [1, 2]
    assert isinstance(result.error, ConfigurationDeliveryError)
    assert result.error.error_code == "QueueDoesNotExist"
    assert client.of("send_message_batch") == []


def accepting_sqs_client(*, max_message_bytes: int) -> FakeClient:
    """Return a fake SQS client of a queue with that size limit that accepts every message."""
    return FakeClient(
        get_queue_url=lambda **_: {"QueueUrl": "https://queue"},
        get_queue_attributes=lambda **_: {
            "Attributes": {"MaximumMessageSize": str(max_message_bytes)}
        },
        send_message_batch=lambda **kwargs: {
            "Successful": [{"Id": entry["Id"]} for entry in kwargs["Entries"]]
        },
    )


async def test_sqs_invalid_utf8_dead() -> None:
    client = accepting_sqs_client(max_message_bytes=262_144)
    sink = SqsSink(SqsSinkConfig("orders", ROLE), FakeFactory(client))  # type: ignore[arg-type]
    broken = OutboundRecord(seq=2, guid="g2", domain_id="school-a", payload=b'{"a":"\xff"}')

    result = await sink.send([outbound(1), broken])

    assert result.delivered == [1]
    assert list(result.dead) == [2]
    assert "not valid UTF-8" in result.dead[2]


async def test_firehose_not_active_probe() -> None:
    client = FakeClient(
        describe_delivery_stream=lambda **_: {
            "DeliveryStreamDescription": {
                "DeliveryStreamStatus": "CREATING",
                "DeliveryStreamType": "DirectPut",
            }
        },
        close=lambda: {},
    )
    factory = FakeFactory(client)
    sink = FirehoseSink(FirehoseSinkConfig("events", ROLE), factory)  # type: ignore[arg-type]

    passed, steps = await sink.probe(outbound(1))

    assert not passed
    assert [step.step for step in steps] == ["assumeRole", "describe"]
    assert steps[1].error_code == "not_active"
    assert steps[1].message is not None and "CREATING" in steps[1].message
    assert client.of("close") == [{}]


def aws_stream(stream_type: str, name: str) -> StreamRecord:
    aws = {"roleArn": ROLE.role_arn, "region": "us-east-1", "externalId": "ext-1"}
    return stream_record(stream_type, name, {"aws": aws})


def test_build_sink_aws_types() -> None:
    options = SinkOptions(aws_clients=FakeFactory(FakeClient()))  # type: ignore[arg-type]

    assert isinstance(build_sink(aws_stream("firehose", "events"), {}, options), FirehoseSink)
    assert isinstance(build_sink(aws_stream("kinesis", "events"), {}, options), KinesisSink)
    assert isinstance(build_sink(aws_stream("sqs", "events.fifo"), {}, options), SqsSink)


def test_build_sink_role_from_stream() -> None:
    options = SinkOptions(aws_clients=FakeFactory(FakeClient()))  # type: ignore[arg-type]

    sink = build_sink(aws_stream("kinesis", "events"), {}, options)

    assert isinstance(sink, KinesisSink)
    assert sink.role == ROLE
    assert sink.target == "arn:aws:kinesis:us-east-1:111122223333:stream/events"


async def test_lowered_limit_holds_group() -> None:
    client = accepting_sqs_client(max_message_bytes=2_048)
    sink = SqsSink(SqsSinkConfig("orders.fifo", ROLE), FakeFactory(client))  # type: ignore[arg-type]
    large = OutboundRecord(
        seq=1, guid="g1", domain_id="school-a", payload=b'"' + b"x" * 3000 + b'"'
    )
    same_group = OutboundRecord(seq=2, guid="g2", domain_id="school-a", payload=b'{"n":2}')
    other_group = OutboundRecord(seq=3, guid="g3", domain_id="school-b", payload=b'{"n":3}')

    result = await sink.send([large, same_group, other_group])

    assert result.retry == [1, 2]
    assert result.delivered == [3]
    assert result.error is not None
    assert result.error.error_code == "record_too_large"


async def test_record_built_before_limit_lowered() -> None:
    client = accepting_sqs_client(max_message_bytes=2_048)
    sink = SqsSink(SqsSinkConfig("orders", ROLE), FakeFactory(client))  # type: ignore[arg-type]
    built_within = sink.limits.max_record_bytes
    # Another lane's send reads the queue's limit first.
    await sink.send([OutboundRecord(seq=1, guid="g1", domain_id="a", payload=b"{}")])

    large = b'"' + b"x" * 3000 + b'"'
    built_before = OutboundRecord(
        seq=2, guid="g2", domain_id="a", payload=large, size_limit=built_within
    )
    built_after = OutboundRecord(seq=3, guid="g3", domain_id="b", payload=large, size_limit=2048)
    result = await sink.send([built_before, built_after])

    # Built within the old limit, seq 2 is built again; seq 3 never fits.
    assert result.retry == [2]
    assert list(result.dead) == [3]


@pytest.mark.parametrize(
    ("stream_type", "name", "config", "expected"),
    [
        ("https", "hook", {"https": {"maxInFlight": 16}}, 16),
        ("https", "hook", {"https": {}}, 1),
        ("kinesis", "events", {"aws": {"partitionKey": "domainId"}}, DEFAULT_AWS_CALLS_IN_FLIGHT),
        ("kinesis", "events", {"aws": {}}, DEFAULT_AWS_CALLS_IN_FLIGHT),
        ("kinesis", "events", {"aws": {"partitionKey": "guid"}}, DEFAULT_AWS_CALLS_IN_FLIGHT),
        ("kinesis", "events", {"aws": {"partitionKey": "userId"}}, 1),
        ("kinesis", "events", {"aws": {"partitionKey": "type"}}, 1),
        ("firehose", "events", {"aws": {"partitionKey": "type"}}, DEFAULT_AWS_CALLS_IN_FLIGHT),
        ("sqs", "events", {"aws": {"messageGroupKey": "userId"}}, DEFAULT_AWS_CALLS_IN_FLIGHT),
        (
            "sqs",
            "events.fifo",
            {"aws": {"messageGroupKey": "domainId"}},
            DEFAULT_AWS_CALLS_IN_FLIGHT,
        ),
        ("sqs", "events.fifo", {"aws": {"messageGroupKey": "userId"}}, 1),
        (
            "sqs",
            "https://127.0.0.1/111122223333/events.fifo",
            {"aws": {"messageGroupKey": "type"}},
            1,
        ),
    ],
)
def test_calls_in_flight(
    stream_type: str, name: str, config: dict[str, Any], expected: int
) -> None:
    assert calls_in_flight(stream_record(stream_type, name, config)) == expected


def test_calls_in_flight_setting() -> None:
    queue = stream_record("sqs", "events", {"aws": {}})
    keyed_by_user = stream_record("kinesis", "events", {"aws": {"partitionKey": "userId"}})

    assert calls_in_flight(queue, aws_calls=2) == 2
    assert calls_in_flight(keyed_by_user, aws_calls=2) == 1
