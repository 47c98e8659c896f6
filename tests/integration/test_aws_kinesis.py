"""The Kinesis sink against moto: every shard read back, in order per partition key."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator

import pytest
from aws_moto import FaultPlan, Moto, RequestLog, aws_stream, client_factory, record, running_moto
from kinesis_checks import (
    arrived_by_key,
    check_partial_failure_holds_key,
    expected_by_key,
    keyed_records,
)

from datastreams.aws.clients import AwsClientFactory
from datastreams.sinks.errors import ConfigurationDeliveryError, RetryableDeliveryError
from datastreams.sinks.kinesis import KinesisSink, KinesisSinkConfig
from datastreams.sinks.kinesis.config import MAX_BYTES_PER_CALL

pytestmark = pytest.mark.integration


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


def new_sink(moto: Moto, clients: AwsClientFactory) -> tuple[KinesisSink, str]:
    name = f"events-{uuid.uuid4().hex[:8]}"
    moto.create_kinesis_stream(name)
    return KinesisSink(KinesisSinkConfig.from_stream(aws_stream("kinesis", name)), clients), name


async def test_kinesis_order_per_key(moto: Moto, clients: AwsClientFactory) -> None:
    sink, name = new_sink(moto, clients)
    records = keyed_records(30)

    result = await sink.send(records)

    assert result.delivered == [item.seq for item in records]
    assert arrived_by_key(moto.kinesis_records, name) == expected_by_key(records)


async def test_kinesis_same_key_same_shard(moto: Moto, clients: AwsClientFactory) -> None:
    sink, name = new_sink(moto, clients)

    await sink.send(keyed_records(12))

    shards_by_key: dict[str, set[str]] = defaultdict(set)
    for shard, key, _data in moto.kinesis_records(name):
        shards_by_key[key].add(shard)
    assert all(len(shards) == 1 for shards in shards_by_key.values())


async def test_kinesis_501_records_two_calls(
    moto: Moto, clients: AwsClientFactory, sent: RequestLog
) -> None:
    sink, name = new_sink(moto, clients)
    records = keyed_records(501)

    result = await sink.send(records)

    assert [len(call.entries()) for call in sent.of("PutRecords")] == [500, 1]
    assert len(result.delivered) == 501
    assert arrived_by_key(moto.kinesis_records, name) == expected_by_key(records)


async def test_kinesis_call_bytes_count_keys(
    moto: Moto, clients: AwsClientFactory, sent: RequestLog
) -> None:
    sink, _name = new_sink(moto, clients)
    # Six records whose data alone fits in 5 MiB, but not with their 8-byte keys.
    records = [record(seq, domain_id="school-a", size=873_810) for seq in range(1, 7)]
    assert sum(len(item.payload) for item in records) <= MAX_BYTES_PER_CALL
    assert sum(len(item.payload) + 8 for item in records) > MAX_BYTES_PER_CALL

    result = await sink.send(records)

    calls = sent.of("PutRecords")
    sizes = [
        sum(
            len(data) + len(entry["PartitionKey"])
            for data, entry in zip(call.data(), call.entries(), strict=True)
        )
        for call in calls
    ]
    assert [len(call.entries()) for call in calls] == [5, 1]
    assert all(size <= MAX_BYTES_PER_CALL for size in sizes)
    assert len(result.delivered) == 6


async def test_kinesis_partial_failure_holds_key(
    moto: Moto, clients: AwsClientFactory, sent: RequestLog, faults: FaultPlan
) -> None:
    sink, name = new_sink(moto, clients)

    await check_partial_failure_holds_key(sink, name, moto.kinesis_records, sent, faults)


async def test_kinesis_throttled_call_retried(
    moto: Moto, clients: AwsClientFactory, faults: FaultPlan
) -> None:
    sink, name = new_sink(moto, clients)
    faults.error("PutRecords", "ProvisionedThroughputExceededException")
    records = keyed_records(6)

    throttled = await sink.send(records)
    recovered = await sink.send(records)

    assert throttled.retry == [1, 2, 3, 4, 5, 6]
    assert isinstance(throttled.error, RetryableDeliveryError)
    assert throttled.error.error_code == "ProvisionedThroughputExceededException"
    assert recovered.delivered == [1, 2, 3, 4, 5, 6]
    assert arrived_by_key(moto.kinesis_records, name) == expected_by_key(records)


async def test_kinesis_server_error_retried(
    moto: Moto, clients: AwsClientFactory, faults: FaultPlan
) -> None:
    sink, _name = new_sink(moto, clients)
    faults.error("PutRecords", "InternalFailure", status=500)

    result = await sink.send(keyed_records(2))

    assert result.retry == [1, 2]
    assert isinstance(result.error, RetryableDeliveryError)
    assert result.error.status == 500


async def test_kinesis_missing_stream_configuration(clients: AwsClientFactory) -> None:
    stream = aws_stream("kinesis", "no-such-stream")
    sink = KinesisSink(KinesisSinkConfig.from_stream(stream), clients)

    result = await sink.send(keyed_records(2))

    assert result.retry == [1, 2]
    assert isinstance(result.error, ConfigurationDeliveryError)
    assert result.error.error_code == "ResourceNotFoundException"


async def test_kinesis_reads_max_record_size(
    moto: Moto, clients: AwsClientFactory, sent: RequestLog
) -> None:
    sink, _name = new_sink(moto, clients)

    await sink.send(keyed_records(1))
    await sink.send(keyed_records(1))

    assert len(sent.of("DescribeStreamSummary")) == 1
    assert sink.limits.max_record_bytes == 1024 * 1024 - 1024


async def test_kinesis_probe_passes(moto: Moto, clients: AwsClientFactory) -> None:
    sink, name = new_sink(moto, clients)

    passed, steps = await sink.probe(record(1))

    assert passed
    assert [step.step for step in steps] == ["assumeRole", "describe", "send"]
    assert steps[1].message is not None and steps[1].message.startswith("ACTIVE")
    assert [data for _shard, _key, data in moto.kinesis_records(name)] == [record(1).payload]


async def test_kinesis_probe_missing_stream(clients: AwsClientFactory) -> None:
    stream = aws_stream("kinesis", "missing-stream")
    sink = KinesisSink(KinesisSinkConfig.from_stream(stream), clients)

    passed, steps = await sink.probe(record(1))

    assert not passed
    assert steps[-1].step == "describe"
    assert steps[-1].error_code == "ResourceNotFoundException"
