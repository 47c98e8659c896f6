"""The fast read of NDJSON lines that orjson writes must give what the strict reader gives.

A JSON array body always goes through the strict reader, so each line below is parsed
both ways and the results compared: the canonical line, the event's members, or the
rejection with its field, value and message.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from datastreams.events import jsontext, parsing
from datastreams.events.parsing import ItemParsed, ItemRejected, parse_ingest_body

GUID = "9f0c6a9e-2b1d-4c3e-8f4a-5b6c7d8e9f01"
TIME = "2024-09-12T21:49:30.1234567Z"
# An event of type T in domain d1 up to its data, as orjson writes it.
PREFIX = (
    b'{"time":"'
    + TIME.encode()
    + b'","guid":"'
    + GUID.encode()
    + b'","domainId":"d1","type":"T","data":'
)

LINES = [
    # What orjson writes, members in canonical order: the fast read keeps the bytes.
    b'{"time":"' + TIME.encode() + b'","guid":"' + GUID.encode() + b'","domainId":"d1",'
    b'"type":"GradeChanged","data":{"score":12.5,"items":[1,2,3],"note":null},"userId":"u1"}',
    # Members out of canonical order: the line is rewritten.
    b'{"guid":"' + GUID.encode() + b'","time":"' + TIME.encode() + b'","type":"T",'
    b'"domainId":"d1","data":{}}',
    # A null optional member, omitted in the canonical line.
    PREFIX + b'{},"userId":null}',
    # An upper-case guid and a time with an offset: both rewritten.
    b'{"time":"2024-09-12T23:49:30+02:00","guid":"' + GUID.upper().encode() + b'",'
    b'"domainId":"d1","type":"T","data":{}}',
    # Numbers orjson would write differently keep their text through the strict reader.
    PREFIX + b'{"a":1e5,"b":-0,"c":123456789012345678901234567890,"d":1.10}}',
    # Duplicate key, NaN, lone surrogate, escaped characters, invalid UTF-8.
    PREFIX + b'{"a":1,"a":2}}',
    PREFIX + b'{"a":NaN}}',
    PREFIX + b'{"a":"\\ud800"}}',
    PREFIX + b'{"a":"\\u00e9\\/"}}',
    PREFIX + b'{"a":"\xff"}}',
    # Container errors found after a fast read.
    PREFIX + b'{},"extra":1}',
    b'{"time":"2024-02-30T10:00:00.0000000Z","guid":"' + GUID.encode() + b'","domainId":"d1",'
    b'"type":"T","data":{}}',
    b'{"time":"' + TIME.encode() + b'","guid":"not-a-guid","domainId":"d1","type":"T","data":{}}',
    PREFIX + b"[]}",
    b"[1,2]",
    b"42",
]


def _outcome(item: ItemParsed | ItemRejected) -> tuple[Any, ...]:
    if isinstance(item, ItemRejected):
        error = item.error
        return ("rejected", error.field, error.value, error.message, item.guid)
    event = item.event
    return (
        "parsed",
        item.line,
        event.time,
        event.guid,
        event.domain_id,
        event.type,
        event.user_id,
        item.guid_assigned,
        item.time_assigned,
    )


def _parse(body: bytes, content_type: str) -> list[ItemParsed | ItemRejected]:
    return parse_ingest_body(body, content_type, max_event_bytes=1 << 20, max_items=1000)


@pytest.mark.parametrize("line", LINES, ids=range(len(LINES)))
def test_fast_read_equals_strict(line: bytes) -> None:
    [from_ndjson] = _parse(line, "application/x-ndjson")
    [from_array] = _parse(b"[" + line + b"]", "application/json")

    assert _outcome(from_ndjson) == _outcome(from_array)


def test_canonical_line_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail_if_called(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the strict reader was used for a canonical line")

    # The first line is what orjson writes, so the strict reader must not run.
    monkeypatch.setattr(parsing, "raw_decode_strict", fail_if_called)
    [item] = _parse(LINES[0], "application/x-ndjson")

    assert isinstance(item, ItemParsed)
    assert item.line == LINES[0]
    assert item.line is not orjson.dumps(item.event.to_json_object())


def test_rewritten_text_declined() -> None:
    assert jsontext.loads_if_canonical(b'{"a":1}') == {"a": 1}
    assert jsontext.loads_if_canonical(b'{"a": 1}') is None
    assert jsontext.loads_if_canonical(b'{"a":1,"a":2}') is None
    assert jsontext.loads_if_canonical(b'{"a":1e5}') is None
    assert jsontext.loads_if_canonical(b'{"a":"\\u00e9"}') is None
    assert jsontext.loads_if_canonical(b'{"a":NaN}') is None
    assert jsontext.loads_if_canonical(b"") is None


def test_bad_line_alone_rejected() -> None:
    good = LINES[0]
    duplicate = LINES[5]
    body = b"\n".join([good, duplicate, good.replace(GUID.encode(), GUID[:-1].encode() + b"2")])

    items = _parse(body, "application/x-ndjson")

    assert [type(item).__name__ for item in items] == ["ItemParsed", "ItemRejected", "ItemParsed"]
    rejected = items[1]
    assert isinstance(rejected, ItemRejected)
    assert rejected.error.field == "data"
    assert "duplicate" in rejected.error.message
