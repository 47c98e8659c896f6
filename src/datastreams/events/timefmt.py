"""Event times: parsing ISO 8601 input and writing the canonical UTC form.

The canonical form is ``YYYY-MM-DDTHH:MM:SS.fffffffZ``: UTC, seven fractional
digits (100 ns units) and ``Z``, for example ``2022-06-29T16:40:30.9926931Z``.
Python's ``datetime`` stops at microseconds, so the fraction is carried as text:
a zone offset is a whole number of minutes and never changes the fraction.
"""

from __future__ import annotations

import functools
import re
import time
from datetime import UTC, datetime, timedelta

FRACTION_DIGITS = 7

# ISO 8601 extended format: a calendar date, 'T' (or 't', or a space as RFC 3339
# allows), hours and minutes, optional seconds and fraction ('.' or ','), then the
# zone. The zone is optional here only so that its absence gets its own message.
_ISO_TIME = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})"
    r"[Tt ]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})"
    r"(?::(?P<second>[0-9]{2})(?:[.,](?P<fraction>[0-9]+))?)?"
    r"(?P<zone>[Zz]|(?P<sign>[+-])(?P<offset_hours>[0-9]{2})(?::?(?P<offset_minutes>[0-9]{2}))?)?",
    re.ASCII,
)

# The canonical form itself, which most producers send and which needs no rewriting.
_CANONICAL_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{7}Z", re.ASCII
)

_EXAMPLE = "2022-06-29T16:40:30.9926931Z"

# Unix second and its formatted date and time, because assigning many times per
# second is the common case on ingest.
_last_second: tuple[int, str] = (-1, "")


def parse_time(raw: str) -> str:
    """Parse an ISO 8601 date-time with a zone and return its canonical UTC form.

    Fractional digits beyond the seventh are truncated, never rounded. Raises
    ``ValueError`` with a message for people when ``raw`` has no zone, is not a
    date-time, names a day or time that does not exist (including leap second 60),
    or falls outside the years 0001 to 9999 in UTC.
    """
    if _CANONICAL_TIME.fullmatch(raw) and _is_valid_date_time(raw):
        return raw

    match = _ISO_TIME.fullmatch(raw)
    if match is None:
        raise ValueError(f"is not an ISO 8601 date-time with a zone, such as {_EXAMPLE}")
    if match["zone"] is None:
        raise ValueError("has no zone. Add Z or an offset such as +02:00")

    second = int(match["second"] or 0)
    if second == 60:
        raise ValueError("is a leap second (second 60), which is not supported")
    try:
        local = datetime(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            second,
        )
    except ValueError as error:
        raise ValueError(f"is not a valid date-time: {error}") from None

    offset = _zone_offset(match)
    try:
        utc = local - offset if offset else local
    except OverflowError:
        raise ValueError("is outside the years 0001 to 9999 once converted to UTC") from None

    fraction = (match["fraction"] or "")[:FRACTION_DIGITS].ljust(FRACTION_DIGITS, "0")
    return _format_seconds(utc) + "." + fraction + "Z"


def format_time(dt: datetime, extra_100ns: int = 0) -> str:
    """Write an aware datetime in the canonical form.

    ``extra_100ns`` (0 to 9) is the seventh fractional digit, which ``datetime``
    cannot hold. Raises ``ValueError`` for a naive datetime, because its zone is
    unknown.
    """
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("datetime has no zone. Pass an aware datetime, for example one in UTC")
    if not 0 <= extra_100ns <= 9:
        raise ValueError(f"extra_100ns must be from 0 to 9, got {extra_100ns}")

    utc = dt.astimezone(UTC)
    return f"{_format_seconds(utc)}.{utc.microsecond:06d}{extra_100ns}Z"


def epoch_seconds(canonical: str) -> float:
    """Return a canonical time as Unix seconds."""
    # Dispatchers call this for every delivery, and the deliveries of a batch share
    # their second, so the second's value is cached and only the fraction is parsed.
    return _epoch_of_second(canonical[:19]) + int(canonical[20:27]) / 10_000_000


@functools.lru_cache(maxsize=4096)
def _epoch_of_second(date_time: str) -> int:
    return int(datetime.fromisoformat(date_time + "+00:00").timestamp())


def now_time() -> str:
    """Return the current UTC time in the canonical form, to 100 ns."""
    global _last_second

    seconds, remainder = divmod(time.time_ns(), 1_000_000_000)
    cached_seconds, formatted = _last_second
    if seconds != cached_seconds:
        formatted = _format_seconds(datetime.fromtimestamp(seconds, UTC))
        # One tuple assignment, so no thread reads a second paired with another's text.
        _last_second = (seconds, formatted)
    return f"{formatted}.{remainder // 100:07d}Z"


def _is_valid_date_time(canonical: str) -> bool:
    # The regex already fixed every character's class and place, so fromisoformat
    # (one C call) only has to check the ranges: month, day of month, hour 0-23.
    try:
        datetime.fromisoformat(canonical[:19])
    except ValueError:
        # The full parse repeats the check and words the message.
        return False
    return True


def _zone_offset(match: re.Match[str]) -> timedelta:
    if match["sign"] is None:
        return timedelta(0)

    hours = int(match["offset_hours"])
    minutes = int(match["offset_minutes"] or 0)
    if hours > 23 or minutes > 59:
        raise ValueError("has an invalid zone offset. Hours must be 00 to 23 and minutes 00 to 59")

    offset = timedelta(hours=hours, minutes=minutes)
    return -offset if match["sign"] == "-" else offset


def _format_seconds(dt: datetime) -> str:
    # isoformat pads the year to four digits, which strftime("%Y") does not do on
    # every platform.
    return dt.replace(tzinfo=None, microsecond=0).isoformat()
