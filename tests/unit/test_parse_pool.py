"""Parsing in worker processes gives the same results and errors as parsing in place."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from datastreams.errors import BodyError, LimitExceeded
from datastreams.events.parse_pool import ParsePool
from datastreams.events.parsing import ItemParsed, ItemRejected, parse_ingest_body

BODY = (
    b'[{"domainId":"d1","type":"T","data":{"n":1.50,"s":"\\u00e9"}},'
    b'{"domainId":"d1","type":"T","data":{"a":1,"a":2}},'
    b'{"guid":"not-a-uuid","domainId":"d1","type":"T","data":{}},'
    b'{"time":"2022-06-29T16:40:30.9926931Z","guid":"9B2C1F3E-8A9B-4C2D-9E0F-123456789ABC",'
    b'"domainId":"d2","type":"U","data":{},"userId":"u","sessionId":"s"}]'
)
LIMITS = {"max_event_bytes": 1_048_576, "max_items": 10}


@pytest.fixture(scope="module")
def pool() -> Iterator[ParsePool]:
    started = ParsePool(1)
    yield started
    started.close()


async def test_pool_matches_in_place(pool: ParsePool) -> None:
    expected = parse_ingest_body(BODY, "application/json", **LIMITS)

    items = await pool.parse(BODY, "application/json", **LIMITS)

    assert [type(item) for item in items] == [type(item) for item in expected]
    for item, reference in zip(items, expected, strict=True):
        if isinstance(item, ItemRejected):
            assert isinstance(reference, ItemRejected)
            assert item.error == reference.error
            assert item.guid == reference.guid
        else:
            assert isinstance(reference, ItemParsed)
            if not reference.guid_assigned:
                assert item.event.encode() == reference.line
            assert item.event.encode().endswith(
                reference.line[reference.line.index(b',"domainId"') :]
            )
            assert item.event.domain_id == reference.event.domain_id
            assert item.event.type == reference.event.type
            assert item.guid_assigned == reference.guid_assigned


async def test_pool_raises_body_error(pool: ParsePool) -> None:
    with pytest.raises(BodyError):
        await pool.parse(b"[{", "application/json", **LIMITS)


async def test_pool_raises_limit_exceeded(pool: ParsePool) -> None:
    body = b"[" + b",".join([b'{"domainId":"d","type":"T","data":{}}'] * 11) + b"]"

    with pytest.raises(LimitExceeded, match="10"):
        await pool.parse(body, "application/json", **LIMITS)


async def test_pool_strict_types() -> None:
    strict = ParsePool(1, known_types={"T"})
    try:
        items = await strict.parse(BODY, "application/json", **LIMITS)
    finally:
        strict.close()

    assert isinstance(items[3], ItemRejected)
    assert items[3].error.field == "type"
