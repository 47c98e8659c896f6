"""Stream bodies and readers of what a receiver got, for the end-to-end delivery tests.

Creating, changing or deleting a stream emits ``DataStreamConfiguration*`` events to
the streams of the domain, and the Test action sends ``ValidateDataStreamConfiguration``.
The readers here leave those out, so a test checks only the events it published.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import orjson
from delivery_env import POLL_S, DeliveryEnv

from datastreams.receiver import Receiver
from datastreams.receiver.server import ReceivedRequest

CONFIGURATION_EVENT_MARK = b"DataStreamConfiguration"


def item_stream(
    endpoints: list[str],
    *,
    properties: str = "",
    backoff_max_s: int = 1,
    enabled: bool = True,
    **https: Any,
) -> dict[str, Any]:
    """Return an HTTPS stream body that receives only ``ItemActivity`` events.

    ``properties`` is the filter's list of ``data`` members to keep (empty keeps all);
    ``https`` adds members of the ``https`` object, such as ``batchSize=10``.
    """
    return {
        "type": "https",
        "name": f"receiver-{time.monotonic_ns()}",
        "description": "end-to-end delivery test",
        "enabled": enabled,
        "backoffMaxSeconds": backoff_max_s,
        "filters": [{"eventType": "ItemActivity", "properties": properties}],
        "https": {"endpoints": endpoints, **https},
    }


def new_signing_secret() -> str:
    """Return a Standard Webhooks secret: ``whsec_`` and the base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(os.urandom(32)).decode("ascii")


def is_published(line: bytes) -> bool:
    return CONFIGURATION_EVENT_MARK not in line


def received_events(receiver: Receiver) -> list[dict[str, Any]]:
    """Return the published events of every 2xx request, in arrival order."""
    return [orjson.loads(line) for line in receiver.received_lines() if is_published(line)]


def received_guids(receiver: Receiver) -> list[str]:
    return [item["guid"] for item in received_events(receiver)]


def requests_for(receiver: Receiver, guid: str) -> list[ReceivedRequest]:
    """Return every request (whatever its status) whose body contains ``guid``."""
    marker = guid.encode("ascii")
    return [request for request in receiver.requests if marker in request.body]


def stream_path(stream: dict[str, Any], suffix: str = "") -> str:
    return f"/api/v1/domains/{stream['domainId']}/streams/{stream['id']}{suffix}"


async def admin_get(env: DeliveryEnv, path: str) -> httpx.Response:
    async with env.admin() as client:
        return await client.get(path)


async def admin_post(env: DeliveryEnv, path: str, body: Any) -> httpx.Response:
    async with env.admin() as client:
        return await client.post(path, json=body)


async def set_enabled(env: DeliveryEnv, stream: dict[str, Any], enabled: bool) -> dict[str, Any]:
    """Switch a stream on or off with a merge patch; return the stream as saved."""
    async with env.admin() as client:
        current = (await client.get(stream_path(stream))).json()
        response = await client.patch(
            stream_path(stream), json={"version": current["version"], "enabled": enabled}
        )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def wait_until_async(check: Callable[[], Awaitable[bool]], timeout_s: float = 20.0) -> None:
    """Wait until ``await check()`` is true, or fail the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(POLL_S)
    raise AssertionError(f"condition not met within {timeout_s} s")


async def dead_letter_count(env: DeliveryEnv, stream: dict[str, Any]) -> int:
    status = await env.status(stream["id"], domain=stream["domainId"])
    return int(status["deadLetters"])
