"""End to end: disabling streams, descendant domains and signing-secret rotation."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest
from delivery_checks import (
    admin_post,
    item_stream,
    new_signing_secret,
    received_events,
    received_guids,
    requests_for,
    set_enabled,
    stream_path,
    wait_until_async,
)
from delivery_env import DeliveryEnv, event, wait_until
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from datastreams.receiver import Receiver

# Longer than the dispatcher's idle poll (1 s) and the configuration poll (0.5 s), so
# a stopped dispatcher would have sent by then if it were still running.
QUIET_S = 1.5


async def wait_quiet(receiver: Receiver, quiet_s: float = QUIET_S, timeout_s: float = 10) -> None:
    """Wait until the receiver got no request for ``quiet_s``, or fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        count = len(receiver.requests)
        await asyncio.sleep(quiet_s)
        if len(receiver.requests) == count:
            return
    raise AssertionError(f"the receiver still got requests after {timeout_s} s")


async def queue_is_empty(env: DeliveryEnv, stream: dict[str, Any]) -> bool:
    status = await env.status(stream["id"], domain=stream["domainId"])
    return bool(status["queueDepth"] == 0)


async def test_disabled_stream_resumes_queue(env: DeliveryEnv, receiver: Receiver) -> None:
    receiver.set_response_script("503")
    stream = await env.create_stream(item_stream([receiver.url], retries=0))
    queued = [event(n) for n in range(3)]
    await env.publish(queued)
    await wait_until(lambda: len(requests_for(receiver, queued[0]["guid"])) >= 1)

    await set_enabled(env, stream, False)
    await wait_quiet(receiver)
    skipped = [event(n) for n in range(3, 6)]
    await env.publish(skipped)
    receiver.set_response_script("200")
    requests_before = len(receiver.requests)
    await asyncio.sleep(QUIET_S)
    disabled = await env.status(stream["id"])

    assert len(receiver.requests) == requests_before
    assert disabled["state"] == "disabled"
    assert disabled["queueDepth"] == 3

    await set_enabled(env, stream, True)
    await wait_until(lambda: len(received_guids(receiver)) == 3)

    assert received_guids(receiver) == [item["guid"] for item in queued]
    for item in skipped:
        assert requests_for(receiver, item["guid"]) == []
    await wait_until_async(lambda: queue_is_empty(env, stream))


async def test_ancestor_stream_gets_descendant_events(
    env: DeliveryEnv, receiver: Receiver, backup_receiver: Receiver
) -> None:
    await env.create_stream(item_stream([receiver.url]))
    school_b = await env.create_stream(item_stream([backup_receiver.url]), domain="school-b")
    of_school_a = event(1, domain="school-a")
    of_school_b = event(2, domain="school-b")

    await env.publish([of_school_a, of_school_b])
    await wait_until(lambda: len(received_guids(receiver)) == 2)
    await wait_until(lambda: len(received_guids(backup_receiver)) == 1)

    assert received_guids(receiver) == [of_school_a["guid"], of_school_b["guid"]]
    assert [item["domainId"] for item in received_events(receiver)] == ["school-a", "school-b"]
    assert received_guids(backup_receiver) == [of_school_b["guid"]]
    assert requests_for(backup_receiver, of_school_a["guid"]) == []
    status = await env.status(school_b["id"], domain="school-b")
    assert status["queueDepth"] == 0
    assert status["delivered"] == 1


def with_signature(headers: dict[str, str], signature: str) -> dict[str, str]:
    """Return the headers with ``webhook-signature`` replaced by one signature."""
    other_headers = {
        name: value for name, value in headers.items() if name.lower() != "webhook-signature"
    }
    return {**other_headers, "webhook-signature": signature}


async def test_signatures_verify_across_rotation(env: DeliveryEnv, receiver: Receiver) -> None:
    old_secret = new_signing_secret()
    stream = await env.create_stream(item_stream([receiver.url], signingSecret=old_secret))
    before = event(1)
    await env.publish([before])
    await wait_until(lambda: len(received_guids(receiver)) == 1)

    (signed,) = requests_for(receiver, before["guid"])
    assert signed.headers["webhook-id"] == before["guid"]
    assert len(signed.headers["webhook-signature"].split(" ")) == 1
    assert Webhook(old_secret).verify(signed.body, signed.headers)["guid"] == before["guid"]

    response = await admin_post(env, stream_path(stream, "/signing-secret"), None)
    assert response.status_code == 200, response.text
    new_secret = response.json()["signingSecret"]
    assert new_secret.startswith("whsec_")
    assert new_secret != old_secret
    saved = response.json()["stream"]
    assert saved["https"]["signingSecretSet"] is True
    assert new_secret not in orjson.dumps(saved).decode()

    after = event(2)
    await env.publish([after])
    await wait_until(lambda: len(received_guids(receiver)) == 2)

    (rotated,) = requests_for(receiver, after["guid"])
    current, previous = rotated.headers["webhook-signature"].split(" ")
    Webhook(new_secret).verify(rotated.body, with_signature(rotated.headers, current))
    Webhook(old_secret).verify(rotated.body, with_signature(rotated.headers, previous))
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret).verify(rotated.body, with_signature(rotated.headers, previous))
