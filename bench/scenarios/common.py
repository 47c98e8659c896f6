"""Shared parts of the scenarios: the domain tree, streams, one service run, and alternation.

``run_service`` is one measured run against the real processes: receivers (one per
stream, so each stream's deliveries can be checked on their own), ``datastreams
serve`` on a fresh database, the producer process, and the wait for every expected
event. Every folder it makes is temporary and removed at the end.
"""

from __future__ import annotations

import copy
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bench.harness.events import domain_of, guid_of, type_of
from bench.harness.processes import HarnessError
from bench.harness.producer import ProducerPlan, ProducerResult, run_producer
from bench.harness.receiver import (
    FixedCa,
    Receipts,
    ReceiverProcess,
    RecordReader,
    wait_for_receipts,
)
from bench.harness.results import Run, ScenarioResult, median_rate, rate_series
from bench.harness.service import ServiceUnderTest

# A district (the root), 9 regions and 10 schools in each: 100 domains with Buzz-like ids.
ROOT_DOMAIN = "1000000"
REGIONS = tuple(f"1{region}00000" for region in range(1, 10))
SCHOOLS = {
    region: tuple(f"{region[:2]}000{school:02d}" for school in range(1, 11)) for region in REGIONS
}
SUBDOMAINS: tuple[tuple[str, str], ...] = (
    *((region, ROOT_DOMAIN) for region in REGIONS),
    *((school, region) for region in REGIONS for school in SCHOOLS[region]),
)
ALL_DOMAINS: tuple[str, ...] = (ROOT_DOMAIN, *(domain for domain, _ in SUBDOMAINS))
PARENTS = dict(SUBDOMAINS)

PRODUCER_TASKS = 4
PRODUCER_BATCH = 500


def ancestors_or_self(domain_id: str) -> list[str]:
    chain = [domain_id]
    while chain[-1] in PARENTS:
        chain.append(PARENTS[chain[-1]])
    return chain


@dataclass(frozen=True, slots=True)
class RunContext:
    """Settings of one invocation: the size, the repeats, and where progress goes."""

    size: str
    repeats: int
    progress: Callable[[str], None] = print

    @property
    def full(self) -> bool:
        return self.size == "full"


@dataclass(slots=True)
class StreamSpec:
    """A stream to create: its domain, its API body without endpoints, and what it selects.

    ``selects(index)`` returns whether typical event ``index`` matches the stream's
    domain and filters, so the harness can list the guids the stream must deliver.
    """

    domain_id: str
    body: dict[str, Any]
    selects: Callable[[int], bool] = field(default=lambda index: True)


def https_stream(
    name: str,
    *,
    batch_size: int = 1,
    max_in_flight: int = 1,
    filters: Sequence[dict[str, Any]] = (),
    backoff_max_s: int | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "https",
        "name": name,
        "description": f"Benchmark stream {name}",
        "enabled": True,
        "filters": list(filters),
        "https": {"method": "POST", "batchSize": batch_size, "maxInFlight": max_in_flight},
    }
    if backoff_max_s is not None:
        body["backoffMaxSeconds"] = backoff_max_s
    return body


def subtree_selector(
    domain_id: str, event_types: frozenset[str] | None = None
) -> Callable[[int], bool]:
    """Return ``selects`` for a stream of ``domain_id`` that keeps ``event_types`` (None: all)."""

    def selects(index: int) -> bool:
        if event_types is not None and type_of(index) not in event_types:
            return False
        return domain_id in ancestors_or_self(domain_of(index, ALL_DOMAINS))

    return selects


@dataclass(slots=True)
class ServicePlan:
    """One run against the service: the events, the streams and the receivers' behaviour."""

    count: int
    run_tag: int
    streams: list[StreamSpec] = field(default_factory=list)
    delay_ms: int = 0
    rate_per_s: float | None = None
    producer_batch: int = PRODUCER_BATCH
    # Start the receivers only once every event is published.
    receivers_late: bool = False


@dataclass(slots=True)
class ServiceOutcome:
    """Observations of one run against the service."""

    producer: ProducerResult
    expected: list[frozenset[str]]
    receipts: list[Receipts]
    receivers_up_at: float | None
    peak_rss_bytes: int
    rss_samples: list[tuple[float, int]]

    def delivered_all(self) -> bool:
        return all(
            len(receipts.first_receipt) == len(expected)
            for receipts, expected in zip(self.receipts, self.expected, strict=True)
        )

    def last_receipt(self) -> float | None:
        times = [r.last_first_receipt for r in self.receipts if r.last_first_receipt is not None]
        return max(times) if times else None


def producer_timeout_s(plan: ServicePlan) -> float:
    # Generous: a tenth of the expected ingest rate, or the paced duration, plus start-up.
    if plan.rate_per_s is not None:
        return 120.0 + 2 * plan.count / plan.rate_per_s
    return 120.0 + plan.count / 1000


def delivery_timeout_s(plan: ServicePlan) -> float:
    return 120.0 + plan.count * max(1, len(plan.streams)) / 500


class ServiceWatcher(Protocol):
    """Something attached to the running service process, such as a profiler."""

    def start(self, pid: int) -> None: ...

    def stop(self) -> None: ...


def run_service(plan: ServicePlan, watcher: ServiceWatcher | None = None) -> ServiceOutcome:
    """Run the service, publish the plan's events, and wait for every expected delivery.

    ``watcher`` is started once the service is ready and stopped before it stops.
    """
    with tempfile.TemporaryDirectory(prefix="datastreams-bench-") as temporary:
        directory = Path(temporary)
        fixed_ca = FixedCa.create(directory) if plan.receivers_late else None
        receivers = [
            ReceiverProcess(
                directory, f"receiver-{number}", delay_ms=plan.delay_ms, fixed_ca=fixed_ca
            )
            for number in range(len(plan.streams))
        ]
        try:
            return _run_with_receivers(plan, directory, receivers, fixed_ca, watcher)
        finally:
            for receiver in receivers:
                receiver.stop()


def _run_with_receivers(
    plan: ServicePlan,
    directory: Path,
    receivers: list[ReceiverProcess],
    fixed_ca: FixedCa | None,
    watcher: ServiceWatcher | None,
) -> ServiceOutcome:
    if not plan.receivers_late:
        for receiver in receivers:
            receiver.start()

    ca_file = _trusted_ca_file(directory, receivers, fixed_ca)
    service = ServiceUnderTest(directory, ROOT_DOMAIN, ca_file)
    service.create_tenant()
    service.start()
    try:
        service.add_domains(SUBDOMAINS)
        if watcher is not None:
            watcher.start(service.process.pid)
        for stream, receiver in zip(plan.streams, receivers, strict=True):
            body = copy.deepcopy(stream.body)
            body["https"]["endpoints"] = [receiver.url]
            service.add_stream(stream.domain_id, body)

        assert service.keys is not None
        producer_plan = ProducerPlan(
            url=service.url,
            api_key=service.keys.producer,
            run_tag=plan.run_tag,
            count=plan.count,
            domains=list(ALL_DOMAINS),
            tasks=PRODUCER_TASKS,
            batch_size=plan.producer_batch,
            rate_per_s=plan.rate_per_s,
        )
        producer = run_producer(producer_plan, directory, producer_timeout_s(plan))

        receivers_up_at = None
        if plan.receivers_late:
            for receiver in receivers:
                receiver.start()
            receivers_up_at = time.time()

        expected = [_expected_guids(plan, stream) for stream in plan.streams]
        receipts = _wait_for_streams(plan, service, receivers, expected)
        if watcher is not None:
            watcher.stop()
        rss_samples = list(service.rss.samples) if service.rss is not None else []
        peak_rss_bytes = service.stop()
    finally:
        service.stop()

    return ServiceOutcome(
        producer=producer,
        expected=expected,
        receipts=receipts,
        receivers_up_at=receivers_up_at,
        peak_rss_bytes=peak_rss_bytes,
        rss_samples=rss_samples,
    )


def _trusted_ca_file(
    directory: Path, receivers: list[ReceiverProcess], fixed_ca: FixedCa | None
) -> Path | None:
    if fixed_ca is not None:
        return fixed_ca.cert_path
    if not receivers:
        return None
    # Each receiver made its own CA; one PEM file can hold them all.
    bundle = directory / "receivers-ca.pem"
    bundle.write_bytes(b"".join(receiver.ca_path.read_bytes() for receiver in receivers))
    return bundle


def _expected_guids(plan: ServicePlan, stream: StreamSpec) -> frozenset[str]:
    return frozenset(
        guid_of(plan.run_tag, index) for index in range(plan.count) if stream.selects(index)
    )


def _wait_for_streams(
    plan: ServicePlan,
    service: ServiceUnderTest,
    receivers: list[ReceiverProcess],
    expected: list[frozenset[str]],
) -> list[Receipts]:
    deadline = time.monotonic() + delivery_timeout_s(plan)
    receipts: list[Receipts] = []

    for receiver, guids in zip(receivers, expected, strict=True):
        remaining_s = max(1.0, deadline - time.monotonic())
        receipts.append(
            wait_for_receipts(
                [RecordReader(receiver.record_path)],
                guids,
                timeout_s=remaining_s,
                is_alive=[service.process],
            )
        )
    return receipts


# Turning outcomes into runs ------------------------------------------------------------


def ingest_run(role: str, repeat: int, count: int, outcome: ServiceOutcome) -> Run:
    """Return the ingest figures of an outcome: accepted events over publish time."""
    producer = outcome.producer
    run = Run(role=role, repeat=repeat, events=count, delivered=producer.accepted)
    run.problems.extend(producer.errors)
    run.peak_rss_bytes = outcome.peak_rss_bytes

    if producer.first_send_at is not None and producer.last_response_at is not None:
        run.seconds = producer.last_response_at - producer.first_send_at
        run.rate = producer.accepted / run.seconds if run.seconds > 0 else None
        run.series = rate_series(
            [batch[1] for batch in producer.batches],
            producer.first_send_at,
            weights=[batch[3] for batch in producer.batches],
        )
    run.complete = producer.accepted == count and not producer.errors
    if producer.accepted != count:
        run.problems.append(f"{producer.accepted} of {count} events were accepted")
    return run


def delivery_run(role: str, repeat: int, count: int, outcome: ServiceOutcome) -> Run:
    """Return the end-to-end figures: events over first publish to last receipt."""
    producer = outcome.producer
    delivered = sum(len(receipts.first_receipt) for receipts in outcome.receipts)
    expected = sum(len(guids) for guids in outcome.expected)
    run = Run(role=role, repeat=repeat, events=count, delivered=delivered)
    run.problems.extend(producer.errors)
    run.peak_rss_bytes = outcome.peak_rss_bytes
    run.details["repeatedDeliveries"] = sum(receipts.repeats for receipts in outcome.receipts)
    run.details["non2xxRequests"] = sum(r.non_2xx_requests for r in outcome.receipts)

    last = outcome.last_receipt()
    start = producer.first_send_at
    if start is not None and last is not None and last > start:
        run.seconds = last - start
        run.rate = count / run.seconds
        first_receipts = [moment for r in outcome.receipts for moment in r.first_receipt.values()]
        run.series = rate_series(first_receipts, start)
        run.rss_series = [[round(moment - start, 3), size] for moment, size in outcome.rss_samples]

    run.complete = outcome.delivered_all() and producer.accepted == count
    if delivered != expected:
        run.problems.append(f"{delivered} of {expected} expected deliveries arrived in time")
    if producer.accepted != count:
        run.problems.append(f"{producer.accepted} of {count} events were accepted")
    return run


# Alternating runs ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Role:
    """One kind of run in a scenario: the scenario itself or one of its baselines."""

    name: str
    label: str
    events: int
    measure: Callable[[int], Run]


def alternate(
    context: RunContext, scenario_id: str, roles: Sequence[Role], repeats: int
) -> list[Run]:
    """Run the roles in turn (A B A B ...) ``repeats`` times; a failed run is kept as incomplete."""
    runs: list[Run] = []
    for repeat in range(repeats):
        for role in roles:
            context.progress(f"scenario {scenario_id}: {role.label}, run {repeat + 1} of {repeats}")
            started = time.monotonic()
            try:
                run = role.measure(repeat)
            except HarnessError as error:
                run = Run(role=role.name, repeat=repeat, events=role.events, problems=[str(error)])
            runs.append(run)
            context.progress(_describe(run, time.monotonic() - started))
    return runs


def _describe(run: Run, elapsed_s: float) -> str:
    rate = f"{run.rate:,.0f} events/s" if run.rate is not None else "no rate"
    state = "complete" if run.complete else "INCOMPLETE: " + "; ".join(run.problems)[:500]
    return f"  {run.role}: {rate}, {run.delivered}/{run.events}, {state} ({elapsed_s:.1f} s)"


def summarize(result: ScenarioResult) -> ScenarioResult:
    """Fill in the medians per role and the status from the runs."""
    for role in result.roles:
        median = median_rate(result.complete_runs(role))
        if median is not None:
            result.medians[role] = median

    result.problems.extend(
        f"{run.role} run {run.repeat + 1}: {problem}"
        for run in result.runs
        for problem in run.problems
    )
    incomplete = [run for run in result.runs if not run.complete]
    result.status = "incomplete" if incomplete else "completed"
    return result
