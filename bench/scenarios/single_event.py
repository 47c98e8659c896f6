"""Scenarios 3 and 3b: one event per request over HTTPS, against bare aiohttp clients.

Scenario 3 delivers through one stream with ``batchSize`` 1. Its baselines post the
same events to the same kind of receiver: a bare keep-alive aiohttp loop, and a loop
that opens a new connection for every event. Scenario 3b makes the
receiver respond after 20 ms and gives the stream ``maxInFlight`` 16; its baseline is
a bare aiohttp client with 16 requests in flight.

The stream's lanes are chosen by ``domainId``, so the events are spread over the 100
domains of the tree; with a single domain, ``maxInFlight`` could not send in parallel.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.harness.events import guid_of, new_run_tag
from bench.harness.http_baseline import HttpPlan, run_http_baseline
from bench.harness.receiver import ReceiverProcess, RecordReader, wait_for_receipts
from bench.harness.results import Run, ScenarioResult, rate_ratio_check, rate_series
from bench.scenarios.common import (
    ALL_DOMAINS,
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

TITLE = "End to end, one event per request over HTTPS, one stream"
TITLE_3B = "As 3, with a receiver that responds after 20 ms and maxInFlight 16"
SIZES = {
    "small": {"events": 300, "newConnectionEvents": 100},
    "full": {"events": 10_000, "newConnectionEvents": 2_000},
}
SIZES_3B = {"small": 300, "full": 8_000}
DELAY_MS_3B = 20
IN_FLIGHT_3B = 16
KEEPALIVE_RATIO = 0.8
NEW_CONNECTION_FACTOR = 6.0
BASELINE_TIMEOUT_S = 600.0


def measure_stream(
    count: int, *, max_in_flight: int = 1, delay_ms: int = 0
) -> Callable[[int], Run]:
    def measure(repeat: int) -> Run:
        body = https_stream("one-by-one", batch_size=1, max_in_flight=max_in_flight)
        plan = ServicePlan(
            count=count,
            run_tag=new_run_tag(),
            streams=[StreamSpec(ROOT_DOMAIN, body)],
            delay_ms=delay_ms,
        )
        return delivery_run("scenario", repeat, count, run_service(plan))

    return measure


def measure_http(
    role: str, count: int, *, in_flight: int = 1, new_connection: bool = False, delay_ms: int = 0
) -> Callable[[int], Run]:
    """Return a measure of a bare aiohttp client posting ``count`` events to a receiver."""

    def measure(repeat: int) -> Run:
        run_tag = new_run_tag()
        with tempfile.TemporaryDirectory(prefix="datastreams-bench-") as temporary:
            directory = Path(temporary)
            receiver = ReceiverProcess(directory, "receiver", delay_ms=delay_ms)
            receiver.start()
            try:
                plan = HttpPlan(
                    url=receiver.url,
                    ca_file=str(receiver.ca_path),
                    run_tag=run_tag,
                    count=count,
                    domains=list(ALL_DOMAINS),
                    in_flight=in_flight,
                    new_connection=new_connection,
                )
                posted = run_http_baseline(plan, directory, BASELINE_TIMEOUT_S)
                expected = frozenset(guid_of(run_tag, index) for index in range(count))
                receipts = wait_for_receipts(
                    [RecordReader(receiver.record_path)], expected, timeout_s=30.0
                )
            finally:
                receiver.stop()

        run = Run(role=role, repeat=repeat, events=count, delivered=len(receipts.first_receipt))
        run.problems.extend(posted.errors)
        last = receipts.last_first_receipt
        if posted.first_send_at is not None and last is not None:
            run.seconds = last - posted.first_send_at
            run.rate = count / run.seconds
            run.series = rate_series(list(receipts.first_receipt.values()), posted.first_send_at)
        run.complete = run.delivered == count and posted.failed == 0
        if run.delivered != count:
            run.problems.append(f"{run.delivered} of {count} events arrived")
        return run

    return measure


def run(context: RunContext) -> ScenarioResult:
    sizes = SIZES[context.size]
    count = sizes["events"]
    new_connection_count = sizes["newConnectionEvents"]
    result = ScenarioResult(
        id="3",
        title=TITLE,
        status="completed",
        roles={
            "keepalive": "bare aiohttp keep-alive loop, one event per request",
            "scenario": "end to end, one event per request",
            "newConnection": "bare aiohttp loop, a new connection per event",
        },
        parameters={
            "events": count,
            "newConnectionEvents": new_connection_count,
            "batchSize": 1,
            "maxInFlight": 1,
        },
    )
    roles = [
        Role("keepalive", "keep-alive aiohttp loop", count, measure_http("keepalive", count)),
        Role("scenario", "end to end, one event per request", count, measure_stream(count)),
        Role(
            "newConnection",
            "aiohttp loop with a new connection per event",
            new_connection_count,
            measure_http("newConnection", new_connection_count, new_connection=True),
        ),
    ]
    result.runs = alternate(context, "3", roles, context.repeats)
    summarize(result)

    figure = result.medians.get("scenario")
    keepalive = result.medians.get("keepalive")
    new_connection = result.medians.get("newConnection")
    result.checks.append(
        rate_ratio_check(
            "end to end / keep-alive loop",
            f">= {KEEPALIVE_RATIO} of the keep-alive loop",
            KEEPALIVE_RATIO,
            figure,
            keepalive,
        )
    )
    result.checks.append(
        rate_ratio_check(
            "end to end / new connection per event",
            f">= {NEW_CONNECTION_FACTOR:g}x the new-connection loop",
            NEW_CONNECTION_FACTOR,
            figure,
            new_connection,
        )
    )
    return result


def run_in_flight(context: RunContext) -> ScenarioResult:
    count = SIZES_3B[context.size]
    result = ScenarioResult(
        id="3b",
        title=TITLE_3B,
        status="completed",
        roles={
            "scenario": f"end to end, maxInFlight {IN_FLIGHT_3B}",
            "inFlight": f"bare aiohttp client, {IN_FLIGHT_3B} requests in flight",
        },
        parameters={
            "events": count,
            "batchSize": 1,
            "maxInFlight": IN_FLIGHT_3B,
            "receiverDelayMs": DELAY_MS_3B,
            "domains": len(ALL_DOMAINS),
        },
    )
    roles = [
        Role(
            "inFlight",
            f"aiohttp client with {IN_FLIGHT_3B} in flight",
            count,
            measure_http("inFlight", count, in_flight=IN_FLIGHT_3B, delay_ms=DELAY_MS_3B),
        ),
        Role(
            "scenario",
            f"end to end, maxInFlight {IN_FLIGHT_3B}",
            count,
            measure_stream(count, max_in_flight=IN_FLIGHT_3B, delay_ms=DELAY_MS_3B),
        ),
    ]
    result.runs = alternate(context, "3b", roles, context.repeats)
    summarize(result)

    figure = result.medians.get("scenario")
    reference = result.medians.get("inFlight")
    result.checks.append(
        rate_ratio_check(
            f"end to end / aiohttp with {IN_FLIGHT_3B} in flight",
            f">= {KEEPALIVE_RATIO} of the baseline",
            KEEPALIVE_RATIO,
            figure,
            reference,
        )
    )
    return result
