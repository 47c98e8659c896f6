"""End to end: how delivery reacts to failing receivers, through a real server process."""

from __future__ import annotations

from pathlib import Path

import trustme
from delivery_checks import admin_post, item_stream, received_guids, requests_for
from delivery_env import DeliveryEnv, DeliveryTemplate, event, wait_until

from datastreams.receiver import Receiver


async def test_failover_backup_gets_events(
    env: DeliveryEnv, receiver: Receiver, backup_receiver: Receiver
) -> None:
    receiver.set_response_script("503")
    await env.create_stream(item_stream([receiver.url, backup_receiver.url], retries=1))
    events = [event(n) for n in range(3)]
    guids = [item["guid"] for item in events]

    await env.publish(events)
    await wait_until(lambda: received_guids(backup_receiver) == guids)

    assert received_guids(receiver) == []
    for guid in guids:
        primary = requests_for(receiver, guid)
        backup = requests_for(backup_receiver, guid)
        assert [request.status for request in primary] == [503, 503]
        assert len(backup) == 1
        assert primary[-1].received_at <= backup[0].received_at


async def test_unauthorized_marks_failing(env: DeliveryEnv, receiver: Receiver) -> None:
    receiver.set_response_script("401")
    stream = await env.create_stream(item_stream([receiver.url]))
    events = [event(n) for n in range(5)]

    await env.publish(events)
    await wait_until(lambda: len(receiver.requests) >= 2)
    failing = await env.status(stream["id"])

    assert failing["state"] == "failing"
    assert "401" in failing["lastError"]
    assert failing["queueDepth"] == 5
    assert failing["deadLetters"] == 0

    receiver.set_response_script("200")
    await wait_until(lambda: len(received_guids(receiver)) == 5)

    assert received_guids(receiver) == [item["guid"] for item in events]
    recovered = await env.status(stream["id"])
    assert recovered["queueDepth"] == 0
    assert recovered["deadLetters"] == 0


async def test_retry_after_delays_next_request(env: DeliveryEnv, receiver: Receiver) -> None:
    receiver.set_response_script("429:2,200")
    await env.create_stream(item_stream([receiver.url], backoff_max_s=60))
    guid = event(1)["guid"]

    await env.publish([event(1)])
    await wait_until(lambda: received_guids(receiver) == [guid], timeout_s=10)

    first, second = requests_for(receiver, guid)
    assert first.status == 429
    assert second.status == 200
    assert second.received_at - first.received_at >= 1.9


async def test_retry_after_capped_by_backoff_max(env: DeliveryEnv, receiver: Receiver) -> None:
    receiver.set_response_script("429:30,200")
    await env.create_stream(item_stream([receiver.url], backoff_max_s=1))
    guid = event(1)["guid"]

    await env.publish([event(1)])
    await wait_until(lambda: received_guids(receiver) == [guid], timeout_s=5)

    first, second = requests_for(receiver, guid)
    assert first.status == 429
    assert 0.9 <= second.received_at - first.received_at < 4


async def test_loopback_endpoint_rejected_without_allowance(
    tmp_path: Path, ca: trustme.CA, delivery_template: DeliveryTemplate, receiver: Receiver
) -> None:
    guarded = DeliveryEnv.from_template(
        delivery_template, tmp_path, ca, DATASTREAMS_ALLOWED_ENDPOINT_NETWORKS=""
    )
    try:
        response = await admin_post(
            guarded, "/api/v1/domains/district/streams", item_stream([receiver.url])
        )
    finally:
        guarded.close()

    assert response.status_code == 422
    fields = response.json()["error"]["fields"]
    assert [field["field"] for field in fields] == ["https.endpoints[0]"]
    assert fields[0]["value"] == receiver.url
    assert receiver.requests == []
