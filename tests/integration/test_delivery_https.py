"""End to end: events published to a real server reach a real HTTPS receiver."""

from __future__ import annotations

import orjson
from delivery_env import DeliveryEnv, event, https_stream, wait_until

from datastreams.receiver import Receiver


def received_guids(receiver: Receiver) -> list[str]:
    return [
        orjson.loads(line)["guid"]
        for line in receiver.received_lines()
        if b"DataStreamConfiguration" not in line
    ]


async def test_published_events_arrive(env: DeliveryEnv, receiver: Receiver) -> None:
    stream = await env.create_stream(https_stream([receiver.url]))
    events = [event(n) for n in range(20)]

    await env.publish(events)
    await wait_until(lambda: len(received_guids(receiver)) == 20)

    assert received_guids(receiver) == [item["guid"] for item in events]
    status = await env.status(stream["id"])
    assert status["queueDepth"] == 0
    assert status["delivered"] >= 20


async def test_metrics_count_delivery(env: DeliveryEnv, receiver: Receiver) -> None:
    stream = await env.create_stream(https_stream([receiver.url]))
    await env.publish([event(n) for n in range(5)])
    await wait_until(lambda: len(received_guids(receiver)) == 5)

    text = await env.metrics()

    assert 'datastreams_events_ingested_total{status="accepted"} 5.0' in text
    delivered = f'datastreams_deliveries_total{{outcome="delivered",stream_id="{stream["id"]}"}}'
    assert delivered in text
    assert "datastreams_delivery_latency_seconds_bucket" in text
