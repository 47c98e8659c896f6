"""End to end: dead letters, replay, the Test action, and the status routes."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from delivery_checks import (
    admin_get,
    admin_post,
    dead_letter_count,
    item_stream,
    new_signing_secret,
    received_guids,
    stream_path,
    wait_until_async,
)
from delivery_env import DeliveryEnv, event, https_stream, wait_until
from standardwebhooks.webhooks import Webhook

from datastreams.receiver import Receiver
from datastreams.receiver.server import ReceivedRequest

STATUS_MEMBERS = {
    "state",
    "queueDepth",
    "oldestQueuedAgeSeconds",
    "delivered",
    "failed",
    "deadLetters",
    "lastError",
    "lastDeliveredAt",
}
ATTEMPT_MEMBERS = {
    "at",
    "outcome",
    "records",
    "endpoint",
    "status",
    "errorCode",
    "message",
    "latencyMs",
}
STEP_MEMBERS = {"step", "endpoint", "status", "errorCode", "message", "latencyMs"}


class Rejecter:
    """A receiver handler that returns 422 for requests that contain a rejected guid."""

    def __init__(self, *guids: str) -> None:
        self.guids = set(guids)

    def __call__(self, request: ReceivedRequest) -> web.Response | None:
        if any(guid.encode() in request.body for guid in self.guids):
            return web.Response(status=422)
        return None


async def dead_letters(env: DeliveryEnv, stream: dict[str, Any]) -> list[dict[str, Any]]:
    response = await admin_get(env, stream_path(stream, "/dead-letters"))
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def has_dead_letters(env: DeliveryEnv, stream: dict[str, Any], count: int) -> bool:
    return await dead_letter_count(env, stream) == count


async def test_dead_letter_redriven_after_fix(env: DeliveryEnv, receiver: Receiver) -> None:
    events = [event(n) for n in range(3)]
    bad_guid = events[1]["guid"]
    rejecter = Rejecter(bad_guid)
    receiver.handler = rejecter
    stream = await env.create_stream(item_stream([receiver.url]))

    await env.publish(events)
    await wait_until(lambda: len(received_guids(receiver)) == 2)
    await wait_until_async(lambda: has_dead_letters(env, stream, 1))
    (dead,) = await dead_letters(env, stream)

    assert dead["guid"] == bad_guid
    assert "HTTP 422" in dead["error"]
    assert dead["domainId"] == "school-a"
    assert dead["type"] == "ItemActivity"
    attempts = (await admin_get(env, stream_path(stream, "/attempts"))).json()["items"]
    assert any(item["outcome"] == "dead" and item["errorCode"] == "http_422" for item in attempts)

    rejecter.guids.clear()
    response = await admin_post(env, stream_path(stream, "/dead-letters/redrive"), {"all": True})
    assert response.status_code == 200, response.text
    assert response.json() == {"queued": 1}
    await wait_until(lambda: len(received_guids(receiver)) == 3)

    assert received_guids(receiver) == [events[0]["guid"], events[2]["guid"], bad_guid]
    assert await dead_letters(env, stream) == []


async def test_dead_letters_deleted_by_id(env: DeliveryEnv, receiver: Receiver) -> None:
    events = [event(n) for n in range(3)]
    receiver.handler = Rejecter(events[0]["guid"], events[2]["guid"])
    stream = await env.create_stream(item_stream([receiver.url]))

    await env.publish(events)
    await wait_until_async(lambda: has_dead_letters(env, stream, 2))
    first, second = await dead_letters(env, stream)
    assert first["guid"] == events[0]["guid"]

    path = stream_path(stream, "/dead-letters/delete")
    response = await admin_post(env, path, {"ids": [first["id"]]})

    assert response.status_code == 200, response.text
    assert response.json() == {"deleted": 1}
    remaining = await dead_letters(env, stream)
    assert [item["id"] for item in remaining] == [second["id"]]
    assert remaining[0]["guid"] == events[2]["guid"]
    status = await env.status(stream["id"])
    assert status["deadLetters"] == 1


def timed_event(n: int, minute: int) -> dict[str, Any]:
    return {**event(n), "time": f"2024-05-01T12:{minute:02d}:00.0000000Z"}


async def test_replay_requeues_time_range(env: DeliveryEnv, receiver: Receiver) -> None:
    stream = await env.create_stream(item_stream([receiver.url]))
    events = [timed_event(n, minute=n) for n in range(4)]
    guids = [item["guid"] for item in events]
    await env.publish(events)
    await wait_until(lambda: len(received_guids(receiver)) == 4)

    body = {"from": "2024-05-01T12:01:00Z", "to": "2024-05-01T12:03:00Z"}
    response = await admin_post(env, stream_path(stream, "/replay"), body)

    assert response.status_code == 202, response.text
    assert response.json() == {"queued": 2}
    await wait_until(lambda: len(received_guids(receiver)) == 6)
    assert received_guids(receiver) == [*guids, guids[1], guids[2]]


async def test_probe_of_unsaved_stream_passes(
    env: DeliveryEnv, receiver: Receiver, backup_receiver: Receiver
) -> None:
    body = https_stream([receiver.url, backup_receiver.url])

    response = await admin_post(env, "/api/v1/domains/district/streams/test", body)

    assert response.status_code == 200, response.text
    result = response.json()
    assert result["passed"] is True
    assert result["event"]["type"] == "ValidateDataStreamConfiguration"
    assert [step["endpoint"] for step in result["steps"]] == [receiver.url, backup_receiver.url]
    for step in result["steps"]:
        assert set(step) == STEP_MEMBERS
        assert step["step"] == "send"
        assert step["status"] == 200
        assert step["errorCode"] is None
        assert step["latencyMs"] > 0
    for target in (receiver, backup_receiver):
        (request,) = target.requests
        assert orjson.loads(request.body)["guid"] == result["event"]["guid"]


async def test_probe_reports_failing_endpoint(env: DeliveryEnv, receiver: Receiver) -> None:
    receiver.set_response_script("503")

    response = await admin_post(
        env, "/api/v1/domains/district/streams/test", https_stream([receiver.url])
    )

    assert response.status_code == 200, response.text
    result = response.json()
    assert result["passed"] is False
    (step,) = result["steps"]
    assert step["status"] == 503
    assert step["errorCode"] == "http_503"
    assert step["endpoint"] == receiver.url
    assert len(receiver.requests) == 1


async def test_probe_of_saved_stream_is_signed(env: DeliveryEnv, receiver: Receiver) -> None:
    secret = new_signing_secret()
    stream = await env.create_stream(
        item_stream([receiver.url], enabled=False, signingSecret=secret)
    )

    response = await admin_post(env, stream_path(stream, "/test"), None)

    assert response.status_code == 200, response.text
    result = response.json()
    assert result["passed"] is True
    (request,) = receiver.requests
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload["type"] == "ValidateDataStreamConfiguration"
    assert payload["guid"] == result["event"]["guid"]
    assert payload["data"]["streamId"] == stream["id"]
    assert request.headers["webhook-id"] == payload["guid"]


async def test_status_routes_return_contract(env: DeliveryEnv, receiver: Receiver) -> None:
    stream = await env.create_stream(item_stream([receiver.url]))
    await env.publish([event(n) for n in range(3)])
    await wait_until(lambda: len(received_guids(receiver)) == 3)

    status = await env.status(stream["id"])
    attempts = await admin_get(env, stream_path(stream, "/attempts?limit=10"))
    stats = await admin_get(env, stream_path(stream, "/stats?minutes=5"))

    assert set(status) == STATUS_MEMBERS
    assert status["state"] in {"idle", "delivering"}
    assert status["queueDepth"] == 0
    assert status["oldestQueuedAgeSeconds"] is None
    assert status["delivered"] == 3
    assert status["failed"] == 0
    assert status["deadLetters"] == 0
    assert status["lastError"] is None
    assert status["lastDeliveredAt"].endswith("Z")

    assert attempts.status_code == 200, attempts.text
    items = attempts.json()["items"]
    assert len(items) == 3
    for item in items:
        assert set(item) == ATTEMPT_MEMBERS
        assert item["outcome"] == "delivered"
        assert item["records"] == 1
        assert item["endpoint"] == receiver.url
        assert item["status"] == 200
        assert item["errorCode"] is None

    assert stats.status_code == 200, stats.text
    body = stats.json()
    assert body["minutes"] == 5
    assert len(body["items"]) == 5
    assert sum(item["delivered"] for item in body["items"]) == 3
    assert sum(item["failed"] for item in body["items"]) == 0
    assert all(item["minute"].endswith(":00Z") for item in body["items"])


async def test_status_shows_queued_failures(env: DeliveryEnv, receiver: Receiver) -> None:
    receiver.set_response_script("503")
    stream = await env.create_stream(item_stream([receiver.url], retries=0))
    await env.publish([event(n) for n in range(2)])
    await wait_until(lambda: len(receiver.requests) >= 2)

    status = await env.status(stream["id"])
    attempts = await admin_get(env, stream_path(stream, "/attempts"))

    assert status["state"] == "backingOff"
    assert status["queueDepth"] == 2
    assert status["oldestQueuedAgeSeconds"] >= 0
    assert status["failed"] >= 2
    assert "HTTP 503" in status["lastError"]
    assert status["lastDeliveredAt"] is None
    latest = attempts.json()["items"][0]
    assert latest["outcome"] == "retry"
    assert latest["status"] == 503
    assert latest["errorCode"] == "http_503"
