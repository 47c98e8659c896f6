"""End to end: batches, concurrency, the overflow form and projecting filters."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from delivery_checks import (
    admin_get,
    admin_post,
    item_stream,
    received_events,
    received_guids,
    requests_for,
    stream_path,
)
from delivery_env import DeliveryEnv, event, https_stream, wait_until

from datastreams.receiver import Receiver
from datastreams.receiver.server import ReceivedRequest

# Schools created below ``district`` for the concurrency test, besides school-a and school-b.
EXTRA_SCHOOLS = [f"school-{letter}" for letter in "cdefgh"]


async def test_batches_split_by_batch_size(env: DeliveryEnv, receiver: Receiver) -> None:
    await env.create_stream(item_stream([receiver.url], batchSize=10))
    events = [event(n) for n in range(25)]

    await env.publish(events)
    await wait_until(lambda: len(received_guids(receiver)) == 25)

    assert received_guids(receiver) == [item["guid"] for item in events]
    assert [len(request.event_lines()) for request in receiver.requests] == [10, 10, 5]
    for request in receiver.requests:
        assert request.headers["Content-Type"] == "application/x-ndjson"
        assert request.body.endswith(b"\n")


async def test_batch_rejection_costs_only_bad_event(env: DeliveryEnv, receiver: Receiver) -> None:
    events = [event(n) for n in range(6)]
    bad_guid = events[3]["guid"]

    def reject_bad_event(request: ReceivedRequest) -> web.Response | None:
        return web.Response(status=422) if bad_guid.encode() in request.body else None

    receiver.handler = reject_bad_event
    stream = await env.create_stream(item_stream([receiver.url], batchSize=10))

    await env.publish(events)
    await wait_until(lambda: len(received_guids(receiver)) == 5)
    dead = await admin_get(env, stream_path(stream, "/dead-letters"))

    assert received_guids(receiver) == [item["guid"] for item in events if item["guid"] != bad_guid]
    batch, *singles = receiver.requests
    assert (len(batch.event_lines()), batch.status) == (6, 422)
    assert [len(request.event_lines()) for request in singles] == [1] * 6
    assert [request.status for request in singles] == [200, 200, 200, 422, 200, 200]
    assert dead.status_code == 200
    items = dead.json()["items"]
    assert [item["guid"] for item in items] == [bad_guid]
    assert "HTTP 422" in items[0]["error"]
    assert items[0]["event"]["data"] == events[3]["data"]
    status = await env.status(stream["id"])
    assert status["deadLetters"] == 1
    assert status["queueDepth"] == 0


async def create_schools(env: DeliveryEnv) -> None:
    for school in EXTRA_SCHOOLS:
        body = {"id": school, "name": school, "parentId": "district"}
        response = await admin_post(env, "/api/v1/domains", body)
        assert response.status_code == 201, response.text


def peak_concurrency(requests: list[ReceivedRequest], duration_s: float) -> int:
    """Return the max number of requests that the receiver handled at the same time.

    Each request is taken to last from its arrival for the receiver's delay.
    """
    peak = 0
    for request in requests:
        overlapping = [
            other
            for other in requests
            if other.received_at <= request.received_at < other.received_at + duration_s
        ]
        peak = max(peak, len(overlapping))
    return peak


async def test_max_in_flight_keeps_domain_order(env: DeliveryEnv, receiver: Receiver) -> None:
    await create_schools(env)
    receiver.config.delay_ms = 50
    await env.create_stream(item_stream([receiver.url], maxInFlight=4))
    domains = ["school-a", "school-b", *EXTRA_SCHOOLS]
    events = [event(n, domain=domains[n % len(domains)]) for n in range(40)]

    await env.publish(events)
    await wait_until(lambda: len(received_guids(receiver)) == 40)

    peak = peak_concurrency(receiver.requests, 0.05)
    assert 2 <= peak <= 4
    arrived: dict[str, list[int]] = {}
    for item in received_events(receiver):
        arrived.setdefault(item["domainId"], []).append(item["data"]["n"])
    published: dict[str, list[int]] = {}
    for item in events:
        published.setdefault(item["domainId"], []).append(item["data"]["n"])
    assert arrived == published


def grade_changed(guid: str, comment_chars: int) -> dict[str, Any]:
    return {
        "guid": guid,
        "domainId": "school-a",
        "type": "GradeChanged",
        "data": {
            "enrollmentId": "4410932",
            "userId": "3390117",
            "courseId": "2251430",
            "itemId": "U1_QUIZ",
            "version": 4,
            "oldGrade": {"score": None, "possible": 20, "status": "submitted"},
            "newGrade": {"score": 17.5, "possible": 20, "status": "scored"},
            "comment": "x" * comment_chars,
        },
        "userId": "3390117",
    }


async def test_large_event_sent_in_overflow_form(env: DeliveryEnv, receiver: Receiver) -> None:
    await env.create_stream(https_stream([receiver.url], maxRecordBytes=1024))
    large = grade_changed("00000000-0000-4000-8000-000000000001", 2000)
    small = grade_changed("00000000-0000-4000-8000-000000000002", 10)

    await env.publish([large, small])
    await wait_until(lambda: len(received_guids(receiver)) == 2)

    first, second = received_events(receiver)
    assert first["guid"] == large["guid"]
    assert first["data"] == {
        "overflow": True,
        "enrollmentId": "4410932",
        "itemId": "U1_QUIZ",
        "version": 4,
    }
    assert first["userId"] == large["userId"]
    assert second["data"] == small["data"]
    (request,) = requests_for(receiver, large["guid"])
    assert len(request.body) <= 1024


async def test_filter_projects_properties(env: DeliveryEnv, receiver: Receiver) -> None:
    await env.create_stream(item_stream([receiver.url], properties="itemId, n"))
    published = event(7)

    await env.publish([published])
    await wait_until(lambda: len(received_guids(receiver)) == 1)

    (delivered,) = received_events(receiver)
    assert delivered["data"] == {"itemId": "item-7", "n": 7}
    assert delivered["guid"] == published["guid"]
    assert delivered["domainId"] == "school-a"
    assert delivered["userId"] == "u1"
    (request,) = receiver.requests
    assert orjson.loads(request.body) == delivered
