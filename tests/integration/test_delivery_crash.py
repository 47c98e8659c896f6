"""End to end: the server stops (SIGTERM) or dies (SIGKILL) while it delivers.

After a restart on the same database every event the ingest API acknowledged reaches
the receiver at least once.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx
import trustme
from delivery_checks import item_stream, received_guids
from delivery_env import DeliveryEnv, DeliveryTemplate, event, wait_until

from datastreams.receiver import Receiver

SHUTDOWN_GRACE_S = 2

# The producer publishes this many events, a few per request with a pause between
# requests, so the server dies while requests are still coming in.
PUBLISHED_EVENTS = 300
EVENTS_PER_REQUEST = 5
PUBLISH_PAUSE_S = 0.02


async def test_sigterm_exits_and_restart_delivers(
    tmp_path: Path, ca: trustme.CA, delivery_template: DeliveryTemplate, receiver: Receiver
) -> None:
    env = DeliveryEnv.from_template(
        delivery_template, tmp_path, ca, DATASTREAMS_SHUTDOWN_GRACE_S=str(SHUTDOWN_GRACE_S)
    )
    try:
        receiver.config.delay_ms = 300
        await env.create_stream(item_stream([receiver.url]))
        events = [event(n) for n in range(10)]
        await env.publish(events)
        await wait_until(lambda: len(receiver.requests) >= 1)

        # In a thread, so the receiver on this loop can respond to the in-flight request.
        started = time.monotonic()
        exit_code = await asyncio.to_thread(env.server.stop)
        stopped_after_s = time.monotonic() - started

        assert exit_code in {0, -signal.SIGTERM}
        assert stopped_after_s < SHUTDOWN_GRACE_S + 3
        assert len(received_guids(receiver)) < len(events)

        receiver.config.delay_ms = 0
        await asyncio.to_thread(env.restart)
        guids = {item["guid"] for item in events}
        await wait_until(lambda: guids <= set(received_guids(receiver)))

        # The stop let the request in flight finish and recorded it, so nothing came twice.
        assert sorted(received_guids(receiver)) == sorted(guids)
    finally:
        env.close()


async def publish_until_stopped(env: DeliveryEnv, acknowledged: list[str]) -> None:
    """Publish ``PUBLISHED_EVENTS`` events; note each guid a 202 response accepts.

    Returns early when the server stops responding.
    """
    headers = {"Authorization": f"Bearer {env.producer_key}"}
    async with httpx.AsyncClient(base_url=env.server.url, headers=headers, timeout=5) as client:
        for first in range(0, PUBLISHED_EVENTS, EVENTS_PER_REQUEST):
            chunk = [event(n) for n in range(first, first + EVENTS_PER_REQUEST)]
            try:
                response = await client.post("/api/v1/events", json=chunk)
            except httpx.TransportError:
                return
            assert response.status_code == 202, response.text
            acknowledged.extend(
                item["guid"] for item in response.json()["items"] if item["status"] == "accepted"
            )
            await asyncio.sleep(PUBLISH_PAUSE_S)


async def test_sigkill_loses_no_acknowledged_event(env: DeliveryEnv, receiver: Receiver) -> None:
    # A slower receiver than producer, so the queue contains events when the server dies.
    receiver.config.delay_ms = 10
    await env.create_stream(item_stream([receiver.url], batchSize=1))
    acknowledged: list[str] = []
    producer = asyncio.create_task(publish_until_stopped(env, acknowledged))

    await wait_until(lambda: len(received_guids(receiver)) >= 30)
    env.server.process.kill()
    await asyncio.wait_for(producer, timeout=10)
    exit_code = env.server.stop()
    delivered_before_kill = len(received_guids(receiver))

    assert exit_code == -signal.SIGKILL
    assert 30 <= len(acknowledged) < PUBLISHED_EVENTS
    assert delivered_before_kill < len(acknowledged)

    receiver.config.delay_ms = 0
    await asyncio.to_thread(env.restart)
    await wait_until(lambda: set(acknowledged) <= set(received_guids(receiver)))
