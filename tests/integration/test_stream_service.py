"""The stream service on a real SQLite database file."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.fernet import Fernet

from datastreams.errors import Conflict, NotFound, ValidationError
from datastreams.events.catalogue import load_catalogue
from datastreams.security.secrets import SecretBox
from datastreams.store.records import Domain
from datastreams.store.sqlite import SQLiteStore
from datastreams.streams import StreamService

DOMAIN_ID = "1176022"
OTHER_DOMAIN_ID = "2000001"
ACTOR = "admin-7"
HEADER_VALUE = "header-value-that-must-stay-hidden"
SIGNING_SECRET = "signing-secret-that-must-stay-hidden"
CANONICAL_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "datastreams.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SQLiteStore]:
    store = SQLiteStore(str(db_path))
    await store.open()
    await store.create_domain(Domain(id=DOMAIN_ID, name="North"))
    await store.create_domain(Domain(id=OTHER_DOMAIN_ID, name="South"))
    yield store
    await store.close()


@pytest.fixture
def service(store: SQLiteStore) -> StreamService:
    catalogue = load_catalogue()
    return StreamService(
        store,
        SecretBox(Fernet.generate_key()),
        is_known_type=catalogue.__contains__,
        strict_event_types=False,
        actor=ACTOR,
    )


def firehose_body(name: str = "buzz-events") -> dict[str, Any]:
    return {
        "description": "AdminDashboard_NewDomains_Firehose",
        "type": "firehose",
        "name": name,
        "filters": [{"eventType": "DomainEntityCreated", "properties": "domainId, newDomain.name"}],
        "aws": {"roleArn": "arn:aws:iam::123456789012:role/datastreams", "region": "us-east-1"},
    }


def https_body() -> dict[str, Any]:
    return {
        "type": "https",
        "name": "receiver",
        "https": {
            "endpoints": "https://a.example.com/events; https://b.example.com/events",
            "headers": {"X-Token": HEADER_VALUE},
            "signingSecret": SIGNING_SECRET,
        },
    }


async def audit_events(store: SQLiteStore) -> list[dict[str, Any]]:
    stored = await store.list_events(within=[DOMAIN_ID])
    return [orjson.loads(event.line) for event in stored]


# Create and read -----------------------------------------------------------------------


async def test_create_returns_representation(service: StreamService, store: SQLiteStore) -> None:
    created, warnings = await service.create(DOMAIN_ID, firehose_body())
    domain = await store.get_domain(DOMAIN_ID)

    assert warnings == []
    assert uuid.UUID(created["id"]).version == 7
    assert created["domainId"] == DOMAIN_ID
    assert created["version"] == 1
    assert created["filters"] == [
        {"eventType": "DomainEntityCreated", "properties": ["domainId", "newDomain.name"]}
    ]
    assert created["aws"]["externalId"] == domain.external_id
    assert created["https"] is None
    assert CANONICAL_TIME.fullmatch(created["createdAt"])
    assert created["updatedAt"] == created["createdAt"]


async def test_create_then_get_same(service: StreamService) -> None:
    created, _ = await service.create(DOMAIN_ID, firehose_body())
    assert await service.get(DOMAIN_ID, created["id"]) == created


async def test_create_unknown_type_warns(service: StreamService) -> None:
    body = firehose_body()
    body["filters"] = [{"eventType": "NotInTheCatalogue"}]
    _, warnings = await service.create(DOMAIN_ID, body)
    assert len(warnings) == 1


async def test_create_strict_unknown_type_rejected(store: SQLiteStore) -> None:
    strict = StreamService(
        store,
        SecretBox(Fernet.generate_key()),
        is_known_type=load_catalogue().__contains__,
        strict_event_types=True,
    )
    body = firehose_body()
    body["filters"] = [{"eventType": "NotInTheCatalogue"}]

    with pytest.raises(ValidationError) as caught:
        await strict.create(DOMAIN_ID, body)
    assert caught.value.fields[0].field == "filters[0].eventType"


async def test_create_duplicate_name_conflicts(service: StreamService) -> None:
    await service.create(DOMAIN_ID, firehose_body())
    with pytest.raises(Conflict):
        await service.create(DOMAIN_ID, firehose_body())


async def test_create_same_name_other_type(service: StreamService) -> None:
    await service.create(DOMAIN_ID, firehose_body())
    body = firehose_body()
    body["type"] = "kinesis"
    created, _ = await service.create(DOMAIN_ID, body)
    assert created["type"] == "kinesis"


async def test_create_same_name_other_domain(service: StreamService) -> None:
    await service.create(DOMAIN_ID, firehose_body())
    created, _ = await service.create(OTHER_DOMAIN_ID, firehose_body())
    assert created["domainId"] == OTHER_DOMAIN_ID


async def test_create_unknown_domain_not_found(service: StreamService) -> None:
    with pytest.raises(NotFound):
        await service.create("missing", firehose_body())


async def test_create_invalid_stores_nothing(service: StreamService) -> None:
    body = firehose_body()
    body["aws"]["region"] = "nowhere"
    with pytest.raises(ValidationError):
        await service.create(DOMAIN_ID, body)

    items, _ = await service.list(DOMAIN_ID)
    assert items == []


async def test_get_other_domain_not_found(service: StreamService) -> None:
    created, _ = await service.create(DOMAIN_ID, firehose_body())
    with pytest.raises(NotFound):
        await service.get(OTHER_DOMAIN_ID, created["id"])


# Lists ---------------------------------------------------------------------------------


async def test_list_pages_in_creation_order(service: StreamService) -> None:
    names = ["first", "second", "third"]
    for name in names:
        await service.create(DOMAIN_ID, firehose_body(name))

    first_page, cursor = await service.list(DOMAIN_ID, limit=2)
    second_page, last_cursor = await service.list(DOMAIN_ID, limit=2, cursor=cursor)

    assert [item["name"] for item in first_page] == ["first", "second"]
    assert cursor == first_page[-1]["id"]
    assert [item["name"] for item in second_page] == ["third"]
    assert last_cursor is None


async def test_list_only_own_domain(service: StreamService) -> None:
    await service.create(OTHER_DOMAIN_ID, firehose_body())
    items, _ = await service.list(DOMAIN_ID)
    assert items == []


@pytest.mark.parametrize("limit", [0, 1001])
async def test_list_invalid_limit_rejected(service: StreamService, limit: int) -> None:
    with pytest.raises(ValidationError) as caught:
        await service.list(DOMAIN_ID, limit=limit)
    assert caught.value.fields[0].field == "limit"


# Replace and patch ---------------------------------------------------------------------------


async def test_replace_bumps_version(service: StreamService) -> None:
    created, _ = await service.create(DOMAIN_ID, firehose_body())
    body = dict(created, description="Renamed")

    replaced, _ = await service.replace(DOMAIN_ID, created["id"], body)

    assert replaced["description"] == "Renamed"
    assert replaced["version"] == 2
    assert replaced["createdAt"] == created["createdAt"]


async def test_replace_stale_version_conflicts(service: StreamService) -> None:
    created, _ = await service.create(DOMAIN_ID, firehose_body())
    await service.replace(DOMAIN_ID, created["id"], dict(created, description="One"))

    with pytest.raises(Conflict):
        await service.replace(DOMAIN_ID, created["id"], dict(created, description="Two"))


async def test_replace_without_version_rejected(service: StreamService) -> None:
    created, _ = await service.create(DOMAIN_ID, firehose_body())
    body = dict(created)
    del body["version"]

    with pytest.raises(ValidationError) as caught:
        await service.replace(DOMAIN_ID, created["id"], body)
    assert [error.field for error in caught.value.fields] == ["version"]


async def test_replace_type_change_rejected(service: StreamService) -> None:
    created, _ = await service.create(DOMAIN_ID, firehose_body())
    with pytest.raises(ValidationError) as caught:
        await service.replace(DOMAIN_ID, created["id"], dict(created, type="kinesis"))
    assert caught.value.fields[0].field == "type"


async def test_replace_unknown_stream_not_found(service: StreamService) -> None:
    with pytest.raises(NotFound):
        await service.replace(DOMAIN_ID, str(uuid.uuid4()), dict(firehose_body(), version=1))


async def test_patch_changes_one_member(service: StreamService) -> None:
    created, _ = await service.create(DOMAIN_ID, firehose_body())
    patched, _ = await service.patch(DOMAIN_ID, created["id"], {"version": 1, "enabled": False})

    assert patched["enabled"] is False
    assert patched["version"] == 2
    assert patched["filters"] == created["filters"]


async def test_patch_null_resets_to_default(service: StreamService) -> None:
    body = dict(firehose_body(), retryWindowSeconds=600)
    created, _ = await service.create(DOMAIN_ID, body)

    patched, _ = await service.patch(
        DOMAIN_ID, created["id"], {"version": 1, "retryWindowSeconds": None, "filters": None}
    )
    assert patched["retryWindowSeconds"] == 86400
    assert patched["filters"] == []


async def test_patch_nested_member(service: StreamService) -> None:
    created, _ = await service.create(DOMAIN_ID, firehose_body())
    patched, _ = await service.patch(
        DOMAIN_ID, created["id"], {"version": 1, "aws": {"region": "eu-west-1"}}
    )
    assert patched["aws"]["region"] == "eu-west-1"
    assert patched["aws"]["roleArn"] == created["aws"]["roleArn"]


async def test_patch_without_version_rejected(service: StreamService) -> None:
    created, _ = await service.create(DOMAIN_ID, firehose_body())
    with pytest.raises(ValidationError) as caught:
        await service.patch(DOMAIN_ID, created["id"], {"enabled": False})
    assert [error.field for error in caught.value.fields] == ["version"]


async def test_patch_stale_version_conflicts(service: StreamService) -> None:
    created, _ = await service.create(DOMAIN_ID, firehose_body())
    await service.patch(DOMAIN_ID, created["id"], {"version": 1, "enabled": False})

    with pytest.raises(Conflict):
        await service.patch(DOMAIN_ID, created["id"], {"version": 1, "enabled": True})


async def test_patch_not_object_rejected(service: StreamService) -> None:
    created, _ = await service.create(DOMAIN_ID, firehose_body())
    with pytest.raises(ValidationError) as caught:
        await service.patch(DOMAIN_ID, created["id"], [{"op": "replace"}])
    assert caught.value.fields[0].field == "body"


async def test_patch_invalid_value_names_field(service: StreamService) -> None:
    created, _ = await service.create(DOMAIN_ID, firehose_body())
    with pytest.raises(ValidationError) as caught:
        await service.patch(DOMAIN_ID, created["id"], {"version": 1, "backoffMaxSeconds": 0})
    assert [(error.field, error.value) for error in caught.value.fields] == [
        ("backoffMaxSeconds", 0)
    ]


# Secrets -------------------------------------------------------------------------------


async def test_https_secrets_hidden_in_representation(service: StreamService) -> None:
    created, _ = await service.create(DOMAIN_ID, https_body())

    assert created["https"]["endpoints"] == [
        "https://a.example.com/events",
        "https://b.example.com/events",
    ]
    assert created["https"]["headers"] == {"X-Token": None}
    assert created["https"]["signingSecretSet"] is True
    assert HEADER_VALUE not in orjson.dumps(created).decode()


async def test_https_secrets_read_back(service: StreamService, store: SQLiteStore) -> None:
    created, _ = await service.create(DOMAIN_ID, https_body())
    record = await store.get_stream(DOMAIN_ID, created["id"])

    assert service.read_secrets(record) == {
        "headers": {"X-Token": HEADER_VALUE},
        "signingSecret": SIGNING_SECRET,
    }


async def test_https_secrets_encrypted_on_disk(
    service: StreamService, store: SQLiteStore, db_path: Path
) -> None:
    await service.create(DOMAIN_ID, https_body())
    await store.close()

    files = [path for path in db_path.parent.iterdir() if path.name.startswith(db_path.name)]
    contents = b"".join(path.read_bytes() for path in files)
    assert b"X-Token" in contents
    assert HEADER_VALUE.encode() not in contents
    assert SIGNING_SECRET.encode() not in contents


async def test_patch_keeps_secrets(service: StreamService, store: SQLiteStore) -> None:
    created, _ = await service.create(DOMAIN_ID, https_body())
    await service.patch(DOMAIN_ID, created["id"], {"version": 1, "https": {"timeoutSeconds": 5}})

    record = await store.get_stream(DOMAIN_ID, created["id"])
    assert service.read_secrets(record) == {
        "headers": {"X-Token": HEADER_VALUE},
        "signingSecret": SIGNING_SECRET,
    }


async def test_get_then_put_keeps_secrets(service: StreamService, store: SQLiteStore) -> None:
    created, _ = await service.create(DOMAIN_ID, https_body())
    read = await service.get(DOMAIN_ID, created["id"])
    await service.replace(DOMAIN_ID, created["id"], read)

    record = await store.get_stream(DOMAIN_ID, created["id"])
    assert service.read_secrets(record)["signingSecret"] == SIGNING_SECRET


async def test_patch_removes_header(service: StreamService, store: SQLiteStore) -> None:
    created, _ = await service.create(DOMAIN_ID, https_body())
    patched, _ = await service.patch(
        DOMAIN_ID, created["id"], {"version": 1, "https": {"headers": {"X-Token": ""}}}
    )

    record = await store.get_stream(DOMAIN_ID, created["id"])
    assert patched["https"]["headers"] == {}
    assert service.read_secrets(record)["headers"] == {}


async def test_patch_removes_all_secrets(service: StreamService, store: SQLiteStore) -> None:
    created, _ = await service.create(DOMAIN_ID, https_body())
    patch = {"version": 1, "https": {"headers": {"X-Token": None}, "signingSecret": ""}}
    patched, _ = await service.patch(DOMAIN_ID, created["id"], patch)

    record = await store.get_stream(DOMAIN_ID, created["id"])
    assert patched["https"]["signingSecretSet"] is False
    assert record.secrets is None


async def test_stream_without_secrets_reads_empty(
    service: StreamService, store: SQLiteStore
) -> None:
    created, _ = await service.create(DOMAIN_ID, firehose_body())
    record = await store.get_stream(DOMAIN_ID, created["id"])
    assert service.read_secrets(record) == {"headers": {}, "signingSecret": None}


# Enable, delete and change events ---------------------------------------------------------------


async def test_set_enabled_bumps_version(service: StreamService) -> None:
    created, _ = await service.create(DOMAIN_ID, firehose_body())
    disabled = await service.set_enabled(DOMAIN_ID, created["id"], False)

    assert disabled["enabled"] is False
    assert disabled["version"] == 2


async def test_set_enabled_unchanged_keeps_version(service: StreamService) -> None:
    created, _ = await service.create(DOMAIN_ID, firehose_body())
    unchanged = await service.set_enabled(DOMAIN_ID, created["id"], True)
    assert unchanged == created


async def test_delete_removes_stream(service: StreamService) -> None:
    created, _ = await service.create(DOMAIN_ID, firehose_body())
    await service.delete(DOMAIN_ID, created["id"])

    with pytest.raises(NotFound):
        await service.get(DOMAIN_ID, created["id"])


async def test_delete_twice_not_found(service: StreamService) -> None:
    created, _ = await service.create(DOMAIN_ID, firehose_body())
    await service.delete(DOMAIN_ID, created["id"])

    with pytest.raises(NotFound):
        await service.delete(DOMAIN_ID, created["id"])


async def test_change_events_recorded(service: StreamService, store: SQLiteStore) -> None:
    created, _ = await service.create(DOMAIN_ID, https_body())
    await service.set_enabled(DOMAIN_ID, created["id"], False)
    await service.delete(DOMAIN_ID, created["id"])

    events = await audit_events(store)
    assert [event["type"] for event in events] == [
        "DataStreamConfigurationCreated",
        "DataStreamConfigurationChanged",
        "DataStreamConfigurationDeleted",
    ]
    assert [event["data"]["version"] for event in events] == [1, 2, 3]
    assert {event["data"]["streamId"] for event in events} == {created["id"]}
    assert {event["domainId"] for event in events} == {DOMAIN_ID}
    assert {event["userId"] for event in events} == {ACTOR}


async def test_change_event_members(service: StreamService, store: SQLiteStore) -> None:
    created, _ = await service.create(DOMAIN_ID, firehose_body())
    await service.patch(DOMAIN_ID, created["id"], {"version": 1, "description": "New label"})

    changed = (await audit_events(store))[-1]
    assert changed["data"]["oldStream"]["description"] == "AdminDashboard_NewDomains_Firehose"
    assert changed["data"]["newStream"] == {
        "description": "New label",
        "type": "firehose",
        "name": "buzz-events",
        "enabled": True,
        "filters": created["filters"],
    }


async def test_change_events_match_catalogue(service: StreamService, store: SQLiteStore) -> None:
    created, _ = await service.create(DOMAIN_ID, https_body())
    await service.set_enabled(DOMAIN_ID, created["id"], False)
    await service.delete(DOMAIN_ID, created["id"])

    catalogue = load_catalogue()
    for event in await audit_events(store):
        assert catalogue.validate_data(event["type"], event["data"]) == []


async def test_change_events_carry_no_secrets(service: StreamService, store: SQLiteStore) -> None:
    created, _ = await service.create(DOMAIN_ID, https_body())
    await service.delete(DOMAIN_ID, created["id"])

    lines = b"".join(event.line for event in await store.list_events(within=[DOMAIN_ID]))
    assert HEADER_VALUE.encode() not in lines
    assert SIGNING_SECRET.encode() not in lines
