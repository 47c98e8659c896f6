"""Scenario 7: Kinesis, Firehose and SQS streams, delivering into a loopback stub of AWS.

The service gets three streams on the root domain that take every event: one each
of type ``kinesis``, ``firehose`` and ``sqs``, with a role in the stub's account.
Its botocore clients reach only the stub (``AWS_ENDPOINT_URL``), which responds to
AssumeRole and the sinks' calls as AWS does and records every record. The figure of
each destination is events over the time from the first publish to the last receipt
at the stub.

Kinesis is compared with two bare botocore loops against the same kind of stub, run
alternately in the same invocation: PutRecords with ready 500-record batches, and
one PutRecord call per event. The Firehose and SQS figures are for information.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness.aws_receiver import REGION, AwsStubProcess, wait_for_stub_receipts
from bench.harness.aws_stub import ACCOUNT_ID, protocol_of_sqs
from bench.harness.botocore_baseline import BotocorePlan, Operation, run_botocore_baseline
from bench.harness.events import guid_of, new_run_tag
from bench.harness.producer import ProducerPlan, ProducerResult, run_producer
from bench.harness.receiver import Receipts
from bench.harness.results import Run, ScenarioResult, rate_ratio_check, rate_series
from bench.harness.service import ServiceUnderTest
from bench.scenarios.common import (
    ALL_DOMAINS,
    PRODUCER_BATCH,
    PRODUCER_TASKS,
    ROOT_DOMAIN,
    SUBDOMAINS,
    Role,
    RunContext,
    ServiceWatcher,
    alternate,
    summarize,
)

ID = "7"
TITLE = "Kinesis, Firehose and SQS into a loopback stub"
SIZES = {
    "small": {"events": 300, "putRecordEvents": 100},
    "full": {"events": 100_000, "putRecordEvents": 5_000},
}
PUT_RECORDS_RATIO = 0.7
PUT_RECORD_FACTOR = 25.0

ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/datastreams-bench"
# A standard queue: a FIFO queue would add group and deduplication ids to each entry.
DESTINATION_NAME = "bench-events"
STREAM_TYPES = ("kinesis", "firehose", "sqs")
KINESIS = f"kinesis/{DESTINATION_NAME}"

# The run's role of each stream type; the report shows roles named ``scenario...`` as
# figures of the scenario, the others as baselines.
ROLE_OF_TYPE = {"kinesis": "scenario", "firehose": "scenarioFirehose", "sqs": "scenarioSqs"}

BASELINE_TIMEOUT_S = 600.0
BASELINE_RECEIPT_TIMEOUT_S = 30.0


def aws_stream(stream_type: str) -> dict[str, Any]:
    """Return the API body of a stream of ``stream_type`` that takes every event."""
    return {
        "type": stream_type,
        "name": DESTINATION_NAME,
        "description": f"Benchmark {stream_type} stream",
        "enabled": True,
        "filters": [],
        "aws": {"roleArn": ROLE_ARN, "region": REGION},
    }


def destination_of_type(stream_type: str) -> str:
    """Return the stub's name of the destination of a stream type, such as ``sqs/bench-events``."""
    return f"{stream_type}/{DESTINATION_NAME}"


# One run of the service ----------------------------------------------------------------


@dataclass(slots=True)
class AwsOutcome:
    """Observations of one run of the service against the stub."""

    count: int
    producer: ProducerResult
    expected: frozenset[str]
    # Receipts per stream type.
    receipts: dict[str, Receipts]
    peak_rss_bytes: int
    rss_samples: list[tuple[float, int]] = field(default_factory=list)


def producer_timeout_s(count: int) -> float:
    # Generous: a tenth of the expected ingest rate, plus start-up.
    return 120.0 + count / 1000


def delivery_timeout_s(count: int) -> float:
    return 120.0 + count * len(STREAM_TYPES) / 500


def run_aws_service(count: int, run_tag: int, watcher: ServiceWatcher | None = None) -> AwsOutcome:
    """Run the stub and the service, publish ``count`` events, and wait for every delivery.

    ``watcher`` is started once the service is ready and stopped before it stops.
    """
    with tempfile.TemporaryDirectory(prefix="datastreams-bench-") as temporary:
        directory = Path(temporary)
        stub = AwsStubProcess(directory)
        stub.start()
        try:
            return _run_against_stub(count, run_tag, directory, stub, watcher)
        finally:
            stub.stop()


def _run_against_stub(
    count: int,
    run_tag: int,
    directory: Path,
    stub: AwsStubProcess,
    watcher: ServiceWatcher | None,
) -> AwsOutcome:
    environment = stub.environment
    service = ServiceUnderTest(directory, ROOT_DOMAIN, None, environment)
    service.create_tenant()
    service.start()
    try:
        service.add_domains(SUBDOMAINS)
        for stream_type in STREAM_TYPES:
            service.add_stream(ROOT_DOMAIN, aws_stream(stream_type))

        if watcher is not None:
            watcher.start(service.process.pid)
        try:
            producer, receipts = _publish_and_wait(count, run_tag, directory, stub, service)
        finally:
            if watcher is not None:
                watcher.stop()

        rss_samples = list(service.rss.samples) if service.rss is not None else []
        peak_rss_bytes = service.stop()
    finally:
        service.stop()

    return AwsOutcome(
        count=count,
        producer=producer,
        expected=_guids(run_tag, count),
        receipts=receipts,
        peak_rss_bytes=peak_rss_bytes,
        rss_samples=rss_samples,
    )


def _publish_and_wait(
    count: int,
    run_tag: int,
    directory: Path,
    stub: AwsStubProcess,
    service: ServiceUnderTest,
) -> tuple[ProducerResult, dict[str, Receipts]]:
    assert service.keys is not None
    producer_plan = ProducerPlan(
        url=service.url,
        api_key=service.keys.producer,
        run_tag=run_tag,
        count=count,
        domains=list(ALL_DOMAINS),
        tasks=PRODUCER_TASKS,
        batch_size=PRODUCER_BATCH,
    )
    producer = run_producer(producer_plan, directory, producer_timeout_s(count), stub.environment)

    guids = _guids(run_tag, count)
    expected = {destination_of_type(stream_type): guids for stream_type in STREAM_TYPES}
    by_destination = wait_for_stub_receipts(
        stub, expected, timeout_s=delivery_timeout_s(count), is_alive=[service.process]
    )
    receipts = {
        stream_type: by_destination[destination_of_type(stream_type)]
        for stream_type in STREAM_TYPES
    }
    return producer, receipts


def _guids(run_tag: int, count: int) -> frozenset[str]:
    return frozenset(guid_of(run_tag, index) for index in range(count))


def destination_run(role: str, repeat: int, outcome: AwsOutcome, stream_type: str) -> Run:
    """Return one destination's figures: its events over first publish to its last receipt."""
    producer = outcome.producer
    receipts = outcome.receipts[stream_type]
    expected = len(outcome.expected)
    delivered = len(receipts.first_receipt)
    run = Run(role=role, repeat=repeat, events=outcome.count, delivered=delivered)
    run.problems.extend(producer.errors)
    run.peak_rss_bytes = outcome.peak_rss_bytes
    run.details["repeatedDeliveries"] = receipts.repeats
    run.details["calls"] = receipts.requests

    last = receipts.last_first_receipt
    start = producer.first_send_at
    if start is not None and last is not None and last > start:
        run.seconds = last - start
        run.rate = outcome.count / run.seconds
        run.series = rate_series(list(receipts.first_receipt.values()), start)
        run.rss_series = [[round(moment - start, 3), size] for moment, size in outcome.rss_samples]

    run.complete = delivered == expected and producer.accepted == outcome.count
    if delivered != expected:
        run.problems.append(f"{delivered} of {expected} {stream_type} records arrived in time")
    if producer.accepted != outcome.count:
        run.problems.append(f"{producer.accepted} of {outcome.count} events were accepted")
    return run


class ServiceMeasure:
    """Measures service runs for ``alternate``: returns the Kinesis run of each.

    The same run's Firehose and SQS runs are kept in ``companions`` by repeat.
    """

    def __init__(self, count: int, progress: Callable[[str], None]) -> None:
        self.count = count
        self.progress = progress
        self.companions: dict[int, list[Run]] = {}

    def __call__(self, repeat: int) -> Run:
        outcome = run_aws_service(self.count, new_run_tag())
        companions = [
            destination_run(ROLE_OF_TYPE[stream_type], repeat, outcome, stream_type)
            for stream_type in STREAM_TYPES
            if stream_type != "kinesis"
        ]
        self.companions[repeat] = companions
        for companion in companions:
            rate = f"{companion.rate:,.0f} events/s" if companion.rate is not None else "no rate"
            self.progress(f"  {companion.role}: {rate}, {companion.delivered}/{companion.events}")
        return destination_run(ROLE_OF_TYPE["kinesis"], repeat, outcome, "kinesis")


def with_companions(runs: list[Run], companions: dict[int, list[Run]]) -> list[Run]:
    """Return ``runs`` with each Kinesis run followed by the other destinations of its run."""
    ordered: list[Run] = []
    for run in runs:
        ordered.append(run)
        if run.role == ROLE_OF_TYPE["kinesis"]:
            ordered.extend(companions.get(run.repeat, []))
    return ordered


# The botocore baselines ------------------------------------------------------------------


def measure_botocore(role: str, count: int, operation: Operation) -> Callable[[int], Run]:
    """Return a measure of a bare botocore loop writing ``count`` events to the stub's Kinesis."""

    def measure(repeat: int) -> Run:
        run_tag = new_run_tag()
        expected = {KINESIS: _guids(run_tag, count)}
        with tempfile.TemporaryDirectory(prefix="datastreams-bench-") as temporary:
            directory = Path(temporary)
            stub = AwsStubProcess(directory)
            stub.start()
            try:
                plan = BotocorePlan(
                    stream_name=DESTINATION_NAME,
                    region=REGION,
                    run_tag=run_tag,
                    count=count,
                    domains=list(ALL_DOMAINS),
                    operation=operation,
                )
                sent = run_botocore_baseline(plan, directory, stub.environment, BASELINE_TIMEOUT_S)
                receipts = wait_for_stub_receipts(
                    stub, expected, timeout_s=BASELINE_RECEIPT_TIMEOUT_S
                )[KINESIS]
            finally:
                stub.stop()

        run = Run(role=role, repeat=repeat, events=count, delivered=len(receipts.first_receipt))
        run.problems.extend(sent.errors)
        run.details["calls"] = receipts.requests
        last = receipts.last_first_receipt
        if sent.first_send_at is not None and last is not None and last > sent.first_send_at:
            run.seconds = last - sent.first_send_at
            run.rate = count / run.seconds
            run.series = rate_series(list(receipts.first_receipt.values()), sent.first_send_at)
        run.complete = run.delivered == count and sent.failed == 0
        if run.delivered != count:
            run.problems.append(f"{run.delivered} of {count} records arrived")
        return run

    return measure


# The scenario ------------------------------------------------------------------------------


def run(context: RunContext) -> ScenarioResult:
    sizes = SIZES[context.size]
    count = sizes["events"]
    put_record_count = sizes["putRecordEvents"]
    result = ScenarioResult(
        id=ID,
        title=TITLE,
        status="completed",
        roles={
            "putRecords": "bare botocore PutRecords loop, ready 500-record batches",
            "scenario": "Kinesis stream, first publish to last receipt",
            "scenarioFirehose": "Firehose stream of the same runs (for information)",
            "scenarioSqs": "SQS stream of the same runs, 10 messages a call (for information)",
            "putRecord": "bare botocore loop, one PutRecord call per event",
        },
        parameters={
            "events": count,
            "putRecordEvents": put_record_count,
            "streams": len(STREAM_TYPES),
            "producerBatchEvents": PRODUCER_BATCH,
            "region": REGION,
        },
    )

    sqs_protocol = protocol_of_sqs()
    if sqs_protocol != "json":
        result.status = "failed"
        result.problems.append(
            f"the installed botocore uses the {sqs_protocol} protocol for SQS; "
            "the stub answers only the JSON protocol"
        )
        return result

    service_measure = ServiceMeasure(count, context.progress)
    roles = [
        Role(
            "putRecords",
            "bare botocore PutRecords loop",
            count,
            measure_botocore("putRecords", count, "PutRecords"),
        ),
        Role("scenario", "Kinesis, Firehose and SQS streams", count, service_measure),
        Role(
            "putRecord",
            "bare botocore PutRecord loop",
            put_record_count,
            measure_botocore("putRecord", put_record_count, "PutRecord"),
        ),
    ]
    runs = alternate(context, ID, roles, context.repeats)
    result.runs = with_companions(runs, service_measure.companions)
    summarize(result)
    _add_checks(result)
    return result


def _add_checks(result: ScenarioResult) -> None:
    figure = result.medians.get("scenario")
    put_records = result.medians.get("putRecords")
    put_record = result.medians.get("putRecord")
    result.checks.append(
        rate_ratio_check(
            "Kinesis / bare PutRecords loop",
            f">= {PUT_RECORDS_RATIO} of the PutRecords loop",
            PUT_RECORDS_RATIO,
            figure,
            put_records,
        )
    )
    result.checks.append(
        rate_ratio_check(
            "Kinesis / one PutRecord per event",
            f">= {PUT_RECORD_FACTOR:g}x the PutRecord loop",
            PUT_RECORD_FACTOR,
            figure,
            put_record,
        )
    )
