"""The dispatcher's round logic, on an in-memory queue and a scripted sink."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from datastreams.delivery.dispatcher import Dispatcher, DispatchSettings
from datastreams.events.catalogue import load_catalogue
from datastreams.events.timefmt import format_time, now_time
from datastreams.filters import FilterSpec, compile_filters
from datastreams.sinks.base import OutboundRecord, ProbeStep, SendResult, SinkLimits
from datastreams.sinks.errors import ConfigurationDeliveryError, RetryableDeliveryError
from datastreams.store.records import DeliveryOutcome, QueuedDelivery


def queued(seq: int, domain_id: str = "d1", event_type: str = "ItemActivity") -> QueuedDelivery:
    line = (
        f'{{"time":"2024-01-01T00:00:00.0000000Z","guid":"g{seq}","domainId":"{domain_id}",'
        f'"type":"{event_type}","data":{{"n":{seq}}}}}'
    ).encode()
    return QueuedDelivery(
        seq=seq,
        guid=f"g{seq}",
        domain_id=domain_id,
        type=event_type,
        time="2024-01-01T00:00:00.0000000Z",
        line=line,
        queued_at=now_time(),
    )


@dataclass
class MemoryQueue:
    """The part of ``DeliveryStore`` a dispatcher uses, kept in a list."""

    queue: list[QueuedDelivery]
    outcomes: list[DeliveryOutcome] = field(default_factory=list)
    states: list[str] = field(default_factory=list)

    async def fetch_queued(
        self, stream_id: str, limit: int, after_seq: int = 0
    ) -> list[QueuedDelivery]:
        return [item for item in self.queue if item.seq > after_seq][:limit]

    async def record_outcome(self, outcome: DeliveryOutcome) -> None:
        self.outcomes.append(outcome)
        done = set(outcome.delivered) | set(outcome.dead) | set(outcome.skipped)
        self.queue = [item for item in self.queue if item.seq not in done]

    async def set_stream_state(self, stream_id: str, state: str, error: str | None) -> None:
        self.states.append(state)


class ScriptedSink:
    """Accepts every batch, except that it fails the calls listed in ``failures``."""

    def __init__(self, batch: int = 1, failures: Sequence[Exception | None] = ()) -> None:
        self.limits = SinkLimits(batch, 1_000_000, 1_000_000)
        self.failures = list(failures)
        self.batches: list[list[int]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.delay_s = 0.0

    async def send(self, records: Sequence[OutboundRecord]) -> SendResult:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        await asyncio.sleep(self.delay_s)
        self.in_flight -= 1
        self.batches.append([record.seq for record in records])

        failure = self.failures.pop(0) if self.failures else None
        if failure is None:
            return SendResult(delivered=[record.seq for record in records])
        return SendResult(retry=[record.seq for record in records], error=failure)  # type: ignore[arg-type]

    async def probe(self, record: OutboundRecord) -> tuple[bool, list[ProbeStep]]:
        return True, []

    async def close(self) -> None:
        return None


def make_dispatcher(store: MemoryQueue, sink: ScriptedSink, **settings: object) -> Dispatcher:
    values: dict[str, object] = {
        "stream_id": "s1",
        "version": 1,
        "filters": compile_filters([]),
        "backoff_max_s": 0.01,
    }
    values.update(settings)
    return Dispatcher(DispatchSettings(**values), sink, store, load_catalogue())  # type: ignore[arg-type]


async def run_until_empty(dispatcher: Dispatcher, store: MemoryQueue) -> None:
    task = asyncio.create_task(dispatcher.run())
    for _ in range(500):
        if not store.queue:
            break
        await asyncio.sleep(0.01)
    dispatcher.request_stop()
    await asyncio.wait_for(task, 5)


async def test_sends_in_log_order() -> None:
    store = MemoryQueue([queued(n) for n in range(1, 6)])
    sink = ScriptedSink(batch=2)

    await run_until_empty(make_dispatcher(store, sink), store)

    assert sink.batches == [[1, 2], [3, 4], [5]]
    assert store.queue == []


async def test_retry_resends_same_records_first() -> None:
    store = MemoryQueue([queued(n) for n in range(1, 4)])
    sink = ScriptedSink(batch=2, failures=[RetryableDeliveryError("HTTP 503")])

    await run_until_empty(make_dispatcher(store, sink), store)

    assert sink.batches == [[1, 2], [1, 2], [3]]
    assert store.outcomes[0].state == "backingOff"
    assert store.outcomes[0].retry == [1, 2]


async def test_configuration_error_marks_failing() -> None:
    store = MemoryQueue([queued(1)])
    sink = ScriptedSink(failures=[ConfigurationDeliveryError("HTTP 401")])

    await run_until_empty(make_dispatcher(store, sink), store)

    assert store.outcomes[0].state == "failing"
    assert store.outcomes[0].retry_error == "HTTP 401"
    assert store.outcomes[-1].delivered == [1]


async def test_expired_delivery_becomes_dead() -> None:
    old = queued(1)
    old.queued_at = format_time_hours_ago(48)
    old.last_error = "HTTP 503"
    store = MemoryQueue([old, queued(2)])
    sink = ScriptedSink()

    await run_until_empty(make_dispatcher(store, sink, retry_window_s=3600), store)

    assert list(store.outcomes[0].dead) == [1]
    assert "HTTP 503" in store.outcomes[0].dead[1]
    assert sink.batches == [[2]]


async def test_unmatched_type_skipped() -> None:
    store = MemoryQueue([queued(1, event_type="GradeChanged"), queued(2)])
    sink = ScriptedSink()
    filters = compile_filters([FilterSpec("ItemActivity", ())])

    await run_until_empty(make_dispatcher(store, sink, filters=filters), store)

    assert store.outcomes[0].skipped == [1]
    assert sink.batches == [[2]]


async def test_lanes_keep_domain_order() -> None:
    domains = ["a", "b", "c", "d"]
    store = MemoryQueue([queued(n, domain_id=domains[n % 4]) for n in range(1, 41)])
    sink = ScriptedSink(batch=1)
    sink.delay_s = 0.002

    await run_until_empty(make_dispatcher(store, sink, max_in_flight=4), store)

    order = [batch[0] for batch in sink.batches]
    for domain in domains:
        seqs = [seq for seq in order if domains[seq % 4] == domain]
        assert seqs == sorted(seqs)
    assert sink.max_in_flight > 1


def format_time_hours_ago(hours: float) -> str:
    return format_time(datetime.now(UTC) - timedelta(hours=hours))
