"""The Python client against the real service."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from service_process import SMALL_LIMITS, ServerProcess, Tenants, event, stored_event_lines

from datastreams.client import AsyncClient, Client, ClientError

pytestmark = pytest.mark.integration


def events_without_guid(count: int, domain_id: str = "acme") -> list[dict[str, Any]]:
    sent = [event(domain_id, data={"n": n}) for n in range(count)]
    for item in sent:
        del item["guid"]
    return sent


def test_publish_accepts_all(server: ServerProcess, tenants: Tenants) -> None:
    sent = events_without_guid(3)
    with Client(server.url, tenants.acme_producer) as client:
        result = client.publish(sent)

    assert (result.accepted, result.duplicates, result.rejected) == (3, 0, 0)
    assert [item.guid for item in result.items] == [item["guid"] for item in sent]


def test_publish_again_is_duplicate(server: ServerProcess, tenants: Tenants) -> None:
    sent = events_without_guid(2)
    with Client(server.url, tenants.acme_producer) as client:
        client.publish(sent)
        again = client.publish(sent)

    assert again.duplicates == 2
    assert len(stored_event_lines(server.db, sent[0]["guid"])) == 1


def test_publish_batches_keep_input_index(server: ServerProcess, tenants: Tenants) -> None:
    sent = events_without_guid(12)
    sent[9]["domainId"] = "globex"
    with Client(server.url, tenants.acme_producer, max_batch_items=5) as client:
        result = client.publish(sent)

    assert [item.index for item in result.items] == list(range(12))
    assert result.items[9].status == "rejected"
    assert result.items[9].error == {
        "field": "domainId",
        "value": "globex",
        "message": "unknown domain",
    }
    assert result.accepted == 11


def test_publish_splits_when_service_limit_lower(server: ServerProcess, tenants: Tenants) -> None:
    # The session service takes at most 50 events per request; the client tries 500.
    count = int(SMALL_LIMITS["DATASTREAMS_MAX_BATCH_ITEMS"]) * 2 + 20
    with Client(server.url, tenants.acme_producer) as client:
        result = client.publish(events_without_guid(count))

    assert result.accepted == count
    assert [item.index for item in result.items] == list(range(count))


def test_publish_with_admin_key_raises(server: ServerProcess, tenants: Tenants) -> None:
    with Client(server.url, tenants.acme_admin) as client, pytest.raises(ClientError) as raised:
        client.publish(events_without_guid(1))

    assert raised.value.status_code == 403
    assert raised.value.code == "forbidden"


def test_publish_to_closed_port_raises() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]

    url = f"http://127.0.0.1:{closed_port}"
    with Client(url, "dsp_" + "k" * 43, max_retries=2, backoff_base_s=0.01) as client:
        with pytest.raises(ClientError) as raised:
            client.publish(events_without_guid(1))

    assert raised.value.status_code is None
    assert "3 attempts" in raised.value.message


async def test_async_publish(server: ServerProcess, tenants: Tenants) -> None:
    sent = events_without_guid(4, "acme.eu")
    async with AsyncClient(server.url, tenants.acme_eu_producer, max_batch_items=3) as client:
        result = await client.publish(sent)

    assert result.accepted == 4
    assert [item.index for item in result.items] == [0, 1, 2, 3]
