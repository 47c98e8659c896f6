"""The Kinesis sink against kinesis-local, a Kinesis emulator independent of moto.

The sink assumes the customer's role through moto's STS (``AWS_ENDPOINT_URL_STS``) and
sends to kinesis-local (``AWS_ENDPOINT_URL_KINESIS``), so what moto's Kinesis accepts
is checked against a second implementation. Every shard is read back.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_moto import FaultPlan, Moto, RequestLog, aws_stream, client_factory, record, running_moto
from botocore.awsrequest import AWSPreparedRequest
from kinesis_checks import (
    KEYS,
    arrived_by_key,
    check_partial_failure_holds_key,
    expected_by_key,
    keyed_records,
)
from kinesis_local import (
    KinesisLocal,
    listening_addresses,
    require_kinesis_local,
    running_kinesis_local,
)

from datastreams.aws.clients import AwsClientFactory
from datastreams.sinks.errors import ConfigurationDeliveryError
from datastreams.sinks.kinesis import KinesisSink, KinesisSinkConfig

pytestmark = pytest.mark.integration


# The discard port on 127.0.0.1, where nothing listens, as in the suite's default
# ``AWS_ENDPOINT_URL``: a call to any service but STS and Kinesis fails at once.
CLOSED_ENDPOINT = "http://127.0.0.1:9"


class RequestUrls:
    """A ``before-send`` hook that records the service, operation and URL of each request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str]] = []

    def __call__(self, request: AWSPreparedRequest, event_name: str, **_: Any) -> None:
        _event, service, operation = event_name.split(".")
        self.requests.append((service, operation, request.url))

    def urls_of(self, service: str) -> list[str]:
        return [url for name, _operation, url in self.requests if name == service]

    def operations_of(self, service: str) -> set[str]:
        return {operation for name, operation, _url in self.requests if name == service}


@pytest.fixture(scope="module")
def kinesis_local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KinesisLocal]:
    main_js = require_kinesis_local()
    with running_kinesis_local(main_js, tmp_path_factory.mktemp("kinesis-local")) as emulator:
        yield emulator


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
def urls() -> RequestUrls:
    return RequestUrls()


@pytest.fixture
def clients(
    moto: Moto,
    kinesis_local: KinesisLocal,
    sent: RequestLog,
    faults: FaultPlan,
    urls: RequestUrls,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[AwsClientFactory]:
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto.endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL_KINESIS", kinesis_local.endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL", CLOSED_ENDPOINT)
    with client_factory(sent, faults, urls) as factory:
        yield factory


def new_sink(kinesis_local: KinesisLocal, clients: AwsClientFactory) -> tuple[KinesisSink, str]:
    name = f"events-{uuid.uuid4().hex[:8]}"
    kinesis_local.create_stream(name)
    return KinesisSink(KinesisSinkConfig.from_stream(aws_stream("kinesis", name)), clients), name


async def test_kinesis_local_order_per_key(
    kinesis_local: KinesisLocal, clients: AwsClientFactory
) -> None:
    sink, name = new_sink(kinesis_local, clients)
    records = keyed_records(30)

    result = await sink.send(records)

    assert result.delivered == [item.seq for item in records]
    assert result.error is None
    assert arrived_by_key(kinesis_local.stream_records, name) == expected_by_key(records)


async def test_kinesis_local_same_key_same_shard(
    kinesis_local: KinesisLocal, clients: AwsClientFactory
) -> None:
    sink, name = new_sink(kinesis_local, clients)

    await sink.send(keyed_records(12))

    shards_by_key: dict[str, set[str]] = defaultdict(set)
    for shard, key, _data in kinesis_local.stream_records(name):
        shards_by_key[key].add(shard)
    assert sorted(shards_by_key) == sorted(KEYS)
    assert all(len(shards) == 1 for shards in shards_by_key.values())


async def test_kinesis_local_501_records_two_calls(
    kinesis_local: KinesisLocal, clients: AwsClientFactory, sent: RequestLog
) -> None:
    sink, name = new_sink(kinesis_local, clients)
    records = keyed_records(501)

    result = await sink.send(records)

    # kinesis-local accepts 501 records in one call, so the requests show the split.
    assert [len(call.entries()) for call in sent.of("PutRecords")] == [500, 1]
    assert len(result.delivered) == 501
    assert arrived_by_key(kinesis_local.stream_records, name) == expected_by_key(records)


async def test_kinesis_local_partial_failure_holds_key(
    kinesis_local: KinesisLocal, clients: AwsClientFactory, sent: RequestLog, faults: FaultPlan
) -> None:
    sink, name = new_sink(kinesis_local, clients)

    await check_partial_failure_holds_key(sink, name, kinesis_local.stream_records, sent, faults)


async def test_kinesis_local_record_size_default(
    kinesis_local: KinesisLocal, clients: AwsClientFactory, sent: RequestLog
) -> None:
    sink, name = new_sink(kinesis_local, clients)
    summary = kinesis_local.client().describe_stream_summary(StreamName=name)

    first = await sink.send(keyed_records(1))
    second = await sink.send(keyed_records(1))

    # kinesis-local 0.6.2 omits MaxRecordSizeInKiB, so the sink keeps to 1 MiB per
    # record (data and partition key), as it does when AWS returns no such field.
    assert "MaxRecordSizeInKiB" not in summary["StreamDescriptionSummary"]
    assert first.delivered == [1]
    assert second.delivered == [1]
    assert len(sent.of("DescribeStreamSummary")) == 1
    assert sink.limits.max_record_bytes == 1024 * 1024 - 1024


async def test_kinesis_local_missing_stream_configuration(clients: AwsClientFactory) -> None:
    stream = aws_stream("kinesis", f"missing-{uuid.uuid4().hex[:8]}")
    sink = KinesisSink(KinesisSinkConfig.from_stream(stream), clients)

    result = await sink.send(keyed_records(2))

    assert result.retry == [1, 2]
    assert result.delivered == []
    assert isinstance(result.error, ConfigurationDeliveryError)
    assert result.error.error_code == "ResourceNotFoundException"
    assert result.error.status == 400
    assert "not found" in result.error.message


async def test_kinesis_local_probe_passes(
    moto: Moto, kinesis_local: KinesisLocal, clients: AwsClientFactory, urls: RequestUrls
) -> None:
    sink, name = new_sink(kinesis_local, clients)

    passed, steps = await sink.probe(record(1))

    assert passed
    assert [step.step for step in steps] == ["assumeRole", "describe", "send"]
    assert steps[1].message == f"ACTIVE, records up to {1024 * 1024 - 1024} bytes of data"
    assert [data for _shard, _key, data in kinesis_local.stream_records(name)] == [
        record(1).payload
    ]
    assert urls.operations_of("sts") == {"AssumeRole"}
    assert all(url.startswith(moto.endpoint) for url in urls.urls_of("sts"))
    assert urls.operations_of("kinesis") == {"DescribeStreamSummary", "PutRecords"}
    assert all(url.startswith(kinesis_local.endpoint) for url in urls.urls_of("kinesis"))


async def test_kinesis_local_probe_missing_stream(clients: AwsClientFactory) -> None:
    stream = aws_stream("kinesis", f"missing-{uuid.uuid4().hex[:8]}")
    sink = KinesisSink(KinesisSinkConfig.from_stream(stream), clients)

    passed, steps = await sink.probe(record(1))

    assert not passed
    assert [step.step for step in steps] == ["assumeRole", "describe"]
    assert steps[-1].error_code == "ResourceNotFoundException"
    assert steps[-1].status == 400


def test_kinesis_local_listens_on_loopback(kinesis_local: KinesisLocal) -> None:
    if not Path("/proc/net/tcp").exists():
        pytest.skip("reading listening sockets needs Linux's /proc/net/tcp")

    for port in kinesis_local.ports:
        assert listening_addresses(port) == {"127.0.0.1"}, f"port {port}"
