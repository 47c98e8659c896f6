"""Scenario 2: end to end through one HTTPS stream with batches of 500.

The producers publish to a service with one stream on the root domain (every event,
``batchSize`` 500) delivering to one receiver. The figure is events over the time
from the first publish to the last receipt; the baseline is scenario 1's raw SQLite
write of the same number of rows, measured alternately in the same run.
"""

from __future__ import annotations

from collections.abc import Callable

from bench.harness.events import new_run_tag
from bench.harness.results import Run, ScenarioResult, rate_ratio_check
from bench.scenarios.common import (
    ROOT_DOMAIN,
    Role,
    RunContext,
    ServicePlan,
    StreamSpec,
    alternate,
    delivery_run,
    https_stream,
    run_service,
    summarize,
)
from bench.scenarios.ingest import measure_sqlite

ID = "2"
TITLE = "End to end, one HTTPS stream with batchSize 500"
SIZES = {"small": 1_000, "full": 200_000}
TARGET_RATIO = 0.5
BATCH_SIZE = 500


def batched_stream(backoff_max_s: int | None = None) -> StreamSpec:
    """Return the stream of scenarios 2 and 6: every event of the tree, batches of 500."""
    body = https_stream("warehouse", batch_size=BATCH_SIZE, backoff_max_s=backoff_max_s)
    return StreamSpec(ROOT_DOMAIN, body)


def measure_end_to_end(count: int, role: str = "scenario") -> Callable[[int], Run]:
    def measure(repeat: int) -> Run:
        plan = ServicePlan(count=count, run_tag=new_run_tag(), streams=[batched_stream()])
        return delivery_run(role, repeat, count, run_service(plan))

    return measure


def run(context: RunContext) -> ScenarioResult:
    count = SIZES[context.size]
    result = ScenarioResult(
        id=ID,
        title=TITLE,
        status="completed",
        roles={
            "scenario": "end to end, first publish to last receipt",
            "sqlite": "scenario 1's baseline (plain sqlite3 executemany), run again here",
        },
        parameters={"events": count, "streams": 1, "batchSize": BATCH_SIZE},
    )
    roles = [
        Role("sqlite", "raw SQLite baseline", count, measure_sqlite(count)),
        Role("scenario", "end to end", count, measure_end_to_end(count)),
    ]
    result.runs = alternate(context, ID, roles, context.repeats)
    summarize(result)

    figure = result.medians.get("scenario")
    reference = result.medians.get("sqlite")
    result.checks.append(
        rate_ratio_check(
            "end to end / raw SQLite",
            f">= {TARGET_RATIO} of scenario 1's baseline",
            TARGET_RATIO,
            figure,
            reference,
        )
    )
    return result
