"""The dispatcher's reader, lanes and outcome writer, on an in-memory queue and fake sinks."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from datastreams.delivery.dispatcher import (
    MAX_UNWRITTEN,
    MIN_FETCH,
    Dispatcher,
    DispatchSettings,
)
from datastreams.delivery.lanes import LaneBounds, Lanes
from datastreams.delivery.outcome_writer import DeliveryResults, OutcomeWriter
from datastreams.events.catalogue import load_catalogue
from datastreams.events.timefmt import format_time, now_time
from datastreams.filters import FilterSpec, compile_filters
from datastreams.metrics import Metrics
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
    # Store failures to raise from the next calls, and an event that every write waits for.
    fetch_failures: int = 0
    write_failures: int = 0
    write_gate: asyncio.Event | None = None

    async def fetch_queued(
        self, stream_id: str, limit: int, after_seq: int = 0
    ) -> list[QueuedDelivery]:
        if self.fetch_failures:
            self.fetch_failures -= 1
            raise OSError("database is locked")
        return [item for item in self.queue if item.seq > after_seq][:limit]

    async def record_outcome(self, outcome: DeliveryOutcome) -> None:
        if self.write_gate is not None:
            await self.write_gate.wait()
        if self.write_failures:
            self.write_failures -= 1
            raise OSError("disk I/O error")
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


class ObservedSink:
    """Logs when each send starts and ends, and notes sends of one domain that overlap.

    Sends that carry a domain of ``held_domains`` wait for ``release``; the others take
    ``delay_s(records)``. A seq in ``fail_once`` fails its batch (retryable) the first
    time it is sent.
    """

    def __init__(
        self,
        batch: int = 1,
        *,
        held_domains: Sequence[str] = (),
        delay_s: Callable[[Sequence[OutboundRecord]], float] = lambda records: 0.0,
        fail_once: Sequence[int] = (),
    ) -> None:
        self.limits = SinkLimits(batch, 1_000_000, 1_000_000)
        self.held_domains = set(held_domains)
        self.release = asyncio.Event()
        self.delay_s = delay_s
        self.fail_once = set(fail_once)
        self.log: list[tuple[str, tuple[int, ...]]] = []
        self.delivered: list[int] = []
        self.overlapping: list[str] = []
        self.max_in_flight = 0
        self._busy: Counter[str] = Counter()
        self._in_flight = 0

    @property
    def started(self) -> list[tuple[int, ...]]:
        return [seqs for event, seqs in self.log if event == "start"]

    async def send(self, records: Sequence[OutboundRecord]) -> SendResult:
        seqs = tuple(record.seq for record in records)
        domains = {record.domain_id for record in records}
        self.overlapping.extend(domain for domain in domains if self._busy[domain])
        self._busy.update(domains)
        self._in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight)
        self.log.append(("start", seqs))
        try:
            if domains & self.held_domains:
                await self.release.wait()
            else:
                await asyncio.sleep(self.delay_s(records))
        finally:
            self._busy.subtract(domains)
            self._in_flight -= 1
        self.log.append(("end", seqs))

        failing = self.fail_once.intersection(seqs)
        if failing:
            self.fail_once -= failing
            return SendResult(retry=list(seqs), error=RetryableDeliveryError("HTTP 503"))
        self.delivered.extend(seqs)
        return SendResult(delivered=list(seqs))

    async def probe(self, record: OutboundRecord) -> tuple[bool, list[ProbeStep]]:
        return True, []

    async def close(self) -> None:
        return None


async def wait_until(condition: Callable[[], bool], timeout_s: float = 3.0) -> None:
    for _ in range(int(timeout_s / 0.005)):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the condition did not come true in time")


def queued_seqs(store: MemoryQueue) -> list[int]:
    return [item.seq for item in store.queue]


async def test_slow_lane_not_blocking_others() -> None:
    store = MemoryQueue([queued(1, domain_id="slow"), queued(2, domain_id="fast")])
    sink = ObservedSink(held_domains=["slow"])
    dispatcher = make_dispatcher(store, sink, max_in_flight=2)
    task = asyncio.create_task(dispatcher.run())

    await wait_until(lambda: queued_seqs(store) == [1])
    store.queue.extend(queued(seq, domain_id="fast") for seq in (3, 4, 5))
    dispatcher.wake()
    # Queued after the slow send began, delivered and written while it is in flight.
    await wait_until(lambda: queued_seqs(store) == [1])

    assert sink.delivered == [2, 3, 4, 5]
    assert sink.log[0] == ("start", (1,))
    assert ("end", (1,)) not in sink.log
    sink.release.set()
    await wait_until(lambda: not store.queue)
    dispatcher.request_stop()
    await asyncio.wait_for(task, 5)


async def test_domain_order_holds_under_concurrency() -> None:
    rng = random.Random(7)
    domains = [f"d{n}" for n in range(6)]
    store = MemoryQueue([queued(seq, domain_id=rng.choice(domains)) for seq in range(1, 301)])
    domain_of = {item.seq: item.domain_id for item in store.queue}
    sink = ObservedSink(batch=3, delay_s=lambda records: rng.uniform(0.0, 0.004))

    await run_until_empty(make_dispatcher(store, sink, max_in_flight=4), store)

    assert sink.overlapping == []
    assert sink.max_in_flight > 1
    assert sorted(sink.delivered) == list(range(1, 301))
    for domain in domains:
        sent = [seq for seq in sink.delivered if domain_of[seq] == domain]
        assert sent == sorted(sent)


async def test_retry_halts_lanes_and_restarts() -> None:
    domains = ["a", "b", "c"]
    store = MemoryQueue([queued(seq, domain_id=domains[seq % 3]) for seq in range(1, 31)])
    domain_of = {item.seq: item.domain_id for item in store.queue}
    # Domain b fails fast at seq 4 while the sends of a and c are still in flight.
    sink = ObservedSink(
        delay_s=lambda records: 0.0 if records[0].domain_id == "b" else 0.02, fail_once=[4]
    )
    dispatcher = make_dispatcher(store, sink, max_in_flight=3)

    await run_until_empty(dispatcher, store)

    failed_at = sink.log.index(("end", (4,)))
    before, after = sink.log[: failed_at + 1], sink.log[failed_at + 1 :]
    in_flight = {seqs for event, seqs in before if event == "start"} - {
        seqs for event, seqs in before if event == "end"
    }
    assert in_flight, "another lane had a send in flight when seq 4 failed"
    first_start = next(n for n, (event, _) in enumerate(after) if event == "start")
    # Lanes finished the requests in flight and sent nothing more ...
    assert {seqs for event, seqs in after[:first_start]} == in_flight
    # ... and the stream went on from the queue's start, which seq 4 now heads.
    assert after[first_start] == ("start", (4,))

    assert sorted(sink.delivered) == list(range(1, 31))
    assert len(sink.delivered) == 30
    for domain in domains:
        sent = [seq for seq in sink.delivered if domain_of[seq] == domain]
        assert sent == sorted(sent)
    retried = [outcome for outcome in store.outcomes if outcome.retry]
    assert [outcome.retry for outcome in retried] == [[4]]
    failed_write = store.outcomes.index(retried[0])
    assert {outcome.state for outcome in store.outcomes[failed_write:]} >= {"backingOff"}
    assert store.outcomes[-1].state == "delivering"


async def test_stop_lets_requests_in_flight_finish() -> None:
    store = MemoryQueue(
        [queued(1, domain_id="a"), queued(2, domain_id="b"), queued(3, domain_id="a")]
    )
    sink = ObservedSink(held_domains=["a", "b"])
    dispatcher = make_dispatcher(store, sink, max_in_flight=2)
    task = asyncio.create_task(dispatcher.run())
    await wait_until(lambda: len(sink.started) == 2)

    dispatcher.request_stop()
    await asyncio.sleep(0.02)
    assert not task.done()
    sink.release.set()
    await asyncio.wait_for(task, 5)

    assert sorted(sink.started) == [(1,), (2,)]
    assert queued_seqs(store) == [3]
    assert sorted(seq for outcome in store.outcomes for seq in outcome.delivered) == [1, 2]
    assert all(not outcome.retry for outcome in store.outcomes)


async def test_one_lane_sends_during_writes() -> None:
    store = MemoryQueue([queued(seq) for seq in range(1, 501)], write_gate=asyncio.Event())
    sink = ScriptedSink(batch=100)
    dispatcher = make_dispatcher(store, sink)
    task = asyncio.create_task(dispatcher.run())

    # Every batch goes out while the first outcome is still being written.
    await wait_until(lambda: len(sink.batches) == 5)
    assert store.outcomes == []
    assert store.write_gate is not None
    store.write_gate.set()
    await wait_until(lambda: not store.queue)
    dispatcher.request_stop()
    await asyncio.wait_for(task, 5)

    assert [seq for batch in sink.batches for seq in batch] == list(range(1, 501))
    assert sum(len(outcome.delivered) for outcome in store.outcomes) == 500


async def test_stuck_store_stops_sends() -> None:
    count = MAX_UNWRITTEN + 10 * MIN_FETCH
    store = MemoryQueue([queued(seq) for seq in range(1, count + 1)], write_gate=asyncio.Event())
    sink = ScriptedSink()
    dispatcher = make_dispatcher(store, sink)
    task = asyncio.create_task(dispatcher.run())

    await wait_until(lambda: len(sink.batches) >= MAX_UNWRITTEN)
    await asyncio.sleep(0.05)
    assert len(sink.batches) <= MAX_UNWRITTEN + 2 * MIN_FETCH
    assert store.write_gate is not None
    store.write_gate.set()
    await wait_until(lambda: not store.queue)
    dispatcher.request_stop()
    await asyncio.wait_for(task, 5)

    assert len(sink.batches) == count


@pytest.mark.parametrize("failure", ["fetch", "write"])
async def test_store_failure_restarts_from_start(
    failure: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = MemoryQueue([queued(seq, domain_id=f"d{seq % 4}") for seq in range(1, 21)])
    if failure == "fetch":
        store.fetch_failures = 1
    else:
        store.write_failures = 1
    sink = ObservedSink()

    with caplog.at_level(logging.WARNING, logger="datastreams.delivery.dispatcher"):
        await run_until_empty(make_dispatcher(store, sink, max_in_flight=2), store)

    actions = [getattr(entry, "action", None) for entry in caplog.records]
    assert "dispatcher_round_failed" in actions
    # Nothing is lost; what was sent before a failed write is sent again.
    assert set(sink.delivered) == set(range(1, 21))


async def test_dead_letters_logged_at_error(caplog: pytest.LogCaptureFixture) -> None:
    old = queued(1)
    old.queued_at = format_time_hours_ago(48)
    store = MemoryQueue([old])

    with caplog.at_level(logging.ERROR, logger="datastreams.delivery.dispatcher"):
        await run_until_empty(make_dispatcher(store, ScriptedSink(), retry_window_s=3600), store)

    assert [getattr(entry, "action", None) for entry in caplog.records] == ["event_dead_lettered"]


async def test_metrics_count_deliveries_and_latencies() -> None:
    store = MemoryQueue([queued(seq, domain_id=f"d{seq % 2}") for seq in range(1, 6)])
    metrics = Metrics()
    dispatcher = Dispatcher(
        DispatchSettings(stream_id="s1", version=1, filters=compile_filters([]), max_in_flight=2),
        ScriptedSink(),  # type: ignore[arg-type]
        store,  # type: ignore[arg-type]
        load_catalogue(),
        metrics=metrics,
    )

    await run_until_empty(dispatcher, store)

    registry = metrics.registry
    labels = {"stream_id": "s1"}
    delivered = registry.get_sample_value(
        "datastreams_deliveries_total", {**labels, "outcome": "delivered"}
    )
    latencies = registry.get_sample_value("datastreams_delivery_latency_seconds_count", labels)
    assert delivered == 5
    assert latencies == 5


# The outcome writer ------------------------------------------------------------------


def outcome_of(results: DeliveryResults) -> DeliveryOutcome:
    return DeliveryOutcome(
        stream_id="s1",
        at="2024-01-01T00:00:00.0000000Z",
        state="delivering",
        delivered=results.delivered,
        dead=results.dead,
    )


async def test_outcome_writer_merges_waiting_results() -> None:
    gate = asyncio.Event()
    written: list[DeliveryOutcome] = []
    done: list[DeliveryResults] = []

    async def record_outcome(outcome: DeliveryOutcome) -> None:
        await gate.wait()
        written.append(outcome)

    writer = OutcomeWriter(record_outcome, outcome_of, done.append)
    task = asyncio.create_task(writer.run())
    writer.submit(DeliveryResults(seqs=[1], delivered=[1]))
    await wait_until(lambda: writer.write_in_flight is not None)
    writer.submit(DeliveryResults(seqs=[2], delivered=[2]))
    writer.submit(DeliveryResults(seqs=[3], dead={3: "HTTP 400"}))
    gate.set()
    writer.close()
    await asyncio.wait_for(task, 5)

    assert [outcome.delivered for outcome in written] == [[1], [2]]
    assert written[1].dead == {3: "HTTP 400"}
    assert [results.seqs for results in done] == [[1], [2, 3]]


async def test_outcome_writer_shields_write() -> None:
    gate = asyncio.Event()
    written: list[DeliveryOutcome] = []

    async def record_outcome(outcome: DeliveryOutcome) -> None:
        await gate.wait()
        written.append(outcome)

    writer = OutcomeWriter(record_outcome, outcome_of, lambda results: None)
    task = asyncio.create_task(writer.run())
    writer.submit(DeliveryResults(seqs=[1], delivered=[1]))
    await wait_until(lambda: writer.write_in_flight is not None)
    write = writer.write_in_flight
    assert write is not None

    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    gate.set()
    await asyncio.wait_for(write, 5)

    assert [outcome.delivered for outcome in written] == [[1]]


# Lanes -------------------------------------------------------------------------------


def record(seq: int, domain_id: str) -> OutboundRecord:
    return OutboundRecord(seq=seq, guid=f"g{seq}", domain_id=domain_id, payload=b"{}")


async def test_domain_stays_in_busy_lane() -> None:
    limits = SinkLimits(1, 1_000_000, 1_000_000)
    lanes = Lanes(2, LaneBounds(10, 1_000_000))
    first, second = lanes.lanes

    await lanes.put(record(1, "a"))
    await lanes.put(record(2, "b"))
    await lanes.put(record(3, "a"))
    assert [r.seq for r in await first.take(limits)] == [1]
    assert [r.seq for r in await second.take(limits)] == [2]
    lanes.answered(first, [record(1, "a")])
    lanes.answered(second, [record(2, "b")])
    # Seq 3 of domain a still waits in the first lane, so seq 4 follows it there,
    # although the second lane has less work.
    await lanes.put(record(4, "a"))
    assert (first.load, second.load) == (2, 0)
    assert [r.seq for r in await first.take(limits)] == [3]
    assert [r.seq for r in await first.take(limits)] == [4]
    lanes.answered(first, [record(3, "a")])
    lanes.answered(first, [record(4, "a")])

    # Domain c goes to the first of the lanes with the least work, and stays there.
    await lanes.put(record(5, "c"))
    await lanes.put(record(6, "c"))
    await lanes.put(record(7, "c"))
    assert (first.load, second.load) == (3, 0)
    # Domain a has nothing waiting or in flight: it leaves the first lane for the
    # lane with the least work.
    await lanes.put(record(8, "a"))
    assert (first.load, second.load) == (3, 1)


async def test_full_lane_blocks_reader() -> None:
    limits = SinkLimits(1, 1_000_000, 1_000_000)
    lanes = Lanes(1, LaneBounds(2, 1_000_000))
    (lane,) = lanes.lanes
    await lanes.put(record(1, "a"))
    await lanes.put(record(2, "a"))

    putting = asyncio.create_task(lanes.put(record(3, "a")))
    await asyncio.sleep(0.01)
    assert not putting.done()
    await lane.take(limits)
    assert await asyncio.wait_for(putting, 1)

    lanes.close()
    assert await lanes.put(record(4, "a")) is False
    assert await lane.take(limits) == []
