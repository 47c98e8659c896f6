"""Request building, batch planning and response reading of the Firehose, Kinesis and SQS sinks."""

from __future__ import annotations

import json

import pytest
from fakes import stream_record

from datastreams.aws.roles import AwsRole
from datastreams.sinks.base import OutboundRecord
from datastreams.sinks.errors import PermanentDeliveryError, RetryableDeliveryError
from datastreams.sinks.firehose import FirehoseSinkConfig
from datastreams.sinks.firehose import request as firehose_request
from datastreams.sinks.firehose import retry as firehose_retry
from datastreams.sinks.kinesis import request as kinesis_request
from datastreams.sinks.kinesis import retry as kinesis_retry
from datastreams.sinks.kinesis.config import kinesis_limits
from datastreams.sinks.sqs import SqsSinkConfig
from datastreams.sinks.sqs import request as sqs_request
from datastreams.sinks.sqs import retry as sqs_retry
from datastreams.store.records import StreamRecord

KIB = 1024
MIB = 1024 * 1024
ROLE = AwsRole("arn:aws:iam::111122223333:role/datastreams", "ext-1", "us-east-1", "district")
ENDPOINT = "arn:aws:test"


def outbound(
    seq: int,
    payload: bytes = b'{"n":1}',
    *,
    key: str = "",
    queued_at: str = "",
    domain_id: str = "school-a",
) -> OutboundRecord:
    return OutboundRecord(
        seq=seq,
        guid=f"00000000-0000-4000-8000-{seq:012d}",
        domain_id=domain_id,
        payload=payload,
        partition_key=key,
        queued_at=queued_at,
    )


def sized(seq: int, size: int) -> OutboundRecord:
    return outbound(seq, b"x" * size)


def stream(stream_type: str, name: str, **aws: object) -> StreamRecord:
    config = {"roleArn": ROLE.role_arn, "region": "us-east-1", "externalId": "ext-1", **aws}
    return stream_record(stream_type, name, {"aws": config})


# Firehose ---------------------------------------------------------------------------


def test_firehose_data_newline() -> None:
    assert firehose_request.record_data(outbound(1), True) == b'{"n":1}\n'
    assert firehose_request.record_data(outbound(1), False) == b'{"n":1}'


def test_firehose_limits_leave_room_for_newline() -> None:
    with_newline = FirehoseSinkConfig.from_stream(stream("firehose", "events"))
    without = FirehoseSinkConfig.from_stream(stream("firehose", "events", appendNewline=False))

    assert with_newline.limits.max_record_bytes == 1000 * KIB - 1
    assert without.limits.max_record_bytes == 1000 * KIB


def test_firehose_plan_501_records() -> None:
    limits = FirehoseSinkConfig(delivery_stream_name="x", role=ROLE).limits
    records = [outbound(seq) for seq in range(501)]

    planned = firehose_request.plan_calls(records, limits, True)

    assert [len(call) for call in planned.calls] == [500, 1]


def test_firehose_plan_call_bytes() -> None:
    limits = FirehoseSinkConfig(delivery_stream_name="x", role=ROLE).limits
    # Eight records of 512 KiB with their newline fill 4 MiB; one more byte does not fit.
    records = [sized(seq, 512 * KIB - 1) for seq in range(8)]
    records.append(sized(8, 0))

    planned = firehose_request.plan_calls(records, limits, True)

    assert [len(call) for call in planned.calls] == [8, 1]


def test_firehose_plan_record_over_limit() -> None:
    limits = FirehoseSinkConfig(delivery_stream_name="x", role=ROLE).limits

    planned = firehose_request.plan_calls(
        [sized(1, 1000 * KIB - 1), sized(2, 1000 * KIB)], limits, True
    )

    assert [[item.seq for item in call] for call in planned.calls] == [[1]]
    assert planned.rejected[2].error_code == "record_too_large"


def test_firehose_response_failed_records() -> None:
    response = {
        "FailedPutCount": 2,
        "RequestResponses": [
            {"RecordId": "a"},
            {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "slow down"},
            {"RecordId": "c"},
            {"ErrorCode": "InvalidArgumentException", "ErrorMessage": "bad record"},
        ],
    }

    outcome = firehose_retry.read_response(response, ENDPOINT)

    assert list(outcome.failed) == [1]
    assert isinstance(outcome.failed[1], RetryableDeliveryError)
    assert outcome.failed[1].message == "ServiceUnavailableException: slow down"
    assert list(outcome.rejected) == [3]


def test_firehose_response_all_delivered() -> None:
    outcome = firehose_retry.read_response({"FailedPutCount": 0, "RequestResponses": []}, ENDPOINT)

    assert outcome.failed == {}
    assert outcome.rejected == {}


# Kinesis ----------------------------------------------------------------------------


def test_kinesis_key_defaults_to_domain() -> None:
    assert kinesis_request.partition_key(outbound(1)) == "school-a"
    assert kinesis_request.partition_key(outbound(1, key="u-42")) == "u-42"


def test_kinesis_long_key_hashed() -> None:
    key = kinesis_request.partition_key(outbound(1, key="k" * 257))

    assert len(key) == 64
    assert key == kinesis_request.partition_key(outbound(2, key="k" * 257))


def test_kinesis_record_size_counts_key_bytes() -> None:
    assert kinesis_request.record_size(outbound(1, b"12345", key="\u00e9t\u00e9")) == 5 + 5


def test_kinesis_plan_record_limit_includes_key() -> None:
    limits = kinesis_limits(MIB)
    fits = outbound(1, b"x" * (MIB - 8), key="school-a")
    too_large = outbound(2, b"x" * (MIB - 7), key="school-a")

    planned = kinesis_request.plan_calls([fits, too_large], limits)

    assert [[item.seq for item in call] for call in planned.calls] == [[1]]
    assert "1048577 bytes exceeds the stream's maximum record size of 1048576" in (
        planned.rejected[2].message
    )


def test_kinesis_plan_call_bytes_include_keys() -> None:
    records = [outbound(seq, b"x" * 873_810, key="school-a") for seq in range(6)]

    planned = kinesis_request.plan_calls(records, kinesis_limits())

    assert [len(call) for call in planned.calls] == [5, 1]


def test_kinesis_larger_stream_limit() -> None:
    limits = kinesis_limits(10 * MIB)

    planned = kinesis_request.plan_calls([outbound(1, b"x" * (2 * MIB))], limits)

    assert limits.max_record_bytes == 10 * MIB - 1024
    assert planned.rejected == {}


def test_kinesis_request_shape() -> None:
    request = kinesis_request.build_request("events", [outbound(1, key="k1")])

    assert request == {
        "StreamName": "events",
        "Records": [{"Data": b'{"n":1}', "PartitionKey": "k1"}],
    }


def test_kinesis_response_failed_records() -> None:
    response = {
        "FailedRecordCount": 1,
        "Records": [
            {"SequenceNumber": "1", "ShardId": "shardId-0"},
            {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "rate"},
        ],
    }

    outcome = kinesis_retry.read_response(response, ENDPOINT)

    assert list(outcome.failed) == [1]
    assert outcome.failed[1].error_code == "ProvisionedThroughputExceededException"


# SQS --------------------------------------------------------------------------------


def test_sqs_body_escapes_rejected_characters() -> None:
    payload = '{"a":"x\ufffey\uffffz",\t"b":"\u2603\U0001f600"}'.encode()

    body = sqs_request.message_body(outbound(1, payload))

    assert body == '{"a":"x\\ufffey\\uffffz",\t"b":"\u2603\U0001f600"}'
    assert json.loads(body) == json.loads(payload)


def test_sqs_body_escapes_raw_control_character() -> None:
    body = sqs_request.message_body(outbound(1, b'{"a":"x\x01y\x7f"}'))

    assert body == '{"a":"x\\u0001y\x7f"}'


def test_sqs_body_invalid_utf8() -> None:
    with pytest.raises(UnicodeDecodeError):
        sqs_request.message_body(outbound(1, b'{"a":"\xed\xa0\x80"}'))


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("domainId", "school-a"),
        ("guid", "00000000-0000-4000-8000-000000000001"),
        ("userId", "u-42"),
        ("type", "ItemActivity"),
    ],
)
def test_sqs_message_group(key: str, expected: str) -> None:
    payload = b'{"guid":"g","domainId":"school-a","type":"ItemActivity","data":{},"userId":"u-42"}'

    assert sqs_request.message_group_id(outbound(1, payload), key) == expected


def test_sqs_message_group_missing_member() -> None:
    assert sqs_request.message_group_id(outbound(1, b'{"type":"x"}'), "userId") == "school-a"


@pytest.mark.parametrize("value", ["user 42", "\u00e9l\u00e8ve", "u" * 129])
def test_sqs_message_group_invalid_value_hashed(value: str) -> None:
    payload = json.dumps({"userId": value}).encode()

    group = sqs_request.message_group_id(outbound(1, payload), "userId")

    assert len(group) == 64
    assert group.isalnum()


def test_sqs_deduplication_id() -> None:
    queued = outbound(1, queued_at="2024-05-01T12:00:00.0000000Z")

    assert sqs_request.deduplication_id(queued) == (
        "00000000-0000-4000-8000-000000000001:2024-05-01T12:00:00.0000000Z"
    )
    assert sqs_request.deduplication_id(outbound(1)) == "00000000-0000-4000-8000-000000000001"


def test_sqs_replay_new_deduplication_id() -> None:
    first = outbound(1, queued_at="2024-05-01T12:00:00.0000000Z")
    replayed = outbound(1, queued_at="2024-05-03T09:30:00.0000000Z")

    assert sqs_request.deduplication_id(first) != sqs_request.deduplication_id(replayed)


def test_sqs_request_fifo_entries() -> None:
    request = sqs_request.build_request(
        "https://queue", [outbound(1), outbound(2)], fifo=True, message_group_key="domainId"
    )

    assert [entry["Id"] for entry in request["Entries"]] == ["0", "1"]
    assert request["Entries"][0]["MessageGroupId"] == "school-a"
    assert "MessageDeduplicationId" in request["Entries"][1]


def test_sqs_request_standard_entries() -> None:
    request = sqs_request.build_request(
        "https://queue", [outbound(1)], fifo=False, message_group_key="domainId"
    )

    assert request["Entries"] == [{"Id": "0", "MessageBody": '{"n":1}'}]


def test_sqs_response_sender_fault_rejected() -> None:
    response = {
        "Successful": [{"Id": "0"}],
        "Failed": [
            {"Id": "1", "SenderFault": True, "Code": "InvalidMessageContents", "Message": "bad"},
            {"Id": "2", "SenderFault": False, "Code": "InternalError", "Message": "oops"},
        ],
    }

    outcome = sqs_retry.read_response(response, 4, ENDPOINT)

    assert list(outcome.rejected) == [1]
    assert isinstance(outcome.rejected[1], PermanentDeliveryError)
    assert sorted(outcome.failed) == [2, 3]
    assert outcome.failed[3].error_code == "no_result"


def test_sqs_response_server_fault_invalid_code_retried() -> None:
    response = {"Failed": [{"Id": "0", "SenderFault": False, "Code": "InvalidParameterValue"}]}

    outcome = sqs_retry.read_response(response, 1, ENDPOINT)

    assert isinstance(outcome.failed[0], RetryableDeliveryError)


def test_sqs_config_from_name() -> None:
    config = SqsSinkConfig.from_stream(stream("sqs", "orders.fifo", messageGroupKey="userId"))

    assert config.queue_url is None
    assert config.fifo
    assert config.account_id == "111122223333"
    assert config.message_group_key == "userId"


def test_sqs_config_from_url() -> None:
    url = "https://sqs.eu-west-1.amazonaws.com/210987654321/orders"

    config = SqsSinkConfig.from_stream(stream("sqs", url))

    assert config.queue_url == url
    assert config.queue_name == "orders"
    assert not config.fifo
    assert config.account_id == "210987654321"
