"""Scenario 4: fan-out on write to 10 streams with different filters on a tree of 100 domains.

Ingest queues one delivery row per matching stream in the same transaction as the
event, so more streams make ingest slower. The figure is the ingest rate while the
10 streams deliver. The baseline is scenario 1's ingest rate without streams,
measured alternately in the same run. Every stream's deliveries are
checked event by event, each stream having a receiver of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.harness.events import new_run_tag
from bench.harness.results import Run, ScenarioResult, rate_ratio_check
from bench.scenarios.common import (
    REGIONS,
    ROOT_DOMAIN,
    SCHOOLS,
    Role,
    RunContext,
    ServicePlan,
    StreamSpec,
    alternate,
    https_stream,
    ingest_run,
    run_service,
    subtree_selector,
    summarize,
)
from bench.scenarios.ingest import measure_ingest

ID = "4"
TITLE = "Fan-out: 10 streams with different filters on a tree of 100 domains"
SIZES = {"small": 1_000, "full": 100_000}
TARGET_RATIO = 0.5
BATCH_SIZE = 500


def _stream(number: int, domain_id: str, filters: list[dict[str, Any]] | None = None) -> StreamSpec:
    filters = filters or []
    types = frozenset(item["eventType"] for item in filters) if filters else None
    body = https_stream(f"fan-out-{number}", batch_size=BATCH_SIZE, filters=filters)
    return StreamSpec(domain_id, body, subtree_selector(domain_id, types))


def fan_out_streams() -> list[StreamSpec]:
    """Return the 10 streams: on the root, on regions and on schools, with various filters."""
    region_1, region_2, region_3, _, region_5, _, _, _, region_9 = REGIONS
    return [
        _stream(0, ROOT_DOMAIN),
        _stream(
            1,
            ROOT_DOMAIN,
            [{"eventType": "GradeChanged", "properties": ["enrollmentId", "newGrade.score"]}],
        ),
        _stream(
            2,
            ROOT_DOMAIN,
            [
                {"eventType": "EnrollmentEntityCreated", "properties": []},
                {"eventType": "UserSessionStarted", "properties": ["userId", "clientType"]},
            ],
        ),
        _stream(3, region_1),
        _stream(
            4,
            region_2,
            [
                {"eventType": "GradeChanged", "properties": []},
                {"eventType": "ItemActivity", "properties": []},
            ],
        ),
        _stream(
            5,
            region_3,
            [{"eventType": "GradeCreated", "properties": ["enrollmentId", "newGrade.status"]}],
        ),
        _stream(6, SCHOOLS[region_1][0]),
        _stream(7, SCHOOLS[REGIONS[4]][4], [{"eventType": "GradeChanged", "properties": []}]),
        # A type that the producers never send: the stream is routed but gets nothing.
        _stream(8, region_5, [{"eventType": "CourseEntityChanged", "properties": []}]),
        _stream(
            9,
            region_9,
            [
                {"eventType": "ItemActivity", "properties": ["itemId", "durationSeconds"]},
                {"eventType": "UserSessionStarted", "properties": []},
            ],
        ),
    ]


def measure_fan_out(count: int) -> Callable[[int], Run]:
    def measure(repeat: int) -> Run:
        plan = ServicePlan(count=count, run_tag=new_run_tag(), streams=fan_out_streams())
        outcome = run_service(plan)
        run = ingest_run("scenario", repeat, count, outcome)

        expected = [len(guids) for guids in outcome.expected]
        delivered = [len(receipts.first_receipt) for receipts in outcome.receipts]
        run.details["expectedDeliveries"] = expected
        run.details["deliveries"] = delivered
        if not outcome.delivered_all():
            run.complete = False
            run.problems.append(f"streams delivered {delivered} of the expected {expected} events")
        return run

    return measure


def run(context: RunContext) -> ScenarioResult:
    count = SIZES[context.size]
    result = ScenarioResult(
        id=ID,
        title=TITLE,
        status="completed",
        roles={
            "scenario": "ingest with 10 streams delivering",
            "ingest": "scenario 1: ingest without streams, run again here",
        },
        parameters={"events": count, "streams": 10, "domains": 100, "batchSize": BATCH_SIZE},
    )
    roles = [
        Role("ingest", "ingest without streams", count, measure_ingest(count, role="ingest")),
        Role("scenario", "ingest with 10 streams", count, measure_fan_out(count)),
    ]
    result.runs = alternate(context, ID, roles, context.repeats)
    summarize(result)

    figure = result.medians.get("scenario")
    reference = result.medians.get("ingest")
    result.checks.append(
        rate_ratio_check(
            "ingest with fan-out / ingest without streams",
            f">= {TARGET_RATIO} of scenario 1's rate",
            TARGET_RATIO,
            figure,
            reference,
        )
    )
    return result
