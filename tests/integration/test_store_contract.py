"""Contract tests of the ``Store`` protocol, run against every store implementation.

Each test gets a fresh database: for SQLite a new file in ``tmp_path``. A store for
another database joins by adding a factory to ``STORE_FACTORIES``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from datastreams.errors import Conflict, NotFound, StoreError, ValidationError
from datastreams.events.container import Event
from datastreams.events.timefmt import now_time
from datastreams.store.base import Store
from datastreams.store.records import ApiKeyRecord, AppendOutcome, Domain, StreamRecord
from datastreams.store.sqlite import SQLiteStore

Clock = Callable[[], str]
# Opens a new store on the test's database, optionally with its own clock.
StoreOpener = Callable[..., Awaitable[Any]]


def _sqlite_factory(tmp_path: Path) -> Callable[[Clock | None], SQLiteStore]:
    path = str(tmp_path / "store.db")
    return lambda now: SQLiteStore(path, now=now)


STORE_FACTORIES = {"sqlite": _sqlite_factory}


class FakeClock:
    """A settable clock returning canonical times."""

    def __init__(self, value: str = "2024-01-01T00:00:00.0000000Z") -> None:
        self.value = value

    def __call__(self) -> str:
        return self.value


@pytest.fixture(params=sorted(STORE_FACTORIES))
async def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreOpener]:
    """Open stores on the test's database (every call opens another one); close them all after."""
    factory = STORE_FACTORIES[request.param](tmp_path)
    opened: list[Any] = []

    async def open_one(now: Clock | None = None) -> Any:
        store = factory(now)
        await store.open()
        opened.append(store)
        return store

    yield open_one

    for store in opened:
        await store.close()


@pytest.fixture
async def store(open_store: StoreOpener) -> Any:
    return await open_store()


def make_event(
    domain_id: str,
    event_type: str = "UserEntityCreated",
    *,
    guid: str | None = None,
    time: str | None = None,
    data: dict[str, Any] | None = None,
) -> Event:
    return Event(
        time=time or now_time(),
        guid=guid or str(uuid.uuid4()),
        domain_id=domain_id,
        type=event_type,
        data={"n": 1} if data is None else data,
    )


def make_stream(
    domain_id: str,
    name: str,
    *,
    stream_type: str = "https",
    enabled: bool = True,
    filters: list[dict[str, Any]] | None = None,
) -> StreamRecord:
    config: dict[str, Any] = {"https": {"endpoints": ["https://localhost:9/in"]}}
    if filters is not None:
        config["filters"] = filters
    return StreamRecord(
        id=f"st-{uuid.uuid4().hex[:12]}",
        domain_id=domain_id,
        type=stream_type,
        name=name,
        description=f"{name} stream",
        enabled=enabled,
        version=1,
        config=config,
    )


def make_key(domain_id: str, key_id: str, *, role: str = "admin") -> ApiKeyRecord:
    return ApiKeyRecord(
        id=key_id,
        role=role,  # type: ignore[arg-type]
        domain_id=domain_id,
        key_hash=uuid.uuid4().hex * 2,
        prefix="dsa_abcd",
        name=f"key {key_id}",
    )


def seqs_of(outcomes: list[AppendOutcome]) -> list[int]:
    """Return the seq of each outcome; every outcome must be accepted."""
    seqs = [outcome.seq for outcome in outcomes]
    assert None not in seqs
    return [seq for seq in seqs if seq is not None]


def audit(domain_id: str, event_type: str = "DataStreamConfigurationCreated") -> Event:
    return make_event(domain_id, event_type, data={"audit": True})


async def make_tree(store: Store) -> None:
    """Create root ─ child ─ grandchild, and sibling under root."""
    await store.create_domain(Domain("root", "Root"))
    await store.create_domain(Domain("child", "Child", parent_id="root"))
    await store.create_domain(Domain("grandchild", "Grandchild", parent_id="child"))
    await store.create_domain(Domain("sibling", "Sibling", parent_id="root"))


# Domains ------------------------------------------------------------------------------


async def test_domain_create_and_get(store: Store) -> None:
    created = await store.create_domain(Domain("d1", "First"))
    fetched = await store.get_domain("d1")

    assert fetched == created
    assert fetched.name == "First"
    assert fetched.parent_id is None
    assert fetched.external_id != ""
    assert fetched.created_at != ""
    assert fetched.updated_at == fetched.created_at


async def test_domain_keeps_given_external_id(store: Store) -> None:
    created = await store.create_domain(Domain("d1", "First", external_id="ext-123"))
    assert created.external_id == "ext-123"


async def test_domain_create_duplicate_id(store: Store) -> None:
    await store.create_domain(Domain("d1", "First"))
    with pytest.raises(Conflict, match="d1"):
        await store.create_domain(Domain("d1", "Again"))


async def test_domain_create_unknown_parent(store: Store) -> None:
    with pytest.raises(NotFound, match="missing"):
        await store.create_domain(Domain("d1", "First", parent_id="missing"))


async def test_domain_get_unknown(store: Store) -> None:
    with pytest.raises(NotFound, match="nope"):
        await store.get_domain("nope")


async def test_domain_list_pages_by_id(store: Store) -> None:
    for domain_id in ["c", "a", "b", "d"]:
        await store.create_domain(Domain(domain_id, domain_id.upper()))

    first_page = await store.list_domains(limit=2)
    second_page = await store.list_domains(limit=2, after="b")

    assert [domain.id for domain in first_page] == ["a", "b"]
    assert [domain.id for domain in second_page] == ["c", "d"]


async def test_domain_list_within_subtree(store: Store) -> None:
    await make_tree(store)

    within_child = await store.list_domains(within=["child"])
    within_nothing = await store.list_domains(within=[])

    assert [domain.id for domain in within_child] == ["child", "grandchild"]
    assert within_nothing == []


async def test_domain_update_name_and_parent(store: Store) -> None:
    await make_tree(store)
    before = await store.get_domain("grandchild")

    updated = await store.update_domain(Domain("grandchild", "Moved", parent_id="sibling"))
    fetched = await store.get_domain("grandchild")

    assert fetched == updated
    assert fetched.name == "Moved"
    assert fetched.parent_id == "sibling"
    assert fetched.external_id == before.external_id
    assert fetched.created_at == before.created_at


async def test_domain_update_to_root(store: Store) -> None:
    await make_tree(store)
    updated = await store.update_domain(Domain("child", "Child", parent_id=None))
    assert updated.parent_id is None


async def test_domain_update_rejects_cycle(store: Store) -> None:
    await make_tree(store)

    with pytest.raises(ValidationError) as caught:
        await store.update_domain(Domain("root", "Root", parent_id="grandchild"))

    assert [error.field for error in caught.value.fields] == ["parentId"]
    assert caught.value.fields[0].value == "grandchild"


async def test_domain_update_rejects_self_parent(store: Store) -> None:
    await make_tree(store)
    with pytest.raises(ValidationError, match="parentId"):
        await store.update_domain(Domain("child", "Child", parent_id="child"))


async def test_domain_update_unknown(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.update_domain(Domain("nope", "Nope"))


async def test_domain_update_unknown_parent(store: Store) -> None:
    await make_tree(store)
    with pytest.raises(NotFound, match="missing"):
        await store.update_domain(Domain("child", "Child", parent_id="missing"))


async def test_domain_delete(store: Store) -> None:
    await store.create_domain(Domain("d1", "First"))

    await store.delete_domain("d1")

    with pytest.raises(NotFound):
        await store.get_domain("d1")


async def test_domain_delete_unknown(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.delete_domain("nope")


async def test_domain_delete_with_children(store: Store) -> None:
    await make_tree(store)
    with pytest.raises(Conflict, match="child domain"):
        await store.delete_domain("child")


async def test_domain_delete_with_stream(store: Store) -> None:
    await store.create_domain(Domain("d1", "First"))
    await store.create_stream(make_stream("d1", "s1"), audit("d1"))

    with pytest.raises(Conflict, match="stream"):
        await store.delete_domain("d1")


async def test_domain_delete_with_key(store: Store) -> None:
    await store.create_domain(Domain("d1", "First"))
    await store.create_api_key(make_key("d1", "k1"))

    with pytest.raises(Conflict, match="API key"):
        await store.delete_domain("d1")


async def test_is_within(store: Store) -> None:
    await make_tree(store)

    assert await store.is_within("grandchild", ["root"])
    assert await store.is_within("child", ["child"])
    assert await store.is_within("grandchild", ["sibling", "child"])
    assert not await store.is_within("sibling", ["child"])
    assert not await store.is_within("root", ["child"])
    assert not await store.is_within("unknown", ["root"])


# API keys -----------------------------------------------------------------------------


async def test_key_create_and_find(store: Store) -> None:
    await store.create_domain(Domain("d1", "First"))
    key = make_key("d1", "k1", role="producer")

    created = await store.create_api_key(key)
    found = await store.find_api_key(key.key_hash)

    assert found == created
    assert found is not None
    assert found.role == "producer"
    assert found.created_at != ""
    assert found.revoked_at is None


async def test_key_find_unknown(store: Store) -> None:
    assert await store.find_api_key("0" * 64) is None


async def test_key_unknown_domain(store: Store) -> None:
    with pytest.raises(NotFound, match="missing"):
        await store.create_api_key(make_key("missing", "k1"))


async def test_key_duplicate_hash(store: Store) -> None:
    await store.create_domain(Domain("d1", "First"))
    key = make_key("d1", "k1")
    await store.create_api_key(key)

    copy = ApiKeyRecord("k2", "admin", "d1", key.key_hash, "dsa_efgh")
    with pytest.raises(Conflict):
        await store.create_api_key(copy)


async def test_key_duplicate_id(store: Store) -> None:
    await store.create_domain(Domain("d1", "First"))
    await store.create_api_key(make_key("d1", "k1"))

    with pytest.raises(Conflict, match="k1"):
        await store.create_api_key(make_key("d1", "k1"))


async def test_key_list_within_and_pages(store: Store) -> None:
    await make_tree(store)
    for key_id, domain_id in [
        ("k1", "root"),
        ("k2", "child"),
        ("k3", "grandchild"),
        ("k4", "sibling"),
    ]:
        await store.create_api_key(make_key(domain_id, key_id))

    within_child = await store.list_api_keys(within=["child"])
    second_page = await store.list_api_keys(limit=2, after="k2")

    assert [key.id for key in within_child] == ["k2", "k3"]
    assert [key.id for key in second_page] == ["k3", "k4"]


async def test_key_revoke(store: Store) -> None:
    await store.create_domain(Domain("d1", "First"))
    key = await store.create_api_key(make_key("d1", "k1"))

    revoked = await store.revoke_api_key("k1")
    found = await store.find_api_key(key.key_hash)

    assert revoked.revoked_at is not None
    assert found == revoked


async def test_key_revoke_twice_keeps_first_time(open_store: StoreOpener) -> None:
    clock = FakeClock("2024-01-01T00:00:00.0000000Z")
    store = await open_store(clock)
    await store.create_domain(Domain("d1", "First"))
    await store.create_api_key(make_key("d1", "k1"))

    await store.revoke_api_key("k1")
    clock.value = "2024-02-01T00:00:00.0000000Z"
    again = await store.revoke_api_key("k1")

    assert again.revoked_at == "2024-01-01T00:00:00.0000000Z"


async def test_key_revoke_unknown(store: Store) -> None:
    with pytest.raises(NotFound, match="nope"):
        await store.revoke_api_key("nope")


# Streams ------------------------------------------------------------------------------


async def test_stream_create_and_get(store: Store) -> None:
    await store.create_domain(Domain("d1", "First"))
    stream = make_stream("d1", "s1", filters=[{"eventType": "A", "properties": ["x.y"]}])
    stream.secrets = b"fernet-token"
    stream.version = 7

    created = await store.create_stream(stream, audit("d1"))
    fetched = await store.get_stream("d1", stream.id)

    assert fetched == created
    assert fetched.version == 1
    assert fetched.config == stream.config
    assert fetched.secrets == b"fernet-token"
    assert fetched.enabled is True
    assert fetched.created_at != ""
    assert fetched.updated_at == fetched.created_at


async def test_stream_create_unknown_domain(store: Store) -> None:
    with pytest.raises(NotFound, match="missing"):
        await store.create_stream(make_stream("missing", "s1"), audit("missing"))


async def test_stream_create_stores_audit_event(store: Store) -> None:
    await store.create_domain(Domain("d1", "First"))
    event = audit("d1")

    await store.create_stream(make_stream("d1", "s1"), event)

    stored = await store.get_event(event.guid)
    assert stored is not None
    assert stored.type == "DataStreamConfigurationCreated"


async def test_stream_receives_own_creation_event(store: Store) -> None:
    await store.create_domain(Domain("d1", "First"))
    stream = make_stream("d1", "s1")

    await store.create_stream(stream, audit("d1"))

    assert await store.count_queued(stream.id) == 1


async def test_stream_get_other_domain(store: Store) -> None:
    await make_tree(store)
    stream = make_stream("child", "s1")
    await store.create_stream(stream, audit("child"))

    with pytest.raises(NotFound):
        await store.get_stream("sibling", stream.id)


async def test_stream_duplicate_name(store: Store) -> None:
    await store.create_domain(Domain("d1", "First"))
    await store.create_stream(make_stream("d1", "orders", stream_type="sqs"), audit("d1"))

    with pytest.raises(Conflict) as caught:
        await store.create_stream(make_stream("d1", "orders", stream_type="sqs"), audit("d1"))

    assert "sqs" in caught.value.message
    assert "orders" in caught.value.message


async def test_stream_failed_create_stores_no_audit(store: Store) -> None:
    await store.create_domain(Domain("d1", "First"))
    await store.create_stream(make_stream("d1", "orders"), audit("d1"))
    rejected_audit = audit("d1")

    with pytest.raises(Conflict):
        await store.create_stream(make_stream("d1", "orders"), rejected_audit)

    assert await store.get_event(rejected_audit.guid) is None


async def test_stream_same_name_other_type(store: Store) -> None:
    await store.create_domain(Domain("d1", "First"))
    await store.create_stream(make_stream("d1", "orders", stream_type="sqs"), audit("d1"))

    created = await store.create_stream(
        make_stream("d1", "orders", stream_type="kinesis"), audit("d1")
    )

    assert created.type == "kinesis"


async def test_stream_list(store: Store) -> None:
    await make_tree(store)
    in_child = [make_stream("child", f"c{index}") for index in range(3)]
    in_sibling = make_stream("sibling", "s0")
    for stream in [*in_child, in_sibling]:
        await store.create_stream(stream, audit(stream.domain_id))

    of_child = await store.list_streams("child")
    every = await store.list_streams(limit=1000)
    first_two = await store.list_streams("child", limit=2)
    rest = await store.list_streams("child", after=first_two[-1].id)

    assert [stream.id for stream in of_child] == sorted(stream.id for stream in in_child)
    assert len(every) == 4
    assert [stream.id for stream in first_two + rest] == [stream.id for stream in of_child]


async def test_stream_update(open_store: StoreOpener) -> None:
    clock = FakeClock("2024-01-01T00:00:00.0000000Z")
    store = await open_store(clock)
    await store.create_domain(Domain("d1", "First"))
    created = await store.create_stream(make_stream("d1", "s1"), audit("d1"))

    clock.value = "2024-01-02T00:00:00.0000000Z"
    change = StreamRecord(
        id=created.id,
        domain_id="d1",
        type=created.type,
        name="renamed",
        description="new description",
        enabled=False,
        version=created.version,
        config={"https": {"endpoints": ["https://localhost:9/other"]}},
        secrets=b"new-token",
    )
    updated = await store.update_stream(change, 1, audit("d1", "DataStreamConfigurationChanged"))
    fetched = await store.get_stream("d1", created.id)

    assert fetched == updated
    assert fetched.version == 2
    assert fetched.name == "renamed"
    assert fetched.enabled is False
    assert fetched.config == change.config
    assert fetched.secrets == b"new-token"
    assert fetched.created_at == "2024-01-01T00:00:00.0000000Z"
    assert fetched.updated_at == "2024-01-02T00:00:00.0000000Z"


async def test_stream_update_stale_version(store: Store) -> None:
    await store.create_domain(Domain("d1", "First"))
    created = await store.create_stream(make_stream("d1", "s1"), audit("d1"))
    await store.update_stream(created, 1, audit("d1", "DataStreamConfigurationChanged"))

    with pytest.raises(Conflict, match="stale version: stored 2, given 1"):
        await store.update_stream(created, 1, audit("d1", "DataStreamConfigurationChanged"))


async def test_stream_update_duplicate_name(store: Store) -> None:
    await store.create_domain(Domain("d1", "First"))
    await store.create_stream(make_stream("d1", "taken"), audit("d1"))
    other = await store.create_stream(make_stream("d1", "other"), audit("d1"))

    other.name = "taken"
    with pytest.raises(Conflict, match="taken"):
        await store.update_stream(other, 1, audit("d1", "DataStreamConfigurationChanged"))


async def test_stream_update_keeps_own_name(store: Store) -> None:
    await store.create_domain(Domain("d1", "First"))
    created = await store.create_stream(make_stream("d1", "s1"), audit("d1"))

    updated = await store.update_stream(created, 1, audit("d1", "DataStreamConfigurationChanged"))

    assert updated.name == "s1"


async def test_stream_update_type_change(store: Store) -> None:
    await store.create_domain(Domain("d1", "First"))
    created = await store.create_stream(make_stream("d1", "s1"), audit("d1"))

    created.type = "sqs"
    with pytest.raises(ValidationError, match="type"):
        await store.update_stream(created, 1, audit("d1", "DataStreamConfigurationChanged"))


async def test_stream_update_unknown(store: Store) -> None:
    await store.create_domain(Domain("d1", "First"))
    with pytest.raises(NotFound):
        await store.update_stream(make_stream("d1", "s1"), 1, audit("d1"))


async def test_stream_delete(store: Store) -> None:
    await store.create_domain(Domain("d1", "First"))
    stream = await store.create_stream(make_stream("d1", "s1"), audit("d1"))
    deleted_event = audit("d1", "DataStreamConfigurationDeleted")

    await store.delete_stream("d1", stream.id, deleted_event)

    with pytest.raises(NotFound):
        await store.get_stream("d1", stream.id)
    assert await store.get_event(deleted_event.guid) is not None


async def test_stream_delete_unknown(store: Store) -> None:
    await store.create_domain(Domain("d1", "First"))
    with pytest.raises(NotFound):
        await store.delete_stream("d1", "nope", audit("d1"))


async def test_stream_delete_cascades_deliveries(store: Store) -> None:
    await store.create_domain(Domain("d1", "First"))
    stream = await store.create_stream(make_stream("d1", "s1"), audit("d1"))
    await store.append_events([make_event("d1") for _ in range(3)])
    assert await store.count_queued(stream.id) == 4

    await store.delete_stream("d1", stream.id, audit("d1", "DataStreamConfigurationDeleted"))

    assert await store.count_queued(stream.id) == 0


# Events -------------------------------------------------------------------------------


async def test_append_and_get(store: Store) -> None:
    event = make_event("d1", data={"name": "Zoë", "n": 1})

    [outcome] = await store.append_events([event])
    stored = await store.get_event(event.guid)

    assert outcome.status == "accepted"
    assert outcome.seq is not None
    assert outcome.time == event.time
    assert stored is not None
    assert stored.seq == outcome.seq
    assert stored.line == event.encode()
    assert stored.domain_id == "d1"
    assert stored.type == "UserEntityCreated"
    assert stored.received_at != ""


async def test_get_event_upper_case_guid(store: Store) -> None:
    event = make_event("d1")
    await store.append_events([event])

    assert await store.get_event(event.guid.upper()) is not None


async def test_get_event_unknown(store: Store) -> None:
    assert await store.get_event(str(uuid.uuid4())) is None


async def test_append_empty(store: Store) -> None:
    assert await store.append_events([]) == []


async def test_append_seq_in_log_order(store: Store) -> None:
    first = await store.append_events([make_event("d1"), make_event("d1")])
    second = await store.append_events([make_event("d1")])

    seqs = seqs_of(first + second)
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 3


async def test_duplicate_across_calls(store: Store) -> None:
    original = make_event("d1", time="2024-01-01T00:00:00.0000001Z")
    await store.append_events([original])

    repeat = make_event("d1", guid=original.guid, time="2024-06-01T00:00:00.0000000Z")
    [outcome] = await store.append_events([repeat])
    stored = await store.list_events()

    assert outcome.status == "duplicate"
    assert outcome.guid == original.guid
    assert outcome.time == "2024-01-01T00:00:00.0000001Z"
    assert outcome.seq is None
    assert len(stored) == 1


async def test_duplicate_within_call(store: Store) -> None:
    first = make_event("d1", time="2024-01-01T00:00:00.0000001Z")
    repeat = make_event("d1", guid=first.guid, time="2024-06-01T00:00:00.0000000Z")
    other = make_event("d1")

    outcomes = await store.append_events([first, repeat, other])
    stored = await store.list_events()

    assert [outcome.status for outcome in outcomes] == ["accepted", "duplicate", "accepted"]
    assert outcomes[1].time == "2024-01-01T00:00:00.0000001Z"
    assert len(stored) == 2


async def test_duplicate_queues_nothing(store: Store) -> None:
    await store.create_domain(Domain("d1", "First"))
    stream = await store.create_stream(make_stream("d1", "s1"), audit("d1"))
    event = make_event("d1")

    await store.append_events([event])
    await store.append_events([event])

    assert await store.count_queued(stream.id) == 2


async def test_list_events_pages(store: Store) -> None:
    outcomes = await store.append_events([make_event("d1") for _ in range(5)])
    seqs = seqs_of(outcomes)

    first_page = await store.list_events(limit=2)
    after_second = await store.list_events(after_seq=seqs[1], limit=10)

    assert [event.seq for event in first_page] == seqs[:2]
    assert [event.seq for event in after_second] == seqs[2:]


async def test_list_events_within(store: Store) -> None:
    await make_tree(store)
    await store.append_events(
        [make_event("grandchild"), make_event("sibling"), make_event("child")]
    )

    within_child = await store.list_events(within=["child"])

    assert [event.domain_id for event in within_child] == ["grandchild", "child"]


async def test_group_commit_concurrent_calls(store: Store) -> None:
    batches = [[make_event("d1") for _ in range(10)] for _ in range(100)]
    commits_before = store.stats.commits  # type: ignore[attr-defined]

    results = await asyncio.gather(*(store.append_events(batch) for batch in batches))
    commits = store.stats.commits - commits_before  # type: ignore[attr-defined]
    stored = await store.list_events(limit=2000)

    statuses = {outcome.status for outcomes in results for outcome in outcomes}
    assert statuses == {"accepted"}
    assert sum(len(outcomes) for outcomes in results) == 1000
    assert len(stored) == 1000
    assert commits < len(batches)


async def test_group_commit_isolates_bad_batch(store: Store) -> None:
    good_batches = [[make_event("d1") for _ in range(5)] for _ in range(20)]
    # orjson cannot encode a set, so this batch fails when its line is written.
    bad_batch = [make_event("d1", data={"unencodable": {1, 2}})]
    calls = [store.append_events(batch) for batch in good_batches[:10]]
    calls.append(store.append_events(bad_batch))
    calls.extend(store.append_events(batch) for batch in good_batches[10:])

    results = await asyncio.gather(*calls, return_exceptions=True)
    stored = await store.list_events(limit=1000)

    failures = [result for result in results if isinstance(result, BaseException)]
    assert len(failures) == 1
    assert isinstance(failures[0], StoreError)
    assert isinstance(results[10], StoreError)
    assert len(stored) == 100


async def test_fan_out_own_domain_and_ancestors(store: Store) -> None:
    await make_tree(store)
    streams = {
        domain_id: await store.create_stream(
            make_stream(domain_id, f"s-{domain_id}", filters=[{"eventType": "UserEntityCreated"}]),
            audit(domain_id),
        )
        for domain_id in ["root", "child", "grandchild", "sibling"]
    }

    await store.append_events([make_event("grandchild")])

    assert await store.count_queued(streams["grandchild"].id) == 1
    assert await store.count_queued(streams["child"].id) == 1
    assert await store.count_queued(streams["root"].id) == 1
    assert await store.count_queued(streams["sibling"].id) == 0


async def test_fan_out_skips_descendants(store: Store) -> None:
    await make_tree(store)
    child_stream = await store.create_stream(
        make_stream("child", "s1", filters=[{"eventType": "UserEntityCreated"}]), audit("child")
    )

    await store.append_events([make_event("root")])

    assert await store.count_queued(child_stream.id) == 0


async def test_disabled_stream_gets_nothing(store: Store) -> None:
    await store.create_domain(Domain("d1", "First"))
    stream = await store.create_stream(make_stream("d1", "s1", enabled=False), audit("d1"))

    await store.append_events([make_event("d1") for _ in range(3)])

    assert await store.count_queued(stream.id) == 0


async def test_fan_out_filters_by_type(store: Store) -> None:
    await store.create_domain(Domain("d1", "First"))
    filters = [{"eventType": "EnrollmentEntityCreated", "properties": ["enrollmentId"]}]
    stream = await store.create_stream(make_stream("d1", "s1", filters=filters), audit("d1"))

    await store.append_events(
        [
            make_event("d1", "EnrollmentEntityCreated"),
            make_event("d1", "UserEntityCreated"),
            make_event("d1", "EnrollmentEntityCreated"),
        ]
    )

    assert await store.count_queued(stream.id) == 2


async def test_fan_out_follows_stream_update(store: Store) -> None:
    await store.create_domain(Domain("d1", "First"))
    created = await store.create_stream(make_stream("d1", "s1"), audit("d1"))
    await store.append_events([make_event("d1")])

    created.enabled = False
    await store.update_stream(created, 1, audit("d1", "DataStreamConfigurationChanged"))
    await store.append_events([make_event("d1")])

    # The creation event and the first event; nothing after the stream was disabled.
    assert await store.count_queued(created.id) == 2


async def test_epoch_change_from_other_store(open_store: StoreOpener) -> None:
    first = await open_store()
    second = await open_store()
    await first.create_domain(Domain("d1", "First"))
    await first.append_events([make_event("d1")])

    stream = await second.create_stream(make_stream("d1", "s1"), audit("d1"))
    await first.append_events([make_event("d1")])

    # The stream's own creation event, and the event appended through the first store.
    assert await first.count_queued(stream.id) == 2


async def test_config_epoch_grows(store: Store) -> None:
    start = await store.config_epoch()

    await store.create_domain(Domain("d1", "First"))
    after_domain = await store.config_epoch()
    await store.create_api_key(make_key("d1", "k1"))
    after_key = await store.config_epoch()
    stream = await store.create_stream(make_stream("d1", "s1"), audit("d1"))
    after_stream = await store.config_epoch()
    await store.delete_stream("d1", stream.id, audit("d1", "DataStreamConfigurationDeleted"))
    after_delete = await store.config_epoch()

    assert start < after_domain < after_key < after_stream < after_delete


async def test_config_epoch_unchanged_by_events(store: Store) -> None:
    start = await store.config_epoch()
    await store.append_events([make_event("d1")])
    assert await store.config_epoch() == start


# Retention ----------------------------------------------------------------------------


async def test_purge_keeps_queued_events(open_store: StoreOpener) -> None:
    clock = FakeClock("2024-01-01T00:00:00.0000000Z")
    store = await open_store(clock)
    await store.create_domain(Domain("streamed", "Streamed"))
    stream = await store.create_stream(make_stream("streamed", "s1"), audit("streamed"))
    queued = make_event("streamed")
    unqueued = make_event("quiet")
    await store.append_events([queued, unqueued])

    clock.value = "2024-01-09T00:00:00.0000000Z"
    recent = make_event("quiet")
    await store.append_events([recent])

    deleted = await store.purge_expired_events("2024-01-08T00:00:00.0000000Z")

    # The unqueued old event goes; the stream's creation event and `queued` stay.
    assert deleted == 1
    assert await store.get_event(unqueued.guid) is None
    assert await store.get_event(queued.guid) is not None
    assert await store.get_event(recent.guid) is not None
    assert await store.count_queued(stream.id) == 2


async def test_purge_in_chunks(open_store: StoreOpener) -> None:
    clock = FakeClock("2024-01-01T00:00:00.0000000Z")
    store = await open_store(clock)
    if not hasattr(store, "purge_chunk_rows"):
        pytest.skip("the store has no chunk size to lower")
    store.purge_chunk_rows = 3
    await store.create_domain(Domain("streamed", "Streamed"))
    await store.create_stream(make_stream("streamed", "s1"), audit("streamed"))
    queued_events = [make_event("streamed") for _ in range(4)]
    await store.append_events([make_event("quiet") for _ in range(5)] + queued_events)
    await store.append_events([make_event("quiet") for _ in range(4)])

    deleted = await store.purge_expired_events("2024-01-02T00:00:00.0000000Z")
    remaining = await store.list_events(limit=100)

    # What remains is the stream's creation event and the four queued events.
    assert deleted == 9
    assert len(remaining) == 5
    assert {event.guid for event in queued_events} <= {event.guid for event in remaining}


async def test_purge_nothing_expired(store: Store) -> None:
    await store.append_events([make_event("d1")])
    assert await store.purge_expired_events("2000-01-01T00:00:00.0000000Z") == 0


async def test_purged_guid_accepted_again(open_store: StoreOpener) -> None:
    clock = FakeClock("2024-01-01T00:00:00.0000000Z")
    store = await open_store(clock)
    event = make_event("d1")
    [first] = await store.append_events([event])

    await store.purge_expired_events("2024-02-01T00:00:00.0000000Z")
    [second] = await store.append_events([event])

    assert second.status == "accepted"
    assert second.seq is not None
    assert first.seq is not None
    assert second.seq > first.seq


# Lifecycle ----------------------------------------------------------------------------


async def test_restart_keeps_everything(open_store: StoreOpener) -> None:
    store = await open_store()
    await store.create_domain(Domain("d1", "First"))
    await store.create_api_key(make_key("d1", "k1"))
    stream = await store.create_stream(make_stream("d1", "s1"), audit("d1"))
    outcomes = await store.append_events([make_event("d1") for _ in range(3)])
    epoch = await store.config_epoch()
    await store.close()

    reopened = await open_store()

    assert (await reopened.get_domain("d1")).name == "First"
    assert [key.id for key in await reopened.list_api_keys()] == ["k1"]
    assert await reopened.get_stream("d1", stream.id) == stream
    assert len(await reopened.list_events()) == 4
    assert await reopened.count_queued(stream.id) == 4
    assert await reopened.config_epoch() == epoch

    [next_outcome] = await reopened.append_events([make_event("d1")])
    assert next_outcome.seq is not None
    assert next_outcome.seq > max(seqs_of(outcomes))


async def test_closed_store_rejects_calls(store: Store) -> None:
    await store.close()

    with pytest.raises(StoreError):
        await store.append_events([make_event("d1")])
    with pytest.raises(StoreError):
        await store.get_event(str(uuid.uuid4()))


async def test_close_finishes_queued_writes(open_store: StoreOpener) -> None:
    store = await open_store()
    batches = [[make_event("d1") for _ in range(10)] for _ in range(20)]
    calls = [asyncio.ensure_future(store.append_events(batch)) for batch in batches]
    await asyncio.sleep(0)

    await store.close()
    results = await asyncio.gather(*calls)
    reopened = await open_store()

    assert sum(len(outcomes) for outcomes in results) == 200
    assert len(await reopened.list_events(limit=1000)) == 200
