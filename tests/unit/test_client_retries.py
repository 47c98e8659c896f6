"""The publishing client's retries, batching and errors, against httpx mock transports."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest

from datastreams import client as client_module
from datastreams.client import AsyncClient, Client, ClientError

URL = "http://127.0.0.1:9"
KEY = "dsp_" + "k" * 43


def accept_all(request: httpx.Request) -> httpx.Response:
    """Answer like the service: every event of the NDJSON body accepted."""
    lines = [orjson.loads(line) for line in request.content.splitlines() if line]
    items = [
        {"index": i, "status": "accepted", "guid": line["guid"], "time": "t"}
        for i, line in enumerate(lines)
    ]
    return httpx.Response(
        202, json={"accepted": len(items), "duplicates": 0, "rejected": 0, "items": items}
    )


class Recorder:
    """A mock transport handler that answers from a script, then accepts everything."""

    def __init__(
        self, *answers: Callable[[httpx.Request], httpx.Response] | httpx.Response | Exception
    ) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.answers:
            return accept_all(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return answer(request)

    def guids(self, index: int) -> list[str]:
        return [orjson.loads(line)["guid"] for line in self.requests[index].content.splitlines()]


@pytest.fixture()
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    recorded: list[float] = []
    monkeypatch.setattr(client_module.time, "sleep", recorded.append)
    return recorded


def make_client(handler: Recorder, **options: Any) -> Client:
    return Client(URL, KEY, transport=httpx.MockTransport(handler), **options)


def events(count: int) -> list[dict[str, Any]]:
    return [{"domainId": "acme", "type": "T", "data": {"n": n}} for n in range(count)]


def test_publish_sends_ndjson_with_key(sleeps: list[float]) -> None:
    handler = Recorder()
    with make_client(handler) as client:
        client.publish(events(2))

    request = handler.requests[0]
    assert request.url == f"{URL}/api/v1/events"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/x-ndjson"
    assert len(request.content.splitlines()) == 2


def test_publish_assigns_lower_case_guid(sleeps: list[float]) -> None:
    sent = events(1)
    with make_client(Recorder()) as client:
        result = client.publish(sent)

    assert sent[0]["guid"] == sent[0]["guid"].lower()
    assert len(sent[0]["guid"]) == 36
    assert result.items[0].guid == sent[0]["guid"]


def test_publish_keeps_given_guid(sleeps: list[float]) -> None:
    sent = events(1)
    sent[0]["guid"] = "AAAAAAAA-0000-4000-8000-000000000000"
    with make_client(Recorder()) as client:
        client.publish(sent)

    assert sent[0]["guid"] == "AAAAAAAA-0000-4000-8000-000000000000"


def test_retry_resends_same_guids(sleeps: list[float]) -> None:
    handler = Recorder(httpx.Response(503), httpx.ConnectError("refused"))
    with make_client(handler) as client:
        result = client.publish(events(3))

    assert len(handler.requests) == 3
    assert handler.guids(0) == handler.guids(1) == handler.guids(2)
    assert result.accepted == 3


def test_retry_on_429_honours_retry_after(sleeps: list[float]) -> None:
    handler = Recorder(httpx.Response(429, headers={"Retry-After": "7"}))
    with make_client(handler, backoff_base_s=0.01) as client:
        client.publish(events(1))

    assert sleeps == [7.0]


def test_backoff_grows(sleeps: list[float]) -> None:
    handler = Recorder(*[httpx.Response(500) for _ in range(4)])
    with make_client(handler, backoff_base_s=1.0, backoff_max_s=100.0) as client:
        client.publish(events(1))

    ceilings = [1.0, 2.0, 4.0, 8.0]
    assert len(sleeps) == 4
    for delay, ceiling in zip(sleeps, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling


def test_retries_exhausted_raise(sleeps: list[float]) -> None:
    handler = Recorder(*[httpx.Response(503) for _ in range(10)])
    with make_client(handler, max_retries=2) as client, pytest.raises(ClientError) as raised:
        client.publish(events(1))

    assert raised.value.status_code == 503
    assert len(handler.requests) == 3


def test_client_error_carries_body(sleeps: list[float]) -> None:
    body = {"error": {"code": "forbidden", "message": "needs a producer key", "fields": []}}
    handler = Recorder(httpx.Response(403, json=body))
    with make_client(handler) as client, pytest.raises(ClientError) as raised:
        client.publish(events(1))

    assert raised.value.status_code == 403
    assert raised.value.code == "forbidden"
    assert raised.value.message == "needs a producer key"
    assert len(handler.requests) == 1


def test_all_rejected_is_a_result(sleeps: list[float]) -> None:
    item = {
        "index": 0,
        "status": "rejected",
        "error": {"field": "type", "value": None, "message": "missing"},
    }
    body = {
        "accepted": 0,
        "duplicates": 0,
        "rejected": 1,
        "items": [item],
        "error": {"code": "events_rejected"},
    }
    with make_client(Recorder(httpx.Response(422, json=body))) as client:
        result = client.publish(events(1))

    assert result.rejected == 1
    assert result.ok is False
    assert result.items[0].error == item["error"]


def test_batches_by_items_keep_input_index(sleeps: list[float]) -> None:
    handler = Recorder()
    with make_client(handler, max_batch_items=2) as client:
        result = client.publish(events(5))

    assert [len(request.content.splitlines()) for request in handler.requests] == [2, 2, 1]
    assert [item.index for item in result.items] == [0, 1, 2, 3, 4]


def test_batches_by_bytes(sleeps: list[float]) -> None:
    handler = Recorder()
    with make_client(handler, max_batch_bytes=250) as client:
        client.publish(events(6))

    assert len(handler.requests) > 1
    assert all(len(request.content) <= 250 for request in handler.requests)


def test_413_splits_batch(sleeps: list[float]) -> None:
    handler = Recorder(
        httpx.Response(413, json={"error": {"code": "limit_exceeded", "message": "", "fields": []}})
    )
    with make_client(handler) as client:
        result = client.publish(events(4))

    assert [len(request.content.splitlines()) for request in handler.requests] == [4, 2, 2]
    assert [item.index for item in result.items] == [0, 1, 2, 3]


def test_413_single_event_raises(sleeps: list[float]) -> None:
    handler = Recorder(
        httpx.Response(
            413, json={"error": {"code": "limit_exceeded", "message": "too big", "fields": []}}
        )
    )
    with make_client(handler) as client, pytest.raises(ClientError) as raised:
        client.publish(events(1))

    assert raised.value.status_code == 413


def test_error_keeps_completed_batches(sleeps: list[float]) -> None:
    handler = Recorder(
        accept_all,
        httpx.Response(
            401, json={"error": {"code": "unauthorized", "message": "no", "fields": []}}
        ),
    )
    with make_client(handler, max_batch_items=1) as client, pytest.raises(ClientError) as raised:
        client.publish(events(2))

    assert raised.value.result is not None
    assert raised.value.result.accepted == 1


def test_unencodable_event_names_index() -> None:
    with make_client(Recorder()) as client, pytest.raises(ValueError, match="event 1"):
        client.publish([{"data": {}}, {"data": {"when": object()}}])


async def test_async_client_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    delays: list[float] = []

    async def record_sleep(delay: float) -> None:
        delays.append(delay)

    monkeypatch.setattr(client_module.asyncio, "sleep", record_sleep)
    handler = Recorder(httpx.Response(502))
    async with AsyncClient(URL, KEY, transport=httpx.MockTransport(handler)) as client:
        result = await client.publish(events(2))

    assert result.accepted == 2
    assert len(delays) == 1
    assert handler.guids(0) == handler.guids(1)
