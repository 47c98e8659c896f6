from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from datastreams.events.timefmt import epoch_seconds, format_time, now_time, parse_time

CANONICAL = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z")


def test_parse_time_canonical_unchanged() -> None:
    assert parse_time("2022-06-29T16:40:30.9926931Z") == "2022-06-29T16:40:30.9926931Z"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2022-06-29T18:40:30.9926931+02:00", "2022-06-29T16:40:30.9926931Z"),
        ("2022-06-29T18:40:30.9926931+0200", "2022-06-29T16:40:30.9926931Z"),
        ("2022-06-29T18:40:30.9926931+02", "2022-06-29T16:40:30.9926931Z"),
        ("2022-06-29T11:10:30.5-05:30", "2022-06-29T16:40:30.5000000Z"),
        ("2022-06-29T16:40:30-00:00", "2022-06-29T16:40:30.0000000Z"),
        ("2022-12-31T23:30:00-01:00", "2023-01-01T00:30:00.0000000Z"),
        ("2024-03-01T00:15:00+01:00", "2024-02-29T23:15:00.0000000Z"),
    ],
)
def test_parse_time_offset_converted(raw: str, expected: str) -> None:
    assert parse_time(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2022-06-29T16:40:30.992693199Z", "2022-06-29T16:40:30.9926931Z"),
        ("2022-06-29T16:40:30.99999999999Z", "2022-06-29T16:40:30.9999999Z"),
        ("2022-06-29T16:40:30.12345678+01:00", "2022-06-29T15:40:30.1234567Z"),
    ],
)
def test_parse_time_extra_digits_truncated(raw: str, expected: str) -> None:
    assert parse_time(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2022-06-29T16:40:30Z", "2022-06-29T16:40:30.0000000Z"),
        ("2022-06-29T16:40:30.1Z", "2022-06-29T16:40:30.1000000Z"),
        ("2022-06-29T16:40:30.123Z", "2022-06-29T16:40:30.1230000Z"),
        ("2022-06-29T16:40:30,25Z", "2022-06-29T16:40:30.2500000Z"),
        ("2022-06-29T16:40Z", "2022-06-29T16:40:00.0000000Z"),
    ],
)
def test_parse_time_short_fraction_padded(raw: str, expected: str) -> None:
    assert parse_time(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "2022-06-29 16:40:30.9926931Z",
        "2022-06-29t16:40:30.9926931Z",
        "2022-06-29T16:40:30.9926931z",
    ],
)
def test_parse_time_separator_and_case(raw: str) -> None:
    assert parse_time(raw) == "2022-06-29T16:40:30.9926931Z"


@pytest.mark.parametrize("raw", ["2022-06-29T16:40:30", "2022-06-29T16:40:30.9926931"])
def test_parse_time_no_zone_rejected(raw: str) -> None:
    with pytest.raises(ValueError, match="has no zone"):
        parse_time(raw)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("yesterday", "not an ISO 8601 date-time"),
        ("", "not an ISO 8601 date-time"),
        ("2022-06-29", "not an ISO 8601 date-time"),
        ("2022-6-29T16:40:30Z", "not an ISO 8601 date-time"),
        ("2022-06-29T16:40:30.Z", "not an ISO 8601 date-time"),
        ("2022-06-29T16:40:30Z ", "not an ISO 8601 date-time"),
        ("２０２２-06-29T16:40:30Z", "not an ISO 8601 date-time"),
        ("2022-02-30T00:00:00Z", "day is out of range"),
        ("2022-06-29T24:00:00Z", "not a valid date-time"),
        ("2022-06-29T16:60:00Z", "not a valid date-time"),
        ("2016-12-31T23:59:60Z", "leap second"),
        ("0000-01-01T00:00:00Z", "not a valid date-time"),
        ("2022-06-29T16:40:30+24:00", "invalid zone offset"),
        ("2022-06-29T16:40:30+02:60", "invalid zone offset"),
        ("0001-01-01T00:30:00+01:00", "outside the years 0001 to 9999"),
        ("9999-12-31T23:30:00-01:00", "outside the years 0001 to 9999"),
    ],
)
def test_parse_time_invalid_rejected(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_time(raw)


def test_parse_time_year_bounds_accepted() -> None:
    assert parse_time("0001-01-01T00:00:00Z") == "0001-01-01T00:00:00.0000000Z"
    assert parse_time("9999-12-31T23:59:59.99999999Z") == "9999-12-31T23:59:59.9999999Z"


def test_format_time_utc() -> None:
    moment = datetime(2022, 6, 29, 16, 40, 30, 992693, tzinfo=UTC)

    assert format_time(moment) == "2022-06-29T16:40:30.9926930Z"


def test_format_time_extra_digit() -> None:
    moment = datetime(2022, 6, 29, 16, 40, 30, 992693, tzinfo=UTC)

    assert format_time(moment, extra_100ns=1) == "2022-06-29T16:40:30.9926931Z"


def test_format_time_offset_converted() -> None:
    zone = timezone(timedelta(hours=-5, minutes=-30))
    moment = datetime(2022, 6, 29, 11, 10, 30, tzinfo=zone)

    assert format_time(moment) == "2022-06-29T16:40:30.0000000Z"


def test_format_time_early_year_padded() -> None:
    moment = datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC)

    assert format_time(moment) == "0999-01-02T03:04:05.0000000Z"


def test_format_time_naive_rejected() -> None:
    with pytest.raises(ValueError, match="no zone"):
        format_time(datetime(2022, 6, 29, 16, 40, 30))


@pytest.mark.parametrize("extra", [-1, 10])
def test_format_time_extra_out_of_range(extra: int) -> None:
    with pytest.raises(ValueError, match="extra_100ns"):
        format_time(datetime(2022, 6, 29, tzinfo=UTC), extra_100ns=extra)


def test_format_time_parses_back() -> None:
    formatted = format_time(datetime(2022, 6, 29, 16, 40, 30, 1, tzinfo=UTC), extra_100ns=7)

    assert parse_time(formatted) == formatted


def test_now_time_canonical() -> None:
    assert CANONICAL.fullmatch(now_time())


def test_now_time_current() -> None:
    before = datetime.now(UTC)
    stamp = now_time()
    after = datetime.now(UTC)

    parsed = datetime.strptime(stamp[:26], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)
    assert before - timedelta(microseconds=1) <= parsed <= after


def test_now_time_changes_across_seconds() -> None:
    first = now_time()
    time.sleep(1.05)
    second = now_time()

    assert second[:19] > first[:19]


@pytest.mark.parametrize(
    ("canonical", "expected"),
    [
        ("1970-01-01T00:00:00.0000000Z", 0.0),
        ("1970-01-01T00:00:01.5000000Z", 1.5),
        ("2024-09-12T21:49:30.1234567Z", 1_726_177_770.1234567),
        ("2024-02-29T23:59:59.9999999Z", 1_709_251_199.9999999),
    ],
)
def test_epoch_seconds_values(canonical: str, expected: float) -> None:
    assert epoch_seconds(canonical) == pytest.approx(expected, abs=1e-6)


def test_epoch_seconds_same_second() -> None:
    # Two times of one second share the cached second; only the fraction differs.
    first = epoch_seconds("2024-09-12T21:49:30.0000001Z")
    second = epoch_seconds("2024-09-12T21:49:30.9000000Z")

    assert second - first == pytest.approx(0.8999999, abs=1e-6)
