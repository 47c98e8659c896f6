from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from datastreams.errors import (
    BodyError,
    FieldError,
    LimitExceeded,
    UnsupportedMediaType,
    ValidationError,
)
from datastreams.events.jsontext import loads_strict
from datastreams.events.parsing import (
    MAX_DATA_DEPTH,
    ItemParsed,
    ItemRejected,
    parse_event_object,
    parse_ingest_body,
)

GUID = "3f2b8c1e-9a4d-4e6b-8f1a-2c3d4e5f6a7b"
TIME = "2022-06-29T16:40:30.9926931Z"
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
KNOWN_TYPES = {"EnrollmentEntityChanged", "DomainEntityCreated"}


def container(**changes: Any) -> dict[str, Any]:
    """Return a valid event container. A change to ``...`` removes that member."""
    obj: dict[str, Any] = {
        "time": TIME,
        "guid": GUID,
        "domainId": "1176022",
        "type": "EnrollmentEntityChanged",
        "data": {"enrollmentId": "88213"},
    }
    for name, value in changes.items():
        if value is ...:
            obj.pop(name, None)
        else:
            obj[name] = value
    return obj


def parse(obj: Any, **options: Any) -> tuple[Any, bytes, bool, bool]:
    options.setdefault("max_event_bytes", 1 << 20)
    return parse_event_object(obj, **options)


def field_error(obj: Any, **options: Any) -> FieldError:
    with pytest.raises(ValidationError) as caught:
        parse(obj, **options)
    assert len(caught.value.fields) == 1
    return caught.value.fields[0]


def ingest(body: bytes, content_type: str | None = "application/json", **options: Any) -> list[Any]:
    options.setdefault("max_event_bytes", 1 << 20)
    options.setdefault("max_items", 1000)
    return parse_ingest_body(body, content_type, **options)


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


# parse_event_object: accepted input


def test_event_valid_fields() -> None:
    event, _, _, _ = parse(container(userId="4410", agentUserId="99", sessionId="s-1"))

    assert (event.time, event.guid, event.domain_id, event.type) == (
        TIME,
        GUID,
        "1176022",
        "EnrollmentEntityChanged",
    )
    assert (event.user_id, event.agent_user_id, event.session_id) == ("4410", "99", "s-1")


def test_event_line_is_canonical() -> None:
    _, line, _, _ = parse(container())

    assert line == (
        b'{"time":"2022-06-29T16:40:30.9926931Z","guid":"3f2b8c1e-9a4d-4e6b-8f1a-2c3d4e5f6a7b",'
        b'"domainId":"1176022","type":"EnrollmentEntityChanged","data":{"enrollmentId":"88213"}}'
    )


def test_event_guid_lowercased() -> None:
    event, _, guid_assigned, _ = parse(container(guid=GUID.upper()))

    assert event.guid == GUID
    assert guid_assigned is False


@pytest.mark.parametrize("guid", [..., None])
def test_event_guid_assigned(guid: Any) -> None:
    event, _, guid_assigned, time_assigned = parse(container(guid=guid))

    assert UUID4.fullmatch(event.guid)
    assert guid_assigned is True
    assert time_assigned is False


@pytest.mark.parametrize("time", [..., None])
def test_event_time_assigned(time: Any) -> None:
    event, _, guid_assigned, time_assigned = parse(container(time=time))

    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z", event.time)
    assert time_assigned is True
    assert guid_assigned is False


def test_event_time_normalised() -> None:
    event, _, _, _ = parse(container(time="2022-06-29 18:40:30.992693199+02:00"))

    assert event.time == TIME


@pytest.mark.parametrize("member", ["userId", "agentUserId", "sessionId"])
def test_event_null_optional_omitted(member: str) -> None:
    _, line, _, _ = parse(container(**{member: None}))

    assert member.encode() not in line


def test_event_data_order_kept() -> None:
    data = loads_strict('{"z":1,"a":{"y":2,"b":3},"m":[{"d":4,"c":5}]}')
    _, line, _, _ = parse(container(data=data))

    assert b'"data":{"z":1,"a":{"y":2,"b":3},"m":[{"d":4,"c":5}]}' in line


@pytest.mark.parametrize("domain_id", ["1", "a" * 64, "Tenant-1.eu_west", "0"])
def test_event_domain_id_accepted(domain_id: str) -> None:
    event, _, _, _ = parse(container(domainId=domain_id))

    assert event.domain_id == domain_id


def test_event_data_at_depth_limit() -> None:
    event, _, _, _ = parse(container(data=nested(MAX_DATA_DEPTH)))

    assert max_level(event.data) == MAX_DATA_DEPTH


def test_event_known_type_strict() -> None:
    event, _, _, _ = parse(container(), is_known_type=KNOWN_TYPES.__contains__)

    assert event.type == "EnrollmentEntityChanged"


def test_event_unknown_type_lenient() -> None:
    event, _, _, _ = parse(container(type="SomethingNew"))

    assert event.type == "SomethingNew"


def test_event_size_at_limit() -> None:
    _, line, _, _ = parse(container())

    assert parse(container(), max_event_bytes=len(line))[1] == line


# parse_event_object: each rejection


def test_event_not_object() -> None:
    assert field_error([container()]) == FieldError(
        "",
        '[{"time":"2022-06-29T16:40:30.9926931Z","guid":"3f2b8c1e-9a4d-4e6b-8f1a-2c3d4e5f6a7b",'
        '"domainId":"1176022","type":"EnrollmentEntityChanged","data":{"enrollmentId":"88213"}}]',
        "must be a JSON object, not an array",
    )


def test_event_unknown_member() -> None:
    error = field_error(container(courseId="9912"))

    assert (error.field, error.value) == ("courseId", "9912")
    assert "Put event fields inside data" in error.message


@pytest.mark.parametrize("member", ["domainId", "type", "data"])
@pytest.mark.parametrize("value", [..., None])
def test_event_required_missing(member: str, value: Any) -> None:
    assert field_error(container(**{member: value})) == FieldError(
        member, None, "is required but missing or null"
    )


@pytest.mark.parametrize(
    "guid",
    [
        "not-a-guid",
        "{3f2b8c1e-9a4d-4e6b-8f1a-2c3d4e5f6a7b}",
        "3f2b8c1e9a4d4e6b8f1a2c3d4e5f6a7b",
        "3f2b8c1e-9a4d-4e6b-8f1a-2c3d4e5f6a7g",
        "urn:uuid:3f2b8c1e-9a4d-4e6b-8f1a-2c3d4e5f6a7b",
        "",
        12,
    ],
)
def test_event_guid_invalid(guid: Any) -> None:
    error = field_error(container(guid=guid))

    assert (error.field, error.value) == ("guid", guid)
    assert "8-4-4-4-12" in error.message


@pytest.mark.parametrize("time", [1656520830, ["2022-06-29T16:40:30Z"], True])
def test_event_time_not_string(time: Any) -> None:
    error = field_error(container(time=time))

    assert error.field == "time"
    assert "must be a string" in error.message


def test_event_time_without_zone() -> None:
    assert field_error(container(time="2022-06-29T16:40:30")) == FieldError(
        "time", "2022-06-29T16:40:30", "has no zone. Add Z or an offset such as +02:00"
    )


def test_event_time_invalid() -> None:
    error = field_error(container(time="2022-02-30T00:00:00Z"))

    assert (error.field, error.value) == ("time", "2022-02-30T00:00:00Z")
    assert "day is out of range" in error.message


@pytest.mark.parametrize("domain_id", [1176022, True, ["1"], {"id": "1"}])
def test_event_domain_id_not_string(domain_id: Any) -> None:
    error = field_error(container(domainId=domain_id))

    assert error.field == "domainId"
    assert error.message.startswith("must be a string")


@pytest.mark.parametrize("domain_id", ["", "-1", ".a", "a" * 65, "a b", "a/b", "é"])
def test_event_domain_id_pattern(domain_id: str) -> None:
    error = field_error(container(domainId=domain_id))

    assert (error.field, error.value) == ("domainId", domain_id)
    assert "1 to 64" in error.message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        (7, "must be a string, not a number"),
        ("T" * 129, "must be at most 128 characters, got 129"),
        ("Enrollment\nCreated", "must not contain control characters"),
        ("Enrollment\x7f", "must not contain control characters"),
    ],
)
def test_event_type_invalid(value: Any, message: str) -> None:
    error = field_error(container(type=value))

    assert error.field == "type"
    assert error.message == message


def test_event_type_unknown_strict() -> None:
    error = field_error(container(type="SomethingNew"), is_known_type=KNOWN_TYPES.__contains__)

    assert (error.field, error.value) == ("type", "SomethingNew")
    assert "strict mode" in error.message


@pytest.mark.parametrize(
    ("data", "kind"),
    [([1, 2], "an array"), ("text", "a string"), (5, "a number"), (False, "a boolean")],
)
def test_event_data_not_object(data: Any, kind: str) -> None:
    error = field_error(container(data=data))

    assert error.field == "data"
    assert error.message == f"must be a JSON object, not {kind}"


@pytest.mark.parametrize("member", ["userId", "agentUserId", "sessionId"])
@pytest.mark.parametrize("value", [4410, True, ["x"], {"id": "x"}])
def test_event_id_not_string(member: str, value: Any) -> None:
    error = field_error(container(**{member: value}))

    assert error.field == member
    assert error.message.startswith("must be a string or null")


@pytest.mark.parametrize(
    ("value", "message"),
    [("x" * 257, "must be at most 256 characters"), ("a\tb", "must not contain control")],
)
def test_event_id_invalid_text(value: str, message: str) -> None:
    error = field_error(container(userId=value))

    assert error.field == "userId"
    assert error.message.startswith(message)


def test_event_data_too_deep() -> None:
    error = field_error(container(data=nested(MAX_DATA_DEPTH + 1)))

    assert error.field == "data" + ".n" * MAX_DATA_DEPTH
    assert f"deeper than {MAX_DATA_DEPTH} levels" in error.message


def test_event_too_deep_inside_array() -> None:
    deep = nested(MAX_DATA_DEPTH - 1)
    error = field_error(container(data={"list": [deep]}))

    assert error.field == "data.list[0]" + ".n" * (MAX_DATA_DEPTH - 2)


def test_event_over_size_limit() -> None:
    _, line, _, _ = parse(container())
    error = field_error(container(), max_event_bytes=len(line) - 1)

    assert error.field == ""
    assert error.message == (
        f"the canonical event is {len(line)} bytes, over the limit of {len(line) - 1} bytes"
    )


def test_event_long_value_truncated() -> None:
    error = field_error(container(guid="x" * 5000))

    assert error.value == "x" * 200 + "..."


def test_event_python_int_out_of_range() -> None:
    error = field_error(container(data={"n": 2**70}))

    assert error.field == "data"
    assert "cannot be encoded" in error.message


def test_event_error_message_names_field() -> None:
    with pytest.raises(ValidationError, match=r"^domainId: must be a string"):
        parse(container(domainId=1))


# parse_ingest_body: body formats and content types


def test_body_single_object() -> None:
    results = ingest(dumps(container()))

    assert [type(result) for result in results] == [ItemParsed]
    assert results[0].event.guid == GUID


def test_body_array_in_order() -> None:
    body = dumps([container(guid=f"00000000-0000-4000-8000-00000000000{i}") for i in range(3)])
    results = ingest(body)

    assert [result.index for result in results] == [0, 1, 2]
    assert [result.event.guid[-1] for result in results] == ["0", "1", "2"]


def test_body_line_matches_event() -> None:
    (result,) = ingest(dumps([container(data={"ratio": 1.5})]))

    assert result.line == result.event.encode()


def test_body_flags_assigned() -> None:
    (result,) = ingest(dumps([container(guid=..., time=...)]))

    assert (result.guid_assigned, result.time_assigned) == (True, True)


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "application/x-ndjson; charset=utf-8",
        "Application/X-NDJSON",
    ],
)
def test_body_ndjson_types(content_type: str) -> None:
    body = dumps(container()) + b"\n" + dumps(container(guid=...)) + b"\n"

    assert [type(result) for result in ingest(body, content_type)] == [ItemParsed, ItemParsed]


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8",
        'application/json; charset="utf-8"',
        "APPLICATION/JSON",
    ],
)
def test_body_json_types(content_type: str) -> None:
    assert [type(result) for result in ingest(dumps(container()), content_type)] == [ItemParsed]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/json-seq"]
)
def test_body_unsupported_type(content_type: str) -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        ingest(dumps(container()), content_type)

    assert repr(content_type) in caught.value.message
    assert "application/json, application/x-ndjson" in caught.value.message


@pytest.mark.parametrize("content_type", [None, "", "  "])
def test_body_missing_type(content_type: str | None) -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        ingest(dumps(container()), content_type)

    assert caught.value.message == (
        "the request has no Content-Type. Send one of application/json, "
        "application/x-ndjson, application/ndjson, application/jsonl"
    )


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=latin-1", "application/x-ndjson; charset=utf-16"]
)
def test_body_unsupported_charset(content_type: str) -> None:
    with pytest.raises(UnsupportedMediaType, match="charset"):
        ingest(dumps(container()), content_type)


@pytest.mark.parametrize("body", [b"", b"  \n\t", b"\n\n"])
@pytest.mark.parametrize("content_type", ["application/json", "application/x-ndjson"])
def test_body_empty(body: bytes, content_type: str) -> None:
    with pytest.raises(BodyError, match="empty"):
        ingest(body, content_type)


def test_body_empty_array() -> None:
    with pytest.raises(BodyError, match="array is empty"):
        ingest(b" [ ] ")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"domainId": ', "invalid JSON: Expecting value at line 1 column 14"),
        (b'[{"a":1} {"b":2}]', "invalid JSON: Expecting ',' delimiter at line 1 column 10"),
        (b'[{"a":1},]', "invalid JSON: Expecting value at line 1 column 10"),
        (b'[{"a":1}', "invalid JSON: Expecting ',' delimiter at line 1 column 9"),
        (b'[{"a":1}] []', "invalid JSON: Extra data at line 1 column 11"),
        (b'{"a":1} x', "invalid JSON: Extra data at line 1 column 9"),
        (b'[{"a":1},\n{"b" 2}]', "invalid JSON: Expecting ':' delimiter at line 2 column 6"),
    ],
)
def test_body_broken_json(body: bytes, message: str) -> None:
    with pytest.raises(BodyError) as caught:
        ingest(body)

    assert caught.value.message == message


@pytest.mark.parametrize(("body", "kind"), [(b'"event"', "a string"), (b"42", "a number")])
def test_body_top_level_scalar(body: bytes, kind: str) -> None:
    with pytest.raises(BodyError, match=f"not {kind}"):
        ingest(body)


def test_body_over_item_limit() -> None:
    with pytest.raises(LimitExceeded, match="more than 2 items"):
        ingest(dumps([container()] * 3), max_items=2)


def test_body_ndjson_over_item_limit() -> None:
    body = b"\n".join([dumps(container())] * 3)

    with pytest.raises(LimitExceeded, match="at most 2"):
        ingest(body, "application/x-ndjson", max_items=2)


def test_body_at_item_limit() -> None:
    assert len(ingest(dumps([container()] * 2), max_items=2)) == 2


def test_body_strict_type() -> None:
    body = dumps([container(), container(type="SomethingNew")])
    results = ingest(body, is_known_type=KNOWN_TYPES.__contains__)

    assert isinstance(results[0], ItemParsed)
    assert isinstance(results[1], ItemRejected)
    assert results[1].error.field == "type"


def test_body_size_limit_per_item() -> None:
    small = container()
    large = container(data={"text": "x" * 500})
    results = ingest(dumps([small, large]), max_event_bytes=400)

    assert isinstance(results[0], ItemParsed)
    assert isinstance(results[1], ItemRejected)
    assert results[1].error.message.startswith("the canonical event is ")


def test_body_deep_item_rejected() -> None:
    body = dumps([container(data=nested(MAX_DATA_DEPTH + 1)), container()])
    results = ingest(body)

    assert isinstance(results[0], ItemRejected)
    assert results[0].error.field == "data" + ".n" * MAX_DATA_DEPTH
    assert isinstance(results[1], ItemParsed)


def test_body_many_brackets_in_strings() -> None:
    (result,) = ingest(dumps([container(data={"text": "[{" * 100})]))

    assert isinstance(result, ItemParsed)


# parse_ingest_body: one bad item never costs the others


def rejected_errors(results: list[Any]) -> dict[int, tuple[str, str]]:
    return {
        result.index: (result.error.field, result.error.message)
        for result in results
        if isinstance(result, ItemRejected)
    }


def accepted_indexes(results: list[Any]) -> list[int]:
    return [result.index for result in results if isinstance(result, ItemParsed)]


def test_array_item_isolation() -> None:
    good = dumps(container()).decode()
    body = (
        "["
        + ",".join(
            [
                good,
                '{"domainId":"1","type":"T","data":{"a":1,"a":2}}',
                good,
                '{"domainId":"1","type":"T","data":{"n":NaN}}',
                '{"domainId":"1","type":"T","data":{"s":"\\ud800"}}',
                "17",
                '{"domainId":"1","type":"T","data":{"items":[{"x":-Infinity}]}}',
                good,
            ]
        )
        + "]"
    ).encode()
    results = ingest(body)

    assert accepted_indexes(results) == [0, 2, 7]
    assert rejected_errors(results) == {
        1: ("data", "duplicate key 'a'"),
        3: ("data.n", "NaN is not valid JSON"),
        4: ("data.s", "lone surrogate"),
        5: ("", "must be a JSON object, not a number"),
        6: ("data.items[0].x", "-Infinity is not valid JSON"),
    }


def test_array_invalid_utf8_item() -> None:
    good = dumps(container())
    bad = b'{"domainId":"1","type":"T","data":{"name":"caf\xe9"}}'
    results = ingest(b"[" + good + b"," + bad + b"," + good + b"]")

    assert accepted_indexes(results) == [0, 2]
    assert rejected_errors(results) == {1: ("data.name", "invalid UTF-8")}


def test_array_invalid_utf8_value_shown_escaped() -> None:
    bad = b'{"domainId":"1","type":"T","data":{"name":"caf\xe9"}}'
    (result,) = ingest(b"[" + bad + b"]")

    assert result.error.value == "caf\\udce9"


def test_array_valid_non_ascii_beside_bad_bytes() -> None:
    good = dumps(container(data={"name": "Zoë"}))
    bad = b'{"domainId":"1","type":"T","data":{"name":"\xff"}}'
    results = ingest(b"[" + good + b"," + bad + b"]")

    assert results[0].event.data == {"name": "Zoë"}
    assert isinstance(results[1], ItemRejected)


def test_array_rejected_keeps_guid() -> None:
    bad = container(guid=GUID.upper(), domainId="-bad")
    (result,) = ingest(dumps([bad]))

    assert result.guid == GUID


def test_array_rejected_without_guid() -> None:
    (result,) = ingest(dumps([container(guid="nope", type="")]))

    assert result.guid is None


def test_single_object_duplicate_rejected_item() -> None:
    (result,) = ingest(b'{"domainId":"1","domainId":"2","type":"T","data":{}}')

    assert isinstance(result, ItemRejected)
    assert (result.error.field, result.error.message) == ("", "duplicate key 'domainId'")


def test_ndjson_item_isolation() -> None:
    lines = [
        dumps(container()),
        b"",
        b"{not json",
        b"   ",
        b'{"domainId":"1","type":"T","data":{"a":1,"a":2}}',
        b"[1]",
        dumps(container()) + b"\r",
        b'{"domainId":"1","type":"T","data":{"s":"\xff"}}',
        b'{"domainId":"1","type":"T","data":{}} {}',
        dumps(container(guid=...)),
    ]
    results = ingest(b"\n".join(lines), "application/x-ndjson")

    assert accepted_indexes(results) == [0, 4, 7]
    assert rejected_errors(results) == {
        1: (
            "",
            "invalid JSON: Expecting property name enclosed in double quotes at line 1 column 2",
        ),
        2: ("data", "duplicate key 'a'"),
        3: ("", "must be a JSON object, not an array"),
        5: ("data.s", "invalid UTF-8"),
        6: ("", "invalid JSON: Extra data at line 1 column 39"),
    }


def test_ndjson_without_final_newline() -> None:
    body = dumps(container()) + b"\n" + dumps(container())

    assert len(ingest(body, "application/x-ndjson")) == 2


def test_ndjson_unicode_line_separator_kept() -> None:
    body = dumps(container(data={"text": "a\u2028b"}))
    (result,) = ingest(body, "application/x-ndjson")

    assert result.event.data == {"text": "a\u2028b"}


def nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"n": value}
    return value


def max_level(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((max_level(child) for child in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((max_level(child) for child in value), default=0)
    return 0
