"""The SQS sink against moto: standard and FIFO queues, order per group, deduplication."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from aws_moto import (
    CUSTOMER_ACCOUNT,
    REGION,
    FaultPlan,
    Moto,
    RequestLog,
    aws_stream,
    client_factory,
    record,
    running_moto,
)

from datastreams.aws.clients import AwsClientFactory
from datastreams.sinks.base import OutboundRecord
from datastreams.sinks.errors import ConfigurationDeliveryError, RetryableDeliveryError
from datastreams.sinks.sqs import SqsSink, SqsSinkConfig
from datastreams.sinks.sqs.config import MAX_BYTES_PER_CALL

pytestmark = pytest.mark.integration

GROUPS = ("school-a", "school-b")


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    with running_moto() as server:
        yield server


@pytest.fixture
def sent() -> RequestLog:
    return RequestLog()


@pytest.fixture
def faults() -> FaultPlan:
    return FaultPlan()


@pytest.fixture
def clients(moto: Moto, sent: RequestLog, faults: FaultPlan) -> Iterator[AwsClientFactory]:
    with client_factory(sent, faults) as factory:
        yield factory


def new_sink(
    moto: Moto, clients: AwsClientFactory, *, fifo: bool = False, **attributes: str
) -> tuple[SqsSink, str]:
    name = f"events-{uuid.uuid4().hex[:8]}" + (".fifo" if fifo else "")
    url = moto.create_queue(name, **attributes)
    return SqsSink(SqsSinkConfig.from_stream(aws_stream("sqs", name)), clients), url


def grouped_records(
    count: int, *, queued_at: str = "2024-05-01T12:00:00.0000000Z"
) -> list[OutboundRecord]:
    return [
        record(seq, domain_id=GROUPS[seq % len(GROUPS)], queued_at=queued_at)
        for seq in range(1, count + 1)
    ]


def bodies_by_group(messages: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    by_group: dict[str, list[str]] = defaultdict(list)
    for message in messages:
        by_group[message["Attributes"]["MessageGroupId"]].append(message["Body"])
    return dict(by_group)


def expected_by_group(records: Sequence[OutboundRecord]) -> dict[str, list[str]]:
    by_group: dict[str, list[str]] = defaultdict(list)
    for item in records:
        by_group[item.domain_id].append(item.payload.decode())
    return dict(by_group)


async def test_sqs_standard_queue_by_name(
    moto: Moto, clients: AwsClientFactory, sent: RequestLog
) -> None:
    sink, url = new_sink(moto, clients)
    records = grouped_records(25)

    result = await sink.send(records)

    assert result.delivered == [item.seq for item in records]
    assert [len(call.entries()) for call in sent.of("SendMessageBatch")] == [10, 10, 5]
    assert len(sent.of("GetQueueUrl")) == 1
    assert sent.of("GetQueueUrl")[0].body["QueueOwnerAWSAccountId"] == CUSTOMER_ACCOUNT
    received = sorted(message["Body"] for message in moto.receive_all(url))
    assert received == sorted(item.payload.decode() for item in records)


async def test_sqs_standard_no_fifo_ids(
    moto: Moto, clients: AwsClientFactory, sent: RequestLog
) -> None:
    sink, _url = new_sink(moto, clients)

    await sink.send(grouped_records(2))

    entries = sent.of("SendMessageBatch")[0].entries()
    assert all("MessageGroupId" not in entry for entry in entries)
    assert all("MessageDeduplicationId" not in entry for entry in entries)


async def test_sqs_queue_by_url(moto: Moto, clients: AwsClientFactory, sent: RequestLog) -> None:
    name = f"events-{uuid.uuid4().hex[:8]}"
    url = moto.create_queue(name)
    queue_url = f"https://sqs.{REGION}.amazonaws.com/{CUSTOMER_ACCOUNT}/{name}"
    sink = SqsSink(SqsSinkConfig.from_stream(aws_stream("sqs", queue_url)), clients)

    result = await sink.send(grouped_records(3))

    assert result.delivered == [1, 2, 3]
    assert sent.of("GetQueueUrl") == []
    assert sent.of("SendMessageBatch")[0].body["QueueUrl"] == queue_url
    assert len(moto.receive_all(url)) == 3


async def test_sqs_fifo_order_per_group(
    moto: Moto, clients: AwsClientFactory, sent: RequestLog
) -> None:
    sink, url = new_sink(moto, clients, fifo=True)
    records = grouped_records(24)

    result = await sink.send(records)

    assert len(result.delivered) == 24
    entries = [entry for call in sent.of("SendMessageBatch") for entry in call.entries()]
    assert [entry["MessageGroupId"] for entry in entries] == [item.domain_id for item in records]
    assert [entry["MessageDeduplicationId"] for entry in entries] == [
        f"{item.guid}:{item.queued_at}" for item in records
    ]
    assert bodies_by_group(moto.receive_all(url)) == expected_by_group(records)


async def test_sqs_fifo_deduplicates_retry(moto: Moto, clients: AwsClientFactory) -> None:
    sink, url = new_sink(moto, clients, fifo=True)
    records = grouped_records(4)

    await sink.send(records)
    await sink.send(records)

    assert bodies_by_group(moto.receive_all(url)) == expected_by_group(records)


async def test_sqs_fifo_replay_arrives_again(moto: Moto, clients: AwsClientFactory) -> None:
    sink, url = new_sink(moto, clients, fifo=True)
    first = grouped_records(2)
    replayed = grouped_records(2, queued_at="2024-05-02T08:00:00.0000000Z")

    await sink.send(first)
    await sink.send(replayed)

    received = [message["Body"] for message in moto.receive_all(url)]
    assert sorted(received) == sorted(item.payload.decode() for item in first + replayed)


async def test_sqs_sender_fault_dead(
    moto: Moto, clients: AwsClientFactory, faults: FaultPlan
) -> None:
    sink, url = new_sink(moto, clients)
    faults.partial(
        "SendMessageBatch",
        lambda body: "InvalidMessageContents" if json.loads(body)["n"] == 2 else None,
        sender_fault=True,
    )

    result = await sink.send(grouped_records(3))

    assert result.delivered == [1, 3]
    assert list(result.dead) == [2]
    assert "InvalidMessageContents" in result.dead[2]
    assert result.retry == []
    assert len(moto.receive_all(url)) == 2


async def test_sqs_server_fault_retried(
    moto: Moto, clients: AwsClientFactory, faults: FaultPlan, sent: RequestLog
) -> None:
    sink, url = new_sink(moto, clients)
    records = grouped_records(3)
    faults.partial(
        "SendMessageBatch",
        lambda body: "InternalError" if json.loads(body)["n"] == 2 else None,
    )

    first = await sink.send(records)
    second = await sink.send([records[1]])

    assert first.delivered == [1, 3]
    assert first.retry == [2]
    assert isinstance(first.error, RetryableDeliveryError)
    assert second.delivered == [2]
    assert [len(call.entries()) for call in sent.of("SendMessageBatch")] == [3, 1]
    assert len(moto.receive_all(url)) == 3


async def test_sqs_fifo_partial_failure_holds_group(
    moto: Moto, clients: AwsClientFactory, faults: FaultPlan
) -> None:
    sink, url = new_sink(moto, clients, fifo=True)
    records = grouped_records(20)
    by_seq = {item.seq: item for item in records}
    # Record 10 (group school-a) is the last of its group in the first call (1-10).
    faults.partial(
        "SendMessageBatch",
        lambda body: "ServiceUnavailable" if json.loads(body)["n"] == 10 else None,
    )

    first = await sink.send(records)
    second = await sink.send([by_seq[seq] for seq in sorted(first.retry)])

    held = [seq for seq in range(11, 21) if GROUPS[seq % 2] == "school-a"]
    assert sorted(first.retry) == [10, *held]
    assert sorted(second.delivered) == sorted(first.retry)
    assert bodies_by_group(moto.receive_all(url)) == expected_by_group(records)


async def test_sqs_rejected_characters_escaped(
    moto: Moto, clients: AwsClientFactory, sent: RequestLog
) -> None:
    sink, url = new_sink(moto, clients)
    special = record(1, text="a\ufffeb\uffffc \u2603 \U0001f600")

    result = await sink.send([special])

    body = sent.of("SendMessageBatch")[0].entries()[0]["MessageBody"]
    assert result.delivered == [1]
    assert "\ufffe" not in body
    assert "\uffff" not in body
    assert "\\ufffe" in body
    assert "\U0001f600" in body
    assert json.loads(body) == json.loads(special.payload)
    assert json.loads(moto.receive_all(url)[0]["Body"]) == json.loads(special.payload)


async def test_sqs_call_bytes_within_limit(
    moto: Moto, clients: AwsClientFactory, sent: RequestLog
) -> None:
    sink, url = new_sink(moto, clients)
    records = [record(seq, size=300 * 1024) for seq in range(1, 6)]

    result = await sink.send(records)

    calls = sent.of("SendMessageBatch")
    sizes = [sum(len(entry["MessageBody"].encode()) for entry in call.entries()) for call in calls]
    assert [len(call.entries()) for call in calls] == [3, 2]
    assert all(size <= MAX_BYTES_PER_CALL for size in sizes)
    assert len(result.delivered) == 5
    assert len(moto.receive_all(url)) == 5


async def test_sqs_smaller_queue_limit(moto: Moto, clients: AwsClientFactory) -> None:
    sink, _url = new_sink(moto, clients, MaximumMessageSize="2048")
    large = record(1, size=3000)

    first = await sink.send([large, record(2)])
    second = await sink.send([large])

    assert sink.limits.max_record_bytes == 2048
    assert first.delivered == [2]
    assert first.retry == [1]
    assert first.error is not None and first.error.error_code == "record_too_large"
    assert list(second.dead) == [1]


async def test_sqs_missing_queue_configuration(clients: AwsClientFactory) -> None:
    sink = SqsSink(SqsSinkConfig.from_stream(aws_stream("sqs", "no-such-queue")), clients)

    result = await sink.send(grouped_records(2))

    assert result.retry == [1, 2]
    assert isinstance(result.error, ConfigurationDeliveryError)
    assert result.error.error_code == "QueueDoesNotExist"


async def test_sqs_probe_passes(moto: Moto, clients: AwsClientFactory) -> None:
    sink, url = new_sink(moto, clients, fifo=True)

    passed, steps = await sink.probe(record(1, queued_at=""))

    assert passed
    assert [step.step for step in steps] == ["assumeRole", "describe", "send"]
    assert steps[1].message == "FIFO queue, messages up to 1048576 bytes"
    assert len(moto.receive_all(url)) == 1


async def test_sqs_probe_missing_queue(clients: AwsClientFactory) -> None:
    sink = SqsSink(SqsSinkConfig.from_stream(aws_stream("sqs", "missing-queue")), clients)

    passed, steps = await sink.probe(record(1))

    assert not passed
    assert steps[-1].step == "describe"
    assert steps[-1].error_code == "QueueDoesNotExist"
