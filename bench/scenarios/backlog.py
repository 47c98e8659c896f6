"""Scenario 6: a backlog of events published while the receiver is down, then drained.

The stream (every event, ``batchSize`` 500, ``backoffMaxSeconds`` 2 so that it retries
soon after the receiver comes up) points at a port where nothing listens. Once every
event is published, the receiver starts on that port. The figures are the peak
resident set size of the service over the whole run, and the drain rate: events
over the time from the receiver's start to the last receipt, which includes up to
one back-off wait. The baseline is scenario 2's end-to-end rate, measured
alternately in the same run.
"""

from __future__ import annotations

from collections.abc import Callable

from bench.harness.events import new_run_tag
from bench.harness.results import Check, Run, ScenarioResult, rate_ratio_check
from bench.scenarios.common import (
    Role,
    RunContext,
    ServicePlan,
    alternate,
    delivery_run,
    run_service,
    summarize,
)
from bench.scenarios.end_to_end import batched_stream, measure_end_to_end

ID = "6"
TITLE = "Backlog: events published while the receiver is down, then drained"
SIZES = {
    "small": {"events": 5_000, "endToEndEvents": 1_000},
    "full": {"events": 1_000_000, "endToEndEvents": 200_000},
}
BACKOFF_MAX_S = 2
PEAK_RSS_TARGET_MB = 300
DRAIN_RATIO = 0.8
# The target is in decimal megabytes.
MB = 1_000_000


def measure_backlog(count: int) -> Callable[[int], Run]:
    def measure(repeat: int) -> Run:
        plan = ServicePlan(
            count=count,
            run_tag=new_run_tag(),
            streams=[batched_stream(backoff_max_s=BACKOFF_MAX_S)],
            receivers_late=True,
        )
        outcome = run_service(plan)
        run = delivery_run("scenario", repeat, count, outcome)

        producer = outcome.producer
        last = outcome.last_receipt()
        if producer.first_send_at is not None and producer.last_response_at is not None:
            run.details["ingestSeconds"] = producer.last_response_at - producer.first_send_at
        if outcome.receivers_up_at is not None and last is not None:
            run.seconds = last - outcome.receivers_up_at
            run.rate = count / run.seconds
        run.details["receiverStartedAfterS"] = (
            outcome.receivers_up_at - producer.first_send_at
            if outcome.receivers_up_at is not None and producer.first_send_at is not None
            else None
        )
        return run

    return measure


def run(context: RunContext) -> ScenarioResult:
    size = SIZES[context.size]
    count, end_to_end_count = size["events"], size["endToEndEvents"]
    # A full backlog run takes minutes and much disk for the record file: run it once.
    repeats = 1 if context.full else context.repeats
    result = ScenarioResult(
        id=ID,
        title=TITLE,
        status="completed",
        roles={
            "scenario": "drain, from the receiver's start to the last receipt",
            "endToEnd": "scenario 2: end to end with the receiver up, run again here",
        },
        parameters={
            "events": count,
            "endToEndEvents": end_to_end_count,
            "batchSize": 500,
            "backoffMaxSeconds": BACKOFF_MAX_S,
            "repeats": repeats,
        },
    )
    roles = [
        Role(
            "endToEnd",
            "scenario 2 end to end",
            end_to_end_count,
            measure_end_to_end(end_to_end_count, role="endToEnd"),
        ),
        Role("scenario", "backlog and drain", count, measure_backlog(count)),
    ]
    result.runs = alternate(context, ID, roles, repeats)
    summarize(result)

    peaks = [run.peak_rss_bytes for run in result.complete_runs("scenario") if run.peak_rss_bytes]
    peak_mb = max(peaks) / MB if peaks else None
    result.checks.append(
        Check(
            name="peak RSS of the service",
            target=f"<= {PEAK_RSS_TARGET_MB} MB",
            comparison="<=",
            threshold=PEAK_RSS_TARGET_MB,
            value=peak_mb,
            figure=peak_mb,
            unit="MB",
        )
    )
    figure = result.medians.get("scenario")
    reference = result.medians.get("endToEnd")
    result.checks.append(
        rate_ratio_check(
            "drain / end to end", f">= {DRAIN_RATIO} of scenario 2", DRAIN_RATIO, figure, reference
        )
    )
    return result
