"""The LMS activity simulator: repeatable, valid against the catalogue, consistent over time."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from datastreams.demo.simulator import LmsSimulator, letter_grade
from datastreams.events.catalogue import load_catalogue
from datastreams.events.parsing import parse_event_object
from datastreams.events.timefmt import format_time

SCHOOLS = ("1176031", "1176032", "1176033")
DISTRICT = "1176022"
EVENT_COUNT = 20_000

# Every type the simulator produces, each of which a run of EVENT_COUNT events contains.
SIMULATED_TYPES = {
    "UserSessionStarted",
    "UserSessionEnded",
    "CourseEntityChanged",
    "CourseItemCreated",
    "CourseItemChanged",
    "EnrollmentEntityCreated",
    "ItemActivity",
    "GradeCreated",
    "GradeChanged",
    "EnrollmentMetricsChanged",
    "DomainEntityChanged",
    "AuthLoginFailed",
}


def stepping_clock(step: timedelta = timedelta(milliseconds=3)) -> Callable[[], datetime]:
    """Return a clock that starts at a fixed time and moves by ``step`` on every read."""
    start = datetime(2024, 9, 12, 14, 0, tzinfo=UTC)
    counter = itertools.count()
    return lambda: start + step * next(counter)


def simulate(count: int = EVENT_COUNT, seed: int = 1) -> list[dict[str, Any]]:
    simulator = LmsSimulator(SCHOOLS, seed=seed, parent_id=DISTRICT, clock=stepping_clock())
    return list(simulator.events(count))


def without_guid(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{name: value for name, value in event.items() if name != "guid"} for event in events]


@pytest.fixture(scope="module")
def events() -> list[dict[str, Any]]:
    return simulate()


def version_key(event: dict[str, Any]) -> tuple[str, ...] | None:
    """Return the entity whose version the event carries, or ``None`` for unversioned types."""
    data = event["data"]
    match event["type"]:
        case "CourseEntityChanged":
            return ("course", data["courseId"])
        case "CourseItemCreated" | "CourseItemChanged":
            return ("item", data["courseId"], data["itemId"])
        case "EnrollmentEntityCreated":
            return ("enrollment", data["enrollmentId"])
        case "GradeCreated" | "GradeChanged":
            return ("grade", data["enrollmentId"], data["itemId"])
        case "EnrollmentMetricsChanged":
            return ("metrics", data["enrollmentId"])
        case "DomainEntityChanged":
            return ("domain", data["domainId"])
    return None


def test_simulator_repeats_with_seed() -> None:
    first = without_guid(simulate(2000, seed=7))
    second = without_guid(simulate(2000, seed=7))

    assert first == second


def test_simulator_differs_by_seed() -> None:
    first = without_guid(simulate(500, seed=1))
    second = without_guid(simulate(500, seed=2))

    assert first != second


def test_simulator_continues_across_calls() -> None:
    simulator = LmsSimulator(SCHOOLS, seed=3, parent_id=DISTRICT, clock=stepping_clock())
    in_parts: list[dict[str, Any]] = []
    for size in (1, 2, 3, 494, 1500):
        in_parts.extend(simulator.events(size))

    assert without_guid(in_parts) == without_guid(simulate(2000, seed=3))


def test_simulator_count_exact() -> None:
    simulator = LmsSimulator(SCHOOLS)

    assert len(list(simulator.events(1234))) == 1234


def test_simulator_data_matches_catalogue(events: list[dict[str, Any]]) -> None:
    catalogue = load_catalogue()
    invalid = [
        (index, event["type"], errors)
        for index, event in enumerate(events)
        if (errors := catalogue.validate_data(event["type"], event["data"]))
    ]

    assert invalid == []


def test_simulator_types_in_catalogue(events: list[dict[str, Any]]) -> None:
    catalogue = load_catalogue()
    unknown = {event["type"] for event in events} - catalogue.names()

    assert unknown == set()


def test_simulator_produces_every_type(events: list[dict[str, Any]]) -> None:
    produced = {event["type"] for event in events}

    assert produced == SIMULATED_TYPES


def test_simulator_activity_dominates(events: list[dict[str, Any]]) -> None:
    counts = Counter(event["type"] for event in events)

    assert counts.most_common(1)[0][0] == "ItemActivity"


def test_simulator_containers_canonical(events: list[dict[str, Any]]) -> None:
    # The ingest parser assigns nothing and rewrites nothing for a complete, canonical event.
    changed = []
    for event in events[:5000]:
        parsed, _, guid_assigned, time_assigned = parse_event_object(
            event, max_event_bytes=1_048_576, is_known_type=load_catalogue().__contains__
        )
        if guid_assigned or time_assigned or parsed.to_json_object() != event:
            changed.append(event)

    assert changed == []


def test_simulator_domain_ids_from_list(events: list[dict[str, Any]]) -> None:
    domain_ids = Counter(event["domainId"] for event in events)

    assert set(domain_ids) == set(SCHOOLS)


def test_simulator_domain_data_names_parent(events: list[dict[str, Any]]) -> None:
    parents = {
        event["data"]["newDomain"]["parentId"]
        for event in events
        if event["type"] == "DomainEntityChanged"
    }

    assert parents == {DISTRICT}


def test_simulator_guids_unique(events: list[dict[str, Any]]) -> None:
    guids = [event["guid"] for event in events]

    assert len(set(guids)) == len(guids)


def test_simulator_times_from_clock() -> None:
    clock = stepping_clock()
    start = format_time(clock())
    simulator = LmsSimulator(SCHOOLS, clock=stepping_clock())
    times = [event["time"] for event in simulator.events(200)]

    assert times == sorted(times)
    assert times[0] > start


def test_simulator_versions_step_by_one(events: list[dict[str, Any]]) -> None:
    last_versions: dict[tuple[str, ...], int] = {}
    broken = []
    for index, event in enumerate(events):
        key = version_key(event)
        if key is None:
            continue
        version = event["data"]["version"]
        previous = last_versions.get(key)
        if previous is not None and version != previous + 1:
            broken.append((index, key, previous, version))
        last_versions[key] = version

    assert broken == []


def test_simulator_created_events_first_version(events: list[dict[str, Any]]) -> None:
    seen: set[tuple[str, ...]] = set()
    broken = []
    for event in events:
        key = version_key(event)
        if key is None:
            continue
        if event["type"].endswith("Created") and (key in seen or event["data"]["version"] != 1):
            broken.append((key, event["data"]["version"]))
        seen.add(key)

    assert broken == []


def test_simulator_grades_changed_after_created(events: list[dict[str, Any]]) -> None:
    created: set[tuple[str, ...]] = set()
    orphans = []
    for event in events:
        if event["type"] == "GradeCreated":
            created.add(version_key(event) or ())
        elif event["type"] == "GradeChanged" and version_key(event) not in created:
            orphans.append(event["data"])

    assert orphans == []


def test_simulator_sessions_end_after_start(events: list[dict[str, Any]]) -> None:
    open_sessions: dict[str, str] = {}
    unmatched = []
    for event in events:
        data = event["data"]
        if event["type"] == "UserSessionStarted":
            open_sessions[data["sessionId"]] = data["userId"]
        elif event["type"] == "UserSessionEnded":
            if open_sessions.pop(data["sessionId"], None) != data["userId"]:
                unmatched.append(data)

    assert unmatched == []


def test_simulator_container_session_is_open(events: list[dict[str, Any]]) -> None:
    open_sessions: dict[str, str] = {}
    outside = []
    for event in events:
        data = event["data"]
        if event["type"] == "UserSessionStarted":
            open_sessions[data["sessionId"]] = data["userId"]
        session_id = event.get("sessionId")
        if session_id is not None and open_sessions.get(session_id) != event.get("userId"):
            outside.append(event)
        if event["type"] == "UserSessionEnded":
            open_sessions.pop(data["sessionId"], None)

    assert outside == []


def test_simulator_activity_by_enrolled_user(events: list[dict[str, Any]]) -> None:
    mismatched = [
        event
        for event in events
        if event["type"] == "ItemActivity" and event["userId"] != event["data"]["userId"]
    ]

    assert mismatched == []


def test_simulator_school_names() -> None:
    simulator = LmsSimulator(SCHOOLS)

    assert simulator.school_names == {
        "1176031": "Lincoln High School",
        "1176032": "Roosevelt High School",
        "1176033": "Jefferson High School",
    }


def test_simulator_many_schools_unique_names() -> None:
    domain_ids = [str(number) for number in range(20)]
    simulator = LmsSimulator(domain_ids)

    assert len(set(simulator.school_names.values())) == 20


def test_simulator_rejects_no_schools() -> None:
    with pytest.raises(ValueError, match="at least one school"):
        LmsSimulator([])


def test_simulator_rejects_repeated_schools() -> None:
    with pytest.raises(ValueError, match="unique"):
        LmsSimulator(["1", "1"])


def test_simulator_rejects_negative_count() -> None:
    simulator = LmsSimulator(SCHOOLS)

    with pytest.raises(ValueError, match="count"):
        simulator.events(-1)


def test_simulator_zero_count_empty() -> None:
    simulator = LmsSimulator(SCHOOLS)

    assert list(simulator.events(0)) == []


@pytest.mark.parametrize(
    ("percent", "letter"),
    [(100, "A"), (93, "A"), (92.9, "A-"), (87.5, "B+"), (61, "D"), (59.9, "F"), (0, "F")],
)
def test_letter_grade_scale(percent: float, letter: str) -> None:
    assert letter_grade(percent) == letter


def test_simulator_fast_enough() -> None:
    # The bound is loose, so a slow or busy machine passes. It guards against a
    # simulator that would hold up a large demo run.
    simulator = LmsSimulator(SCHOOLS)
    started = datetime.now(UTC)
    consumed = sum(1 for _ in simulator.events(50_000))
    elapsed = datetime.now(UTC) - started

    assert consumed == 50_000
    assert elapsed < timedelta(seconds=10)
