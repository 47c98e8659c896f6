"""The dispatcher of one stream: takes queued deliveries in log order and sends them.

A round fetches the next queued deliveries, turns expired ones into dead letters,
builds the records (filters, overflow form), sends them in batches, and writes the
outcome in one store transaction shielded from cancellation. When the destination
fails, the stream backs off as a whole and tries the same deliveries again, so its
order is kept and a down destination is not hammered.

With ``maxInFlight`` above 1 the records are spread over that many lanes by
``domainId``; lanes send concurrently, and each lane sends its batches one after the
other, so events of one domain keep their order.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from datastreams.delivery.backoff import Backoff
from datastreams.delivery.outbound import build_record, split_batches
from datastreams.delivery.repeats import RepeatedLog
from datastreams.events.catalogue import Catalogue
from datastreams.events.timefmt import epoch_seconds, now_time
from datastreams.filters import CompiledFilters
from datastreams.metrics import Metrics
from datastreams.sinks.base import OutboundRecord, SendResult, Sink
from datastreams.sinks.errors import ConfigurationDeliveryError, DeliveryError
from datastreams.store.base import DeliveryStore
from datastreams.store.records import AttemptRecord, DeliveryOutcome, QueuedDelivery

logger = logging.getLogger(__name__)

# How many deliveries one round fetches at least, so one-event-per-request streams
# do not pay a database round trip per event. The outcome is still written per round.
MIN_FETCH = 64
MAX_FETCH = 1000

# Without a wake-up, an idle dispatcher looks at its queue this often. The poll covers
# deliveries queued by another process, such as a replay from the command line.
IDLE_POLL_S = 1.0

STATE_IDLE = "idle"
STATE_DELIVERING = "delivering"
STATE_BACKING_OFF = "backingOff"
STATE_FAILING = "failing"
STATE_DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class DispatchSettings:
    """The parts of a stream's configuration that its dispatcher uses."""

    stream_id: str
    version: int
    filters: CompiledFilters
    retry_window_s: float = 86_400
    backoff_max_s: float = 300
    max_in_flight: int = 1
    partition_key: str = "domainId"


@dataclass(slots=True)
class _RoundResult:
    delivered: list[int] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)
    dead: dict[int, str] = field(default_factory=dict)
    attempts: list[AttemptRecord] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    error: DeliveryError | None = None

    def is_empty(self) -> bool:
        """Return whether the round sent nothing and left every delivery as it was."""
        return not (self.attempts or self.dead or self.skipped)

    def handled(self) -> int:
        """Return how many deliveries the round delivered, retried, dead-lettered or skipped."""
        return len(self.delivered) + len(self.retry) + len(self.dead) + len(self.skipped)


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
        # Unknown until the first round: an empty queue then stores "idle", which
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
        self._pending_write: asyncio.Task[None] | None = None
        # After a round that handled every delivery it fetched, the next round reads
        # past them while their outcome is still being written (see ``_run_round``).
        self._read_ahead_seq = 0

    def wake(self) -> None:
        """Tell an idle dispatcher that new deliveries are queued."""
        self._wake.set()

    def request_stop(self) -> None:
        """Finish the request in flight, record the round, then return from ``run``.

        The round's later batches are not sent, and a back-off wait ends at once.
        """
        self._stopping.set()
        self._wake.set()

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
                    await self._run_round()
                except (asyncio.CancelledError, KeyboardInterrupt):
                    raise
                except Exception as exc:
                    # A store failure must not end delivery for good: wait and retry,
                    # reading the queue from its start again.
                    self._pending_write = None
                    self._read_ahead_seq = 0
                    self._repeats.log(
                        logging.WARNING,
                        f"dispatcher round of stream {stream_id} failed: {exc!r}",
                        extra={"action": "dispatcher_round_failed", "stream_id": stream_id},
                    )
                    await self._back_off(None)
        finally:
            # A cancelled round may leave its shielded outcome write running.
            if self._pending_write is not None and not self._pending_write.done():
                await asyncio.wait([self._pending_write], timeout=10)
            await self.sink.close()
            logger.info(
                "dispatcher stopped for stream %s",
                stream_id,
                extra={"action": "dispatcher_stopped", "stream_id": stream_id},
            )

    async def _run_round(self) -> None:
        # Cleared before the fetch, so an append that lands during the fetch still
        # wakes the dispatcher instead of waiting for the next poll.
        self._wake.clear()
        deliveries = await self._store.fetch_queued(
            self.settings.stream_id, self._fetch_limit(), self._read_ahead_seq
        )

        if not deliveries:
            if self._read_ahead_seq:
                # The last round's rows may still be in the queue until its outcome is
                # written; read the queue from the start once that is done.
                await self._finish_pending_write()
                self._read_ahead_seq = 0
                return
            await self._set_idle()
            await self._wait_for_work()
            return

        result = await self._deliver(deliveries)
        if self._stopping.is_set() and result.is_empty():
            # A stop came before the first batch: the queue and state are as they were.
            return
        outcome = self._outcome(result)
        await self._finish_pending_write()
        self._start_write(outcome)
        self._record_metrics(deliveries, result)

        if result.retry:
            await self._finish_pending_write()
            self._read_ahead_seq = 0
            await self._back_off(result.error)
            return

        self._backoff.reset()
        if result.handled() == len(deliveries):
            # The next round sends while this outcome is written: the writes of a
            # stream stay in order because each waits for the one before it.
            self._read_ahead_seq = deliveries[-1].seq
        else:
            await self._finish_pending_write()
            self._read_ahead_seq = 0

    def _fetch_limit(self) -> int:
        # Lanes wait for each other at the end of a round, so rounds of a stream with
        # several lanes fetch more to keep the lanes busy for longer.
        wanted = max(MIN_FETCH * self.settings.max_in_flight, self._batch_capacity())
        return min(MAX_FETCH, wanted)

    def _batch_capacity(self) -> int:
        return self.sink.limits.max_records_per_call * self.settings.max_in_flight

    async def _deliver(self, deliveries: Sequence[QueuedDelivery]) -> _RoundResult:
        result = _RoundResult()
        live = self._expire(deliveries, result)
        records = self._build_records(live, result)

        lanes = self._lanes(records)
        lane_results = await asyncio.gather(*(self._send_lane(lane) for lane in lanes))

        for lane_result in lane_results:
            result.delivered.extend(lane_result.delivered)
            result.retry.extend(lane_result.retry)
            result.dead.update(lane_result.dead)
            result.attempts.extend(lane_result.attempts)
            result.error = result.error or lane_result.error
        return result

    def _expire(
        self, deliveries: Sequence[QueuedDelivery], result: _RoundResult
    ) -> list[QueuedDelivery]:
        window_s = self.settings.retry_window_s
        cutoff = time.time() - window_s
        live: list[QueuedDelivery] = []

        for delivery in deliveries:
            if epoch_seconds(delivery.queued_at) < cutoff:
                last = delivery.last_error or "none"
                result.dead[delivery.seq] = (
                    f"retry window of {window_s:g} s exceeded after "
                    f"{delivery.attempts} attempts; last error: {last}"
                )
            else:
                live.append(delivery)
        return live

    def _build_records(
        self, deliveries: Sequence[QueuedDelivery], result: _RoundResult
    ) -> list[OutboundRecord]:
        records: list[OutboundRecord] = []

        for delivery in deliveries:
            if not self.settings.filters.matches(delivery.type):
                # Queued before the filters changed: the stream no longer takes this type.
                result.skipped.append(delivery.seq)
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
                result.dead[delivery.seq] = f"stored event could not be encoded: {exc}"
                continue
            records.append(record)
        return records

    def _lanes(self, records: Sequence[OutboundRecord]) -> list[list[OutboundRecord]]:
        lane_count = self.settings.max_in_flight
        if lane_count <= 1:
            return [list(records)] if records else []

        lanes: list[list[OutboundRecord]] = [[] for _ in range(lane_count)]
        for record in records:
            lanes[zlib.crc32(record.domain_id.encode()) % lane_count].append(record)
        return [lane for lane in lanes if lane]

    async def _send_lane(self, records: Sequence[OutboundRecord]) -> _RoundResult:
        lane = _RoundResult()

        for batch in split_batches(records, self.sink.limits):
            if self._stopping.is_set():
                # A stop waits for the request in flight, not for the rest of the
                # round: unsent records stay queued untouched for the next start.
                break
            sent = await self.sink.send(batch)
            lane.delivered.extend(sent.delivered)
            lane.dead.update(sent.dead)
            lane.attempts.append(self._attempt_record(batch, sent))

            if sent.retry:
                # Later batches of this lane wait, so the lane's order holds.
                lane.retry.extend(sent.retry)
                lane.error = sent.error
                break
        return lane

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

    def _outcome(self, result: _RoundResult) -> DeliveryOutcome:
        if result.retry:
            failing = isinstance(result.error, ConfigurationDeliveryError)
            self.state = STATE_FAILING if failing else STATE_BACKING_OFF
        else:
            self.state = STATE_DELIVERING

        self._log_round(result)
        return DeliveryOutcome(
            stream_id=self.settings.stream_id,
            at=self._now(),
            state=self.state,
            delivered=result.delivered,
            retry=result.retry,
            retry_error=result.error.summary() if result.error is not None else None,
            dead=result.dead,
            attempts=result.attempts,
            skipped=result.skipped,
        )

    def _log_round(self, result: _RoundResult) -> None:
        stream_id = self.settings.stream_id

        for seq, reason in result.dead.items():
            logger.error(
                "event dead-lettered for stream %s: %s",
                stream_id,
                reason,
                extra={"action": "event_dead_lettered", "stream_id": stream_id, "seq": seq},
            )

        if result.error is not None:
            self._repeats.log(
                logging.WARNING,
                f"delivery for stream {stream_id} failed, retrying: {result.error.summary()}",
                extra={
                    "action": "delivery_retry",
                    "stream_id": stream_id,
                    "error_code": result.error.error_code,
                },
            )

    def _start_write(self, outcome: DeliveryOutcome) -> None:
        self._pending_write = asyncio.ensure_future(self._store.record_outcome(outcome))

    async def _finish_pending_write(self) -> None:
        # Shielded: a stop that cancels the round must not lose what the destination
        # already accepted, or it would be sent a second time.
        if self._pending_write is None:
            return
        pending = self._pending_write
        await asyncio.shield(pending)
        self._pending_write = None

    def _record_metrics(self, deliveries: Sequence[QueuedDelivery], result: _RoundResult) -> None:
        if self._metrics is None:
            return

        now_s = time.time()
        delivered = set(result.delivered)
        latencies_s = [
            now_s - epoch_seconds(delivery.queued_at)
            for delivery in deliveries
            if delivery.seq in delivered
        ]
        self._metrics.record_round(
            self.settings.stream_id,
            delivered=len(result.delivered),
            retried=len(result.retry),
            dead=len(result.dead),
            latencies_s=latencies_s,
            attempts=result.attempts,
        )

    async def _back_off(self, error: DeliveryError | None) -> None:
        retry_after = error.retry_after_s if error is not None else None
        delay = self._backoff.next_delay(retry_after)
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
