"""Ingest bodies: reading them item by item and validating each event container.

One bad item never costs the others. A JSON array is read one element at a time, so a
duplicate key, ``NaN`` or invalid UTF-8 inside an element rejects that element alone,
and in NDJSON every line is its own item. Only a body whose JSON syntax is broken, so
that the next item cannot be found, is rejected as a whole.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

import orjson

from datastreams.errors import (
    BodyError,
    FieldError,
    LimitExceeded,
    UnsupportedMediaType,
    ValidationError,
)
from datastreams.events.container import CONTAINER_MEMBERS, Event
from datastreams.events.jsontext import (
    JsonTextError,
    display_value,
    loads_if_canonical,
    loads_trusted,
    max_depth_exceeded,
    raw_decode_strict,
    syntax_error,
)
from datastreams.events.timefmt import now_time, parse_time

MAX_DATA_DEPTH = 32
"""Deepest nesting of objects and arrays in ``data``, counting ``data`` itself as level 1."""

MAX_TYPE_CHARS = 128
MAX_ID_CHARS = 256

JSON_MEDIA_TYPE = "application/json"
NDJSON_MEDIA_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")
ACCEPTED_MEDIA_TYPES = (JSON_MEDIA_TYPE, *NDJSON_MEDIA_TYPES)

BodyFormat = Literal["json", "ndjson"]

_CONTAINER_NAMES = frozenset(name for _, name in CONTAINER_MEMBERS)
_ALLOWED_MEMBERS_TEXT = ", ".join(name for _, name in CONTAINER_MEMBERS)
_DOMAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_CONTROL_CHARS = re.compile("[\x00-\x1f\x7f-\x9f]")
_WHITESPACE = re.compile(r"[ \t\n\r]*")


@dataclass(slots=True)
class ItemParsed:
    """An item that passed validation, with its canonical line."""

    index: int
    event: Event
    line: bytes
    guid_assigned: bool
    time_assigned: bool


@dataclass(slots=True)
class ItemRejected:
    """An item that failed validation. ``guid`` is set when the item carried a valid one."""

    index: int
    error: FieldError
    guid: str | None = None


def parse_ingest_body(
    body: bytes,
    content_type: str | None,
    *,
    max_event_bytes: int,
    max_items: int,
    is_known_type: Callable[[str], bool] | None = None,
) -> list[ItemParsed | ItemRejected]:
    """Read an ingest request body into one result per item, in input order.

    ``application/json`` takes one event object or an array of them; the NDJSON
    media types take one event per non-blank line. With ``is_known_type`` (strict
    mode), an event whose ``type`` it rejects is rejected.

    Raises ``UnsupportedMediaType`` for another content type or charset,
    ``BodyError`` for an empty body, an empty array or broken JSON syntax, and
    ``LimitExceeded`` for more than ``max_items`` items.
    """
    body_format = body_format_of(content_type)
    if not body.strip(b" \t\n\r"):
        raise BodyError("the request body is empty. Send at least one event")

    if body_format == "ndjson":
        items = _read_ndjson(body)
    else:
        items = _read_json(*_decode_body(body))
    results: list[ItemParsed | ItemRejected] = []
    for index, (item, depth_may_exceed, source_line) in enumerate(items):
        if index >= max_items:
            raise LimitExceeded(
                f"the body contains more than {max_items} items. Send at most "
                f"{max_items} events per request"
            )
        results.append(
            _check_item(index, item, max_event_bytes, is_known_type, depth_may_exceed, source_line)
        )
    return results


def parse_event_object(
    obj: Any, *, max_event_bytes: int, is_known_type: Callable[[str], bool] | None = None
) -> tuple[Event, bytes, bool, bool]:
    """Validate one event container and return ``(event, line, guid_assigned, time_assigned)``.

    A missing or null ``guid`` gets a random UUID and a missing or null ``time`` the
    current time. ``line`` is the canonical encoding. Raises ``ValidationError`` with
    one ``FieldError`` that names the member and its value.
    """
    return _validate_event(obj, max_event_bytes, is_known_type, depth_may_exceed=True)


def event_from_line(line: bytes) -> Event:
    """Rebuild an event from a canonical line read back from the store.

    The line was validated when it was ingested, so only its shape is checked.
    Numbers in ``data`` come back as they were parsed on ingest. Raises
    ``ValueError`` when the line is not a canonical event.
    """
    container = loads_trusted(line)
    try:
        return Event(
            time=container["time"],
            guid=container["guid"],
            domain_id=container["domainId"],
            type=container["type"],
            data=container["data"],
            user_id=container.get("userId"),
            agent_user_id=container.get("agentUserId"),
            session_id=container.get("sessionId"),
        )
    except (KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"stored line is not a canonical event: missing {error}") from None


def body_format_of(content_type: str | None) -> BodyFormat:
    """Return the body format a ``Content-Type`` header names.

    Parameters other than ``charset`` are ignored, and ``charset`` must be UTF-8.
    Raises ``UnsupportedMediaType`` naming the content type and the accepted ones.
    """
    accepted = ", ".join(ACCEPTED_MEDIA_TYPES)
    if not content_type or not content_type.strip():
        raise UnsupportedMediaType(f"the request has no Content-Type. Send one of {accepted}")

    media_type, *parameters = (part.strip() for part in content_type.split(";"))
    media_type = media_type.lower()
    if media_type == JSON_MEDIA_TYPE:
        body_format: BodyFormat = "json"
    elif media_type in NDJSON_MEDIA_TYPES:
        body_format = "ndjson"
    else:
        raise UnsupportedMediaType(
            f"content type {content_type!r} is not supported. Send one of {accepted}"
        )

    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() != "charset":
            continue
        charset = value.strip().strip('"').lower()
        if charset != "utf-8":
            raise UnsupportedMediaType(
                f"charset {charset!r} is not supported. Send the body as charset=utf-8"
            )
    return body_format


# A parsed item (or the reason it could not be parsed), then whether its text has
# enough brackets that `data` might nest deeper than MAX_DATA_DEPTH. Counting brackets
# in C is far cheaper than walking every event's data. Last, the item's text when it
# is exactly what orjson writes for the item.
_ReadItem = tuple[object, bool, bytes | None]

# Member orders of a canonical line: the required members, then any optional ones.
_CANONICAL_MEMBER_ORDERS = frozenset(
    ("time", "guid", "domainId", "type", "data", *optional)
    for optional in (
        (),
        ("userId",),
        ("agentUserId",),
        ("sessionId",),
        ("userId", "agentUserId"),
        ("userId", "sessionId"),
        ("agentUserId", "sessionId"),
        ("userId", "agentUserId", "sessionId"),
    )
)


def _decode_body(body: bytes) -> tuple[str, bool]:
    # Invalid bytes must reject only the item that contains them, so when the strict
    # decode fails they become lone surrogates (U+DC80..U+DCFF) that the JSON reader
    # reports as invalid UTF-8 at their path.
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return body.decode("utf-8", "surrogateescape"), True


def _read_json(text: str, may_hold_raw_surrogates: bool) -> Iterator[_ReadItem]:
    """Yield the items of a JSON body: the one value, or each element of an array."""
    pos = _skip_whitespace(text, 0)
    if text[pos] != "[":
        item, end = _decode_item_or_raise(text, pos, may_hold_raw_surrogates)
        _expect_end(text, end)
        if not isinstance(item, dict | JsonTextError):
            raise BodyError(
                "the JSON body must be an event object or an array of event objects, "
                f"not {_json_kind(item)}"
            )
        yield item, _may_nest_too_deep(text, pos, end), None
        return

    pos = _skip_whitespace(text, pos + 1)
    if text.startswith("]", pos):
        _expect_end(text, pos + 1)
        raise BodyError("the JSON array is empty. Send at least one event")

    while True:
        item, end = _decode_item_or_raise(text, pos, may_hold_raw_surrogates)
        yield item, _may_nest_too_deep(text, pos, end), None

        pos = _skip_whitespace(text, end)
        if text.startswith(",", pos):
            pos = _skip_whitespace(text, pos + 1)
        elif text.startswith("]", pos):
            _expect_end(text, pos + 1)
            return
        else:
            raise BodyError(syntax_error("Expecting ',' delimiter", text, pos).reason)


def _read_ndjson(body: bytes) -> Iterator[_ReadItem]:
    """Yield the items of an NDJSON body: each non-blank line, or the reason it did not parse."""
    for raw_line in body.split(b"\n"):
        # Lines as orjson writes them take the fast reader. The rest, blank lines
        # included, go through the strict reader, which also reports what is wrong.
        item = loads_if_canonical(raw_line)
        if item is not None:
            brackets = raw_line.count(b"{") + raw_line.count(b"[")
            yield item, brackets > MAX_DATA_DEPTH + 1, raw_line
            continue

        line, may_hold_raw_surrogates = _decode_body(raw_line)
        start = _skip_whitespace(line, 0)
        if start == len(line):
            continue

        try:
            item, end = raw_decode_strict(
                line, start, may_hold_raw_surrogates=may_hold_raw_surrogates
            )
            after = _skip_whitespace(line, end)
            if after != len(line):
                raise syntax_error("Extra data", line, after)
        except JsonTextError as error:
            yield error, False, None
            continue
        yield item, _may_nest_too_deep(line, start, end), None


def _decode_item_or_raise(text: str, pos: int, may_hold_raw_surrogates: bool) -> tuple[object, int]:
    """Decode one item, returning a ``JsonTextError`` in its place when only that item is bad."""
    try:
        return raw_decode_strict(text, pos, may_hold_raw_surrogates=may_hold_raw_surrogates)
    except JsonTextError as error:
        if error.end is None:
            raise BodyError(error.reason) from None
        return error, error.end


def _may_nest_too_deep(text: str, start: int, end: int) -> bool:
    # The container is one level above data, and no value nests deeper than the
    # number of brackets it contains (brackets inside strings only overcount).
    brackets = text.count("{", start, end) + text.count("[", start, end)
    return brackets > MAX_DATA_DEPTH + 1


def _check_item(
    index: int,
    item: object,
    max_event_bytes: int,
    is_known_type: Callable[[str], bool] | None,
    depth_may_exceed: bool,
    source_line: bytes | None,
) -> ItemParsed | ItemRejected:
    if isinstance(item, JsonTextError):
        return ItemRejected(index, FieldError(item.path, item.value, item.reason))

    try:
        event, line, guid_assigned, time_assigned = _validate_event(
            item,
            max_event_bytes,
            is_known_type,
            depth_may_exceed=depth_may_exceed,
            source_line=source_line,
        )
    except ValidationError as error:
        return ItemRejected(index, error.fields[0], _valid_guid_of(item))
    return ItemParsed(index, event, line, guid_assigned, time_assigned)


def _validate_event(
    obj: Any,
    max_event_bytes: int,
    is_known_type: Callable[[str], bool] | None,
    *,
    depth_may_exceed: bool,
    source_line: bytes | None = None,
) -> tuple[Event, bytes, bool, bool]:
    if not isinstance(obj, dict):
        _reject("", obj, f"must be a JSON object, not {_json_kind(obj)}")

    if not _CONTAINER_NAMES.issuperset(obj):
        name = next(name for name in obj if name not in _CONTAINER_NAMES)
        _reject(
            name,
            obj[name],
            "is not a member of the event container. Put event fields inside data "
            f"(allowed members: {_ALLOWED_MEMBERS_TEXT})",
        )
    for name in ("domainId", "type", "data"):
        if obj.get(name) is None:
            _reject(name, None, "is required but missing or null")

    time, time_assigned = _checked_time(obj.get("time"))
    guid, guid_assigned = _checked_guid(obj.get("guid"))
    domain_id = _checked_domain_id(obj["domainId"])
    event_type = _checked_type(obj["type"], is_known_type)
    data = _checked_data(obj["data"], depth_may_exceed)
    user_id = _checked_id("userId", obj.get("userId"))
    agent_user_id = _checked_id("agentUserId", obj.get("agentUserId"))
    session_id = _checked_id("sessionId", obj.get("sessionId"))

    event = Event(time, guid, domain_id, event_type, data, user_id, agent_user_id, session_id)
    if source_line is not None and _is_canonical_line(obj, time, guid):
        line = source_line
    else:
        line = _encode(event)
    event.line = line
    if len(line) > max_event_bytes:
        _reject(
            "",
            None,
            f"the canonical event is {len(line)} bytes, over the limit of {max_event_bytes} bytes",
        )
    return event, line, guid_assigned, time_assigned


def _is_canonical_line(obj: dict[str, Any], time: str, guid: str) -> bool:
    """Return whether orjson's encoding of ``obj`` is also the event's canonical line.

    True when the members come in canonical order, no optional member is null (the
    canonical line omits it), and the time and guid needed no rewriting.
    """
    return (
        tuple(obj) in _CANONICAL_MEMBER_ORDERS
        and obj["time"] == time
        and obj["guid"] == guid
        and None
        not in (obj.get("userId", ""), obj.get("agentUserId", ""), obj.get("sessionId", ""))
    )


def _checked_time(value: Any) -> tuple[str, bool]:
    if value is None:
        return now_time(), True
    if not isinstance(value, str):
        _reject("time", value, "must be a string holding an ISO 8601 time with a zone")
    try:
        return parse_time(value), False
    except ValueError as error:
        _reject("time", value, str(error))


def _checked_guid(value: Any) -> tuple[str, bool]:
    if value is None:
        return str(uuid.uuid4()), True
    if not isinstance(value, str) or _GUID.fullmatch(value) is None:
        _reject(
            "guid",
            value,
            "must be a UUID string in the 8-4-4-4-12 hex form, "
            "such as 3f2b8c1e-9a4d-4e6b-8f1a-2c3d4e5f6a7b",
        )
    return value.lower(), False


def _checked_domain_id(value: Any) -> str:
    if not isinstance(value, str):
        _reject("domainId", value, f"must be a string, not {_json_kind(value)}")
    if _DOMAIN_ID.fullmatch(value) is None:
        _reject(
            "domainId",
            value,
            "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return value


def _checked_type(value: Any, is_known_type: Callable[[str], bool] | None) -> str:
    if not isinstance(value, str):
        _reject("type", value, f"must be a string, not {_json_kind(value)}")
    if not value.strip():
        _reject("type", value, "must not be empty")
    if len(value) > MAX_TYPE_CHARS:
        _reject("type", value, f"must be at most {MAX_TYPE_CHARS} characters, got {len(value)}")
    if _CONTROL_CHARS.search(value):
        _reject("type", value, "must not contain control characters")
    if is_known_type is not None and not is_known_type(value):
        _reject("type", value, "is not an event type in the catalogue, and strict mode is on")
    return value


def _checked_data(value: Any, depth_may_exceed: bool) -> dict[str, Any]:
    if not isinstance(value, dict):
        _reject("data", value, f"must be a JSON object, not {_json_kind(value)}")
    if depth_may_exceed:
        too_deep = max_depth_exceeded(value, MAX_DATA_DEPTH, path="data")
        if too_deep is not None:
            _reject(
                too_deep,
                None,
                f"nests objects and arrays deeper than {MAX_DATA_DEPTH} levels (data is level 1)",
            )
    return value


def _checked_id(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        _reject(name, value, f"must be a string or null, not {_json_kind(value)}")
    if len(value) > MAX_ID_CHARS:
        _reject(name, value, f"must be at most {MAX_ID_CHARS} characters, got {len(value)}")
    if _CONTROL_CHARS.search(value):
        _reject(name, value, "must not contain control characters")
    return value


def _encode(event: Event) -> bytes:
    # Input from the JSON reader always encodes. A dict built in Python may contain an
    # integer outside 64-bit, a non-string key or a lone surrogate, which orjson rejects.
    try:
        return event.encode()
    except orjson.JSONEncodeError as error:
        _reject("data", None, f"cannot be encoded as JSON: {error}")


def _reject(field: str, value: Any, message: str) -> NoReturn:
    raise ValidationError(fields=[FieldError(field, display_value(value), message)])


def _valid_guid_of(item: Any) -> str | None:
    if not isinstance(item, dict):
        return None
    guid = item.get("guid")
    if isinstance(guid, str) and _GUID.fullmatch(guid):
        return guid.lower()
    return None


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float | orjson.Fragment):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _skip_whitespace(text: str, pos: int) -> int:
    return _WHITESPACE.match(text, pos).end()  # type: ignore[union-attr]


def _expect_end(text: str, pos: int) -> None:
    pos = _skip_whitespace(text, pos)
    if pos != len(text):
        raise BodyError(syntax_error("Extra data", text, pos).reason)
