"""What the Firehose, Kinesis and SQS sinks share: calls within limits, failures, the Test action.

A batch from the dispatcher is sent in one or more calls, each within the API's
record and byte limits measured on the encoded request entries. Then:

- Records that a call reports as failed (``FailedPutCount``, ``FailedRecordCount``,
  ``Failed``) are returned as retry. The other records of the call are delivered,
  so a retry resends only the failed ones.
- For an ordered destination (Kinesis, FIFO SQS), records of a partition key or
  message group with a failed record wait too: later calls leave them out and they
  are returned as retry, so the key's order is kept from there on.
- A whole call rejected as invalid is split in halves until the record that causes
  it is alone, and that record becomes a dead letter.
- A call that fails as a whole for any other reason (throttling, credentials, a
  missing target) ends the send: its records and every later one are returned as
  retry, and the stream backs off.

Several sends of one sink can run at once, one per lane of the dispatcher. The
hold-back of a failed key works within one send, and that is enough. A domain's
records are in one send at a time, and ``domainId`` is the default key. After a
retry the dispatcher sends nothing more until it backs off. A stream ordered by a key
that spans domains makes one send at a time (``delivery/sinks.py``).

A sink never sleeps: backing off is the dispatcher's job.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from datastreams.aws.clients import AwsClientFactory
from datastreams.aws.roles import AwsRole
from datastreams.sinks.aws_errors import error_for_exception, rejects_credentials
from datastreams.sinks.base import OutboundRecord, ProbeStep, SendResult, SinkLimits
from datastreams.sinks.errors import (
    DeliveryError,
    PermanentDeliveryError,
    RetryableDeliveryError,
)
from datastreams.store.records import StreamRecord

logger = logging.getLogger(__name__)

# Error code of a record that no call can carry, even in the overflow form.
RECORD_TOO_LARGE = "record_too_large"

# Returns the client that a call uses; it runs in a worker thread.
ClientSource = Callable[[], Any]


@dataclass(slots=True)
class CallOutcome:
    """The result of one batch call, by the record's position in the call.

    ``failed`` records may pass later (retry), ``rejected`` ones never will (dead);
    every other record of the call was delivered.
    """

    failed: dict[int, DeliveryError] = field(default_factory=dict)
    rejected: dict[int, DeliveryError] = field(default_factory=dict)


@dataclass(slots=True)
class PlannedCalls:
    """A batch split into calls, and the records (by ``seq``) that no call can carry."""

    calls: list[list[OutboundRecord]]
    rejected: dict[int, DeliveryError] = field(default_factory=dict)


@dataclass(slots=True)
class _SendOutcome:
    delivered: list[int] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)
    dead: dict[int, DeliveryError] = field(default_factory=dict)
    error: DeliveryError | None = None
    status: int | None = None

    def retry_all(self, records: Iterable[OutboundRecord], error: DeliveryError) -> None:
        self.retry.extend(record.seq for record in records)
        self.error = self.error or error
        self.status = error.status


def split_calls(
    records: Sequence[OutboundRecord],
    size_of: Callable[[OutboundRecord], int],
    limits: SinkLimits,
    record_limit: tuple[str, int],
) -> PlannedCalls:
    """Split records in order into calls within ``limits``, measuring each with ``size_of``.

    ``record_limit`` is the name and size of the per-record limit, measured the same
    way. A larger record is rejected with the error code ``record_too_large``.
    """
    limit_name, max_record_bytes = record_limit
    planned = PlannedCalls(calls=[])
    call: list[OutboundRecord] = []
    call_bytes = 0

    for record in records:
        size = size_of(record)
        if size > max_record_bytes:
            planned.rejected[record.seq] = PermanentDeliveryError(
                f"record of {size} bytes exceeds the {limit_name} of {max_record_bytes} "
                "bytes, even in the overflow form",
                error_code=RECORD_TOO_LARGE,
            )
            continue

        full = len(call) >= limits.max_records_per_call
        too_big = bool(call) and call_bytes + size > limits.max_bytes_per_call
        if full or too_big:
            planned.calls.append(call)
            call, call_bytes = [], 0
        call.append(record)
        call_bytes += size

    if call:
        planned.calls.append(call)
    return planned


class AwsSink(ABC):
    """A sink that sends through an AWS batch API with the customer's role."""

    # botocore's name of the service, such as "firehose".
    service: ClassVar[str]

    def __init__(self, role: AwsRole, clients: AwsClientFactory, limits: SinkLimits) -> None:
        self.role = role
        self.limits = limits
        self._clients = clients
        # The dispatcher may have several sends in flight. One prepares at a time, so
        # sends that start together make one lookup instead of one each.
        self._prepare_lock = threading.Lock()

    # What each service implements -----------------------------------------------------

    @property
    @abstractmethod
    def target(self) -> str:
        """The ARN of the destination, shown as the endpoint of attempts and probe steps."""

    @abstractmethod
    def prepare(self, client: Any) -> None:
        """Read what sending needs (a queue URL, the target's limits) before a send.

        Runs in a worker thread before every send, so once it has what it needs it
        must return without calling AWS. It may change ``self.limits``.
        """

    @abstractmethod
    def describe(self, client: Any) -> str:
        """Check that the target exists and accepts records; return its status for the probe."""

    @abstractmethod
    def plan(self, records: Sequence[OutboundRecord]) -> PlannedCalls:
        """Split records into calls within the API's limits."""

    @abstractmethod
    def put(self, client: Any, records: Sequence[OutboundRecord]) -> CallOutcome:
        """Make one batch call; raise botocore's exception when the call fails as a whole."""

    def order_key(self, record: OutboundRecord) -> str | None:
        """The key whose records must arrive in order, or ``None`` for an unordered target."""
        return None

    # The Sink protocol --------------------------------------------------------------

    async def send(self, records: Sequence[OutboundRecord]) -> SendResult:
        started = time.perf_counter()
        outcome = await self._send(records, self._cached_client)
        latency_ms = (time.perf_counter() - started) * 1000

        return SendResult(
            delivered=outcome.delivered,
            retry=outcome.retry,
            dead={seq: error.summary() for seq, error in outcome.dead.items()},
            error=outcome.error,
            endpoint=self.target,
            status=outcome.status,
            latency_ms=latency_ms,
        )

    async def probe(self, record: OutboundRecord) -> tuple[bool, list[ProbeStep]]:
        """Assume the role anew, describe the target, send the record; report each step."""
        steps: list[ProbeStep] = []

        started = time.perf_counter()
        try:
            credentials = await self._clients.run(self._clients.assume_role_now, self.role)
        except Exception as exc:
            error = error_for_exception(exc, endpoint=self.role.role_arn)
            steps.append(_failed_step("assumeRole", error, started))
            return False, steps
        steps.append(_passed_step("assumeRole", self.role.role_arn, None, started))

        client = await self._clients.run(
            self._clients.client_with_credentials, self.service, self.role, credentials
        )
        try:
            passed = await self._probe_target(client, record, steps)
        finally:
            await self._clients.run(client.close)
        return passed, steps

    async def close(self) -> None:
        """Release nothing: the clients and credentials belong to the factory."""
        return None

    # Sending ------------------------------------------------------------------------

    def _cached_client(self) -> Any:
        return self._clients.client(self.service, self.role)

    async def _send(
        self, records: Sequence[OutboundRecord], client_source: ClientSource
    ) -> _SendOutcome:
        outcome = _SendOutcome()
        record_limit_before = self.limits.max_record_bytes

        try:
            await self._clients.run(self._prepare_with, client_source)
        except Exception as exc:
            outcome.retry_all(records, self._error(exc))
            return outcome

        planned = self.plan(records)
        limit_lowered = self.limits.max_record_bytes < record_limit_before
        blocked_keys: set[str] = set()
        self._sort_rejected(records, planned.rejected, limit_lowered, blocked_keys, outcome)

        pending = deque(planned.calls)
        while pending:
            call = self._hold_blocked(pending.popleft(), blocked_keys, outcome)
            if not call:
                continue

            try:
                result = await self._clients.run(self._put_with, client_source, call)
            except Exception as exc:
                error = self._error(exc)
                if isinstance(error, PermanentDeliveryError):
                    self._narrow_down(call, error, pending, outcome)
                    continue
                outcome.retry_all(call, error)
                for later in pending:
                    outcome.retry_all(later, error)
                break

            self._apply(call, result, blocked_keys, outcome)
        return outcome

    def _prepare_with(self, client_source: ClientSource) -> None:
        with self._prepare_lock:
            self.prepare(client_source())

    def _put_with(self, client_source: ClientSource, call: list[OutboundRecord]) -> CallOutcome:
        return self.put(client_source(), call)

    def _error(self, exc: BaseException) -> DeliveryError:
        error = error_for_exception(exc, endpoint=self.target)
        if rejects_credentials(error):
            # Refreshing by expiry time would keep the rejected credentials: drop them,
            # so the next attempt assumes the role again.
            self._clients.forget(self.role)
        return error

    def _sort_rejected(
        self,
        records: Sequence[OutboundRecord],
        rejected: dict[int, DeliveryError],
        limit_lowered: bool,
        blocked_keys: set[str],
        outcome: _SendOutcome,
    ) -> None:
        for record in records:
            error = rejected.get(record.seq)
            if error is None:
                continue
            # Built before the target's own limit was read, by this send or by another
            # send in flight at the same time (``size_limit`` shows the latter).
            built_larger = limit_lowered or record.size_limit > self.limits.max_record_bytes
            if built_larger and error.error_code == RECORD_TOO_LARGE:
                # The dispatcher builds the record again, in the overflow form if needed.
                retry = RetryableDeliveryError(
                    f"the target's record limit is {self.limits.max_record_bytes} bytes; "
                    "the record is built again within it",
                    error_code=RECORD_TOO_LARGE,
                    endpoint=self.target,
                )
                outcome.retry_all([record], retry)
                self._block_key(record, blocked_keys)
            else:
                outcome.dead[record.seq] = error

    def _hold_blocked(
        self, call: list[OutboundRecord], blocked_keys: set[str], outcome: _SendOutcome
    ) -> list[OutboundRecord]:
        if not blocked_keys:
            return call

        sendable: list[OutboundRecord] = []
        for record in call:
            if self.order_key(record) in blocked_keys:
                outcome.retry.append(record.seq)
            else:
                sendable.append(record)
        return sendable

    def _block_key(self, record: OutboundRecord, blocked_keys: set[str]) -> None:
        key = self.order_key(record)
        if key is not None:
            blocked_keys.add(key)

    def _narrow_down(
        self,
        call: list[OutboundRecord],
        error: DeliveryError,
        pending: deque[list[OutboundRecord]],
        outcome: _SendOutcome,
    ) -> None:
        if len(call) == 1:
            outcome.dead[call[0].seq] = error
            return

        # Both halves go first, in order, so the records keep their order.
        middle = len(call) // 2
        pending.appendleft(call[middle:])
        pending.appendleft(call[:middle])
        logger.info(
            "%s rejected a call of %d records (%s); sending it in halves",
            self.target,
            len(call),
            error.error_code,
            extra={"action": "aws_call_split", "endpoint": self.target, "records": len(call)},
        )

    def _apply(
        self,
        call: list[OutboundRecord],
        result: CallOutcome,
        blocked_keys: set[str],
        outcome: _SendOutcome,
    ) -> None:
        outcome.status = outcome.status or 200

        for index, record in enumerate(call):
            failure = result.failed.get(index)
            rejection = result.rejected.get(index)

            if failure is not None:
                outcome.retry.append(record.seq)
                outcome.error = outcome.error or failure
                self._block_key(record, blocked_keys)
            elif rejection is not None:
                outcome.dead[record.seq] = rejection
            else:
                outcome.delivered.append(record.seq)

    async def _probe_target(
        self, client: Any, record: OutboundRecord, steps: list[ProbeStep]
    ) -> bool:
        started = time.perf_counter()
        try:
            status = await self._clients.run(self.describe, client)
        except DeliveryError as failure:
            steps.append(_failed_step("describe", failure, started))
            return False
        except Exception as exc:
            translated = error_for_exception(exc, endpoint=self.target)
            steps.append(_failed_step("describe", translated, started))
            return False
        steps.append(_passed_step("describe", self.target, status, started))

        started = time.perf_counter()
        outcome = await self._send([record], lambda: client)
        if outcome.delivered:
            steps.append(_passed_step("send", self.target, None, started))
            return True

        error = outcome.dead.get(record.seq) or outcome.error
        assert error is not None
        steps.append(_failed_step("send", error, started))
        return False


def _passed_step(step: str, endpoint: str, message: str | None, started: float) -> ProbeStep:
    latency_ms = (time.perf_counter() - started) * 1000
    return ProbeStep(step, endpoint, 200, None, message, latency_ms)


def _failed_step(step: str, error: DeliveryError, started: float) -> ProbeStep:
    latency_ms = (time.perf_counter() - started) * 1000
    return ProbeStep(
        step,
        error.endpoint,
        error.status,
        error.error_code or error.code,
        error.message,
        latency_ms,
    )


def role_for_stream(stream: StreamRecord) -> AwsRole:
    """Return the role that an AWS stream assumes, from its stored ``aws`` member."""
    aws = stream.config["aws"]
    return AwsRole(
        role_arn=str(aws["roleArn"]),
        external_id=str(aws["externalId"]),
        region=str(aws["region"]),
        domain_id=stream.domain_id,
    )
