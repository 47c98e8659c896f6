"""The dispatcher of one stream: takes queued deliveries in log order and sends them.

While the stream delivers, its dispatcher runs three kinds of tasks at the same time:

- the reader fetches queued deliveries in log order, ahead of what is being sent. It
  turns expired ones into dead letters, builds the records (filters, overflow form)
  and hands each to the lane of its ``domainId`` (``delivery/lanes.py``), waiting
  while that lane is full;
- each lane takes what it holds, up to one batch, sends it, hands the result to the
  outcome writer and goes on with its next batch at once. A stream has
  ``maxInFlight`` lanes; AWS streams get a default (``delivery/sinks.py``);
- the outcome writer writes the results in the order they came, one store write at
  a time and shielded from cancellation (``delivery/outcome_writer.py``).

So a slow lane does not hold back the others, and no lane waits for the store.
Events of one domain keep their order: they pass through one lane, which sends one
batch at a time.

When a send must be retried, the stream stops taking new work. Lanes finish the
request they have in flight and send nothing more, and records not yet sent stay
queued untouched. Once every result is written, the stream backs off as a whole and
then reads its queue from the start again. So the records to retry go first, and a
down destination is not hammered. A stop ends the same way, without the back-off.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from datastreams.delivery.backoff import Backoff
from datastreams.delivery.lanes import Lane, Lanes, lane_bounds
from datastreams.delivery.outbound import build_record
from datastreams.delivery.outcome_writer import DeliveryResults, OutcomeWriter
from datastreams.delivery.repeats import RepeatedLog
from datastreams.events.catalogue import Catalogue
from datastreams.events.timefmt import epoch_seconds, format_time, now_time
from datastreams.filters import CompiledFilters
from datastreams.metrics import Metrics
from datastreams.sinks.base import OutboundRecord, SendResult, Sink
from datastreams.sinks.errors import ConfigurationDeliveryError, DeliveryError
from datastreams.store.base import DeliveryStore
from datastreams.store.records import AttemptRecord, DeliveryOutcome, QueuedDelivery

logger = logging.getLogger(__name__)

# How many deliveries one fetch reads at least, so one-event-per-request streams do
# not pay a database round trip per event, and at most, which bounds the memory of the
# rows fetched but not yet handed to a lane.
MIN_FETCH = 64
MAX_FETCH = 1000

# Beyond what the lanes hold, the reader fetches only while fewer deliveries than this
# wait for their outcome to be written. While the store is slow or stuck, this bounds
# the results kept in memory, and what a crash would send a second time.
MAX_UNWRITTEN = MAX_FETCH

# Without a wake-up, an idle dispatcher looks at its queue this often. The poll covers
# deliveries queued by another process, such as a replay from the command line.
IDLE_POLL_S = 1.0

# At the end of its queue the reader reads new deliveries past those still in flight,
# and reads the queue from its start once every outcome is written. Deliveries that a
# replay or redrive queues keep their place in the log, behind the reader, so while
# sends never pause it waits for that at least this often.
REREAD_INTERVAL_S = 1.0

STATE_IDLE = "idle"
STATE_DELIVERING = "delivering"
STATE_BACKING_OFF = "backingOff"
STATE_FAILING = "failing"
STATE_DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class DispatchSettings:
    """The parts of a stream's configuration that its dispatcher uses.

    ``max_in_flight`` is the number of lanes: how many calls the stream has in flight
    at most.
    """

    stream_id: str
    version: int
    filters: CompiledFilters
    retry_window_s: float = 86_400
    backoff_max_s: float = 300
    max_in_flight: int = 1
    partition_key: str = "domainId"


class _Pass:
    """One pass over a stream's queue: from its start until a retry, a stop or a failure."""

    def __init__(self, lanes: Lanes) -> None:
        self.lanes = lanes
        self.halted = False
        self.retrying = False
        # The first error that made the pass stop, which decides the stream's state.
        self.retry_error: DeliveryError | None = None
        # The longest ``Retry-After`` of the pass's failures.
        self.retry_after_s: float | None = None
        self.failure: Exception | None = None
        # Deliveries fetched whose outcome is not written yet.
        self.unwritten = 0
        # The last seq of the pass's first fetch, and how many of its deliveries are
        # not written yet. Once all are written without a retry, the back-off
        # sequence starts again, as it did after a round that needed no retry.
        self.first_fetch_end: int | None = None
        self.first_fetch_left = 0
        # Set on every write, halt and wake-up, for the reader waiting at the queue's end.
        self.changed = asyncio.Event()

    def halt(self) -> None:
        """Stop handing out records and sending them, while requests in flight finish."""
        if self.halted:
            return
        self.halted = True
        self.lanes.close()
        self.changed.set()


class Dispatcher:
    """Delivers one stream's queue through its sink until stopped."""

    def __init__(
        self,
        settings: DispatchSettings,
        sink: Sink,
        store: DeliveryStore,
        catalogue: Catalogue,
        *,
        now: Callable[[], str] = now_time,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.sink = sink
        # Unknown until the first fetch: an empty queue then stores "idle", which
        # replaces a "disabled" state left from before the stream was enabled.
        self.state = ""
        self._store = store
        self._catalogue = catalogue
        self._now = now
        self._metrics = metrics
        self._backoff = Backoff(settings.backoff_max_s)
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._repeats = RepeatedLog(logger)
        self._current: _Pass | None = None
        self._writer: OutcomeWriter | None = None

    def wake(self) -> None:
        """Tell the dispatcher that new deliveries are queued."""
        self._wake.set()
        if self._current is not None:
            self._current.changed.set()

    def request_stop(self) -> None:
        """Let the requests in flight finish and their outcome be written, then return from ``run``.

        Nothing more is sent, and a back-off wait ends at once.
        """
        self._stopping.set()
        self._wake.set()
        if self._current is not None:
            self._current.halt()

    async def run(self) -> None:
        stream_id = self.settings.stream_id
        logger.info(
            "dispatcher started for stream %s",
            stream_id,
            extra={"action": "dispatcher_started", "stream_id": stream_id},
        )
        try:
            while not self._stopping.is_set():
                try:
                    await self._deliver()
                except (asyncio.CancelledError, KeyboardInterrupt):
                    raise
                except Exception as exc:
                    # A store failure must not end delivery for good: wait and retry,
                    # reading the queue from its start again.
                    self._repeats.log(
                        logging.WARNING,
                        f"dispatcher round of stream {stream_id} failed: {exc!r}",
                        extra={"action": "dispatcher_round_failed", "stream_id": stream_id},
                    )
                    await self._back_off(None)
        finally:
            # A cancelled dispatcher may leave its shielded outcome write running.
            write = self._writer.write_in_flight if self._writer is not None else None
            if write is not None and not write.done():
                await asyncio.wait([write], timeout=10)
            await self.sink.close()
            logger.info(
                "dispatcher stopped for stream %s",
                stream_id,
                extra={"action": "dispatcher_stopped", "stream_id": stream_id},
            )

    # One pass ------------------------------------------------------------------------

    async def _deliver(self) -> None:
        """Deliver from the queue's start until a retry, a stop or a failure.

        Returns once every request in flight has finished and every result is
        written, after the back-off when a send must be retried.
        """
        lane_count = max(1, self.settings.max_in_flight)
        bounds = lane_bounds(self.sink.limits, lane_count)
        current = _Pass(Lanes(lane_count, bounds))
        writer = OutcomeWriter(
            self._store.record_outcome,
            partial(self._outcome, current),
            partial(self._on_written, current),
        )
        self._current, self._writer = current, writer
        if self._stopping.is_set():
            current.halt()

        writing = asyncio.create_task(self._guard(current, writer.run()))
        workers = [asyncio.create_task(self._guard(current, self._read(current, writer)))]
        workers += [
            asyncio.create_task(self._guard(current, self._send_lane(current, lane, writer)))
            for lane in current.lanes
        ]
        try:
            # The reader and the lanes return once the pass is halted; the writer
            # then writes what they left.
            await asyncio.gather(*workers)
            writer.close()
            await writing
        except BaseException:
            for task in (*workers, writing):
                task.cancel()
            await asyncio.gather(*workers, writing, return_exceptions=True)
            raise
        finally:
            self._current = None

        if current.failure is not None:
            raise current.failure
        if current.retrying:
            await self._back_off(current.retry_after_s)

    async def _guard(self, current: _Pass, work: Coroutine[Any, Any, None]) -> None:
        # A failure of one task (the store's, as a rule) ends the pass as a retry
        # does: requests in flight finish and what can be written is written.
        try:
            await work
        except Exception as exc:
            if current.failure is None:
                current.failure = exc
            current.halt()

    # The reader ----------------------------------------------------------------------

    async def _read(self, current: _Pass, writer: OutcomeWriter) -> None:
        stream_id = self.settings.stream_id
        cursor = 0
        reread_at = time.monotonic() + REREAD_INTERVAL_S

        while not current.halted:
            await self._wait_for_writes(current, writer)
            if current.halted:
                return
            # Cleared before the fetch, so an append that lands during the fetch
            # still wakes the reader instead of waiting for the next poll.
            self._wake.clear()
            deliveries = await self._store.fetch_queued(
                stream_id, self._fetch_limit(current), cursor
            )
            if current.halted:
                return

            if deliveries:
                cursor = deliveries[-1].seq
                await self._hand_out(current, writer, deliveries)
            elif cursor == 0:
                # The cursor is at the start only while every outcome is written, so
                # nothing is queued and nothing is in flight.
                await self._set_idle()
                await self._wait_for_work()
            else:
                await self._wait_past_end(current, writer, reread_at)
                if not current.unwritten:
                    cursor = 0
                    reread_at = time.monotonic() + REREAD_INTERVAL_S

    def _fetch_limit(self, current: _Pass) -> int:
        return min(MAX_FETCH, max(MIN_FETCH, self._lanes_capacity(current)))

    def _lanes_capacity(self, current: _Pass) -> int:
        lane_count = len(current.lanes.lanes)
        return lane_count * lane_bounds(self.sink.limits, lane_count).max_records

    async def _wait_for_writes(self, current: _Pass, writer: OutcomeWriter) -> None:
        max_unwritten = self._lanes_capacity(current) + MAX_UNWRITTEN
        while current.unwritten >= max_unwritten and not current.halted:
            writer.flush()
            current.changed.clear()
            await current.changed.wait()

    async def _hand_out(
        self, current: _Pass, writer: OutcomeWriter, deliveries: Sequence[QueuedDelivery]
    ) -> None:
        current.unwritten += len(deliveries)
        if current.first_fetch_end is None:
            current.first_fetch_end = deliveries[-1].seq
            current.first_fetch_left = len(deliveries)

        settled = DeliveryResults()
        live = self._expire(deliveries, settled)
        records = self._build_records(live, settled)
        if settled.seqs:
            writer.submit(settled)

        for record in records:
            if not await current.lanes.put(record):
                # Halted: the records not handed out stay queued untouched.
                return
        if current.lanes.idle:
            # Nothing was left to send (all expired or skipped).
            writer.flush()

    async def _wait_past_end(self, current: _Pass, writer: OutcomeWriter, reread_at: float) -> None:
        """Wait until every outcome is written or, before ``reread_at``, for a wake-up."""
        while current.unwritten and not current.halted:
            remaining = reread_at - time.monotonic()
            if remaining > 0 and self._wake.is_set():
                return
            if remaining <= 0:
                writer.flush()
            current.changed.clear()
            try:
                await asyncio.wait_for(
                    current.changed.wait(), timeout=remaining if remaining > 0 else None
                )
            except TimeoutError:
                pass

    def _expire(
        self, deliveries: Sequence[QueuedDelivery], settled: DeliveryResults
    ) -> list[QueuedDelivery]:
        window_s = self.settings.retry_window_s
        # Canonical times sort as text, so each delivery costs one string comparison.
        cutoff = format_time(datetime.fromtimestamp(time.time() - window_s, UTC))
        live: list[QueuedDelivery] = []

        for delivery in deliveries:
            if delivery.queued_at < cutoff:
                last = delivery.last_error or "none"
                settled.seqs.append(delivery.seq)
                settled.dead[delivery.seq] = (
                    f"retry window of {window_s:g} s exceeded after "
                    f"{delivery.attempts} attempts; last error: {last}"
                )
            else:
                live.append(delivery)
        return live

    def _build_records(
        self, deliveries: Sequence[QueuedDelivery], settled: DeliveryResults
    ) -> list[OutboundRecord]:
        records: list[OutboundRecord] = []

        for delivery in deliveries:
            if not self.settings.filters.matches(delivery.type):
                # Queued before the filters changed: the stream no longer takes this type.
                settled.seqs.append(delivery.seq)
                settled.skipped.append(delivery.seq)
                continue
            try:
                record = build_record(
                    delivery,
                    self.settings.filters,
                    self._catalogue,
                    self.sink.limits.max_record_bytes,
                    self.settings.partition_key,
                )
            except (ValueError, TypeError) as exc:
                # A stored line always parses; this guards against a corrupted row.
                settled.seqs.append(delivery.seq)
                settled.dead[delivery.seq] = f"stored event could not be encoded: {exc}"
                continue
            records.append(record)
        return records

    # The lanes -----------------------------------------------------------------------

    async def _send_lane(self, current: _Pass, lane: Lane, writer: OutcomeWriter) -> None:
        while True:
            batch = await lane.take(self.sink.limits)
            if not batch:
                return
            sent = await self.sink.send(batch)
            writer.submit(self._batch_results(batch, sent))

            if sent.retry:
                # The lane's later records wait, so their domain's order holds, and
                # the other lanes stop too: the stream backs off as a whole.
                self._halt_for_retry(current, sent.error)
                return
            current.lanes.answered(lane, batch)
            if current.lanes.idle:
                # The stream has caught up: no more results come soon to write with these.
                writer.flush()

    def _batch_results(self, batch: Sequence[OutboundRecord], sent: SendResult) -> DeliveryResults:
        latencies_s: list[float] = []
        if self._metrics is not None:
            now_s = time.time()
            delivered = set(sent.delivered)
            latencies_s = [
                now_s - epoch_seconds(record.queued_at)
                for record in batch
                if record.seq in delivered
            ]
        return DeliveryResults(
            seqs=[record.seq for record in batch],
            delivered=list(sent.delivered),
            retry=list(sent.retry),
            dead=dict(sent.dead),
            attempts=[self._attempt_record(batch, sent)],
            latencies_s=latencies_s,
            error=sent.error if sent.retry else None,
        )

    def _halt_for_retry(self, current: _Pass, error: DeliveryError | None) -> None:
        if not current.retrying:
            current.retrying = True
            current.retry_error = error
        if error is not None and error.retry_after_s is not None:
            current.retry_after_s = max(current.retry_after_s or 0.0, error.retry_after_s)
        current.halt()

    def _attempt_record(self, batch: Sequence[OutboundRecord], sent: SendResult) -> AttemptRecord:
        error = sent.error
        if sent.retry:
            outcome = "retry"
        elif sent.dead and not sent.delivered:
            outcome = "dead"
        else:
            outcome = "delivered"

        message = error.message if error is not None else None
        if message is None and sent.dead:
            message = next(iter(sent.dead.values()))
        return AttemptRecord(
            at=self._now(),
            outcome=outcome,
            records=len(batch),
            endpoint=sent.endpoint,
            status=sent.status,
            error_code=error.error_code if error is not None else None,
            message=message,
            latency_ms=sent.latency_ms,
        )

    # Outcomes ------------------------------------------------------------------------

    def _outcome(self, current: _Pass, results: DeliveryResults) -> DeliveryOutcome:
        # Once a send must be retried, every later write of the pass keeps that
        # state, although lanes still in flight may deliver.
        if current.retrying:
            failing = isinstance(current.retry_error, ConfigurationDeliveryError)
            self.state = STATE_FAILING if failing else STATE_BACKING_OFF
        else:
            self.state = STATE_DELIVERING

        self._log_results(results)
        self._record_metrics(results)
        return DeliveryOutcome(
            stream_id=self.settings.stream_id,
            at=self._now(),
            state=self.state,
            delivered=results.delivered,
            retry=results.retry,
            retry_error=results.error.summary() if results.error is not None else None,
            dead=results.dead,
            attempts=results.attempts,
            skipped=results.skipped,
        )

    def _on_written(self, current: _Pass, results: DeliveryResults) -> None:
        current.unwritten -= len(results.seqs)
        if current.first_fetch_left and current.first_fetch_end is not None:
            end = current.first_fetch_end
            current.first_fetch_left -= sum(1 for seq in results.seqs if seq <= end)
            if current.first_fetch_left <= 0 and not current.retrying:
                self._backoff.reset()
        current.changed.set()

    def _log_results(self, results: DeliveryResults) -> None:
        stream_id = self.settings.stream_id

        for seq, reason in results.dead.items():
            logger.error(
                "event dead-lettered for stream %s: %s",
                stream_id,
                reason,
                extra={"action": "event_dead_lettered", "stream_id": stream_id, "seq": seq},
            )

        if results.error is not None:
            self._repeats.log(
                logging.WARNING,
                f"delivery for stream {stream_id} failed, retrying: {results.error.summary()}",
                extra={
                    "action": "delivery_retry",
                    "stream_id": stream_id,
                    "error_code": results.error.error_code,
                },
            )

    def _record_metrics(self, results: DeliveryResults) -> None:
        if self._metrics is None:
            return
        self._metrics.record_round(
            self.settings.stream_id,
            delivered=len(results.delivered),
            retried=len(results.retry),
            dead=len(results.dead),
            latencies_s=results.latencies_s,
            attempts=results.attempts,
        )

    # Waiting -------------------------------------------------------------------------

    async def _back_off(self, retry_after_s: float | None) -> None:
        delay = self._backoff.next_delay(retry_after_s)
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=delay)
        except TimeoutError:
            pass

    async def _set_idle(self) -> None:
        if self.state == STATE_IDLE:
            return
        self.state = STATE_IDLE
        await self._store.set_stream_state(self.settings.stream_id, STATE_IDLE, None)

    async def _wait_for_work(self) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=IDLE_POLL_S)
        except TimeoutError:
            pass
