"""The stream service on the in-memory store, which other unit tests use in its place."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet
from fakes import InMemoryStore

from datastreams.errors import Conflict, NotFound, ValidationError
from datastreams.events.container import Event
from datastreams.security.secrets import SecretBox
from datastreams.store.records import Domain
from datastreams.streams import StreamService

DOMAIN = Domain(id="1176022", name="North", external_id="ext-1")
SIGNING_SECRET = "signing-secret-that-must-stay-hidden"


@pytest.fixture
async def store() -> InMemoryStore:
    store = InMemoryStore()
    await store.create_domain(DOMAIN)
    return store


@pytest.fixture
def service(store: InMemoryStore) -> StreamService:
    return StreamService(
        store,
        SecretBox(Fernet.generate_key()),
        is_known_type={"DomainEntityCreated"}.__contains__,
        strict_event_types=False,
        actor="admin-7",
    )


def https_body(name: str = "receiver") -> dict[str, Any]:
    return {
        "type": "https",
        "name": name,
        "filters": [{"eventType": "DomainEntityCreated"}],
        "https": {"endpoints": ["https://a.example.com/events"], "signingSecret": SIGNING_SECRET},
    }


async def test_memory_create_and_get(service: StreamService) -> None:
    created, _ = await service.create(DOMAIN.id, https_body())
    assert await service.get(DOMAIN.id, created["id"]) == created


async def test_memory_duplicate_name_conflicts(service: StreamService) -> None:
    await service.create(DOMAIN.id, https_body())
    with pytest.raises(Conflict):
        await service.create(DOMAIN.id, https_body())


async def test_memory_list_pages(service: StreamService) -> None:
    for name in ["first", "second", "third"]:
        await service.create(DOMAIN.id, https_body(name))

    first_page, cursor = await service.list(DOMAIN.id, limit=2)
    second_page, last_cursor = await service.list(DOMAIN.id, limit=2, cursor=cursor)

    assert [item["name"] for item in first_page + second_page] == ["first", "second", "third"]
    assert last_cursor is None


async def test_memory_replace_and_stale(service: StreamService) -> None:
    created, _ = await service.create(DOMAIN.id, https_body())
    replaced, _ = await service.replace(DOMAIN.id, created["id"], dict(created, enabled=False))

    assert replaced["version"] == 2
    with pytest.raises(Conflict):
        await service.replace(DOMAIN.id, created["id"], created)


async def test_memory_patch_keeps_secret(service: StreamService, store: InMemoryStore) -> None:
    created, _ = await service.create(DOMAIN.id, https_body())
    await service.patch(DOMAIN.id, created["id"], {"version": 1, "description": "Label"})

    record = await store.get_stream(DOMAIN.id, created["id"])
    assert service.read_secrets(record)["signingSecret"] == SIGNING_SECRET


async def test_memory_patch_requires_version(service: StreamService) -> None:
    created, _ = await service.create(DOMAIN.id, https_body())
    with pytest.raises(ValidationError):
        await service.patch(DOMAIN.id, created["id"], {"description": "Label"})


async def test_memory_delete(service: StreamService) -> None:
    created, _ = await service.create(DOMAIN.id, https_body())
    await service.delete(DOMAIN.id, created["id"])

    with pytest.raises(NotFound):
        await service.get(DOMAIN.id, created["id"])


async def test_memory_audit_events(service: StreamService, store: InMemoryStore) -> None:
    created, _ = await service.create(DOMAIN.id, https_body())
    await service.set_enabled(DOMAIN.id, created["id"], False)
    await service.delete(DOMAIN.id, created["id"])

    assert [event.type for event in store.audit_events] == [
        "DataStreamConfigurationCreated",
        "DataStreamConfigurationChanged",
        "DataStreamConfigurationDeleted",
    ]
    assert [event.data["version"] for event in store.audit_events] == [1, 2, 3]
    assert {event.user_id for event in store.audit_events} == {"admin-7"}


async def test_memory_queues_matching_events(service: StreamService, store: InMemoryStore) -> None:
    created, _ = await service.create(DOMAIN.id, https_body())
    events = [
        Event("2024-01-01T00:00:00.0000000Z", f"{index:032x}", DOMAIN.id, event_type, {})
        for index, event_type in enumerate(["DomainEntityCreated", "UserEntityCreated"])
    ]

    outcomes = await store.append_events([*events, events[0]])

    assert [outcome.status for outcome in outcomes] == ["accepted", "accepted", "duplicate"]
    assert await store.count_queued(created["id"]) == 1
