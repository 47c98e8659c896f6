"""Progress of the demo: each stream's delivery status, and the lines the demo prints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True, slots=True)
class StreamStatus:
    """The members of ``GET .../streams/{id}/status`` that the demo shows."""

    state: str
    queue_depth: int
    delivered: int
    failed: int
    dead_letters: int
    last_error: str | None

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> StreamStatus:
        """Build the status from the response body; raise ``ValueError`` if a member is missing."""
        try:
            return cls(
                state=str(body["state"]),
                queue_depth=int(body["queueDepth"]),
                delivered=int(body["delivered"]),
                failed=int(body["failed"]),
                dead_letters=int(body["deadLetters"]),
                last_error=body.get("lastError"),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"unexpected stream status body: {error!r}") from None


@dataclass(slots=True)
class DemoStream:
    """One stream that the demo creates, with what it expects and what arrived.

    ``expected`` counts the published events that the stream's filters select, the
    least the stream must deliver. ``received`` counts the events that the receiver
    accepted with a 2xx status on the stream's path.
    """

    label: str
    path: str
    body: dict[str, Any]
    event_types: frozenset[str] | None = None
    id: str = ""
    expected: int = 0
    received: int = 0
    status: StreamStatus | None = None
    status_error: str | None = None

    def selects(self, event_type: str) -> bool:
        """Return whether the stream's filters pass events of ``event_type``."""
        return self.event_types is None or event_type in self.event_types

    def is_complete(self) -> bool:
        """Return whether every expected event was delivered and nothing is queued."""
        status = self.status
        if status is None:
            return False
        return (
            status.queue_depth == 0
            and status.delivered >= self.expected
            and self.received >= self.expected
        )


async def read_status(http: httpx.AsyncClient, domain_id: str, stream: DemoStream) -> None:
    """Read the stream's status into ``stream.status``; on failure set ``stream.status_error``."""
    path = f"/api/v1/domains/{domain_id}/streams/{stream.id}/status"
    try:
        response = await http.get(path)
    except httpx.HTTPError as error:
        stream.status_error = f"{path}: request failed: {type(error).__name__}: {error}"
        return

    if response.status_code != 200:
        stream.status_error = f"{path}: the service responded with HTTP {response.status_code}"
        return
    try:
        stream.status = StreamStatus.from_api(response.json())
    except ValueError as error:
        stream.status_error = f"{path}: {error}"
        return
    stream.status_error = None


def format_progress(published: int, total: int, streams: list[DemoStream]) -> str:
    """Return one progress line: the events published and each stream's delivery."""
    parts = [f"published {published:>{len(str(total))}}/{total}"]
    parts.extend(_describe_stream(stream) for stream in streams)
    return " | ".join(parts)


def _describe_stream(stream: DemoStream) -> str:
    status = stream.status
    if status is None:
        return f"{stream.label}: status not available"

    text = f"{stream.label}: {status.delivered} delivered, {status.queue_depth} queued"
    if status.state not in ("idle", "delivering"):
        text += f" ({status.state})"
    if status.dead_letters:
        text += f", {status.dead_letters} dead"
    return text


def format_summary(
    *,
    published: int,
    rejected: int,
    publish_s: float,
    delivered_s: float | None,
    streams: list[DemoStream],
) -> list[str]:
    """Return the summary lines printed when the demo ends.

    ``publish_s`` is the time publishing took and ``delivered_s`` the time from the
    first publish until every stream had delivered everything, or ``None`` if that
    did not happen.
    """
    lines = [f"Published {published} events in {publish_s:.1f} s."]
    if delivered_s is not None:
        rate = published / delivered_s if delivered_s > 0 else 0.0
        lines.append(
            f"Every stream had delivered its events {delivered_s:.1f} s after publishing "
            f"began: {rate:.0f} events/s."
        )
    else:
        lines.append("Delivery was not finished.")
    if rejected:
        lines.append(f"The service rejected {rejected} events; see the messages above.")

    width = max(len(stream.label) for stream in streams)
    for stream in streams:
        delivered = stream.status.delivered if stream.status is not None else "unknown"
        lines.append(
            f"  {stream.label.ljust(width)}  delivered {delivered}, "
            f"received by the receiver {stream.received}, expected at least {stream.expected}"
        )
    lines.append(
        "A stream without filters also receives the district's own stream configuration "
        "events (DataStreamConfigurationCreated), so it can count more than was published."
    )
    return lines
