"""The typical event that every scenario publishes, built from its index.

An event is a function of ``(run_tag, index, domains)``: its guid encodes both numbers,
so the harness can tell which event a delivered line is without keeping the list, and
the producer, the baselines and the checks all build the same events. With the
benchmark's 7-character domain ids, the canonical lines of the five event types are
328 to 368 bytes, 354 on average, and each ``data`` follows the catalogue's schema of
its type.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import orjson

# Cycled by index, so every run of N events has the same mix of types.
EVENT_TYPES = (
    "GradeChanged",
    "ItemActivity",
    "EnrollmentEntityCreated",
    "UserSessionStarted",
    "GradeCreated",
)

_INDEX_BITS = 64
_INDEX_MASK = (1 << _INDEX_BITS) - 1
# Events of one run are spread over one day in steps of 1 ms, from this day.
_DAY = "2024-09-12"
_MS_PER_DAY = 86_400_000


def guid_of(run_tag: int, index: int) -> str:
    """Return the guid of event ``index`` of the run ``run_tag`` (a 64-bit number)."""
    return str(uuid.UUID(int=(run_tag << _INDEX_BITS) | index))


def index_of(guid: str) -> int:
    """Return the index that ``guid_of`` put into ``guid``."""
    return uuid.UUID(guid).int & _INDEX_MASK


def run_tag_of(guid: str) -> int:
    """Return the run tag that ``guid_of`` put into ``guid``."""
    return uuid.UUID(guid).int >> _INDEX_BITS


def new_run_tag() -> int:
    """Return a random 64-bit run tag, so runs on one database never share a guid."""
    return uuid.uuid4().int & _INDEX_MASK


def type_of(index: int) -> str:
    """Return the event type of event ``index``."""
    return EVENT_TYPES[index % len(EVENT_TYPES)]


def domain_of(index: int, domains: Sequence[str]) -> str:
    """Return the domain of event ``index``; consecutive events go to different domains."""
    # Multiplicative hashing, keeping bits above the low ones: every domain gets every
    # event type, which ``index % len(domains)`` would not give when the number of
    # domains is a multiple of the number of types.
    return domains[((index * 2_654_435_761) >> 16) % len(domains)]


def event_time(index: int) -> str:
    """Return the event's time in the container's format."""
    milliseconds = index % _MS_PER_DAY
    seconds, millis = divmod(milliseconds, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{_DAY}T{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}0000Z"


def typical_event(run_tag: int, index: int, domains: Sequence[str]) -> dict[str, Any]:
    """Return event ``index`` as a container dict, members in canonical order."""
    event_type = type_of(index)
    user_id = str(339_000 + index % 5000)
    return {
        "time": event_time(index),
        "guid": guid_of(run_tag, index),
        "domainId": domain_of(index, domains),
        "type": event_type,
        "data": _DATA_BUILDERS[event_type](index, user_id),
        "userId": user_id,
    }


def typical_line(run_tag: int, index: int, domains: Sequence[str]) -> bytes:
    """Return the canonical line of event ``index``, as the service stores and sends it."""
    return orjson.dumps(typical_event(run_tag, index, domains))


def _grade_changed(index: int, user_id: str) -> dict[str, Any]:
    score = index % 21
    return {
        "enrollmentId": str(4_410_000 + index % 20_000),
        "userId": user_id,
        "courseId": str(2_251_400 + index % 40),
        "itemId": f"U{index % 6 + 1}_QUIZ",
        "version": index % 9 + 2,
        "oldGrade": {"score": None, "possible": 20, "status": "submitted"},
        "newGrade": {"score": score, "possible": 20, "status": "graded"},
    }


def _item_activity(index: int, user_id: str) -> dict[str, Any]:
    return {
        "enrollmentId": str(4_410_000 + index % 20_000),
        "userId": user_id,
        "courseId": str(2_251_400 + index % 40),
        "itemId": f"U{index % 6 + 1}_READ_{index % 12 + 1}",
        "activityType": "submit",
        "startTime": "2024-09-12T21:49:30.0000000Z",
        "durationSeconds": 60 + index % 1800,
    }


def _enrollment_created(index: int, user_id: str) -> dict[str, Any]:
    return {
        "enrollmentId": str(4_410_000 + index % 20_000),
        "userId": user_id,
        "courseId": str(2_251_400 + index % 40),
        "version": 1,
        "newEnrollment": {
            "domainId": "1176031",
            "role": "student",
            "status": "active",
            "startDate": "2024-08-26T06:00:00.0000000Z",
        },
    }


def _session_started(index: int, user_id: str) -> dict[str, Any]:
    return {
        "sessionId": str(uuid.UUID(int=(index * 40_503) & ((1 << 122) - 1))),
        "userId": user_id,
        "authenticationMethod": "sso",
        "clientType": "browser",
        "clientVersion": "Firefox",
        "expiresTime": "2024-09-12T23:49:30.0000000Z",
    }


def _grade_created(index: int, user_id: str) -> dict[str, Any]:
    return {
        "enrollmentId": str(4_410_000 + index % 20_000),
        "userId": user_id,
        "courseId": str(2_251_400 + index % 40),
        "itemId": f"U{index % 6 + 1}_ESSAY",
        "version": 1,
        "newGrade": {
            "score": None,
            "possible": 20,
            "status": "submitted",
            "submittedDate": "2024-09-12T22:17:03.5120000Z",
        },
    }


_DATA_BUILDERS = {
    "GradeChanged": _grade_changed,
    "ItemActivity": _item_activity,
    "EnrollmentEntityCreated": _enrollment_created,
    "UserSessionStarted": _session_started,
    "GradeCreated": _grade_created,
}
