"""Prometheus metrics of one process, served at ``/metrics``.

Each process has its own registry, so several applications in one test process do
not collide. Counters move where the work happens (ingest, dispatcher rounds); queue
depths are read from the store by a small loop, because a dispatcher only sees the
part of its queue it fetched.
"""

from __future__ import annotations

import bisect
import collections
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from datastreams.store.records import AttemptRecord

# Seconds from the moment an event was queued to the moment its delivery was recorded.
DELIVERY_LATENCY_BUCKETS_S = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    300,
    900,
    3600,
)
# Seconds one call to a destination took.
ATTEMPT_LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30)

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """The metrics of the service; ``render`` returns the text format for ``/metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.events_ingested = Counter(
            "datastreams_events_ingested",
            "Ingested event items by outcome: accepted, duplicate or rejected.",
            ["status"],
            registry=self.registry,
        )
        self.deliveries = Counter(
            "datastreams_deliveries",
            "Events handled by dispatchers, by stream and outcome: delivered, retry or dead.",
            ["stream_id", "outcome"],
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "datastreams_dead_letters",
            "Events that became dead letters, by stream.",
            ["stream_id"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "datastreams_queue_depth",
            "Deliveries queued per stream, read from the store every few seconds.",
            ["stream_id"],
            registry=self.registry,
        )
        self.delivery_latency = Histogram(
            "datastreams_delivery_latency_seconds",
            "Time from queueing an event to recording its delivery.",
            ["stream_id"],
            buckets=DELIVERY_LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.attempt_latency = Histogram(
            "datastreams_attempt_latency_seconds",
            "Time one call to a destination took, by stream and outcome.",
            ["stream_id", "outcome"],
            buckets=ATTEMPT_LATENCY_BUCKETS_S,
            registry=self.registry,
        )

    def record_ingest(self, accepted: int, duplicates: int, rejected: int) -> None:
        for status, count in (
            ("accepted", accepted),
            ("duplicate", duplicates),
            ("rejected", rejected),
        ):
            if count:
                self.events_ingested.labels(status).inc(count)

    def record_round(
        self,
        stream_id: str,
        *,
        delivered: int,
        retried: int,
        dead: int,
        latencies_s: Sequence[float],
        attempts: Sequence[AttemptRecord],
    ) -> None:
        """Count one dispatcher round's outcome."""
        for outcome, count in (("delivered", delivered), ("retry", retried), ("dead", dead)):
            if count:
                self.deliveries.labels(stream_id, outcome).inc(count)
        if dead:
            self.dead_letters.labels(stream_id).inc(dead)

        observe_all(self.delivery_latency.labels(stream_id), latencies_s)
        for attempt in attempts:
            self.attempt_latency.labels(stream_id, attempt.outcome).observe(
                attempt.latency_ms / 1000
            )

    def set_queue_depths(self, depths: dict[str, int]) -> None:
        """Replace the queue depth gauges; streams no longer present are removed."""
        self.queue_depth.clear()
        for stream_id, depth in depths.items():
            self.queue_depth.labels(stream_id).set(depth)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def observe_all(histogram: Histogram, values: Sequence[float]) -> None:
    """Observe every value, as ``histogram.observe`` would one by one.

    ``observe`` takes two locks per value, which at tens of thousands of deliveries a
    second cost a noticeable share of the event loop. Here each touched bucket and the
    sum are incremented once. The bucket rule is the library's: the first upper bound
    greater than or equal to the value.
    """
    # NOTE: prometheus-client has no public call for many observations, so this reads
    # the child's _upper_bounds, _buckets and _sum (checked with 0.26), and falls back
    # to observe() when a later release changes them.
    upper_bounds = getattr(histogram, "_upper_bounds", None)
    buckets = getattr(histogram, "_buckets", None)
    total = getattr(histogram, "_sum", None)
    if upper_bounds is None or buckets is None or total is None:
        for value in values:
            histogram.observe(value)
        return
    if not values:
        return

    counts = collections.Counter(bisect.bisect_left(upper_bounds, value) for value in values)
    for index, count in counts.items():
        buckets[index].inc(count)
    total.inc(sum(values))
