"""A moto server on 127.0.0.1 with a customer account, for the tests of the AWS sinks.

The service's own identity is moto's default account (123456789012) with the dummy
credentials that ``tests/conftest.py`` sets. The customer's delivery stream, Kinesis
stream and queues live in ``CUSTOMER_ACCOUNT`` and are reached through AssumeRole, as
in production: moto serves an assumed role's requests from the account in its ARN.

Two botocore ``before-send`` hooks sit between the service and moto:

- ``RequestLog`` records every request the service sends, because moto accepts more
  than AWS (it does not check entry counts, sizes or characters).
- ``FaultPlan`` returns its own response to chosen requests: whole-call errors
  (throttling, 5xx), or partial failures, for which it forwards the other entries
  to moto and reports the chosen ones as failed.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import threading
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import botocore.session
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config
from moto.server import ThreadedMotoServer

from datastreams.aws.clients import AwsClientFactory
from datastreams.sinks.base import OutboundRecord
from datastreams.store.records import StreamRecord

SERVICE_ACCOUNT = "123456789012"
CUSTOMER_ACCOUNT = "111122223333"
CUSTOMER_ROLE_ARN = f"arn:aws:iam::{CUSTOMER_ACCOUNT}:role/datastreams-delivery"
REGION = "us-east-1"

# Firehose needs a role for its S3 destination; moto does not use it.
FIREHOSE_DELIVERY_ROLE_ARN = f"arn:aws:iam::{CUSTOMER_ACCOUNT}:role/firehose-to-s3"

# A predicate over the data of one entry that returns the error code to report for
# it, or None to let it through.
FailWhen = Callable[[bytes], str | None]


@dataclass
class Moto:
    """A running moto server and clients for the customer's account."""

    server: ThreadedMotoServer
    endpoint: str
    _clients: dict[str, Any] = field(default_factory=dict)

    def customer(self, service: str) -> Any:
        """Return a client acting in the customer's account (cached per service)."""
        client = self._clients.get(service)
        if client is None:
            session = botocore.session.Session()
            sts = session.create_client("sts", region_name=REGION)
            credentials = sts.assume_role(
                RoleArn=f"arn:aws:iam::{CUSTOMER_ACCOUNT}:role/test-setup",
                RoleSessionName="test-setup",
            )["Credentials"]
            client = session.create_client(
                service,
                region_name=REGION,
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
                config=Config(s3={"addressing_style": "path"}),
            )
            self._clients[service] = client
        return client

    # Firehose ---------------------------------------------------------------------

    def create_delivery_stream(self, name: str) -> str:
        """Create a Direct PUT delivery stream writing to a new bucket; return the bucket."""
        bucket = f"events-{uuid.uuid4().hex[:12]}"
        self.customer("s3").create_bucket(Bucket=bucket)
        self.customer("firehose").create_delivery_stream(
            DeliveryStreamName=name,
            DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "RoleARN": FIREHOSE_DELIVERY_ROLE_ARN,
                "BucketARN": f"arn:aws:s3:::{bucket}",
            },
        )
        return bucket

    def bucket_objects(self, bucket: str) -> list[bytes]:
        """Return the content of every object in the bucket (moto writes one per call)."""
        s3 = self.customer("s3")
        listing = s3.list_objects_v2(Bucket=bucket).get("Contents") or []
        return [s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read() for item in listing]

    # Kinesis ----------------------------------------------------------------------

    def create_kinesis_stream(self, name: str, shards: int = 4) -> None:
        self.customer("kinesis").create_stream(StreamName=name, ShardCount=shards)

    def kinesis_records(self, name: str) -> list[tuple[str, str, bytes]]:
        """Return ``(shard id, partition key, data)`` of every record, in order per shard."""
        kinesis = self.customer("kinesis")
        records: list[tuple[str, str, bytes]] = []
        for shard in kinesis.list_shards(StreamName=name)["Shards"]:
            iterator = kinesis.get_shard_iterator(
                StreamName=name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            while iterator:
                response = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
                if not response["Records"]:
                    break
                records.extend(
                    (shard["ShardId"], item["PartitionKey"], item["Data"])
                    for item in response["Records"]
                )
                iterator = response.get("NextShardIterator")
        return records

    # SQS --------------------------------------------------------------------------

    def create_queue(self, name: str, **attributes: str) -> str:
        if name.endswith(".fifo"):
            attributes.setdefault("FifoQueue", "true")
        response = self.customer("sqs").create_queue(QueueName=name, Attributes=attributes)
        return str(response["QueueUrl"])

    def receive_all(self, queue_url: str) -> list[dict[str, Any]]:
        """Receive and delete every message, in the order the queue hands them out."""
        sqs = self.customer("sqs")
        messages: list[dict[str, Any]] = []
        for _ in range(1000):
            response = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=10,
                MessageSystemAttributeNames=["All"],
                WaitTimeSeconds=0,
            )
            batch = response.get("Messages") or []
            if not batch:
                return messages
            for message in batch:
                messages.append(message)
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        raise AssertionError("the queue did not run empty")


@contextlib.contextmanager
def running_moto() -> Iterator[Moto]:
    """Start moto on a free port of 127.0.0.1 and point ``AWS_ENDPOINT_URL`` at it."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    previous = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    try:
        yield Moto(server, endpoint)
    finally:
        if previous is None:
            del os.environ["AWS_ENDPOINT_URL"]
        else:
            os.environ["AWS_ENDPOINT_URL"] = previous
        server.stop()


# What the service sends ---------------------------------------------------------------


@dataclass
class SentRequest:
    """One request the service sent (or tried to send), decoded."""

    operation: str
    body: dict[str, Any]
    size: int

    def entries(self) -> list[dict[str, Any]]:
        """The records or messages of a batch call."""
        return list(self.body.get("Records") or self.body.get("Entries") or [])

    def data(self) -> list[bytes]:
        """The data of each Firehose or Kinesis record, decoded from base64."""
        return [base64.b64decode(entry["Data"]) for entry in self.entries()]


class RequestLog:
    """A ``before-send`` hook that records every request."""

    def __init__(self) -> None:
        self.requests: list[SentRequest] = []
        self._lock = threading.Lock()

    def __call__(self, request: AWSPreparedRequest, event_name: str, **_: Any) -> None:
        body = request.body or b""
        raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        with self._lock:
            self.requests.append(
                SentRequest(event_name.rsplit(".", 1)[-1], _decode_body(raw), len(raw))
            )

    def of(self, operation: str) -> list[SentRequest]:
        with self._lock:
            return [request for request in self.requests if request.operation == operation]


def _decode_body(raw: bytes) -> dict[str, Any]:
    if raw.startswith(b"{"):
        decoded: dict[str, Any] = json.loads(raw)
        return decoded
    # STS speaks the query protocol: a form-encoded body.
    return {key: values[0] for key, values in urllib.parse.parse_qs(raw.decode()).items()}


# Injected failures ----------------------------------------------------------------------


@dataclass
class _Fault:
    operation: str
    respond: Callable[[AWSPreparedRequest], AWSResponse | None]
    times: int


class _Body:
    """The raw part of an ``AWSResponse`` built in memory."""

    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._content


class FaultPlan:
    """A ``before-send`` hook that returns its own response to chosen calls.

    Each fault applies to the given number of calls, then requests reach moto again.
    """

    def __init__(self) -> None:
        self.injected: list[str] = []
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()

    def error(
        self, operation: str, code: str, *, status: int = 400, times: int = 1, message: str = ""
    ) -> None:
        """Fail the next ``times`` calls of ``operation`` as a whole with ``code``."""

        def respond(request: AWSPreparedRequest) -> AWSResponse:
            body = {"__type": code, "message": message or f"injected {code}"}
            return _json_response(request, status, body)

        self._add(_Fault(operation, respond, times))

    def reject_calls(
        self, operation: str, contains: Callable[[bytes], bool], code: str, *, status: int = 400
    ) -> None:
        """Fail every call of ``operation`` as a whole while one of its entries matches."""

        def respond(request: AWSPreparedRequest) -> AWSResponse | None:
            entries = _request_entries(request, operation)
            if not any(contains(_entry_data(entry)) for entry in entries):
                return None
            return _json_response(request, status, {"__type": code, "message": f"injected {code}"})

        self._add(_Fault(operation, respond, times=1_000_000))

    def partial(
        self,
        operation: str,
        fail_when: FailWhen,
        *,
        times: int = 1,
        sender_fault: bool = False,
    ) -> None:
        """Report entries chosen by ``fail_when`` as failed; forward the others to moto."""

        def respond(request: AWSPreparedRequest) -> AWSResponse:
            return _partial_response(request, operation, fail_when, sender_fault)

        self._add(_Fault(operation, respond, times))

    def __call__(
        self, request: AWSPreparedRequest, event_name: str, **_: Any
    ) -> AWSResponse | None:
        operation = event_name.rsplit(".", 1)[-1]
        with self._lock:
            fault = next(
                (f for f in self._faults if f.operation == operation and f.times > 0), None
            )
            if fault is None:
                return None
            fault.times -= 1
        response = fault.respond(request)
        if response is not None:
            with self._lock:
                self.injected.append(operation)
        return response

    def _add(self, fault: _Fault) -> None:
        with self._lock:
            self._faults.append(fault)


def _json_response(request: AWSPreparedRequest, status: int, body: dict[str, Any]) -> AWSResponse:
    headers = {"x-amzn-RequestId": str(uuid.uuid4()), "Content-Type": "application/x-amz-json-1.1"}
    return AWSResponse(request.url, status, headers, _Body(json.dumps(body).encode()))


def _forward(request: AWSPreparedRequest, body: dict[str, Any]) -> dict[str, Any]:
    # moto checks no signatures unless IAM checks are on, so the changed body passes.
    headers = {
        name: value.decode() if isinstance(value, bytes) else value
        for name, value in request.headers.items()
        if name.lower() != "content-length"
    }
    forwarded = urllib.request.Request(
        request.url, data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    with urllib.request.urlopen(forwarded, timeout=10) as response:
        decoded: dict[str, Any] = json.loads(response.read())
    return decoded


def _entry_data(entry: dict[str, Any]) -> bytes:
    if "Data" in entry:
        return base64.b64decode(entry["Data"])
    return str(entry["MessageBody"]).encode("utf-8")


def _request_body(request: AWSPreparedRequest) -> dict[str, Any]:
    raw = request.body if isinstance(request.body, bytes) else str(request.body).encode()
    body: dict[str, Any] = json.loads(raw)
    return body


def _entry_key(operation: str) -> str:
    return "Entries" if operation == "SendMessageBatch" else "Records"


def _request_entries(request: AWSPreparedRequest, operation: str) -> list[dict[str, Any]]:
    return list(_request_body(request)[_entry_key(operation)])


def _partial_response(
    request: AWSPreparedRequest, operation: str, fail_when: FailWhen, sender_fault: bool
) -> AWSResponse:
    body = _request_body(request)
    entry_key = _entry_key(operation)
    entries = body[entry_key]
    codes = [fail_when(_entry_data(entry)) for entry in entries]
    passed = [entry for entry, code in zip(entries, codes, strict=True) if code is None]

    forwarded = _forward(request, {**body, entry_key: passed}) if passed else {}

    if operation == "SendMessageBatch":
        failed = [
            {
                "Id": entry["Id"],
                "SenderFault": sender_fault,
                "Code": code,
                "Message": f"injected {code}",
            }
            for entry, code in zip(entries, codes, strict=True)
            if code is not None
        ]
        merged = {"Successful": forwarded.get("Successful") or [], "Failed": failed}
        return _json_response(request, 200, merged)

    results_key, count_key = {
        "PutRecords": ("Records", "FailedRecordCount"),
        "PutRecordBatch": ("RequestResponses", "FailedPutCount"),
    }[operation]
    passed_results = iter(forwarded.get(results_key) or [])
    results = [
        next(passed_results)
        if code is None
        else {"ErrorCode": code, "ErrorMessage": f"injected {code}"}
        for code in codes
    ]
    failed_count = sum(code is not None for code in codes)
    return _json_response(
        request, 200, {**forwarded, results_key: results, count_key: failed_count}
    )


@contextlib.contextmanager
def client_factory(*hooks: Any, **options: Any) -> Iterator[AwsClientFactory]:
    """Return a factory whose clients pass every request through ``hooks``."""
    factory = AwsClientFactory(event_hooks=[("before-send", hook) for hook in hooks], **options)
    try:
        yield factory
    finally:
        factory.close()


# Streams and records ----------------------------------------------------------------------


def aws_stream(
    stream_type: str, name: str, *, domain_id: str = "district", **aws: Any
) -> StreamRecord:
    """Return a stored AWS stream for the customer's role, with an external id of the domain."""
    config = {
        "roleArn": CUSTOMER_ROLE_ARN,
        "region": REGION,
        "externalId": f"external-{domain_id}",
        "partitionKey": "domainId",
        "messageGroupKey": "domainId",
        "appendNewline": True,
    }
    config.update(aws)
    return StreamRecord(
        id=f"stream-{uuid.uuid4().hex[:8]}",
        domain_id=domain_id,
        type=stream_type,
        name=name,
        description="",
        enabled=True,
        version=1,
        config={"filters": [], "aws": config, "https": None},
    )


def record(
    seq: int,
    *,
    domain_id: str = "school-a",
    size: int | None = None,
    key: str | None = None,
    queued_at: str = "2024-05-01T12:00:00.0000000Z",
    text: str = "",
) -> OutboundRecord:
    """Return a record whose payload is a small JSON line, padded to ``size`` bytes if given."""
    guid = f"00000000-0000-4000-8000-{seq:012d}"
    payload = json.dumps(
        {"guid": guid, "domainId": domain_id, "n": seq, "text": text, "pad": ""},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")
    if size is not None:
        padding = size - len(payload)
        assert padding >= 0, f"size {size} is below the record's minimum {len(payload)}"
        payload = payload[:-2] + b"x" * padding + b'"}'
    return OutboundRecord(
        seq=seq,
        guid=guid,
        domain_id=domain_id,
        payload=payload,
        partition_key=key or domain_id,
        queued_at=queued_at,
    )
