"""The outcome writer of a dispatcher: one store write at a time, in the order results came.

Lanes hand it the result of each batch they sent, and the reader the deliveries it
settled without sending them (expired, skipped, not encodable). Lanes do not wait for
the store. A write takes every result that waits: those that arrived while the last
write ran, and those that arrive within ``WRITE_DELAY_S`` of the first while sends go
on. The store has one writer, which ingest needs too, so a write per batch (hundreds a
second for one event per request) would slow ingest down.

Each write is shielded from cancellation: a stop that cancels the dispatcher must
not lose what the destination already accepted, or it would be sent a second time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from datastreams.sinks.errors import DeliveryError
from datastreams.store.records import AttemptRecord, DeliveryOutcome

# How long results wait for others before they are written, unless enough of them
# wait (``WRITE_DELIVERIES``) or the dispatcher needs them written (``flush``, ``close``).
# It delays only the store's view: what a crash would send again, not the sends.
WRITE_DELAY_S = 0.1
WRITE_DELIVERIES = 500


@dataclass(slots=True)
class DeliveryResults:
    """The results of some of a stream's deliveries, by ``seq``.

    ``seqs`` lists every delivery the results account for, whatever happened to it.
    ``error`` explains the deliveries in ``retry``. ``latencies_s`` has, for each
    delivered one, the time from when it was queued to its delivery.
    """

    seqs: list[int] = field(default_factory=list)
    delivered: list[int] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)
    dead: dict[int, str] = field(default_factory=dict)
    skipped: list[int] = field(default_factory=list)
    attempts: list[AttemptRecord] = field(default_factory=list)
    latencies_s: list[float] = field(default_factory=list)
    error: DeliveryError | None = None

    @classmethod
    def merged(cls, parts: Sequence[DeliveryResults]) -> DeliveryResults:
        """Return the results of ``parts`` together; the error is the first part's that has one."""
        whole = cls()
        for part in parts:
            whole.seqs.extend(part.seqs)
            whole.delivered.extend(part.delivered)
            whole.retry.extend(part.retry)
            whole.dead.update(part.dead)
            whole.skipped.extend(part.skipped)
            whole.attempts.extend(part.attempts)
            whole.latencies_s.extend(part.latencies_s)
            whole.error = whole.error or part.error
        return whole


class OutcomeWriter:
    """Writes a stream's results with ``record_outcome``, merging those that wait.

    ``to_outcome`` turns merged results into the outcome to write, so the dispatcher
    can add the stream's state. ``on_written`` is called with them once the write is
    done. A failed write ends ``run`` with the store's exception.
    """

    def __init__(
        self,
        record_outcome: Callable[[DeliveryOutcome], Awaitable[None]],
        to_outcome: Callable[[DeliveryResults], DeliveryOutcome],
        on_written: Callable[[DeliveryResults], None],
        *,
        delay_s: float = WRITE_DELAY_S,
    ) -> None:
        self._record_outcome = record_outcome
        self._to_outcome = to_outcome
        self._on_written = on_written
        self._delay_s = delay_s
        self._pending: list[DeliveryResults] = []
        self._pending_deliveries = 0
        # When the first of the pending results arrived, by the event loop's clock.
        self._first_pending_at = 0.0
        self._ready = asyncio.Event()
        self._closing = False
        self._flushing = False
        # The write that runs now. It goes on when ``run`` is cancelled, so the
        # caller that cancels waits for it before the store is closed.
        self.write_in_flight: asyncio.Future[None] | None = None

    def submit(self, results: DeliveryResults) -> None:
        """Queue results for the next write."""
        first = not self._pending
        if first:
            self._first_pending_at = asyncio.get_running_loop().time()
        self._pending.append(results)
        self._pending_deliveries += len(results.seqs)
        # Waking the writer for every batch of a one-event-per-request stream would
        # cost a pass of its loop per event: it needs to know only when to start its
        # delay and when a write is due.
        if first or self._write_due():
            self._ready.set()

    def flush(self) -> None:
        """Write the pending results without waiting for more."""
        self._flushing = True
        self._ready.set()

    def close(self) -> None:
        """Let ``run`` write what is pending and then return."""
        self._closing = True
        self._ready.set()

    async def run(self) -> None:
        while True:
            await self._wait_for_results()
            if not self._pending:
                return

            results = DeliveryResults.merged(self._pending)
            self._pending = []
            self._pending_deliveries = 0
            self._flushing = False
            write = asyncio.ensure_future(self._record_outcome(self._to_outcome(results)))
            self.write_in_flight = write
            await asyncio.shield(write)
            self.write_in_flight = None
            self._on_written(results)

    async def _wait_for_results(self) -> None:
        # Returns with results to write, or with none once closed.
        while not self._pending and not self._closing:
            self._ready.clear()
            await self._ready.wait()

        loop = asyncio.get_running_loop()
        while self._pending and not self._write_due():
            remaining = self._first_pending_at + self._delay_s - loop.time()
            if remaining <= 0:
                return
            self._ready.clear()
            # A timer that sets the event costs less than wait_for, which wraps the
            # wait in a task of its own each time.
            timer = loop.call_later(remaining, self._ready.set)
            try:
                await self._ready.wait()
            finally:
                timer.cancel()

    def _write_due(self) -> bool:
        return self._closing or self._flushing or self._pending_deliveries >= WRITE_DELIVERIES
