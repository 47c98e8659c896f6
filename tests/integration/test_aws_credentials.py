"""Role assumption against moto: the AssumeRole request, the credential cache, refresh."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterator

import pytest
from aws_moto import (
    CUSTOMER_ROLE_ARN,
    FaultPlan,
    Moto,
    RequestLog,
    aws_stream,
    client_factory,
    record,
    running_moto,
)

from datastreams.aws.clients import AwsClientFactory
from datastreams.sinks.errors import ConfigurationDeliveryError
from datastreams.sinks.firehose import FirehoseSink, FirehoseSinkConfig
from datastreams.sinks.kinesis import KinesisSink, KinesisSinkConfig

pytestmark = pytest.mark.integration


class FakeClock:
    """The time that refreshable credentials compare with their expiry: now plus an offset."""

    def __init__(self) -> None:
        self.offset = datetime.timedelta()

    def __call__(self) -> datetime.datetime:
        return datetime.datetime.now(datetime.UTC) + self.offset


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
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def clients(
    moto: Moto, sent: RequestLog, faults: FaultPlan, clock: FakeClock
) -> Iterator[AwsClientFactory]:
    with client_factory(sent, faults, clock=clock) as factory:
        yield factory


def firehose_sink(
    moto: Moto, clients: AwsClientFactory, domain_id: str = "district"
) -> FirehoseSink:
    name = f"events-{uuid.uuid4().hex[:8]}"
    moto.create_delivery_stream(name)
    stream = aws_stream("firehose", name, domain_id=domain_id)
    return FirehoseSink(FirehoseSinkConfig.from_stream(stream), clients)


async def test_assume_role_request(moto: Moto, clients: AwsClientFactory, sent: RequestLog) -> None:
    sink = firehose_sink(moto, clients, domain_id="school-a")

    await sink.send([record(1)])

    [request] = sent.of("AssumeRole")
    assert request.body["RoleArn"] == CUSTOMER_ROLE_ARN
    assert request.body["ExternalId"] == "external-school-a"
    assert request.body["RoleSessionName"] == "datastreams-school-a"
    assert request.body["DurationSeconds"] == "3600"


async def test_credentials_cached_per_role(
    moto: Moto, clients: AwsClientFactory, sent: RequestLog
) -> None:
    firehose = firehose_sink(moto, clients)
    stream_name = f"events-{uuid.uuid4().hex[:8]}"
    moto.create_kinesis_stream(stream_name)
    kinesis = KinesisSink(
        KinesisSinkConfig.from_stream(aws_stream("kinesis", stream_name)), clients
    )

    await firehose.send([record(1)])
    await firehose.send([record(2)])
    await kinesis.send([record(3)])

    assert len(sent.of("AssumeRole")) == 1


async def test_credentials_never_shared_across_domains(
    moto: Moto, clients: AwsClientFactory, sent: RequestLog
) -> None:
    first = firehose_sink(moto, clients, domain_id="school-a")
    second = firehose_sink(moto, clients, domain_id="school-b")

    await first.send([record(1)])
    await second.send([record(2)])

    requests = sent.of("AssumeRole")
    assert [request.body["ExternalId"] for request in requests] == [
        "external-school-a",
        "external-school-b",
    ]
    assert [request.body["RoleSessionName"] for request in requests] == [
        "datastreams-school-a",
        "datastreams-school-b",
    ]


async def test_credentials_refreshed_before_expiry(
    moto: Moto, clients: AwsClientFactory, sent: RequestLog, clock: FakeClock
) -> None:
    sink = firehose_sink(moto, clients)

    await sink.send([record(1)])
    clock.offset = datetime.timedelta(minutes=40)
    await sink.send([record(2)])
    clock.offset = datetime.timedelta(minutes=46)
    refreshed = await sink.send([record(3)])

    # Credentials of one hour are kept until 15 minutes before they expire.
    assert len(sent.of("AssumeRole")) == 2
    assert refreshed.delivered == [3]


async def test_rejected_credentials_dropped(
    moto: Moto, clients: AwsClientFactory, sent: RequestLog, faults: FaultPlan
) -> None:
    sink = firehose_sink(moto, clients)
    await sink.send([record(1)])
    faults.error("PutRecordBatch", "ExpiredTokenException", message="The security token expired")

    rejected = await sink.send([record(2)])
    recovered = await sink.send([record(2)])

    assert isinstance(rejected.error, ConfigurationDeliveryError)
    assert rejected.error.error_code == "ExpiredTokenException"
    assert "The security token expired" in rejected.error.message
    assert recovered.delivered == [2]
    assert len(sent.of("AssumeRole")) == 2


async def test_probe_assumes_role_anew(
    moto: Moto, clients: AwsClientFactory, sent: RequestLog
) -> None:
    sink = firehose_sink(moto, clients)
    await sink.send([record(1)])

    passed, _steps = await sink.probe(record(2))

    assert passed
    assert len(sent.of("AssumeRole")) == 2
