"""Unit tests of the typical event and its guid encoding."""

from __future__ import annotations

import statistics
from collections import Counter

from bench.harness.events import (
    EVENT_TYPES,
    domain_of,
    guid_of,
    index_of,
    run_tag_of,
    type_of,
    typical_event,
    typical_line,
)
from bench.scenarios.common import ALL_DOMAINS
from datastreams.events.catalogue import load_catalogue
from datastreams.events.parsing import parse_ingest_body

RUN_TAG = 0x1234_5678_9ABC_DEF0


def test_guid_round_trip() -> None:
    guid = guid_of(RUN_TAG, 987_654)

    assert index_of(guid) == 987_654
    assert run_tag_of(guid) == RUN_TAG


def test_typical_line_size() -> None:
    sizes = [len(typical_line(RUN_TAG, index, ALL_DOMAINS)) for index in range(1000)]

    assert 340 <= statistics.mean(sizes) <= 360
    assert max(sizes) <= 400


def test_domains_get_every_type() -> None:
    pairs = Counter(
        (domain_of(index, ALL_DOMAINS), type_of(index))
        for index in range(20 * len(ALL_DOMAINS) * 5)
    )

    assert len(pairs) == len(ALL_DOMAINS) * len(EVENT_TYPES)


def test_typical_event_accepted_by_parser() -> None:
    body = b"\n".join(typical_line(RUN_TAG, index, ALL_DOMAINS) for index in range(10))

    items = parse_ingest_body(
        body,
        "application/x-ndjson",
        max_event_bytes=1_048_576,
        max_items=1000,
        is_known_type=None,
    )

    events = [item.event for item in items if hasattr(item, "event")]
    assert len(events) == 10
    assert events[3].encode() == typical_line(RUN_TAG, 3, ALL_DOMAINS)


def test_typical_event_member_order() -> None:
    event = typical_event(RUN_TAG, 1, ALL_DOMAINS)

    assert list(event) == ["time", "guid", "domainId", "type", "data", "userId"]


def test_typical_data_matches_catalogue() -> None:
    catalogue = load_catalogue()

    for index in range(len(EVENT_TYPES)):
        event = typical_event(RUN_TAG, index, ALL_DOMAINS)
        assert catalogue.validate_data(event["type"], event["data"]) == [], event["type"]
