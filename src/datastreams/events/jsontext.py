"""A strict JSON reader for ingested events, built on the standard library's C scanner.

``json`` alone accepts what this service must reject: it keeps the last of two equal
object keys, reads ``NaN`` and ``Infinity``, and lets ``"\\ud800"`` through as a lone
surrogate. It also turns ``1.0`` into a float, which would be written back as a
different text. The reader therefore runs the C scanner with hooks:

- ``object_pairs_hook`` builds each object and rejects a duplicate key,
- ``parse_constant`` rejects ``NaN``, ``Infinity`` and ``-Infinity``,
- ``parse_float`` keeps every number with a fraction or exponent as an
  ``orjson.Fragment`` of its source text, so ``orjson`` writes it unchanged,
- ``parse_int`` keeps ``-0`` and integers outside signed 64-bit as a ``Fragment``
  too. This hook runs for every integer, because skipping it would need a regex
  search for long digit runs first. On CPython 3.11 that search took about 3.8 µs
  for a 450-byte event, and the hook about 0.1 µs per integer.

The hooks raise without knowing where they are. On that rare path the value is
decoded a second time with hooks that mark the problem instead of raising, and a walk
over the containers finds its path. Lone surrogates are the one check that needs a
walk over strings, and it runs only when the text contains a ``\\uD8xx``-``\\uDFxx``
escape or a raw surrogate character.
"""

from __future__ import annotations

import json
import json.scanner
import re
from typing import Any

import orjson

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1

# Every integer text of up to 18 characters fits in signed 64-bit, and every one
# longer than 20 ("-9223372036854775808" has 20) does not.
_INT64_SAFE_LENGTH = 18
_INT64_MAX_LENGTH = 20

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Bytes that are not UTF-8 become U+DC80..U+DCFF when decoded with "surrogateescape".
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")

DISPLAY_CHARS = 200


class JsonTextError(ValueError):
    """A JSON text that is not valid, or that contains a value strict JSON forbids.

    ``path`` locates the problem inside the value (``"data.items[2].name"``, or
    ``""`` for the whole text), ``reason`` says what is wrong, and ``value`` is a
    short display form of the offending key or value (``None`` when there is none).
    ``end`` is the index just past the value when the text itself was well formed,
    so a caller reading an array can go on with the next element. It is ``None``
    for a syntax error, after which the rest of the text cannot be read.
    """

    def __init__(
        self, path: str, reason: str, *, value: Any = None, end: int | None = None
    ) -> None:
        self.path = path
        self.reason = reason
        self.value = value
        self.end = end
        super().__init__(f"{path}: {reason}" if path else reason)


class _HookRejected(Exception):
    """Raised by a hook of the strict decoder, without a path: the locating decode finds it."""


class _DuplicateKeyObject(dict[str, Any]):
    """An object in which ``duplicate_key`` appeared more than once."""

    duplicate_key: str


class _RejectedConstant:
    """Placeholder for ``NaN``, ``Infinity`` or ``-Infinity`` in the locating decode."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


def _object_rejecting_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _HookRejected
    return obj


def _object_marking_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj

    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            break
        seen.add(key)
    marked = _DuplicateKeyObject(obj)
    marked.duplicate_key = key
    return marked


def _reject_constant(name: str) -> Any:
    raise _HookRejected


def _int_or_fragment(text: str) -> Any:
    # "-0" is a valid JSON integer, but int("-0") would be written back as "0".
    if len(text) <= _INT64_SAFE_LENGTH and text != "-0":
        return int(text)
    if text == "-0" or len(text) > _INT64_MAX_LENGTH:
        return orjson.Fragment(text)

    value = int(text)
    if _INT64_MIN <= value <= _INT64_MAX:
        return value
    return orjson.Fragment(text)


_STRICT_DECODER = json.JSONDecoder(
    object_pairs_hook=_object_rejecting_duplicates,
    parse_constant=_reject_constant,
    parse_float=orjson.Fragment,
    parse_int=_int_or_fragment,
)
_LOCATING_DECODER = json.JSONDecoder(
    object_pairs_hook=_object_marking_duplicates,
    parse_constant=_RejectedConstant,
    parse_float=orjson.Fragment,
    parse_int=_int_or_fragment,
)
# JSONDecoder.raw_decode calls the scanner too, but adds a Python frame per item.
# The stub declares the scanner's own type as its argument, but any object with the
# decoder's attributes is what CPython reads.
_strict_scan = json.scanner.make_scanner(_STRICT_DECODER)  # type: ignore[arg-type]

# Stored canonical lines were checked on ingest, so duplicates need no check.
_TRUSTED_DECODER = json.JSONDecoder(parse_float=orjson.Fragment, parse_int=_int_or_fragment)


def loads_strict(text: str | bytes) -> Any:
    """Parse one JSON value under the strict rules of this module.

    Objects keep their member order. Integers within signed 64-bit become ``int``
    and every other number an ``orjson.Fragment`` of its source text. Raises
    ``JsonTextError`` for invalid UTF-8, invalid JSON, a duplicate key, ``NaN`` or
    ``Infinity``, or a lone surrogate.
    """
    may_hold_raw_surrogates = True
    if isinstance(text, bytes | bytearray | memoryview):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as error:
            raise JsonTextError("", "invalid UTF-8", value=_bytes_around(error)) from None
        # A strict UTF-8 decode never yields a surrogate.
        may_hold_raw_surrogates = False

    start = _WHITESPACE.match(text, 0).end()  # type: ignore[union-attr]
    value, end = raw_decode_strict(text, start, may_hold_raw_surrogates=may_hold_raw_surrogates)

    after = _WHITESPACE.match(text, end).end()  # type: ignore[union-attr]
    if after != len(text):
        raise syntax_error("Extra data", text, after)
    return value


def raw_decode_strict(
    text: str, pos: int = 0, *, may_hold_raw_surrogates: bool = True
) -> tuple[Any, int]:
    """Parse the JSON value that starts at ``text[pos]`` and return it with its end index.

    Like ``json.JSONDecoder.raw_decode``, nothing may precede the value and anything
    may follow it. Pass ``may_hold_raw_surrogates=False`` when ``text`` came from a
    strict UTF-8 decode, which skips a scan for surrogate characters.
    """
    try:
        value, end = _strict_scan(text, pos)
    except StopIteration as stop:
        raise syntax_error("Expecting value", text, stop.value) from None
    except _HookRejected:
        raise _locate_problem(text, pos, may_hold_raw_surrogates) from None
    except json.JSONDecodeError as error:
        raise _from_decode_error(error) from None
    except RecursionError:
        raise JsonTextError("", "invalid JSON: nesting is too deep to read") from None

    if _may_hold_surrogates(text, pos, end, may_hold_raw_surrogates):
        invalid_bytes = may_hold_raw_surrogates and _ESCAPED_BYTE.search(text, pos, end) is not None
        problem = _find_problem(value, invalid_bytes)
        if problem is not None:
            path, reason, offending_value = problem
            raise JsonTextError(path, reason, value=offending_value, end=end)
    return value, end


def loads_if_canonical(line: bytes) -> Any | None:
    """Parse ``line`` with orjson when orjson writes the value back as the same bytes.

    Most producers send what orjson (or any compact encoder) writes, and then orjson
    reads a 350-byte event in about 1 us where the strict reader takes about 8 us.

    The byte-for-byte round trip makes the fast read as strict as the slow one. orjson
    itself rejects invalid UTF-8, lone surrogates, ``NaN`` and ``Infinity``. A duplicate
    key would be written back once, so the bytes differ, and so do they for a number
    that orjson writes in another form (``1e5``, ``-0``, an integer beyond 64 bits).
    Numbers come back as ``int`` and ``float``, which orjson writes as the same text.

    Returns ``None`` when the line must go through the strict reader instead.
    """
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if orjson.dumps(value) != line:
        return None
    return value


def loads_trusted(text: str | bytes) -> Any:
    """Parse JSON written by this service, keeping numbers as ``loads_strict`` does.

    Skips the strict checks, so use it only on canonical lines read back from the store.
    """
    return _TRUSTED_DECODER.decode(text.decode("utf-8") if isinstance(text, bytes) else text)


def syntax_error(message: str, text: str, pos: int) -> JsonTextError:
    """Return the error for a syntax problem at ``text[pos]``, worded as ``json`` words it."""
    return _from_decode_error(json.JSONDecodeError(message, text, pos))


def _from_decode_error(error: json.JSONDecodeError) -> JsonTextError:
    return JsonTextError(
        "", f"invalid JSON: {error.msg} at line {error.lineno} column {error.colno}"
    )


def max_depth_exceeded(value: Any, limit: int, *, path: str = "") -> str | None:
    """Return the path of the first object or array nested deeper than ``limit``, or ``None``.

    ``value`` itself is level 1 when it is a container. ``path`` prefixes the
    returned path, so ``max_depth_exceeded(data, 32, path="data")`` returns paths
    such as ``"data.a.b"``.
    """
    if not isinstance(value, dict | list):
        return None

    # An explicit stack rather than recursion, so any limit is safe.
    stack: list[tuple[Any, str, int]] = [(value, path, 1)]
    while stack:
        node, node_path, level = stack.pop()
        if level > limit:
            return node_path

        if isinstance(node, dict):
            children = [
                (child, join_key(node_path, key), level + 1)
                for key, child in node.items()
                if isinstance(child, dict | list)
            ]
        else:
            children = [
                (child, join_index(node_path, index), level + 1)
                for index, child in enumerate(node)
                if isinstance(child, dict | list)
            ]
        stack.extend(reversed(children))
    return None


def join_key(path: str, key: str) -> str:
    """Append an object member to a path: ``data`` + ``name`` is ``data.name``.

    A key that would make the path ambiguous (empty, or holding ``.``, ``[``, ``]``,
    ``"``, whitespace or a control character) is written in brackets as a JSON
    string: ``data["a.b"]``.
    """
    if key and key.isprintable() and not any(char in key for char in '.[]" '):
        return f"{path}.{key}" if path else key
    quoted = json.dumps(display_text(key), ensure_ascii=False)
    return f"{path}[{quoted}]"


def join_index(path: str, index: int) -> str:
    """Append an array index to a path: ``data.items`` + 2 is ``data.items[2]``."""
    return f"{path}[{index}]"


def display_text(text: str, limit: int = DISPLAY_CHARS) -> str:
    """Return ``text`` fit for an error message: surrogates escaped, cut at ``limit`` chars."""
    if not text.isascii() and _SURROGATE.search(text):
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if len(text) > limit:
        return text[:limit] + "..."
    return text


def display_value(value: Any) -> Any:
    """Return a short form of ``value`` that can go into a JSON error response.

    Strings are shortened to ``DISPLAY_CHARS`` characters, and objects, arrays and
    numbers kept as ``Fragment`` become their JSON text, shortened the same way.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if _INT64_MIN <= value <= _INT64_MAX else display_text(str(value))
    if isinstance(value, str):
        return display_text(value)

    try:
        encoded = orjson.dumps(value, default=repr).decode("utf-8")
    except orjson.JSONEncodeError:
        # Strings with lone surrogates cannot be encoded, but repr escapes them.
        encoded = repr(value)
    return display_text(encoded)


def _bytes_around(error: UnicodeDecodeError) -> str:
    # The invalid bytes with some context, escaped as \xNN so the message is valid text.
    context = error.object[max(0, error.start - 20) : error.end + 20]
    return display_text(context.decode("utf-8", "backslashreplace"))


def _may_hold_surrogates(text: str, pos: int, end: int, may_hold_raw_surrogates: bool) -> bool:
    if text.find("\\u", pos, end) != -1 and _ESCAPED_SURROGATE.search(text, pos, end):
        return True
    if not may_hold_raw_surrogates or text.isascii():
        return False
    return _SURROGATE.search(text, pos, end) is not None


def _locate_problem(text: str, pos: int, may_hold_raw_surrogates: bool) -> JsonTextError:
    # Decode again with marking hooks to learn where the strict decoder stopped.
    try:
        value, end = _LOCATING_DECODER.raw_decode(text, pos)
    except json.JSONDecodeError as error:
        return _from_decode_error(error)
    except RecursionError:
        return JsonTextError("", "invalid JSON: nesting is too deep to read")

    invalid_bytes = may_hold_raw_surrogates and _ESCAPED_BYTE.search(text, pos, end) is not None
    problem = _find_problem(value, invalid_bytes)
    if problem is None:
        # NOTE: unreachable while both decoders share their rules. Kept so a future
        # change to one of them fails with a message instead of an exception.
        return JsonTextError("", "invalid JSON", end=end)
    path, reason, offending_value = problem
    return JsonTextError(path, reason, value=offending_value, end=end)


def _find_problem(value: Any, invalid_bytes: bool) -> tuple[str, str, Any] | None:
    """Return (path, reason, offending value) of the first problem in ``value``, in document order.

    ``invalid_bytes`` means that the text was decoded with "surrogateescape", so a
    surrogate in U+DC80..U+DCFF is a byte that is not UTF-8.
    """
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        node, path = stack.pop()

        if isinstance(node, str):
            reason = _surrogate_reason(node, invalid_bytes)
            if reason is not None:
                return path, reason, display_text(node)

        elif isinstance(node, _RejectedConstant):
            return path, f"{node.name} is not valid JSON", node.name

        elif isinstance(node, dict):
            if isinstance(node, _DuplicateKeyObject):
                key = display_text(node.duplicate_key)
                return path, f"duplicate key {key!r}", key
            children: list[tuple[Any, str]] = []
            for key, child in node.items():
                child_path = join_key(path, key)
                reason = _surrogate_reason(key, invalid_bytes)
                if reason is not None:
                    return child_path, reason, display_text(key)
                children.append((child, child_path))
            stack.extend(reversed(children))

        elif isinstance(node, list):
            stack.extend(
                (child, join_index(path, index)) for index, child in reversed(list(enumerate(node)))
            )
    return None


def _surrogate_reason(text: str, invalid_bytes: bool) -> str | None:
    if text.isascii():
        return None
    surrogate = _SURROGATE.search(text)
    if surrogate is None:
        return None
    if invalid_bytes and _ESCAPED_BYTE.match(surrogate.group()):
        return "invalid UTF-8"
    return "lone surrogate"
