"""Unit tests of the AWS scenario's figures and of the bare botocore loops."""

from __future__ import annotations

from typing import Any

import pytest

from bench.harness.botocore_baseline import BotocorePlan, send_all
from bench.harness.producer import ProducerResult
from bench.harness.receiver import Receipts
from bench.harness.results import Run
from bench.scenarios.aws import AwsOutcome, aws_stream, destination_run, with_companions


def _outcome(first_receipts: dict[str, float], accepted: int = 3) -> AwsOutcome:
    producer = ProducerResult(first_send_at=100.0, last_response_at=101.0, accepted=accepted)
    receipts = Receipts(first_receipt=first_receipts, events=len(first_receipts) + 1)
    return AwsOutcome(
        count=3,
        producer=producer,
        expected=frozenset("abc"),
        receipts={"kinesis": receipts},
        peak_rss_bytes=1_000,
    )


def test_destination_run_rate_to_last_receipt() -> None:
    run = destination_run("scenario", 0, _outcome({"a": 100.5, "b": 101.0, "c": 102.0}), "kinesis")

    assert run.seconds == pytest.approx(2.0)
    assert run.rate == pytest.approx(1.5)
    assert run.complete is True
    assert run.details["repeatedDeliveries"] == 1


def test_destination_run_missing_record() -> None:
    run = destination_run("scenario", 0, _outcome({"a": 100.5, "b": 101.0}), "kinesis")

    assert run.complete is False
    assert run.problems == ["2 of 3 kinesis records arrived in time"]


def test_destination_run_rejected_events() -> None:
    outcome = _outcome({"a": 100.5, "b": 101.0, "c": 102.0}, accepted=2)

    run = destination_run("scenario", 0, outcome, "kinesis")

    assert run.complete is False
    assert run.problems == ["2 of 3 events were accepted"]


def test_companions_follow_their_kinesis_run() -> None:
    runs = [Run("putRecords", 0, 1), Run("scenario", 0, 1), Run("putRecord", 0, 1)]
    companions = {0: [Run("scenarioFirehose", 0, 1), Run("scenarioSqs", 0, 1)]}

    ordered = with_companions(runs, companions)

    roles = [run.role for run in ordered]
    assert roles == ["putRecords", "scenario", "scenarioFirehose", "scenarioSqs", "putRecord"]


def test_companions_of_failed_run() -> None:
    runs = [Run("scenario", 0, 1)]

    assert with_companions(runs, {}) == runs


def test_stream_body_names_role() -> None:
    body = aws_stream("sqs")

    assert body["type"] == "sqs"
    assert body["aws"] == {
        "roleArn": "arn:aws:iam::111122223333:role/datastreams-bench",
        "region": "us-east-1",
    }


class FakeKinesis:
    """Records the calls a loop makes; fails ``failed_per_call`` records of each PutRecords."""

    def __init__(self, failed_per_call: int = 0) -> None:
        self.failed_per_call = failed_per_call
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def put_records(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("PutRecords", request))
        return {"FailedRecordCount": self.failed_per_call, "Records": []}

    def put_record(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("PutRecord", request))
        return {"ShardId": "shardId-000000000000", "SequenceNumber": "1"}


def _plan(count: int, operation: Any = "PutRecords") -> BotocorePlan:
    return BotocorePlan("s", "us-east-1", 7, count, ["1000000", "1100000"], operation)


def test_put_records_loop_sends_batches_of_500() -> None:
    client = FakeKinesis()

    result = send_all(_plan(1_001), client)

    assert [len(request["Records"]) for _, request in client.calls] == [500, 500, 1]
    assert result.succeeded == 1_001
    assert result.first_send_at is not None


def test_put_records_loop_counts_failures() -> None:
    result = send_all(_plan(10), FakeKinesis(failed_per_call=2))

    assert result.failed == 2
    assert result.succeeded == 8
    assert result.errors == ["PutRecords reported failed records: 2"]


def test_put_record_loop_sends_one_call_per_event() -> None:
    client = FakeKinesis()

    result = send_all(_plan(3, "PutRecord"), client)

    assert [operation for operation, _ in client.calls] == ["PutRecord"] * 3
    assert client.calls[0][1]["PartitionKey"] in ("1000000", "1100000")
    assert result.succeeded == 3
