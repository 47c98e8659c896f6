"""Scenario 1: ingest over HTTP, against the same rows written with plain ``sqlite3``.

Four producer tasks publish 500-event batches to a service without streams, so the
figure is the cost of the HTTP route, parsing, validation and the store's group
commit. The baseline writes the same event rows into a database made by the
service's own command line, 500 rows a transaction, with the same durability
(WAL, ``synchronous=FULL``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.harness.events import new_run_tag
from bench.harness.results import Run, ScenarioResult, rate_ratio_check
from bench.harness.sqlite_baseline import create_database, event_rows, write_rows
from bench.scenarios.common import (
    ALL_DOMAINS,
    ROOT_DOMAIN,
    Role,
    RunContext,
    ServicePlan,
    alternate,
    ingest_run,
    run_service,
    summarize,
)

ID = "1"
TITLE = "Ingest over HTTP, batches of 500, 4 concurrent producers"
SIZES = {"small": 1_000, "full": 200_000}
TARGET_RATIO = 0.6


def measure_sqlite(count: int) -> Callable[[int], Run]:
    """Return a measure of the raw SQLite baseline for ``count`` rows."""

    def measure(repeat: int) -> Run:
        rows = event_rows(new_run_tag(), count, ALL_DOMAINS)
        with tempfile.TemporaryDirectory(prefix="datastreams-bench-") as temporary:
            db_path = create_database(Path(temporary), ROOT_DOMAIN)
            written = write_rows(db_path, rows)

        run = Run(role="sqlite", repeat=repeat, events=count, delivered=written.rows)
        run.seconds = written.seconds
        run.rate = written.rows / written.seconds
        run.complete = written.rows == count
        if not run.complete:
            run.problems.append(f"{written.rows} of {count} rows were stored")
        return run

    return measure


def measure_ingest(count: int, role: str = "scenario") -> Callable[[int], Run]:
    """Return a measure of ingest over HTTP into a service without streams."""

    def measure(repeat: int) -> Run:
        outcome = run_service(ServicePlan(count=count, run_tag=new_run_tag()))
        return ingest_run(role, repeat, count, outcome)

    return measure


def run(context: RunContext) -> ScenarioResult:
    count = SIZES[context.size]
    result = ScenarioResult(
        id=ID,
        title=TITLE,
        status="completed",
        roles={
            "scenario": "ingest over HTTP",
            "sqlite": "plain sqlite3 executemany, 500 rows a transaction",
        },
        parameters={"events": count, "producerTasks": 4, "batchEvents": 500, "streams": 0},
    )
    roles = [
        Role("sqlite", "raw SQLite baseline", count, measure_sqlite(count)),
        Role("scenario", "ingest over HTTP", count, measure_ingest(count)),
    ]
    result.runs = alternate(context, ID, roles, context.repeats)
    summarize(result)

    figure = result.medians.get("scenario")
    reference = result.medians.get("sqlite")
    result.checks.append(
        rate_ratio_check(
            "ingest over HTTP / raw SQLite",
            f">= {TARGET_RATIO} of the baseline",
            TARGET_RATIO,
            figure,
            reference,
        )
    )
    return result
