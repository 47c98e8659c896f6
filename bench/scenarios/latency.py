"""Scenario 5: latency from publish to receipt at a steady 1,000 events per second.

The producers pace their batches so that batch ``k`` starts no earlier than ``k *
batch / rate`` seconds after the first. Batches are 10 events, not 500, because 500
would be a burst every half second rather than a steady rate. The stream takes
every event with ``batchSize`` 500, and its dispatcher sends what is queued without
waiting to fill a batch.

An event's latency is the receiver's ``receivedAt`` of its first receipt minus the
time its batch's publish request started. Both clocks are this machine's.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from bench.harness.events import index_of, new_run_tag
from bench.harness.results import Check, Run, ScenarioResult, percentile
from bench.scenarios.common import (
    Role,
    RunContext,
    ServiceOutcome,
    ServicePlan,
    alternate,
    delivery_run,
    run_service,
    summarize,
)
from bench.scenarios.end_to_end import batched_stream

ID = "5"
TITLE = "Latency at a steady 1,000 events/s for 60 s, publish to receipt"
SIZES = {"small": {"ratePerS": 200, "seconds": 2}, "full": {"ratePerS": 1_000, "seconds": 60}}
PRODUCER_BATCH = 10
P50_TARGET_MS = 20.0
P99_TARGET_MS = 100.0
CDF_POINTS = 200


def latencies_ms(outcome: ServiceOutcome) -> list[float]:
    """Return the sorted latency of every received event, in milliseconds."""
    sent_at: dict[int, float] = {}
    for batch_sent_at, _, first, count in outcome.producer.batches:
        for index in range(first, first + count):
            sent_at[index] = batch_sent_at

    latencies = [
        (received_at - sent_at[index_of(guid)]) * 1000
        for receipts in outcome.receipts
        for guid, received_at in receipts.first_receipt.items()
        if index_of(guid) in sent_at
    ]
    return sorted(latencies)


def latency_summary(latencies: list[float]) -> dict[str, Any]:
    """Return percentiles in milliseconds and a cumulative distribution for the plot."""
    if not latencies:
        return {}
    return {
        "count": len(latencies),
        "p50Ms": percentile(latencies, 0.50),
        "p90Ms": percentile(latencies, 0.90),
        "p99Ms": percentile(latencies, 0.99),
        "maxMs": latencies[-1],
        # [latency in ms, fraction of events at or below it]
        "cdf": [
            [percentile(latencies, step / CDF_POINTS), step / CDF_POINTS]
            for step in range(CDF_POINTS + 1)
        ],
    }


def measure_latency(rate_per_s: int, seconds: int) -> Callable[[int], Run]:
    count = rate_per_s * seconds

    def measure(repeat: int) -> Run:
        plan = ServicePlan(
            count=count,
            run_tag=new_run_tag(),
            streams=[batched_stream()],
            rate_per_s=rate_per_s,
            producer_batch=PRODUCER_BATCH,
        )
        outcome = run_service(plan)
        run = delivery_run("scenario", repeat, count, outcome)
        run.details["latency"] = latency_summary(latencies_ms(outcome))
        return run

    return measure


def run(context: RunContext) -> ScenarioResult:
    size = SIZES[context.size]
    rate_per_s, seconds = size["ratePerS"], size["seconds"]
    result = ScenarioResult(
        id=ID,
        title=TITLE,
        status="completed",
        roles={"scenario": "steady publishing, one stream"},
        parameters={
            "ratePerS": rate_per_s,
            "seconds": seconds,
            "events": rate_per_s * seconds,
            "producerBatchEvents": PRODUCER_BATCH,
            "batchSize": 500,
        },
    )
    roles = [
        Role(
            "scenario",
            "steady publishing",
            rate_per_s * seconds,
            measure_latency(rate_per_s, seconds),
        )
    ]
    result.runs = alternate(context, ID, roles, context.repeats)
    summarize(result)

    summaries = [run.details["latency"] for run in result.complete_runs("scenario")]
    summaries = [summary for summary in summaries if summary]
    p50 = statistics.median(s["p50Ms"] for s in summaries) if summaries else None
    p99 = statistics.median(s["p99Ms"] for s in summaries) if summaries else None
    if summaries:
        result.latency = {
            "p50Ms": p50,
            "p90Ms": statistics.median(s["p90Ms"] for s in summaries),
            "p99Ms": p99,
            "maxMs": max(s["maxMs"] for s in summaries),
        }
    result.checks.append(
        Check(
            name="p50 latency",
            target=f"<= {P50_TARGET_MS:g} ms",
            comparison="<=",
            threshold=P50_TARGET_MS,
            value=p50,
            figure=p50,
            unit="ms",
        )
    )
    result.checks.append(
        Check(
            name="p99 latency",
            target=f"<= {P99_TARGET_MS:g} ms",
            comparison="<=",
            threshold=P99_TARGET_MS,
            value=p99,
            figure=p99,
            unit="ms",
        )
    )
    return result
