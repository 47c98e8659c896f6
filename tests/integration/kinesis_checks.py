"""Kinesis sink checks shared by the moto tests and the kinesis-local tests."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

from aws_moto import FaultPlan, RequestLog, record

from datastreams.sinks.base import OutboundRecord
from datastreams.sinks.errors import RetryableDeliveryError
from datastreams.sinks.kinesis import KinesisSink

KEYS = ("school-a", "school-b", "school-c")

# Records of the stream as (shard id, partition key, data), in shard order.
StreamRecords = Callable[[str], Iterable[tuple[str, str, bytes]]]


def keyed_records(count: int, *, size: int | None = None) -> list[OutboundRecord]:
    """Return records 1..count whose domains (and partition keys) cycle through ``KEYS``."""
    return [record(seq, domain_id=KEYS[seq % len(KEYS)], size=size) for seq in range(1, count + 1)]


def arrived_by_key(stream_records: StreamRecords, name: str) -> dict[str, list[bytes]]:
    """Return the data of every record, grouped by partition key in shard order."""
    by_key: dict[str, list[bytes]] = defaultdict(list)
    for _shard, key, data in stream_records(name):
        by_key[key].append(data)
    return dict(by_key)


def expected_by_key(records: Sequence[OutboundRecord]) -> dict[str, list[bytes]]:
    by_key: dict[str, list[bytes]] = defaultdict(list)
    for item in records:
        by_key[item.partition_key].append(item.payload)
    return dict(by_key)


async def check_partial_failure_holds_key(
    sink: KinesisSink,
    name: str,
    stream_records: StreamRecords,
    sent: RequestLog,
    faults: FaultPlan,
) -> None:
    """Fail one record of the first call; later records of its key must wait for it."""
    records = keyed_records(600)
    by_seq = {item.seq: item for item in records}
    # Record 498 (key school-a) is the last school-a record of the first call (1-500),
    # so the school-a records of the second call must wait for it.
    faults.partial(
        "PutRecords",
        lambda data: (
            "ProvisionedThroughputExceededException" if json.loads(data)["n"] == 498 else None
        ),
    )

    first = await sink.send(records)
    second = await sink.send([by_seq[seq] for seq in sorted(first.retry)])

    held = [seq for seq in range(501, 601) if KEYS[seq % 3] == "school-a"]
    assert sorted(first.retry) == [498, *held]
    assert isinstance(first.error, RetryableDeliveryError)
    assert first.error.error_code == "ProvisionedThroughputExceededException"
    assert len(sent.of("PutRecords")[1].entries()) == 100 - len(held)
    assert sorted(second.delivered) == sorted(first.retry)
    assert arrived_by_key(stream_records, name) == expected_by_key(records)
