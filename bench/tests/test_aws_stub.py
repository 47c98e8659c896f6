"""Tests of the AWS stub: botocore clients call a real stub process on 127.0.0.1."""

from __future__ import annotations

import base64
import datetime
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import httpx
import orjson
import pytest
from botocore.exceptions import ClientError

from bench.harness.aws_receiver import (
    REGION,
    AwsStubProcess,
    aws_environment,
    read_stub_receipts,
)
from bench.harness.aws_stub import destination_of, protocol_of_sqs, record_payloads

STREAM = "bench-events"


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsStubProcess]:
    process = AwsStubProcess(tmp_path_factory.mktemp("stub"))
    process.start()
    yield process
    process.stop()


def use_stub_environment(stub: AwsStubProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    """Give this process the AWS variables of the stub's environment, and no others."""
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in stub.environment.items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)


@pytest.fixture
def client_of(stub: AwsStubProcess, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Return a function that creates a botocore client in the stub's environment."""
    use_stub_environment(stub, monkeypatch)

    def create(service: str) -> Any:
        return botocore.session.Session().create_client(service, region_name=REGION)

    return create


@pytest.mark.integration
def test_stub_puts_records(client_of: Any) -> None:
    records = [{"Data": b'{"guid":"a"}', "PartitionKey": "k"} for _ in range(3)]

    response = client_of("kinesis").put_records(StreamName=STREAM, Records=records)

    assert response["FailedRecordCount"] == 0
    assert len(response["Records"]) == 3
    assert all(len(entry["SequenceNumber"]) == 56 for entry in response["Records"])


@pytest.mark.integration
def test_stub_puts_one_record(client_of: Any) -> None:
    response = client_of("kinesis").put_record(StreamName=STREAM, Data=b"{}", PartitionKey="k")

    assert response["ShardId"] == "shardId-000000000000"


@pytest.mark.integration
def test_stub_describes_kinesis_stream(client_of: Any) -> None:
    summary = client_of("kinesis").describe_stream_summary(StreamName=STREAM)

    assert summary["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE"
    assert summary["StreamDescriptionSummary"]["MaxRecordSizeInKiB"] == 1024


@pytest.mark.integration
def test_stub_puts_firehose_batch(client_of: Any) -> None:
    response = client_of("firehose").put_record_batch(
        DeliveryStreamName=STREAM, Records=[{"Data": b"{}\n"}, {"Data": b"{}\n"}]
    )

    assert response["FailedPutCount"] == 0
    assert len(response["RequestResponses"]) == 2


@pytest.mark.integration
def test_stub_describes_delivery_stream(client_of: Any) -> None:
    response = client_of("firehose").describe_delivery_stream(DeliveryStreamName=STREAM)

    description = response["DeliveryStreamDescription"]
    assert description["DeliveryStreamStatus"] == "ACTIVE"
    assert description["DeliveryStreamType"] == "DirectPut"


@pytest.mark.integration
def test_stub_sends_message_batch(client_of: Any) -> None:
    sqs = client_of("sqs")
    queue_url = sqs.get_queue_url(QueueName=STREAM)["QueueUrl"]
    entries = [{"Id": str(index), "MessageBody": f"message {index}"} for index in range(3)]

    response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)

    assert [entry["Id"] for entry in response["Successful"]] == ["0", "1", "2"]
    assert response["Successful"][1]["MD5OfMessageBody"] == hashlib.md5(b"message 1").hexdigest()
    assert response["Failed"] == []


@pytest.mark.integration
def test_stub_reads_queue_attributes(client_of: Any) -> None:
    sqs = client_of("sqs")
    queue_url = sqs.get_queue_url(QueueName=STREAM)["QueueUrl"]

    response = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["MaximumMessageSize", "FifoQueue"]
    )

    assert response["Attributes"] == {"MaximumMessageSize": "1048576"}


@pytest.mark.integration
def test_stub_assumes_role_for_an_hour(client_of: Any) -> None:
    response = client_of("sts").assume_role(
        RoleArn="arn:aws:iam::111122223333:role/bench", RoleSessionName="datastreams-1"
    )

    remaining = response["Credentials"]["Expiration"] - datetime.datetime.now(datetime.UTC)
    assert 3500 < remaining.total_seconds() <= 3600
    assert response["AssumedRoleUser"]["Arn"].endswith(":assumed-role/bench/datastreams-1")


@pytest.mark.integration
def test_stub_rejects_unknown_operation(client_of: Any) -> None:
    with pytest.raises(ClientError) as raised:
        client_of("kinesis").list_streams()

    assert raised.value.response["Error"]["Code"] == "UnknownOperationException"


@pytest.mark.integration
def test_stub_rejects_unsigned_request(stub: AwsStubProcess) -> None:
    response = httpx.post(
        stub.url,
        content=b"{}",
        headers={"X-Amz-Target": "Kinesis_20131202.PutRecords"},
    )

    assert response.status_code == 403


@pytest.mark.integration
def test_stub_counts_and_records_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stub = AwsStubProcess(tmp_path)
    stub.start()
    try:
        use_stub_environment(stub, monkeypatch)
        kinesis = botocore.session.Session().create_client("kinesis", region_name=REGION)
        records = [{"Data": orjson.dumps({"guid": guid}), "PartitionKey": "k"} for guid in "ab"]
        kinesis.put_records(StreamName=STREAM, Records=records)
        kinesis.describe_stream_summary(StreamName=STREAM)

        counts = stub.counts()
    finally:
        stub.stop()

    receipts = read_stub_receipts(stub.record_path, {f"kinesis/{STREAM}": frozenset("ab")})
    assert counts == {f"kinesis/{STREAM}": 2}
    assert set(receipts[f"kinesis/{STREAM}"].first_receipt) == {"a", "b"}


def test_sqs_protocol_is_json() -> None:
    # The stub responds to SQS only in the JSON protocol; a botocore that returns to the
    # query protocol needs the stub changed.
    assert protocol_of_sqs() == "json"


# Pure parts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "body", "destination"),
    [
        ("Kinesis_20131202.PutRecords", {"StreamName": "s"}, "kinesis/s"),
        (
            "Kinesis_20131202.PutRecords",
            {"StreamARN": "arn:aws:kinesis:us-east-1:111122223333:stream/s"},
            "kinesis/s",
        ),
        ("Firehose_20150804.PutRecordBatch", {"DeliveryStreamName": "f"}, "firehose/f"),
        ("AmazonSQS.SendMessageBatch", {"QueueUrl": "http://h/111122223333/q"}, "sqs/q"),
    ],
)
def test_destination_of_request(target: str, body: dict[str, Any], destination: str) -> None:
    assert destination_of(target, body) == destination


def test_record_payloads_decode_base64() -> None:
    body = {"Records": [{"Data": "eyJhIjoxfQ=="}]}

    assert record_payloads("Firehose_20150804.PutRecordBatch", body) == [b'{"a":1}']


def test_record_payloads_of_messages() -> None:
    body = {"Entries": [{"Id": "0", "MessageBody": "é"}]}

    assert record_payloads("AmazonSQS.SendMessageBatch", body) == ["é".encode()]


def test_record_payloads_reject_other_operation() -> None:
    with pytest.raises(ValueError, match="not a data operation"):
        record_payloads("Kinesis_20131202.DescribeStreamSummary", {})


def _call(received_at: float, target: str, body: dict[str, Any]) -> bytes:
    return orjson.dumps({"receivedAt": received_at, "target": target, "body": body}) + b"\n"


def _kinesis_body(stream: str, guids: str) -> dict[str, Any]:
    records = [
        {"Data": base64.b64encode(orjson.dumps({"guid": guid})).decode(), "PartitionKey": "k"}
        for guid in guids
    ]
    return {"StreamName": stream, "Records": records}


def test_receipts_keep_first_receipt_per_destination(tmp_path: Path) -> None:
    path = tmp_path / "record.ndjson"
    path.write_bytes(
        _call(1.0, "Kinesis_20131202.PutRecords", _kinesis_body("s", "ab"))
        + _call(2.0, "Kinesis_20131202.PutRecords", _kinesis_body("s", "bcx"))
        + _call(3.0, "Kinesis_20131202.PutRecords", _kinesis_body("other", "c"))
    )

    receipts = read_stub_receipts(path, {"kinesis/s": frozenset("abc")})["kinesis/s"]

    assert receipts.first_receipt == {"a": 1.0, "b": 1.0, "c": 2.0}
    assert receipts.repeats == 1
    assert receipts.other_events == 1
    assert receipts.requests == 2


def test_receipts_without_record_file(tmp_path: Path) -> None:
    receipts = read_stub_receipts(tmp_path / "missing.ndjson", {"sqs/q": frozenset("a")})

    assert receipts["sqs/q"].first_receipt == {}


def test_environment_drops_inherited_aws_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_ENDPOINT_URL_KINESIS", "http://127.0.0.1:9")

    environment = aws_environment("http://127.0.0.1:4566")

    assert "AWS_PROFILE" not in environment
    assert "AWS_ENDPOINT_URL_KINESIS" not in environment
    assert environment["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
    assert environment["AWS_EC2_METADATA_DISABLED"] == "true"


def test_environment_rejects_other_hosts() -> None:
    with pytest.raises(ValueError, match="must be on 127.0.0.1"):
        aws_environment("https://kinesis.us-east-1.amazonaws.com")
