"""The Firehose sink against moto: records land in the S3 objects behind the delivery stream."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence

import pytest
from aws_moto import (
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
from datastreams.sinks.firehose import FirehoseSink, FirehoseSinkConfig
from datastreams.sinks.firehose.config import MAX_BYTES_PER_CALL, MAX_RECORD_BYTES

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


def new_sink(
    moto: Moto, clients: AwsClientFactory, *, append_newline: bool = True
) -> tuple[FirehoseSink, str]:
    name = f"events-{uuid.uuid4().hex[:8]}"
    bucket = moto.create_delivery_stream(name)
    stream = aws_stream("firehose", name, appendNewline=append_newline)
    return FirehoseSink(FirehoseSinkConfig.from_stream(stream), clients), bucket


def delivered_bytes(moto: Moto, bucket: str, expected: Sequence[bytes]) -> bytes:
    """Return the bucket's objects joined in the order of ``expected``'s lines.

    moto names objects by the second, so objects written in the same second are put
    back in order by the position of their first line.
    """
    objects = moto.bucket_objects(bucket)
    position = {line: index for index, line in enumerate(expected)}
    objects.sort(key=lambda content: position.get(content.split(b"\n", 1)[0] + b"\n", -1))
    return b"".join(objects)


def lines(records: Sequence[OutboundRecord]) -> list[bytes]:
    return [item.payload + b"\n" for item in records]


async def test_firehose_lines_arrive_byte_for_byte(moto: Moto, clients: AwsClientFactory) -> None:
    sink, bucket = new_sink(moto, clients)
    records = [record(seq, text="caf\u00e9 \u2603") for seq in range(1, 6)]

    result = await sink.send(records)

    assert result.delivered == [1, 2, 3, 4, 5]
    assert result.retry == []
    assert result.dead == {}
    assert result.endpoint == sink.target
    assert delivered_bytes(moto, bucket, lines(records)) == b"".join(lines(records))


async def test_firehose_without_newline(moto: Moto, clients: AwsClientFactory) -> None:
    sink, bucket = new_sink(moto, clients, append_newline=False)
    records = [record(seq) for seq in range(1, 4)]

    await sink.send(records)

    assert moto.bucket_objects(bucket) == [b"".join(item.payload for item in records)]


async def test_firehose_501_records_two_calls(
    moto: Moto, clients: AwsClientFactory, sent: RequestLog
) -> None:
    sink, bucket = new_sink(moto, clients)
    records = [record(seq) for seq in range(1, 502)]

    result = await sink.send(records)

    calls = sent.of("PutRecordBatch")
    assert [len(call.entries()) for call in calls] == [500, 1]
    assert len(result.delivered) == 501
    assert delivered_bytes(moto, bucket, lines(records)) == b"".join(lines(records))


async def test_firehose_call_bytes_split(
    moto: Moto, clients: AwsClientFactory, sent: RequestLog
) -> None:
    sink, bucket = new_sink(moto, clients)
    # Eight records of 512 KiB of data each (line and newline), and a ninth of 1 byte:
    # 4 MiB plus one byte.
    records = [record(seq, size=512 * 1024 - 1) for seq in range(1, 9)]
    records.append(OutboundRecord(seq=9, guid="g9", domain_id="school-a", payload=b""))
    assert sum(len(item.payload) + 1 for item in records) == MAX_BYTES_PER_CALL + 1

    result = await sink.send(records)

    call_sizes = [sum(len(data) for data in call.data()) for call in sent.of("PutRecordBatch")]
    assert call_sizes == [MAX_BYTES_PER_CALL, 1]
    assert len(result.delivered) == 9
    assert delivered_bytes(moto, bucket, lines(records)) == b"".join(lines(records))


async def test_firehose_oversized_record_dead(
    moto: Moto, clients: AwsClientFactory, sent: RequestLog
) -> None:
    sink, bucket = new_sink(moto, clients)
    largest = record(1, size=MAX_RECORD_BYTES - 1)
    too_large = record(2, size=MAX_RECORD_BYTES)

    result = await sink.send([largest, too_large])

    assert result.delivered == [1]
    assert list(result.dead) == [2]
    assert "1024001 bytes exceeds the Firehose record limit of 1024000" in result.dead[2]
    assert [len(call.entries()) for call in sent.of("PutRecordBatch")] == [1]
    assert moto.bucket_objects(bucket) == [largest.payload + b"\n"]


async def test_firehose_partial_failure_resends_failed(
    moto: Moto, clients: AwsClientFactory, sent: RequestLog, faults: FaultPlan
) -> None:
    sink, bucket = new_sink(moto, clients)
    records = [record(seq) for seq in range(1, 7)]
    failing = {2, 5}
    faults.partial(
        "PutRecordBatch",
        lambda data: "ServiceUnavailableException" if json.loads(data)["n"] in failing else None,
    )

    first = await sink.send(records)
    second = await sink.send([item for item in records if item.seq in first.retry])

    assert first.delivered == [1, 3, 4, 6]
    assert sorted(first.retry) == [2, 5]
    assert isinstance(first.error, RetryableDeliveryError)
    assert first.error.error_code == "ServiceUnavailableException"
    assert second.delivered == [2, 5]
    assert [len(call.entries()) for call in sent.of("PutRecordBatch")] == [6, 2]
    arrived = sorted(b"".join(moto.bucket_objects(bucket)).splitlines(keepends=True))
    assert arrived == sorted(lines(records))


@pytest.mark.parametrize(
    ("code", "status"),
    [("ServiceUnavailableException", 400), ("InternalFailure", 500), ("Unknown", 503)],
)
async def test_firehose_whole_call_retryable(
    moto: Moto, clients: AwsClientFactory, faults: FaultPlan, code: str, status: int
) -> None:
    sink, bucket = new_sink(moto, clients)
    faults.error("PutRecordBatch", code, status=status)
    records = [record(seq) for seq in range(1, 4)]

    failed = await sink.send(records)
    recovered = await sink.send(records)

    assert failed.retry == [1, 2, 3]
    assert isinstance(failed.error, RetryableDeliveryError)
    assert failed.error.status == status
    assert recovered.delivered == [1, 2, 3]
    assert delivered_bytes(moto, bucket, lines(records)) == b"".join(lines(records))


async def test_firehose_missing_stream_configuration(clients: AwsClientFactory) -> None:
    stream = aws_stream("firehose", "no-such-stream")
    sink = FirehoseSink(FirehoseSinkConfig.from_stream(stream), clients)

    result = await sink.send([record(1)])

    assert result.retry == [1]
    assert isinstance(result.error, ConfigurationDeliveryError)
    assert result.error.error_code == "ResourceNotFoundException"
    assert "no-such-stream" in result.error.message


async def test_firehose_invalid_record_narrowed(
    moto: Moto, clients: AwsClientFactory, sent: RequestLog, faults: FaultPlan
) -> None:
    sink, bucket = new_sink(moto, clients)
    records = [record(seq) for seq in range(1, 9)]
    faults.reject_calls(
        "PutRecordBatch", lambda data: json.loads(data)["n"] == 6, "InvalidArgumentException"
    )

    result = await sink.send(records)

    calls = [[json.loads(data)["n"] for data in call.data()] for call in sent.of("PutRecordBatch")]
    assert calls == [[1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 3, 4], [5, 6, 7, 8], [5, 6], [5], [6], [7, 8]]
    assert result.delivered == [1, 2, 3, 4, 5, 7, 8]
    assert list(result.dead) == [6]
    assert "InvalidArgumentException" in result.dead[6]
    expected = [line for line in lines(records) if json.loads(line)["n"] != 6]
    arrived = b"".join(moto.bucket_objects(bucket)).splitlines(keepends=True)
    assert sorted(arrived) == sorted(expected)


async def test_firehose_probe_passes(moto: Moto, clients: AwsClientFactory) -> None:
    sink, bucket = new_sink(moto, clients)

    passed, steps = await sink.probe(record(1))

    assert passed
    assert [step.step for step in steps] == ["assumeRole", "describe", "send"]
    assert all(step.passed for step in steps)
    assert steps[1].message == "ACTIVE, DirectPut"
    assert moto.bucket_objects(bucket) == [record(1).payload + b"\n"]


async def test_firehose_probe_missing_stream(clients: AwsClientFactory) -> None:
    stream = aws_stream("firehose", "missing-stream")
    sink = FirehoseSink(FirehoseSinkConfig.from_stream(stream), clients)

    passed, steps = await sink.probe(record(1))

    assert not passed
    assert [step.step for step in steps] == ["assumeRole", "describe"]
    assert steps[1].error_code == "ResourceNotFoundException"
    assert steps[1].message is not None and "missing-stream" in steps[1].message
