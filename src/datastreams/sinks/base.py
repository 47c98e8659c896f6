"""The interface between the dispatcher and the sinks.

The dispatcher hands a sink a batch of ``OutboundRecord`` already within the sink's
limits and receives a ``SendResult`` that sorts every record into delivered, to retry
or dead. A sink never sleeps between attempts of its own: backing off is the
dispatcher's job, because the whole stream backs off together to keep its order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from datastreams.sinks.errors import DeliveryError


@dataclass(slots=True)
class OutboundRecord:
    """One event ready to send: the bytes of its line after filters and the overflow form.

    ``queued_at`` is when the delivery was queued: the same for every retry, and new
    when a replay or redrive queues the event again. Sinks that deduplicate (SQS FIFO)
    derive their deduplication id from it. It is empty for a probe.

    ``size_limit`` is the sink's ``max_record_bytes`` that the record was built within
    (0 when unknown). A sink whose limit is lower by the time it sends the record
    returns it as retry, so that it is built again within the new limit.
    """

    seq: int
    guid: str
    domain_id: str
    payload: bytes
    partition_key: str = ""
    queued_at: str = ""
    size_limit: int = 0


@dataclass(slots=True)
class SendResult:
    """The outcome of one ``Sink.send`` call, by record ``seq``.

    ``error`` explains the records in ``retry`` (and is the stream's last error);
    ``dead`` maps each rejected record to its own reason.
    """

    delivered: list[int] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)
    dead: dict[int, str] = field(default_factory=dict)
    error: DeliveryError | None = None
    endpoint: str | None = None
    status: int | None = None
    latency_ms: float = 0.0


@dataclass(slots=True)
class ProbeStep:
    """One step of a Test action, as the API returns it."""

    step: str
    endpoint: str | None = None
    status: int | None = None
    error_code: str | None = None
    message: str | None = None
    latency_ms: float = 0.0

    @property
    def passed(self) -> bool:
        return self.error_code is None

    def to_api(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "endpoint": self.endpoint,
            "status": self.status,
            "errorCode": self.error_code,
            "message": self.message,
            "latencyMs": round(self.latency_ms, 1),
        }


@dataclass(frozen=True, slots=True)
class SinkLimits:
    """Size limits of one destination that batches must respect."""

    max_records_per_call: int
    max_bytes_per_call: int
    max_record_bytes: int


class Sink(Protocol):
    """Sends batches to one stream's destination."""

    limits: SinkLimits

    async def send(self, records: Sequence[OutboundRecord]) -> SendResult:
        """Send the records; never raise for a destination failure, report it in the result."""

    async def probe(self, record: OutboundRecord) -> tuple[bool, list[ProbeStep]]:
        """Send one probe record outside the queue and report every step."""

    async def close(self) -> None:
        """Release connections."""
