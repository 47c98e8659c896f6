from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Histogram

from datastreams.metrics import observe_all

BUCKETS = (0.01, 0.1, 1.0)
VALUES = [0.0, 0.005, 0.01, 0.010001, 0.1, 0.5, 1.0, 2.5, 7.0, -1.0]


def _histogram(name: str) -> tuple[CollectorRegistry, Histogram]:
    registry = CollectorRegistry()
    return registry, Histogram(name, "test", ["stream_id"], buckets=BUCKETS, registry=registry)


def _samples(registry: CollectorRegistry, name: str) -> dict[str, float]:
    return {
        f"{sample.name}{sorted(sample.labels.items())}": sample.value
        for metric in registry.collect()
        for sample in metric.samples
        if sample.name.startswith(name) and not sample.name.endswith("_created")
    }


def test_observe_all_equals_observe() -> None:
    one_by_one, single = _histogram("latency")
    all_at_once, bulk = _histogram("latency")

    for value in VALUES:
        single.labels("s1").observe(value)
    observe_all(bulk.labels("s1"), VALUES)

    assert _samples(all_at_once, "latency") == _samples(one_by_one, "latency")
    assert _samples(all_at_once, "latency")["latency_count[('stream_id', 's1')]"] == len(VALUES)


def test_observe_all_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    _, histogram = _histogram("fallback")
    child = histogram.labels("s1")
    monkeypatch.delattr(child, "_upper_bounds")
    observed: list[float] = []
    monkeypatch.setattr(child, "observe", observed.append)

    observe_all(child, [0.5, 2.0])

    assert observed == [0.5, 2.0]
