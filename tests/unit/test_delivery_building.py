"""Back-off schedule, record building (filters, overflow form) and batch splitting."""

from __future__ import annotations

import random

import orjson
import pytest

from datastreams.delivery import outbound
from datastreams.delivery.backoff import Backoff
from datastreams.delivery.outbound import build_record, overflow_data, split_batches
from datastreams.events.catalogue import load_catalogue
from datastreams.filters import FilterSpec, compile_filters
from datastreams.sinks.base import OutboundRecord, SinkLimits
from datastreams.store.records import QueuedDelivery

LINE = (
    b'{"time":"2024-05-01T10:00:00.0000000Z","guid":"5d1c1f3e-8a9b-4c2d-9e0f-123456789abc",'
    b'"domainId":"22","type":"DomainEntityChanged","data":{"domainId":"22","version":4,'
    b'"oldDomain":{"name":"Old","userspace":"old"},"newDomain":{"name":"New","userspace":"new",'
    b'"note":"' + b"x" * 300 + b'"}},"userId":"7"}'
)


def delivery(line: bytes = LINE, seq: int = 1) -> QueuedDelivery:
    return QueuedDelivery(
        seq=seq,
        guid="5d1c1f3e-8a9b-4c2d-9e0f-123456789abc",
        domain_id="22",
        type="DomainEntityChanged",
        time="2024-05-01T10:00:00.0000000Z",
        line=line,
        queued_at="2024-05-01T10:00:00.0000000Z",
    )


def test_backoff_doubles_within_ceiling() -> None:
    backoff = Backoff(max_delay_s=8, rng=random.Random(1))

    delays = [backoff.next_delay() for _ in range(6)]

    ceilings = [1, 2, 4, 8, 8, 8]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert 0 <= delay <= ceiling


def test_backoff_honours_retry_after_up_to_cap() -> None:
    backoff = Backoff(max_delay_s=30, rng=random.Random(1))

    assert backoff.next_delay(retry_after_s=20) >= 20
    assert backoff.next_delay(retry_after_s=500) == 30


def test_backoff_reset_starts_over() -> None:
    backoff = Backoff(max_delay_s=300, rng=random.Random(2))
    for _ in range(8):
        backoff.next_delay()

    backoff.reset()

    assert backoff.next_delay() <= 1


def test_record_without_filters_is_stored_line() -> None:
    record = build_record(delivery(), compile_filters([]), load_catalogue(), 1_048_576)

    assert record.payload == LINE
    assert record.partition_key == "22"


def test_record_projects_filtered_members() -> None:
    filters = compile_filters([FilterSpec("DomainEntityChanged", ("domainId", "newDomain.name"))])

    record = build_record(delivery(), filters, load_catalogue(), 1_048_576)

    event = orjson.loads(record.payload)
    assert event["data"] == {"domainId": "22", "newDomain": {"name": "New"}}
    assert event["userId"] == "7"


def test_record_over_limit_uses_overflow_form() -> None:
    record = build_record(delivery(), compile_filters([]), load_catalogue(), 200)

    event = orjson.loads(record.payload)
    assert event["data"] == {"overflow": True, "domainId": "22", "version": 4}
    assert event["guid"] == "5d1c1f3e-8a9b-4c2d-9e0f-123456789abc"
    assert len(record.payload) < len(LINE)


def test_overflow_of_unknown_type_keeps_flag_only() -> None:
    assert overflow_data("PlatformAddedThis", {"id": "1"}, load_catalogue()) == {"overflow": True}


def test_partition_key_from_user() -> None:
    record = build_record(delivery(), compile_filters([]), load_catalogue(), 1_048_576, "userId")

    assert record.partition_key == "7"


def test_partition_key_from_delivery(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbound, "event_from_line", _fail_if_parsed)
    filters = compile_filters([])

    by_guid = build_record(delivery(), filters, load_catalogue(), 1_048_576, "guid")
    by_type = build_record(delivery(), filters, load_catalogue(), 1_048_576, "type")

    assert by_guid.partition_key == "5d1c1f3e-8a9b-4c2d-9e0f-123456789abc"
    assert by_type.partition_key == "DomainEntityChanged"


def test_filter_without_properties_sends_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbound, "event_from_line", _fail_if_parsed)
    filters = compile_filters([FilterSpec("DomainEntityChanged", ())])

    record = build_record(delivery(), filters, load_catalogue(), 1_048_576)

    assert record.payload == LINE
    assert not filters.projects("DomainEntityChanged")


def test_projects_only_with_properties() -> None:
    filters = compile_filters(
        [FilterSpec("DomainEntityChanged", ("domainId",)), FilterSpec("UserEntityCreated", ())]
    )

    assert filters.projects("DomainEntityChanged")
    assert not filters.projects("UserEntityCreated")
    assert not compile_filters([]).projects("DomainEntityChanged")


def _fail_if_parsed(line: bytes) -> None:
    raise AssertionError("the stored line was parsed")


def records_of_sizes(sizes: list[int]) -> list[OutboundRecord]:
    return [
        OutboundRecord(seq=i, guid=str(i), domain_id="1", payload=b"x" * size)
        for i, size in enumerate(sizes)
    ]


def test_split_respects_record_count() -> None:
    limits = SinkLimits(max_records_per_call=2, max_bytes_per_call=10_000, max_record_bytes=100)

    batches = list(split_batches(records_of_sizes([10] * 5), limits))

    assert [len(batch) for batch in batches] == [2, 2, 1]


def test_split_respects_bytes_per_call() -> None:
    limits = SinkLimits(max_records_per_call=500, max_bytes_per_call=100, max_record_bytes=100)

    batches = list(split_batches(records_of_sizes([40, 40, 40, 90]), limits))

    assert [[record.seq for record in batch] for batch in batches] == [[0, 1], [2], [3]]
