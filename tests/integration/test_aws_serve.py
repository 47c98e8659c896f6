"""End to end: a real ``datastreams serve`` delivers to Firehose, Kinesis and SQS in moto.

The server runs in its own process with ``AWS_ENDPOINT_URL`` pointing at moto and the
dummy credentials of ``tests/conftest.py``. It assumes the customer's role in the
customer's account, as in production.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from aws_moto import CUSTOMER_ROLE_ARN, REGION, Moto, running_moto
from delivery_env import DeliveryEnv, DeliveryTemplate, event, wait_until
from service_process import stored_event_lines

pytestmark = pytest.mark.integration

PRINCIPAL_ARN = "arn:aws:iam::123456789012:role/datastreams-service"
EVENT_COUNT = 30
DOMAINS = ("school-a", "school-b")


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    with running_moto() as server:
        yield server


@pytest.fixture
def aws_env(
    moto: Moto, tmp_path: Path, ca: trustme.CA, delivery_template: DeliveryTemplate
) -> Iterator[DeliveryEnv]:
    env = DeliveryEnv.from_template(
        delivery_template,
        tmp_path,
        ca,
        AWS_ENDPOINT_URL=moto.endpoint,
        DATASTREAMS_AWS_PRINCIPAL_ARN=PRINCIPAL_ARN,
    )
    yield env
    env.close()


def aws_stream_body(stream_type: str, name: str, **aws: Any) -> dict[str, Any]:
    """Return a stream body that delivers only ``ItemActivity`` events."""
    return {
        "type": stream_type,
        "name": name,
        "description": "end-to-end AWS delivery test",
        "backoffMaxSeconds": 1,
        "filters": [{"eventType": "ItemActivity", "properties": ""}],
        "aws": {"roleArn": CUSTOMER_ROLE_ARN, "region": REGION, **aws},
    }


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_serve_delivers_to_aws(moto: Moto, aws_env: DeliveryEnv) -> None:
    firehose_name = unique("events")
    bucket = moto.create_delivery_stream(firehose_name)
    kinesis_name = unique("events")
    moto.create_kinesis_stream(kinesis_name)
    queue_name = unique("events") + ".fifo"
    queue_url = moto.create_queue(queue_name)

    await aws_env.create_stream(aws_stream_body("firehose", firehose_name))
    await aws_env.create_stream(aws_stream_body("kinesis", kinesis_name))
    await aws_env.create_stream(aws_stream_body("sqs", queue_name))

    events = [event(n, domain=DOMAINS[n % 2]) for n in range(1, EVENT_COUNT + 1)]
    await aws_env.publish(events)
    lines = [stored_event_lines(aws_env.server.db, item["guid"])[0] for item in events]

    objects: list[bytes] = []
    kinesis: list[tuple[str, str, bytes]] = []
    messages: list[dict[str, Any]] = []

    def all_arrived() -> bool:
        objects[:] = moto.bucket_objects(bucket)
        kinesis[:] = moto.kinesis_records(kinesis_name)
        messages.extend(moto.receive_all(queue_url))
        firehose_lines = b"".join(objects).count(b"\n")
        return (
            firehose_lines >= EVENT_COUNT
            and len(kinesis) >= EVENT_COUNT
            and len(messages) >= EVENT_COUNT
        )

    await wait_until(all_arrived, timeout_s=30)

    expected_by_domain: dict[str, list[bytes]] = defaultdict(list)
    for item, line in zip(events, lines, strict=True):
        expected_by_domain[item["domainId"]].append(line)

    # An AWS stream has several calls in flight, and moto writes one object per call,
    # so objects of different domains interleave. Each object is in log order, and
    # each domain's lines come in order across the objects.
    position = {line: index for index, line in enumerate(lines)}
    object_lines = [content.splitlines() for content in objects]
    assert all(content.endswith(b"\n") for content in objects)
    assert sorted(line for chunk in object_lines for line in chunk) == sorted(lines)
    for chunk in object_lines:
        assert [position[line] for line in chunk] == sorted(position[line] for line in chunk)
    for expected in expected_by_domain.values():
        domain_lines = set(expected)
        chunks = [[line for line in chunk if line in domain_lines] for chunk in object_lines]
        ordered = sorted((chunk for chunk in chunks if chunk), key=lambda c: position[c[0]])
        assert [line for chunk in ordered for line in chunk] == expected

    kinesis_by_key: dict[str, list[bytes]] = defaultdict(list)
    for _shard, key, data in kinesis:
        kinesis_by_key[key].append(data)
    assert dict(kinesis_by_key) == dict(expected_by_domain)

    sqs_by_group: dict[str, list[bytes]] = defaultdict(list)
    for message in messages:
        sqs_by_group[message["Attributes"]["MessageGroupId"]].append(message["Body"].encode())
    assert dict(sqs_by_group) == dict(expected_by_domain)


async def test_serve_shows_trust_policy(moto: Moto, aws_env: DeliveryEnv) -> None:
    queue_name = unique("events")
    moto.create_queue(queue_name)
    stream = await aws_env.create_stream(aws_stream_body("sqs", queue_name))

    async with aws_env.admin() as client:
        domain = (await client.get("/api/v1/domains/district")).json()
        shown = (await client.get(f"/api/v1/domains/district/streams/{stream['id']}")).json()

    [statement] = shown["aws"]["trustPolicy"]["Statement"]
    assert shown["aws"]["externalId"] == domain["externalId"]
    assert statement["Principal"] == {"AWS": PRINCIPAL_ARN}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {"StringEquals": {"sts:ExternalId": domain["externalId"]}}


async def test_serve_test_action_steps(moto: Moto, aws_env: DeliveryEnv) -> None:
    kinesis_name = unique("events")
    moto.create_kinesis_stream(kinesis_name)
    stream = await aws_env.create_stream(aws_stream_body("kinesis", kinesis_name))

    async with aws_env.admin() as client:
        response = await client.post(f"/api/v1/domains/district/streams/{stream['id']}/test")
        missing = await client.post(
            "/api/v1/domains/district/streams/test",
            json=aws_stream_body("kinesis", unique("missing")),
        )

    body = response.json()
    assert response.status_code == 200
    assert body["passed"] is True
    assert [step["step"] for step in body["steps"]] == ["assumeRole", "describe", "send"]
    assert missing.json()["passed"] is False
    assert missing.json()["steps"][-1]["errorCode"] == "ResourceNotFoundException"


async def test_serve_overflow_form_within_limits(moto: Moto, aws_env: DeliveryEnv) -> None:
    firehose_name = unique("events")
    bucket = moto.create_delivery_stream(firehose_name)
    queue_name = unique("small")
    queue_url = moto.create_queue(queue_name, MaximumMessageSize="2048")
    await aws_env.create_stream(aws_stream_body("firehose", firehose_name))
    await aws_env.create_stream(aws_stream_body("sqs", queue_name))

    # Over Firehose's 1,000 KiB record limit, and over the queue's 2,048 bytes, which
    # the sink learns only when it first sends.
    large = event(1)
    large["data"]["text"] = "x" * 1_030_000
    small = event(2)
    small["data"]["text"] = "x" * 3000
    await aws_env.publish([large, small])

    messages: list[dict[str, Any]] = []

    def both_arrived() -> bool:
        messages.extend(moto.receive_all(queue_url))
        firehose_lines = b"".join(moto.bucket_objects(bucket)).count(b"\n")
        return firehose_lines >= 2 and len(messages) >= 2

    await wait_until(both_arrived, timeout_s=30)

    firehose_events = [
        json.loads(line) for line in b"".join(moto.bucket_objects(bucket)).splitlines()
    ]
    sqs_events = [json.loads(message["Body"]) for message in messages]
    assert [item["guid"] for item in firehose_events] == [large["guid"], small["guid"]]
    assert firehose_events[0]["data"]["overflow"] is True
    assert firehose_events[1]["data"]["text"] == "x" * 3000
    assert sorted(item["guid"] for item in sqs_events) == sorted([large["guid"], small["guid"]])
    assert all(item["data"]["overflow"] is True for item in sqs_events)
