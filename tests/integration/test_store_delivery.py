"""Contract tests of the ``DeliveryStore`` protocol: queues, outcomes, dead letters, replay."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import pytest
import test_store_contract
from test_store_contract import (
    FakeClock,
    StoreOpener,
    audit,
    make_event,
    make_stream,
    make_tree,
    seqs_of,
)

from datastreams.errors import Conflict, NotFound, StoreError, ValidationError
from datastreams.events.timefmt import now_time
from datastreams.store.base import MAX_ATTEMPTS_KEPT, DeliveryStore, Store
from datastreams.store.records import (
    AttemptRecord,
    DeliveryOutcome,
    Domain,
    Selection,
    StreamRecord,
)
from datastreams.store.sqlite.appender import EventAppender
from datastreams.store.sqlite.connection import connect
from datastreams.store.sqlite.store import QUERIES
from datastreams.store.sqlite.writer import Writer

# The fixtures of the contract tests, so these tests run on every store listed there.
open_store = test_store_contract.open_store
store = test_store_contract.store

START = "2024-01-01T00:00:00.0000000Z"
ROUND_AT = "2024-01-01T10:05:30.1234567Z"

# Only this type reaches the test streams, so stream audit events stay out of their queues.
TEST_TYPE = "UserEntityCreated"


class StoreUnderTest(Store, DeliveryStore, Protocol):
    """Both protocols, as every store implements them."""


class ListenerCalls:
    """An append listener that records the stream ids of each call."""

    def __init__(self) -> None:
        self.calls: list[set[str]] = []

    def __call__(self, stream_ids: set[str]) -> None:
        self.calls.append(stream_ids)


async def add_stream(store: StoreUnderTest, domain_id: str, name: str = "s1") -> StreamRecord:
    """Create a stream that takes only ``TEST_TYPE`` events of its domain subtree."""
    stream = make_stream(domain_id, name, filters=[{"eventType": TEST_TYPE}])
    return await store.create_stream(stream, audit(domain_id))


async def stream_with_events(
    store: StoreUnderTest, count: int, *, domain_id: str = "d1", name: str = "s1"
) -> tuple[StreamRecord, list[int]]:
    """Create a domain (unless it exists) and a stream, and queue ``count`` events for it."""
    try:
        await store.create_domain(Domain(domain_id, domain_id.upper()))
    except Conflict:
        pass
    stream = await add_stream(store, domain_id, name)
    outcomes = await store.append_events([make_event(domain_id, TEST_TYPE) for _ in range(count)])
    return stream, seqs_of(outcomes)


def outcome(stream_id: str, **changes: Any) -> DeliveryOutcome:
    values: dict[str, Any] = {"stream_id": stream_id, "at": ROUND_AT, "state": "delivering"}
    values.update(changes)
    return DeliveryOutcome(**values)


def attempt(message: str, outcome_name: str = "delivered") -> AttemptRecord:
    return AttemptRecord(
        at=ROUND_AT,
        outcome=outcome_name,
        records=1,
        endpoint="https://example.invalid/in",
        status=200,
        error_code=None,
        message=message,
        latency_ms=12.5,
    )


async def kill(store: StoreUnderTest, stream_id: str, seqs: list[int], at: str = ROUND_AT) -> None:
    """Turn the queued deliveries ``seqs`` into dead letters."""
    dead = {seq: f"rejected {seq}" for seq in seqs}
    await store.record_outcome(outcome(stream_id, at=at, dead=dead))


async def queued_seqs(store: StoreUnderTest, stream_id: str) -> list[int]:
    return [delivery.seq for delivery in await store.fetch_queued(stream_id, 1000)]


async def dead_seqs(store: StoreUnderTest, stream_id: str) -> list[int]:
    return [letter.seq for letter in await store.list_dead_letters(stream_id, limit=1000)]


# Queue --------------------------------------------------------------------------------


async def test_fetch_queued_log_order(open_store: StoreOpener) -> None:
    clock = FakeClock(START)
    store = await open_store(clock)
    await store.create_domain(Domain("d1", "First"))
    stream = await add_stream(store, "d1")
    events = [make_event("d1", TEST_TYPE) for _ in range(5)]
    seqs = seqs_of(await store.append_events(events))

    first_three = await store.fetch_queued(stream.id, 3)

    assert [delivery.seq for delivery in first_three] == seqs[:3]
    assert first_three[0].guid == events[0].guid
    assert first_three[0].line == events[0].encode()
    assert first_three[0].domain_id == "d1"
    assert first_three[0].type == TEST_TYPE
    assert first_three[0].time == events[0].time
    assert first_three[0].queued_at == START
    assert first_three[0].attempts == 0
    assert first_three[0].last_error is None


async def test_fetch_queued_own_stream_only(store: StoreUnderTest) -> None:
    first, _ = await stream_with_events(store, 2, domain_id="d1")
    second, second_seqs = await stream_with_events(store, 3, domain_id="d2")

    assert await queued_seqs(store, second.id) == second_seqs
    assert len(await store.fetch_queued(first.id, 100)) == 2


async def test_fetch_queued_unknown_stream(store: StoreUnderTest) -> None:
    assert await store.fetch_queued("nope", 10) == []


# Outcomes -----------------------------------------------------------------------------


async def test_outcome_all_kinds(store: StoreUnderTest) -> None:
    stream, seqs = await stream_with_events(store, 4)
    delivered, retried, dead, untouched = seqs
    event = await store.list_events(after_seq=dead - 1, limit=1)

    await store.record_outcome(
        outcome(
            stream.id,
            state="backingOff",
            delivered=[delivered],
            retry=[retried],
            retry_error="HTTP 503 from https://example.invalid/in",
            dead={dead: "HTTP 422: rejected"},
            attempts=[attempt("first"), attempt("second", "retry")],
        )
    )
    queue = await store.fetch_queued(stream.id, 10)
    [letter] = await store.list_dead_letters(stream.id)
    status = await store.stream_status(stream.id)

    assert [delivery.seq for delivery in queue] == [retried, untouched]
    assert queue[0].attempts == 1
    assert queue[0].last_error == "HTTP 503 from https://example.invalid/in"
    assert queue[1].attempts == 0
    assert letter.seq == dead
    assert letter.stream_id == stream.id
    assert letter.guid == event[0].guid
    assert letter.line == event[0].line
    assert letter.time == event[0].time
    assert letter.domain_id == "d1"
    assert letter.type == TEST_TYPE
    assert letter.error == "HTTP 422: rejected"
    assert letter.attempts == 1
    assert letter.dead_at == ROUND_AT
    assert letter.queued_at == queue[1].queued_at
    assert status.state == "backingOff"
    assert status.delivered == 1
    assert status.failed == 2
    assert status.dead_letters == 1
    assert status.queue_depth == 2
    assert status.last_error == "HTTP 503 from https://example.invalid/in"
    assert status.last_delivered_at == ROUND_AT
    assert len(await store.list_attempts(stream.id, 10)) == 2


async def test_outcome_skipped_not_counted(store: StoreUnderTest) -> None:
    stream, [skipped, kept] = await stream_with_events(store, 2)

    await store.record_outcome(outcome(stream.id, skipped=[skipped]))
    status = await store.stream_status(stream.id)

    assert await queued_seqs(store, stream.id) == [kept]
    assert status.delivered == 0
    assert status.failed == 0
    assert await dead_seqs(store, stream.id) == []


async def test_outcome_retries_count_attempts(store: StoreUnderTest) -> None:
    stream, [seq] = await stream_with_events(store, 1)

    await store.record_outcome(outcome(stream.id, retry=[seq], retry_error="timed out"))
    await store.record_outcome(outcome(stream.id, retry=[seq], retry_error="HTTP 500"))
    [queued] = await store.fetch_queued(stream.id, 10)
    await store.record_outcome(outcome(stream.id, dead={seq: "retry window exceeded"}))
    [letter] = await store.list_dead_letters(stream.id)

    assert queued.attempts == 2
    assert queued.last_error == "HTTP 500"
    assert letter.attempts == 3
    assert letter.queued_at == queued.queued_at


async def test_outcome_dead_reason_is_last_error(store: StoreUnderTest) -> None:
    stream, seqs = await stream_with_events(store, 2)

    await store.record_outcome(outcome(stream.id, dead={seqs[0]: "first", seqs[1]: "second"}))
    status = await store.stream_status(stream.id)

    assert status.last_error == "second"
    assert status.last_delivered_at is None


async def test_outcome_keeps_last_error(store: StoreUnderTest) -> None:
    stream, seqs = await stream_with_events(store, 2)
    later = "2024-01-01T10:06:00.0000000Z"

    await store.record_outcome(outcome(stream.id, retry=[seqs[0]], retry_error="HTTP 503"))
    await store.record_outcome(outcome(stream.id, at=later, delivered=seqs))
    status = await store.stream_status(stream.id)

    assert status.last_error == "HTTP 503"
    assert status.last_delivered_at == later
    assert status.delivered == 2
    assert status.failed == 1
    assert status.queue_depth == 0


async def test_outcome_deleted_stream_dropped(store: StoreUnderTest) -> None:
    stream, seqs = await stream_with_events(store, 1)
    await store.delete_stream("d1", stream.id, audit("d1", "DataStreamConfigurationDeleted"))

    await store.record_outcome(
        outcome(stream.id, delivered=seqs, dead={seqs[0]: "x"}, attempts=[attempt("a")])
    )

    assert await store.list_attempts(stream.id, 10) == []
    assert await store.list_dead_letters(stream.id) == []


# Attempts and statistics --------------------------------------------------------------


async def test_attempts_newest_first(store: StoreUnderTest) -> None:
    stream, _ = await stream_with_events(store, 1)
    await store.record_outcome(outcome(stream.id, attempts=[attempt("one"), attempt("two")]))
    await store.record_outcome(outcome(stream.id, attempts=[attempt("three", "retry")]))

    latest_two = await store.list_attempts(stream.id, 2)

    assert [record.message for record in latest_two] == ["three", "two"]
    assert latest_two[0].outcome == "retry"
    assert latest_two[1].endpoint == "https://example.invalid/in"
    assert latest_two[1].status == 200
    assert latest_two[1].records == 1
    assert latest_two[1].latency_ms == 12.5
    assert latest_two[1].at == ROUND_AT


async def test_attempts_trimmed_to_max(store: StoreUnderTest) -> None:
    stream, _ = await stream_with_events(store, 1, domain_id="d1")
    other, _ = await stream_with_events(store, 1, domain_id="d2")
    total = MAX_ATTEMPTS_KEPT + 30
    messages = [f"attempt {index}" for index in range(total)]
    await store.record_outcome(outcome(other.id, attempts=[attempt("other")]))

    await store.record_outcome(outcome(stream.id, attempts=[attempt(m) for m in messages[:150]]))
    await store.record_outcome(outcome(stream.id, attempts=[attempt(m) for m in messages[150:]]))
    remaining = await store.list_attempts(stream.id, total)

    assert len(remaining) == MAX_ATTEMPTS_KEPT
    assert remaining[0].message == messages[-1]
    assert remaining[-1].message == messages[total - MAX_ATTEMPTS_KEPT]
    assert len(await store.list_attempts(other.id, 10)) == 1


async def test_attempts_one_outcome_over_max(store: StoreUnderTest) -> None:
    stream, _ = await stream_with_events(store, 1)
    messages = [f"attempt {index}" for index in range(MAX_ATTEMPTS_KEPT + 5)]

    await store.record_outcome(outcome(stream.id, attempts=[attempt(m) for m in messages]))
    remaining = await store.list_attempts(stream.id, 1000)

    assert len(remaining) == MAX_ATTEMPTS_KEPT
    assert remaining[-1].message == "attempt 5"


async def test_minute_stats_accumulate(store: StoreUnderTest) -> None:
    stream, seqs = await stream_with_events(store, 6)
    same_minute = "2024-01-01T10:05:59.9999999Z"
    next_minute = "2024-01-01T10:06:00.0000000Z"

    await store.record_outcome(outcome(stream.id, delivered=seqs[:2], retry=[seqs[2]]))
    await store.record_outcome(outcome(stream.id, at=same_minute, delivered=[seqs[2]]))
    await store.record_outcome(
        outcome(stream.id, at=next_minute, delivered=[seqs[3]], dead={seqs[4]: "x"})
    )
    stats = await store.minute_stats(stream.id, "2024-01-01T10:00:00.0000000Z")

    assert [(row.minute, row.delivered, row.failed) for row in stats] == [
        ("2024-01-01T10:05:00Z", 3, 1),
        ("2024-01-01T10:06:00Z", 1, 1),
    ]


async def test_minute_stats_since_minute(store: StoreUnderTest) -> None:
    stream, seqs = await stream_with_events(store, 2)
    await store.record_outcome(outcome(stream.id, delivered=[seqs[0]]))
    await store.record_outcome(
        outcome(stream.id, at="2024-01-01T10:06:10.0000000Z", delivered=[seqs[1]])
    )

    # A time inside a minute selects from the start of that minute.
    stats = await store.minute_stats(stream.id, "2024-01-01T10:06:45.0000000Z")

    assert [row.minute for row in stats] == ["2024-01-01T10:06:00Z"]


async def test_minute_stats_skip_empty_round(store: StoreUnderTest) -> None:
    stream, _ = await stream_with_events(store, 1)

    await store.record_outcome(outcome(stream.id, attempts=[attempt("nothing sent")]))

    assert await store.minute_stats(stream.id, START) == []


async def test_minute_stats_trimmed_after_week(store: StoreUnderTest) -> None:
    stream, seqs = await stream_with_events(store, 3)
    await store.record_outcome(
        outcome(stream.id, at="2024-01-01T10:00:00.0000000Z", delivered=[seqs[0]])
    )
    await store.record_outcome(
        outcome(stream.id, at="2024-01-02T10:00:00.0000000Z", delivered=[seqs[1]])
    )

    await store.record_outcome(
        outcome(stream.id, at="2024-01-08T12:00:00.0000000Z", delivered=[seqs[2]])
    )
    stats = await store.minute_stats(stream.id, START)

    assert [row.minute for row in stats] == ["2024-01-02T10:00:00Z", "2024-01-08T12:00:00Z"]


# Status and state ---------------------------------------------------------------------


async def test_status_without_outcomes(open_store: StoreOpener) -> None:
    clock = FakeClock(START)
    store = await open_store(clock)
    stream, _ = await stream_with_events(store, 2)
    clock.value = "2024-01-02T00:00:00.0000000Z"
    await store.append_events([make_event("d1", TEST_TYPE)])

    status = await store.stream_status(stream.id)

    assert status.state == "idle"
    assert status.queue_depth == 3
    assert status.oldest_queued_at == START
    assert status.delivered == 0
    assert status.failed == 0
    assert status.dead_letters == 0
    assert status.last_error is None
    assert status.last_delivered_at is None


async def test_status_unknown_stream(store: StoreUnderTest) -> None:
    status = await store.stream_status("nope")

    assert status.state == "idle"
    assert status.queue_depth == 0
    assert status.oldest_queued_at is None


async def test_set_state_and_error(store: StoreUnderTest) -> None:
    stream, _ = await stream_with_events(store, 1)

    await store.set_stream_state(stream.id, "failing", "HTTP 401 from the endpoint")
    failing = await store.stream_status(stream.id)
    await store.set_stream_state(stream.id, "idle", None)
    idle = await store.stream_status(stream.id)

    assert failing.state == "failing"
    assert failing.last_error == "HTTP 401 from the endpoint"
    assert idle.state == "idle"
    assert idle.last_error == "HTTP 401 from the endpoint"


async def test_set_state_keeps_totals(store: StoreUnderTest) -> None:
    stream, seqs = await stream_with_events(store, 1)
    await store.record_outcome(outcome(stream.id, delivered=seqs))

    await store.set_stream_state(stream.id, "disabled", None)
    status = await store.stream_status(stream.id)

    assert status.state == "disabled"
    assert status.delivered == 1
    assert status.last_delivered_at == ROUND_AT


async def test_set_state_unknown_stream(store: StoreUnderTest) -> None:
    await store.set_stream_state("nope", "failing", "gone")

    assert (await store.stream_status("nope")).state == "idle"


# Dead letters -------------------------------------------------------------------------


async def test_dead_letters_page_by_id(store: StoreUnderTest) -> None:
    stream, seqs = await stream_with_events(store, 5)
    await kill(store, stream.id, seqs)

    first_page = await store.list_dead_letters(stream.id, limit=2)
    rest = await store.list_dead_letters(stream.id, limit=10, after=first_page[-1].id)

    assert [letter.seq for letter in first_page] == seqs[:2]
    assert [letter.seq for letter in rest] == seqs[2:]
    assert first_page[0].id < first_page[1].id


async def test_redrive_by_ids(open_store: StoreOpener) -> None:
    clock = FakeClock(START)
    store = await open_store(clock)
    stream, seqs = await stream_with_events(store, 3)
    await kill(store, stream.id, seqs)
    letters = await store.list_dead_letters(stream.id)
    clock.value = "2024-01-03T00:00:00.0000000Z"

    queued = await store.redrive_dead_letters(stream.id, Selection(ids=(letters[0].id,)))
    queue = await store.fetch_queued(stream.id, 10)

    assert queued == 1
    assert [delivery.seq for delivery in queue] == [seqs[0]]
    assert queue[0].queued_at == "2024-01-03T00:00:00.0000000Z"
    assert queue[0].attempts == 0
    assert await dead_seqs(store, stream.id) == seqs[1:]


async def test_redrive_ignores_other_stream_ids(store: StoreUnderTest) -> None:
    stream, seqs = await stream_with_events(store, 1, domain_id="d1")
    other, other_seqs = await stream_with_events(store, 1, domain_id="d2")
    await kill(store, stream.id, seqs)
    await kill(store, other.id, other_seqs)
    [other_letter] = await store.list_dead_letters(other.id)

    queued = await store.redrive_dead_letters(stream.id, Selection(ids=(other_letter.id,)))

    assert queued == 0
    assert await dead_seqs(store, other.id) == other_seqs
    assert await dead_seqs(store, stream.id) == seqs
    assert await queued_seqs(store, other.id) == []


async def test_redrive_by_time_range(store: StoreUnderTest) -> None:
    await store.create_domain(Domain("d1", "First"))
    stream = await add_stream(store, "d1")
    times = [
        "2024-01-01T09:59:59.9999999Z",
        "2024-01-01T10:00:00.0000000Z",
        "2024-01-01T10:30:00.0000000Z",
        "2024-01-01T11:00:00.0000000Z",
    ]
    events = [make_event("d1", TEST_TYPE, time=time) for time in times]
    seqs = seqs_of(await store.append_events(events))
    await kill(store, stream.id, seqs)

    selection = Selection(from_time=times[1], to_time=times[3])
    queued = await store.redrive_dead_letters(stream.id, selection)

    # From is inclusive and to exclusive.
    assert queued == 2
    assert await queued_seqs(store, stream.id) == seqs[1:3]
    assert await dead_seqs(store, stream.id) == [seqs[0], seqs[3]]


async def test_redrive_open_range(store: StoreUnderTest) -> None:
    await store.create_domain(Domain("d1", "First"))
    stream = await add_stream(store, "d1")
    times = ["2024-01-01T10:00:00.0000000Z", "2024-01-02T10:00:00.0000000Z"]
    seqs = seqs_of(
        await store.append_events([make_event("d1", TEST_TYPE, time=time) for time in times])
    )
    await kill(store, stream.id, seqs)

    queued = await store.redrive_dead_letters(stream.id, Selection(from_time=times[1]))

    assert queued == 1
    assert await queued_seqs(store, stream.id) == [seqs[1]]


async def test_redrive_all_in_chunks(store: StoreUnderTest) -> None:
    if hasattr(store, "dead_letter_chunk_rows"):
        store.dead_letter_chunk_rows = 2
    stream, seqs = await stream_with_events(store, 5)
    await kill(store, stream.id, seqs)

    queued = await store.redrive_dead_letters(stream.id, Selection(all=True))

    assert queued == 5
    assert await queued_seqs(store, stream.id) == seqs
    assert await store.list_dead_letters(stream.id) == []


async def test_redrive_restores_purged_event(open_store: StoreOpener) -> None:
    clock = FakeClock(START)
    store = await open_store(clock)
    stream, [seq] = await stream_with_events(store, 1)
    [original] = await store.list_events(after_seq=seq - 1, limit=1)
    await kill(store, stream.id, [seq])
    await store.purge_expired_events("2024-02-01T00:00:00.0000000Z")
    assert await store.get_event(original.guid) is None

    queued = await store.redrive_dead_letters(stream.id, Selection(all=True))
    restored = await store.get_event(original.guid)
    [delivery] = await store.fetch_queued(stream.id, 10)

    assert queued == 1
    assert restored == original
    assert delivery.seq == seq
    assert delivery.line == original.line


async def test_redrive_already_queued(store: StoreUnderTest) -> None:
    stream, seqs = await stream_with_events(store, 2)
    await kill(store, stream.id, seqs)
    await store.replay(
        stream.id, "2000-01-01T00:00:00.0000000Z", "2100-01-01T00:00:00.0000000Z", _is_test_type
    )

    queued = await store.redrive_dead_letters(stream.id, Selection(all=True))

    assert queued == 0
    assert await queued_seqs(store, stream.id) == seqs
    assert await store.list_dead_letters(stream.id) == []


async def test_redrive_empty_selection(store: StoreUnderTest) -> None:
    stream, _ = await stream_with_events(store, 1)

    with pytest.raises(ValidationError, match="all"):
        await store.redrive_dead_letters(stream.id, Selection())


async def test_redrive_mixed_selection(store: StoreUnderTest) -> None:
    stream, _ = await stream_with_events(store, 1)

    with pytest.raises(ValidationError) as caught:
        await store.redrive_dead_letters(stream.id, Selection(ids=(1,), all=True))

    assert [error.field for error in caught.value.fields] == ["all"]


async def test_delete_dead_letters_by_ids(store: StoreUnderTest) -> None:
    stream, seqs = await stream_with_events(store, 3, domain_id="d1")
    other, other_seqs = await stream_with_events(store, 1, domain_id="d2")
    await kill(store, stream.id, seqs)
    await kill(store, other.id, other_seqs)
    letters = await store.list_dead_letters(stream.id)
    [other_letter] = await store.list_dead_letters(other.id)

    selection = Selection(ids=(letters[0].id, letters[2].id, other_letter.id))
    deleted = await store.delete_dead_letters(stream.id, selection)

    assert deleted == 2
    assert await dead_seqs(store, stream.id) == [seqs[1]]
    assert await dead_seqs(store, other.id) == other_seqs
    assert await queued_seqs(store, stream.id) == []


async def test_delete_dead_letters_by_range(store: StoreUnderTest) -> None:
    await store.create_domain(Domain("d1", "First"))
    stream = await add_stream(store, "d1")
    times = [
        "2024-01-01T10:00:00.0000000Z",
        "2024-01-01T10:30:00.0000000Z",
        "2024-01-01T11:00:00.0000000Z",
    ]
    seqs = seqs_of(
        await store.append_events([make_event("d1", TEST_TYPE, time=time) for time in times])
    )
    await kill(store, stream.id, seqs)

    selection = Selection(from_time=times[0], to_time=times[2])
    deleted = await store.delete_dead_letters(stream.id, selection)

    assert deleted == 2
    assert await dead_seqs(store, stream.id) == [seqs[2]]


async def test_delete_dead_letters_all_in_chunks(store: StoreUnderTest) -> None:
    if hasattr(store, "dead_letter_chunk_rows"):
        store.dead_letter_chunk_rows = 2
    stream, seqs = await stream_with_events(store, 5)
    await kill(store, stream.id, seqs)

    deleted = await store.delete_dead_letters(stream.id, Selection(all=True))

    assert deleted == 5
    assert await store.list_dead_letters(stream.id) == []
    assert (await store.stream_status(stream.id)).dead_letters == 0


async def test_delete_dead_letters_empty_selection(store: StoreUnderTest) -> None:
    stream, _ = await stream_with_events(store, 1)

    with pytest.raises(ValidationError):
        await store.delete_dead_letters(stream.id, Selection())


# Replay -------------------------------------------------------------------------------


async def test_replay_range_bounds(store: StoreUnderTest) -> None:
    await store.create_domain(Domain("d1", "First"))
    times = [
        "2024-01-01T09:59:59.9999999Z",
        "2024-01-01T10:00:00.0000000Z",
        "2024-01-01T10:59:59.9999999Z",
        "2024-01-01T11:00:00.0000000Z",
    ]
    seqs = seqs_of(
        await store.append_events([make_event("d1", TEST_TYPE, time=time) for time in times])
    )
    # Created after the events, so nothing is queued before the replay.
    stream = await add_stream(store, "d1")

    queued = await store.replay(stream.id, times[1], times[3], bool)

    assert queued == 2
    assert await queued_seqs(store, stream.id) == seqs[1:3]


async def test_replay_descendant_domains(store: StoreUnderTest) -> None:
    await make_tree(store)
    events = {
        domain_id: make_event(domain_id, TEST_TYPE, time="2024-01-01T10:00:00.0000000Z")
        for domain_id in ["root", "child", "grandchild", "sibling"]
    }
    outcomes = await store.append_events(list(events.values()))
    seq_of = dict(zip(events, seqs_of(outcomes), strict=True))
    stream = await add_stream(store, "child")

    queued = await store.replay(
        stream.id, "2024-01-01T00:00:00.0000000Z", "2024-01-02T00:00:00.0000000Z", bool
    )

    assert queued == 2
    assert await queued_seqs(store, stream.id) == [seq_of["child"], seq_of["grandchild"]]


async def test_replay_filters_types(store: StoreUnderTest) -> None:
    await store.create_domain(Domain("d1", "First"))
    time = "2024-01-01T10:00:00.0000000Z"
    seqs = seqs_of(
        await store.append_events(
            [
                make_event("d1", "EnrollmentEntityCreated", time=time),
                make_event("d1", TEST_TYPE, time=time),
                make_event("d1", "EnrollmentEntityCreated", time=time),
            ]
        )
    )
    stream = await add_stream(store, "d1")

    queued = await store.replay(
        stream.id, time, "2024-01-02T00:00:00.0000000Z", lambda t: t == "EnrollmentEntityCreated"
    )

    assert queued == 2
    assert await queued_seqs(store, stream.id) == [seqs[0], seqs[2]]


async def test_replay_skips_queued(store: StoreUnderTest) -> None:
    stream, seqs = await stream_with_events(store, 3)
    await store.record_outcome(outcome(stream.id, delivered=[seqs[0]]))

    queued = await store.replay(
        stream.id, "2000-01-01T00:00:00.0000000Z", "2100-01-01T00:00:00.0000000Z", _is_test_type
    )

    assert queued == 1
    assert await queued_seqs(store, stream.id) == seqs


async def test_replay_in_chunks(store: StoreUnderTest) -> None:
    if hasattr(store, "replay_chunk_rows"):
        store.replay_chunk_rows = 3
    await store.create_domain(Domain("d1", "First"))
    seqs = seqs_of(await store.append_events([make_event("d1", TEST_TYPE) for _ in range(10)]))
    stream = await add_stream(store, "d1")

    queued = await store.replay(
        stream.id, "2000-01-01T00:00:00.0000000Z", "2100-01-01T00:00:00.0000000Z", _is_test_type
    )

    assert queued == 10
    assert await queued_seqs(store, stream.id) == seqs


async def test_replay_nothing_in_range(store: StoreUnderTest) -> None:
    await store.create_domain(Domain("d1", "First"))
    await store.append_events([make_event("d1", TEST_TYPE, time="2024-01-01T10:00:00.0000000Z")])
    stream = await add_stream(store, "d1")

    queued = await store.replay(
        stream.id, "2000-01-01T00:00:00.0000000Z", "2001-01-01T00:00:00.0000000Z", bool
    )

    assert queued == 0


async def test_replay_unknown_stream(store: StoreUnderTest) -> None:
    with pytest.raises(NotFound, match="nope"):
        await store.replay(
            "nope", "2000-01-01T00:00:00.0000000Z", "2100-01-01T00:00:00.0000000Z", bool
        )


def _is_test_type(event_type: str) -> bool:
    return event_type == TEST_TYPE


# Append listeners ---------------------------------------------------------------------


async def test_listener_after_append(store: StoreUnderTest) -> None:
    first, _ = await stream_with_events(store, 0, domain_id="d1")
    second, _ = await stream_with_events(store, 0, domain_id="d2")
    listener = ListenerCalls()
    store.add_append_listener(listener)

    await store.append_events([make_event("d1", TEST_TYPE), make_event("d1", TEST_TYPE)])
    await store.append_events([make_event("d1", TEST_TYPE), make_event("d2", TEST_TYPE)])

    assert listener.calls == [{first.id}, {first.id, second.id}]


async def test_listener_not_called_without_deliveries(store: StoreUnderTest) -> None:
    await stream_with_events(store, 0, domain_id="d1")
    listener = ListenerCalls()
    store.add_append_listener(listener)

    await store.append_events([make_event("unrouted", TEST_TYPE)])
    await store.append_events([make_event("d1", "EnrollmentEntityCreated")])
    await store.create_domain(Domain("d2", "Second"))

    assert listener.calls == []


async def test_listener_after_stream_creation(store: StoreUnderTest) -> None:
    await store.create_domain(Domain("d1", "First"))
    listener = ListenerCalls()
    store.add_append_listener(listener)

    # Without filters the stream takes every event, including its own creation event.
    stream = await store.create_stream(make_stream("d1", "all events"), audit("d1"))

    assert listener.calls == [{stream.id}]


async def test_listener_after_replay(store: StoreUnderTest) -> None:
    await store.create_domain(Domain("d1", "First"))
    await store.append_events([make_event("d1", TEST_TYPE)])
    stream = await add_stream(store, "d1")
    listener = ListenerCalls()
    store.add_append_listener(listener)

    await store.replay(
        stream.id, "2000-01-01T00:00:00.0000000Z", "2100-01-01T00:00:00.0000000Z", bool
    )
    await store.replay(
        stream.id, "2000-01-01T00:00:00.0000000Z", "2100-01-01T00:00:00.0000000Z", bool
    )

    # The second replay finds everything queued already.
    assert listener.calls == [{stream.id}]


async def test_listener_after_redrive(store: StoreUnderTest) -> None:
    stream, seqs = await stream_with_events(store, 2)
    await kill(store, stream.id, seqs)
    listener = ListenerCalls()
    store.add_append_listener(listener)

    await store.redrive_dead_letters(stream.id, Selection(all=True))
    await store.redrive_dead_letters(stream.id, Selection(all=True))

    assert listener.calls == [{stream.id}]


async def test_listener_not_called_on_failure(store: StoreUnderTest) -> None:
    await stream_with_events(store, 0, domain_id="d1")
    listener = ListenerCalls()
    store.add_append_listener(listener)
    # orjson cannot encode a set, so the append fails and its transaction rolls back.
    bad = make_event("d1", TEST_TYPE, data={"unencodable": {1, 2}})

    with pytest.raises(StoreError):
        await store.append_events([bad])

    assert listener.calls == []


async def test_listener_error_logged(
    store: StoreUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    stream, _ = await stream_with_events(store, 0)
    caplog.set_level(logging.ERROR)
    after_failure = ListenerCalls()

    def failing(stream_ids: set[str]) -> None:
        raise RuntimeError("listener broke")

    store.add_append_listener(failing)
    store.add_append_listener(after_failure)

    first = await store.append_events([make_event("d1", TEST_TYPE)])
    second = await store.append_events([make_event("d1", TEST_TYPE)])

    actions = [getattr(record, "action", None) for record in caplog.records]
    assert actions.count("append_listener_failed") == 2
    assert after_failure.calls == [{stream.id}, {stream.id}]
    assert first[0].status == "accepted"
    assert second[0].status == "accepted"


async def test_listener_concurrent_appends(store: StoreUnderTest) -> None:
    stream, _ = await stream_with_events(store, 0)
    listener = ListenerCalls()
    store.add_append_listener(listener)

    await asyncio.gather(*(store.append_events([make_event("d1", TEST_TYPE)]) for _ in range(20)))

    # Group commit may join the appends, so the number of calls varies. Each names the stream.
    assert 1 <= len(listener.calls) <= 20
    assert all(call == {stream.id} for call in listener.calls)


async def test_writer_rollback_forgets_queued(tmp_path: Path) -> None:
    appender = EventAppender(QUERIES, now_time)
    announced: list[set[str]] = []
    writer = Writer(
        partial(connect, str(tmp_path / "writer.db")), appender, on_queued=announced.append
    )
    await writer.start()

    def note_then_fail(connection: sqlite3.Connection) -> None:
        appender.note_queued(["st-rolled-back"])
        raise Conflict("rolled back on purpose")

    try:
        with pytest.raises(Conflict):
            await writer.run(note_then_fail)
        await writer.run(lambda connection: None)
        await writer.run(lambda connection: appender.note_queued(["st-committed"]))
    finally:
        await writer.close()

    assert announced == [{"st-committed"}]


# Stream deletion ----------------------------------------------------------------------


async def test_stream_delete_cascades_delivery_rows(store: StoreUnderTest) -> None:
    stream, seqs = await stream_with_events(store, 3)
    await store.record_outcome(
        outcome(
            stream.id,
            delivered=[seqs[0]],
            retry=[seqs[1]],
            retry_error="HTTP 503",
            dead={seqs[2]: "HTTP 422"},
            attempts=[attempt("one")],
        )
    )

    await store.delete_stream("d1", stream.id, audit("d1", "DataStreamConfigurationDeleted"))
    status = await store.stream_status(stream.id)

    assert await store.fetch_queued(stream.id, 10) == []
    assert await store.list_dead_letters(stream.id) == []
    assert await store.list_attempts(stream.id, 10) == []
    assert await store.minute_stats(stream.id, START) == []
    assert status.state == "idle"
    assert status.delivered == 0
    assert status.last_error is None
    path = getattr(store, "path", None)
    if isinstance(path, str):
        assert _sqlite_rows_of_stream(path, stream.id) == {
            "deliveries": 0,
            "dead_letters": 0,
            "delivery_attempts": 0,
            "stream_minute_stats": 0,
            "stream_status": 0,
        }


def _sqlite_rows_of_stream(path: str, stream_id: str) -> dict[str, int]:
    tables = [
        "deliveries",
        "dead_letters",
        "delivery_attempts",
        "stream_minute_stats",
        "stream_status",
    ]
    counts: dict[str, int] = {}
    with sqlite3.connect(path) as connection:
        for table in tables:
            query = f"SELECT count(*) FROM {table} WHERE stream_id = ?"
            counts[table] = connection.execute(query, (stream_id,)).fetchone()[0]
    return counts


async def test_purge_dead_letters_by_age(store: StoreUnderTest) -> None:
    stream, [old, recent] = await stream_with_events(store, 2)
    await kill(store, stream.id, [old], at="2024-01-01T00:00:00.0000000Z")
    await kill(store, stream.id, [recent], at="2024-03-01T00:00:00.0000000Z")

    deleted = await store.purge_dead_letters("2024-02-01T00:00:00.0000000Z")

    assert deleted == 1
    assert await dead_seqs(store, stream.id) == [recent]
