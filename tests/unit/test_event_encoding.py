from __future__ import annotations

from typing import Any

import orjson
import pytest

from datastreams.events.container import Event
from datastreams.events.jsontext import JsonTextError, loads_strict, max_depth_exceeded
from datastreams.events.parsing import (
    ItemParsed,
    event_from_line,
    parse_event_object,
    parse_ingest_body,
)

HEAD = (
    '{"time":"2022-06-29T16:40:30.9926931Z","guid":"3f2b8c1e-9a4d-4e6b-8f1a-2c3d4e5f6a7b",'
    '"domainId":"1176022","type":"EnrollmentEntityChanged","data":'
)

# Canonical lines: parsing and encoding each must give back the same bytes.
CANONICAL_LINES = [
    HEAD + '{"name":"Zoë Ångström","city":"Zürich","greeting":"こんにちは","emoji":"😀"}}',
    HEAD + '{"ratio":1.0,"big":1e5,"small":1E-7,"negativeZero":-0.0,"neg":-2.50}}',
    HEAD + '{"huge":12345678901234567890123,"max":9223372036854775807,"min":-9223372036854775808}}',
    HEAD + '{"over":9223372036854775808,"under":-9223372036854775809,"intZero":-0}}',
    HEAD + '{"z":1,"a":2,"m":{"y":true,"b":false,"k":null},"list":[3,{"q":[]},"x"]}}',
    HEAD + '{"quote":"say \\"hi\\"","backslash":"a\\\\b","newline":"1\\n2","tab":"\\t",'
    '"control":"\\u0001","slash":"a/b"}}',
    HEAD + '{"k":"v"},"userId":"4410","agentUserId":"99","sessionId":"s-1"}',
]


def canonical(line: str) -> bytes:
    _, encoded, _, _ = parse_event_object(loads_strict(line), max_event_bytes=1 << 20)
    return encoded


@pytest.mark.parametrize("line", CANONICAL_LINES)
def test_encoding_round_trip_exact(line: str) -> None:
    assert canonical(line) == line.encode("utf-8")


@pytest.mark.parametrize("line", CANONICAL_LINES)
def test_event_from_line_round_trip(line: str) -> None:
    encoded = line.encode("utf-8")

    assert event_from_line(encoded).encode() == encoded


@pytest.mark.parametrize(
    ("data_text", "expected"),
    [
        ('{"name":"Caf\\u00e9"}', '{"name":"Café"}'),
        ('{"url":"https:\\/\\/example.test\\/a"}', '{"url":"https://example.test/a"}'),
        ('{"face":"\\ud83d\\ude00"}', '{"face":"😀"}'),
        ('{"upper":"\\u00C9"}', '{"upper":"É"}'),
        ('{ "spaced" : [ 1 , 2.0 ] }', '{"spaced":[1,2.0]}'),
        ('{"del":"\\u007f"}', '{"del":"\x7f"}'),
    ],
)
def test_encoding_escapes_normalised(data_text: str, expected: str) -> None:
    assert canonical(HEAD + data_text + "}") == (HEAD + expected + "}").encode("utf-8")


def test_encoding_is_fixed_point() -> None:
    messy = (
        '{"data":{"b":"\\u00e9\\/","a":1.50},"type":"T","domainId":"d",'
        '"guid":"3F2B8C1E-9A4D-4E6B-8F1A-2C3D4E5F6A7B","time":"2022-06-29T18:40:30+02:00"}'
    )
    once = canonical(messy)

    assert canonical(once.decode("utf-8")) == once


def test_encoding_member_order_canonical() -> None:
    messy = (
        '{"sessionId":"s","data":{"b":2,"a":1},"type":"T","userId":"u","domainId":"d",'
        '"guid":"3f2b8c1e-9a4d-4e6b-8f1a-2c3d4e5f6a7b","time":"2022-06-29T16:40:30Z"}'
    )

    assert canonical(messy) == (
        b'{"time":"2022-06-29T16:40:30.0000000Z","guid":"3f2b8c1e-9a4d-4e6b-8f1a-2c3d4e5f6a7b",'
        b'"domainId":"d","type":"T","data":{"b":2,"a":1},"userId":"u","sessionId":"s"}'
    )


def test_loads_strict_small_int_is_int() -> None:
    assert loads_strict('{"n":42}')["n"] == 42


@pytest.mark.parametrize("number", ["1.0", "1e5", "-0.0", "12345678901234567890123", "-0"])
def test_loads_strict_number_kept_as_fragment(number: str) -> None:
    value = loads_strict(f"[{number}]")[0]

    assert isinstance(value, orjson.Fragment)
    assert orjson.dumps(value) == number.encode()


def test_loads_strict_keeps_member_order() -> None:
    assert list(loads_strict('{"z":1,"a":2,"m":3}')) == ["z", "a", "m"]


def test_loads_strict_accepts_bytes() -> None:
    assert loads_strict('{"name":"Zoë"}'.encode()) == {"name": "Zoë"}


def test_loads_strict_surrounding_whitespace() -> None:
    assert loads_strict(' \n{"a":true}\r\n\t') == {"a": True}


def errors_of(text: str | bytes) -> tuple[str, str]:
    with pytest.raises(JsonTextError) as caught:
        loads_strict(text)
    return caught.value.path, caught.value.reason


@pytest.mark.parametrize(
    ("text", "path", "reason"),
    [
        ('{"a":1,"a":2}', "", "duplicate key 'a'"),
        ('{"data":{"items":[{},{},{"name":1,"name":2}]}}', "data.items[2]", "duplicate key 'name'"),
        ('{"x":NaN}', "x", "NaN is not valid JSON"),
        ('{"x":[Infinity]}', "x[0]", "Infinity is not valid JSON"),
        ("-Infinity", "", "-Infinity is not valid JSON"),
        ('{"s":"\\ud800"}', "s", "lone surrogate"),
        ('{"s":["ok","x\\udfffy"]}', "s[1]", "lone surrogate"),
        ('{"s":"\\ude00\\ud83d"}', "s", "lone surrogate"),
        ('{"\\ud800":1}', '["\\\\ud800"]', "lone surrogate"),
        ('{"a.b":{"c":NaN}}', '["a.b"].c', "NaN is not valid JSON"),
    ],
)
def test_loads_strict_rejects_value(text: str, path: str, reason: str) -> None:
    assert errors_of(text) == (path, reason)


def test_loads_strict_invalid_utf8() -> None:
    assert errors_of(b'{"name":"\xff"}') == ("", "invalid UTF-8")


def test_loads_strict_overlong_utf8() -> None:
    assert errors_of(b'{"name":"\xc0\xaf"}') == ("", "invalid UTF-8")


def test_loads_strict_raw_surrogate_in_str() -> None:
    assert errors_of('{"name":"\ud800"}') == ("name", "lone surrogate")


def test_loads_strict_escaped_byte_in_str() -> None:
    text = b'{"name":"\xff"}'.decode("utf-8", "surrogateescape")

    assert errors_of(text) == ("name", "invalid UTF-8")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"a":1 "b":2}', "invalid JSON: Expecting ',' delimiter at line 1 column 8"),
        ("", "invalid JSON: Expecting value at line 1 column 1"),
        ("{}  x", "invalid JSON: Extra data at line 1 column 5"),
        ("[1,]", "invalid JSON: Expecting value at line 1 column 4"),
        ("{'a':1}", "invalid JSON: Expecting property name enclosed in double quotes"),
        ('"tab\there"', "invalid JSON: Invalid control character"),
        ("01", "invalid JSON: Extra data"),
        ("\ufeff{}", "invalid JSON: Expecting value"),
        ("[\n1,\n2 3]", "invalid JSON: Expecting ',' delimiter at line 3 column 3"),
    ],
)
def test_loads_strict_syntax_error(text: str, reason: str) -> None:
    path, actual = errors_of(text)

    assert path == ""
    assert actual.startswith(reason)


def test_loads_strict_deep_nesting_error() -> None:
    assert errors_of("[" * 100_000 + "]" * 100_000) == (
        "",
        "invalid JSON: nesting is too deep to read",
    )


def test_loads_strict_escaped_backslash_not_surrogate() -> None:
    assert loads_strict('"\\\\ud800"') == "\\ud800"


def test_loads_strict_error_carries_end() -> None:
    with pytest.raises(JsonTextError) as caught:
        loads_strict('{"a":1,"a":2}')

    assert caught.value.end == 13


def test_loads_strict_error_message() -> None:
    with pytest.raises(JsonTextError, match=r"^x: NaN is not valid JSON$"):
        loads_strict('{"x":NaN}')


def nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"n": value}
    return value


def test_max_depth_at_limit() -> None:
    assert max_depth_exceeded(nested(32), 32) is None


def test_max_depth_over_limit() -> None:
    assert max_depth_exceeded(nested(33), 32) == "n" + ".n" * 31


def test_max_depth_path_prefix() -> None:
    assert max_depth_exceeded({"a": [[{"b": {}}]]}, 3, path="data") == "data.a[0][0]"


def test_max_depth_first_in_document_order() -> None:
    value = {"a": {"b": {}}, "c": [[{}]]}

    assert max_depth_exceeded(value, 2) == "a.b"


def test_max_depth_scalar() -> None:
    assert max_depth_exceeded("text", 0) is None


def test_event_from_line_keeps_numbers() -> None:
    line = (HEAD + '{"ratio":1.0,"n":7}}').encode()
    event = event_from_line(line)

    assert isinstance(event.data["ratio"], orjson.Fragment)
    assert event.data["n"] == 7


def test_event_from_line_optional_members_absent() -> None:
    event = event_from_line((HEAD + "{}}").encode())

    assert event == Event(
        time="2022-06-29T16:40:30.9926931Z",
        guid="3f2b8c1e-9a4d-4e6b-8f1a-2c3d4e5f6a7b",
        domain_id="1176022",
        type="EnrollmentEntityChanged",
        data={},
    )


def test_event_from_line_not_an_event() -> None:
    with pytest.raises(ValueError, match="not a canonical event"):
        event_from_line(b'{"time":"2022-06-29T16:40:30.9926931Z"}')


def test_parsed_event_keeps_its_line() -> None:
    body = b'{"domainId":"d1","type":"T","data":{"n":1.50}}'

    [item] = parse_ingest_body(body, "application/json", max_event_bytes=1_048_576, max_items=10)

    assert isinstance(item, ItemParsed)
    assert item.event.encode() is item.line
    assert item.event.with_data({"n": 2}).line is None
