"""Lanes: the bounded queues between a dispatcher's reader and its concurrent sends.

Each lane sends one batch at a time, in the order it got the records; lanes send
independently of each other. A domain's records go to one lane at a time: to the lane
that has its earlier records while any of them is waiting or in flight, else to the
lane with the least work. So a domain's record is never sent before the sends of its
earlier records have returned, and the domains' events still spread evenly over the
lanes. (A fixed lane per domain, such as ``crc32(domainId) % lanes``, would leave the
lane that happens to get the most domains as the stream's bottleneck.)

A lane contains about two batches at most (``lane_bounds``). The reader waits for room,
so a stream keeps a bounded number of records in memory however long its queue is.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from datastreams.delivery.outbound import split_batches
from datastreams.sinks.base import OutboundRecord, SinkLimits

# Together, the lanes of one stream hold at most this many records and bytes. Two
# batches per lane fit with the usual settings; a stream with many lanes of large
# batches sends smaller batches rather than holding more.
LANES_MAX_RECORDS = 4000
LANES_MAX_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class LaneBounds:
    """The maximum records and bytes in one lane; an empty lane takes any one record."""

    max_records: int
    max_bytes: int


def lane_bounds(limits: SinkLimits, lane_count: int) -> LaneBounds:
    """Return the bounds of each of ``lane_count`` lanes sending batches within ``limits``."""
    # Small lanes also spread the work. A domain whose records have all been sent
    # goes to the lane with the least work, but the more records a lane keeps, the
    # longer its domains stay with it.
    records = min(2 * limits.max_records_per_call, LANES_MAX_RECORDS // lane_count)
    held_bytes = min(2 * limits.max_bytes_per_call, LANES_MAX_BYTES // lane_count)
    return LaneBounds(max(1, records), held_bytes)


def _size(record: OutboundRecord) -> int:
    # Measured as ``split_batches`` measures it.
    return len(record.payload) + 1


class Lane:
    """The records waiting for one lane's sends, in the order they came."""

    def __init__(self, bounds: LaneBounds) -> None:
        self._bounds = bounds
        self._records: deque[OutboundRecord] = deque()
        self._held_bytes = 0
        self._closed = False
        self._filled = asyncio.Event()
        self._room = asyncio.Event()
        # Records of the batch being sent.
        self.in_flight = 0

    @property
    def load(self) -> int:
        """Records waiting or in flight."""
        return len(self._records) + self.in_flight

    async def put(self, record: OutboundRecord) -> bool:
        """Add a record, waiting while the lane is full; return ``False`` once it is closed."""
        size = _size(record)
        while not self._closed and not self._has_room(size):
            self._room.clear()
            await self._room.wait()
        if self._closed:
            return False

        self._records.append(record)
        self._held_bytes += size
        self._filled.set()
        return True

    async def take(self, limits: SinkLimits) -> list[OutboundRecord]:
        """Return the next batch within ``limits``, waiting for a record; ``[]`` once closed.

        The batch is what the lane holds, up to the limits: a lane never waits to
        fill a batch. The records count as in flight until ``Lanes.answered``.
        """
        while not self._closed and not self._records:
            self._filled.clear()
            await self._filled.wait()
        if self._closed:
            return []

        batch = next(split_batches(self._records, limits))
        for record in batch:
            self._records.popleft()
            self._held_bytes -= _size(record)
        self.in_flight = len(batch)
        self._room.set()
        return batch

    def close(self) -> None:
        """End waiting ``put`` and ``take`` calls, and make later calls return at once.

        The records held are dropped: they were never sent, so they stay queued in
        the store untouched.
        """
        self._closed = True
        self._records.clear()
        self._held_bytes = 0
        self._filled.set()
        self._room.set()

    def _has_room(self, size: int) -> bool:
        if not self._records:
            return True
        within_count = len(self._records) < self._bounds.max_records
        return within_count and self._held_bytes + size <= self._bounds.max_bytes


class Lanes:
    """The lanes of a stream, and the lane of each domain that has records in one."""

    def __init__(self, count: int, bounds: LaneBounds) -> None:
        self.lanes = [Lane(bounds) for _ in range(max(1, count))]
        # For each domain with records waiting or in flight: its lane and how many.
        self._domains: dict[str, tuple[Lane, int]] = {}

    def __iter__(self) -> Iterator[Lane]:
        return iter(self.lanes)

    @property
    def idle(self) -> bool:
        """Whether no lane has a record waiting or in flight."""
        return all(lane.load == 0 for lane in self.lanes)

    async def put(self, record: OutboundRecord) -> bool:
        """Hand a record to its domain's lane, waiting for room; ``False`` once closed."""
        domain_id = record.domain_id
        lane, count = self._domains.get(domain_id, (None, 0))
        if lane is None:
            lane = min(self.lanes, key=_load) if len(self.lanes) > 1 else self.lanes[0]
        self._domains[domain_id] = (lane, count + 1)
        return await lane.put(record)

    def answered(self, lane: Lane, batch: Sequence[OutboundRecord]) -> None:
        """Note that the send of ``batch`` returned: its domains may move to another lane."""
        lane.in_flight = 0
        for record in batch:
            entry = self._domains.get(record.domain_id)
            if entry is None:
                continue
            domain_lane, count = entry
            if count <= 1:
                del self._domains[record.domain_id]
            else:
                self._domains[record.domain_id] = (domain_lane, count - 1)

    def close(self) -> None:
        for lane in self.lanes:
            lane.close()


def _load(lane: Lane) -> int:
    return lane.load
