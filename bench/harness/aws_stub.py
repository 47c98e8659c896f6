"""A loopback stand-in for STS, Kinesis, Firehose and SQS that accepts every record at once.

Run as ``python -m bench.harness.aws_stub --port P --record FILE``; SIGTERM or SIGINT
stops it. It responds to the calls that the AWS sinks and the botocore baselines make,
in the protocols and response shapes of the botocore service models (botocore 1.44):

- STS ``AssumeRole`` (query protocol, XML), with credentials that expire in an hour;
- Kinesis ``PutRecords``, ``PutRecord`` and ``DescribeStreamSummary`` (JSON 1.1);
- Firehose ``PutRecordBatch`` and ``DescribeDeliveryStream`` (JSON 1.1);
- SQS ``SendMessageBatch``, ``GetQueueUrl`` and ``GetQueueAttributes`` (JSON 1.0,
  the protocol of SQS in botocore 1.44; earlier releases switched between it and
  the query protocol, so the scenario checks ``protocol_of_sqs`` first).

Every record succeeds. The stub checks no signature, only that a request is signed,
and keeps only counts in memory. A moto server stores every record and is too slow for
a benchmark. Each data call is appended to the record file as one JSON line:
``{"receivedAt": UNIX_SECONDS, "target": X_AMZ_TARGET, "body": REQUEST_BODY}``.
``GET /_stub/counts`` returns the records received so far per destination.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import itertools
import secrets
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape

import orjson
from aiohttp import web

LOOPBACK = "127.0.0.1"
ACCOUNT_ID = "111122223333"
SESSION_DURATION_S = 3600
COUNTS_PATH = "/_stub/counts"

# A Kinesis PutRecords call may carry 10 MiB, which base64 makes about 13.4 MiB.
MAX_BODY_BYTES = 16 * 1024 * 1024

JSON_1_0 = "application/x-amz-json-1.0"
JSON_1_1 = "application/x-amz-json-1.1"

KINESIS = "Kinesis_20131202"
FIREHOSE = "Firehose_20150804"
SQS = "AmazonSQS"

# The operations whose records the stub counts and records; the others only get a response.
DATA_TARGETS = frozenset(
    {
        f"{KINESIS}.PutRecords",
        f"{KINESIS}.PutRecord",
        f"{FIREHOSE}.PutRecordBatch",
        f"{SQS}.SendMessageBatch",
    }
)

# Kinesis sequence numbers and Firehose record ids are 56-digit decimal strings in
# AWS's responses. A counter in that form keeps each response as large as AWS's.
SEQUENCE_BASE = 49_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000
SHARD_ID = "shardId-000000000000"


def protocol_of_sqs() -> str:
    """Return the protocol that the installed botocore uses for SQS (``json`` or ``query``)."""
    import botocore.session

    return str(botocore.session.get_session().get_service_model("sqs").protocol)


# What the data operations carry -----------------------------------------------------------


def destination_of(target: str, body: dict[str, Any]) -> str:
    """Return ``service/name`` of the stream or queue that a JSON request addresses."""
    service, _, _ = target.partition(".")
    if service == KINESIS:
        name = body.get("StreamName") or str(body.get("StreamARN", "")).rpartition("/")[2]
        return f"kinesis/{name}"
    if service == FIREHOSE:
        return f"firehose/{body.get('DeliveryStreamName', '')}"
    queue_url = str(body.get("QueueUrl") or body.get("QueueName") or "")
    return f"sqs/{queue_url.rstrip('/').rpartition('/')[2]}"


def record_payloads(target: str, body: dict[str, Any]) -> list[bytes]:
    """Return the records of a data call as the destination stores them (base64 decoded)."""
    operation = target.partition(".")[2]
    if operation == "PutRecord":
        return [base64.b64decode(body["Data"])]
    if operation in ("PutRecords", "PutRecordBatch"):
        return [base64.b64decode(record["Data"]) for record in body["Records"]]
    if operation == "SendMessageBatch":
        return [str(entry["MessageBody"]).encode("utf-8") for entry in body["Entries"]]
    raise ValueError(f"{target} is not a data operation")


def record_count(target: str, body: dict[str, Any]) -> int:
    """Return the number of records in a data call, without decoding them."""
    operation = target.partition(".")[2]
    if operation == "PutRecord":
        return 1
    if operation == "SendMessageBatch":
        return len(body["Entries"])
    return len(body["Records"])


# Responses ------------------------------------------------------------------------------


class StubError(Exception):
    """An AWS error that the stub returns for a request: HTTP status, error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(slots=True)
class DestinationCount:
    """Records and calls received for one destination, and when (Unix seconds)."""

    records: int = 0
    calls: int = 0
    first_at: float | None = None
    last_at: float | None = None

    def add(self, records: int, received_at: float) -> None:
        self.records += records
        self.calls += 1
        if self.first_at is None:
            self.first_at = received_at
        self.last_at = received_at

    def to_json(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "calls": self.calls,
            "firstAt": self.first_at,
            "lastAt": self.last_at,
        }


@dataclass(slots=True)
class StubState:
    """The stub's counts per destination, and the file it appends data calls to."""

    record_file: IO[bytes] | None = None
    counts: dict[str, DestinationCount] = field(default_factory=dict)
    sequence: itertools.count[int] = field(default_factory=lambda: itertools.count(SEQUENCE_BASE))

    def count(self, destination: str, records: int, received_at: float) -> None:
        self.counts.setdefault(destination, DestinationCount()).add(records, received_at)

    def record(self, target: str, body: bytes, received_at: float) -> None:
        if self.record_file is None:
            return
        # botocore's JSON bodies are single lines, so the body goes in as it came.
        line = b'{"receivedAt":%.6f,"target":"%s","body":%s}\n' % (
            received_at,
            target.encode("ascii"),
            body,
        )
        self.record_file.write(line)
        # Written through at once: the harness reads the file as soon as the counts
        # show that every record has arrived.
        self.record_file.flush()

    def sequence_numbers(self, count: int) -> list[str]:
        return [f"{next(self.sequence):056d}" for _ in range(count)]


def answer_kinesis(
    operation: str, body: dict[str, Any], state: StubState, region: str
) -> dict[str, Any]:
    if operation == "PutRecords":
        numbers = state.sequence_numbers(len(body["Records"]))
        return {
            "FailedRecordCount": 0,
            "Records": [{"SequenceNumber": number, "ShardId": SHARD_ID} for number in numbers],
            "EncryptionType": "NONE",
        }
    if operation == "PutRecord":
        number = state.sequence_numbers(1)[0]
        return {"ShardId": SHARD_ID, "SequenceNumber": number, "EncryptionType": "NONE"}
    if operation == "DescribeStreamSummary":
        name = str(body.get("StreamName") or "")
        return {
            "StreamDescriptionSummary": {
                "StreamName": name,
                "StreamARN": f"arn:aws:kinesis:{region}:{ACCOUNT_ID}:stream/{name}",
                "StreamStatus": "ACTIVE",
                "StreamModeDetails": {"StreamMode": "ON_DEMAND"},
                "RetentionPeriodHours": 24,
                "StreamCreationTimestamp": 1_700_000_000.0,
                "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
                "EncryptionType": "NONE",
                "OpenShardCount": 4,
                "ConsumerCount": 0,
                "MaxRecordSizeInKiB": 1024,
            }
        }
    raise _unknown_operation(KINESIS, operation)


def answer_firehose(
    operation: str, body: dict[str, Any], state: StubState, region: str
) -> dict[str, Any]:
    if operation == "PutRecordBatch":
        record_ids = state.sequence_numbers(len(body["Records"]))
        return {
            "FailedPutCount": 0,
            "Encrypted": False,
            "RequestResponses": [{"RecordId": record_id} for record_id in record_ids],
        }
    if operation == "DescribeDeliveryStream":
        name = str(body.get("DeliveryStreamName") or "")
        arn = f"arn:aws:firehose:{region}:{ACCOUNT_ID}:deliverystream/{name}"
        return {
            "DeliveryStreamDescription": {
                "DeliveryStreamName": name,
                "DeliveryStreamARN": arn,
                "DeliveryStreamStatus": "ACTIVE",
                "DeliveryStreamType": "DirectPut",
                "VersionId": "1",
                "CreateTimestamp": 1_700_000_000.0,
                "Destinations": [{"DestinationId": "destinationId-000000000001"}],
                "HasMoreDestinations": False,
            }
        }
    raise _unknown_operation(FIREHOSE, operation)


def answer_sqs(
    operation: str, body: dict[str, Any], state: StubState, endpoint: str
) -> dict[str, Any]:
    if operation == "SendMessageBatch":
        return {
            "Successful": [
                {
                    "Id": entry["Id"],
                    "MessageId": str(uuid.uuid4()),
                    "MD5OfMessageBody": hashlib.md5(
                        str(entry["MessageBody"]).encode("utf-8"), usedforsecurity=False
                    ).hexdigest(),
                }
                for entry in body["Entries"]
            ],
            "Failed": [],
        }
    if operation == "GetQueueUrl":
        account = body.get("QueueOwnerAWSAccountId") or ACCOUNT_ID
        return {"QueueUrl": f"{endpoint}/{account}/{body['QueueName']}"}
    if operation == "GetQueueAttributes":
        queue_name = str(body.get("QueueUrl", "")).rstrip("/").rpartition("/")[2]
        attributes = {"MaximumMessageSize": "1048576"}
        if queue_name.endswith(".fifo"):
            attributes["FifoQueue"] = "true"
        requested = body.get("AttributeNames") or []
        if "All" not in requested:
            attributes = {name: value for name, value in attributes.items() if name in requested}
        return {"Attributes": attributes}
    raise _unknown_operation(SQS, operation)


def _unknown_operation(service: str, operation: str) -> StubError:
    return StubError(
        400, "UnknownOperationException", f"the stub does not support {service}.{operation}"
    )


def assume_role_xml(form: dict[str, str], now: datetime.datetime) -> str:
    """Return the XML of an AssumeRole response for the request's form fields."""
    role_arn = form.get("RoleArn", "")
    session_name = form.get("RoleSessionName", "")
    if not role_arn or not session_name:
        raise StubError(400, "ValidationError", "RoleArn and RoleSessionName are required")

    account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ACCOUNT_ID
    role_name = role_arn.rpartition("/")[2]
    expiration = now + datetime.timedelta(seconds=SESSION_DURATION_S)
    return (
        '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        "<AssumeRoleResult><Credentials>"
        f"<AccessKeyId>ASIA{secrets.token_hex(8).upper()}</AccessKeyId>"
        f"<SecretAccessKey>{secrets.token_urlsafe(30)}</SecretAccessKey>"
        f"<SessionToken>{secrets.token_urlsafe(96)}</SessionToken>"
        f"<Expiration>{expiration.strftime('%Y-%m-%dT%H:%M:%SZ')}</Expiration>"
        "</Credentials><AssumedRoleUser>"
        f"<AssumedRoleId>AROA{secrets.token_hex(8).upper()}:{escape(session_name)}</AssumedRoleId>"
        f"<Arn>arn:aws:sts::{escape(account)}:assumed-role/{escape(role_name)}/"
        f"{escape(session_name)}</Arn>"
        "</AssumedRoleUser></AssumeRoleResult>"
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
        "</AssumeRoleResponse>"
    )


# The server -----------------------------------------------------------------------------

STATE_KEY = web.AppKey("state", StubState)


async def handle_aws(request: web.Request) -> web.Response:
    """Respond to one AWS call: by ``X-Amz-Target`` for JSON services, else as an STS query."""
    body = await request.read()
    received_at = time.time()
    state = request.app[STATE_KEY]
    target = request.headers.get("X-Amz-Target")

    if target is None:
        return _answer_query(request, body)
    try:
        if "Authorization" not in request.headers:
            raise StubError(403, "MissingAuthenticationTokenException", "the request is unsigned")
        payload = orjson.loads(body or b"{}")
        answer = _answer_json(target, payload, state, request)
        if target in DATA_TARGETS:
            state.count(destination_of(target, payload), record_count(target, payload), received_at)
            state.record(target, body, received_at)
    except StubError as error:
        return _json_error(target, error)
    except (orjson.JSONDecodeError, KeyError, TypeError) as error:
        return _json_error(target, StubError(400, "SerializationException", repr(error)))

    content_type = JSON_1_0 if target.startswith(SQS) else JSON_1_1
    return web.Response(
        body=orjson.dumps(answer),
        headers={"Content-Type": content_type, "x-amzn-RequestId": str(uuid.uuid4())},
    )


def _answer_json(
    target: str, payload: dict[str, Any], state: StubState, request: web.Request
) -> dict[str, Any]:
    service, _, operation = target.partition(".")
    region = _region_of(request)
    if service == KINESIS:
        return answer_kinesis(operation, payload, state, region)
    if service == FIREHOSE:
        return answer_firehose(operation, payload, state, region)
    if service == SQS:
        return answer_sqs(operation, payload, state, f"http://{request.host}")
    raise StubError(400, "UnknownOperationException", f"the stub does not support {target}")


def _answer_query(request: web.Request, body: bytes) -> web.Response:
    form = dict(urllib.parse.parse_qsl(body.decode("utf-8", errors="replace")))
    try:
        if "Authorization" not in request.headers:
            raise StubError(403, "MissingAuthenticationToken", "the request is unsigned")
        if form.get("Action") != "AssumeRole":
            raise StubError(
                400, "InvalidAction", f"the stub does not support Action {form.get('Action')!r}"
            )
        text = assume_role_xml(form, datetime.datetime.now(datetime.UTC))
    except StubError as error:
        return _xml_error(error)
    return web.Response(text=text, content_type="text/xml")


def _region_of(request: web.Request) -> str:
    # SigV4's credential scope is ACCESS_KEY/DATE/REGION/SERVICE/aws4_request.
    authorization = request.headers.get("Authorization", "")
    _, _, scope = authorization.partition("Credential=")
    parts = scope.split("/")
    return parts[2] if len(parts) > 3 else "us-east-1"


def _json_error(target: str, error: StubError) -> web.Response:
    content_type = JSON_1_0 if target.startswith(SQS) else JSON_1_1
    body = orjson.dumps({"__type": error.code, "message": error.message})
    return web.Response(status=error.status, body=body, headers={"Content-Type": content_type})


def _xml_error(error: StubError) -> web.Response:
    text = (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        f"<Error><Type>Sender</Type><Code>{escape(error.code)}</Code>"
        f"<Message>{escape(error.message)}</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )
    return web.Response(status=error.status, text=text, content_type="text/xml")


async def handle_counts(request: web.Request) -> web.Response:
    """Return the records received so far, per destination."""
    counts = request.app[STATE_KEY].counts
    body = {destination: count.to_json() for destination, count in counts.items()}
    return web.json_response(body, dumps=lambda value: orjson.dumps(value).decode())


def create_app(record_path: Path | None) -> web.Application:
    """Return the stub's application; data calls are appended to ``record_path`` if given."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    state = StubState()
    app[STATE_KEY] = state
    app.router.add_get(COUNTS_PATH, handle_counts)
    app.router.add_post("/{tail:.*}", handle_aws)

    async def open_record(app: web.Application) -> None:
        if record_path is not None:
            state.record_file = record_path.open("ab")

    async def close_record(app: web.Application) -> None:
        if state.record_file is not None:
            state.record_file.close()
            state.record_file = None

    app.on_startup.append(open_record)
    app.on_cleanup.append(close_record)
    return app


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.harness.aws_stub")
    parser.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1.")
    parser.add_argument("--record", type=Path, help="File to append every data call to.")
    return parser.parse_args()


def main() -> None:
    arguments = parse_arguments()
    # run_app stops on SIGINT and SIGTERM and runs the cleanup that closes the record.
    web.run_app(
        create_app(arguments.record),
        host=LOOPBACK,
        port=arguments.port,
        access_log=None,
        print=None,
    )


if __name__ == "__main__":
    main()
