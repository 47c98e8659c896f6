from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from datastreams.gc_tuning import YOUNG_THRESHOLD, tune_for_throughput


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_collector")
def test_tuning_raises_threshold() -> None:
    tune_for_throughput(freeze=False)

    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    assert gc.get_freeze_count() == 0


@pytest.mark.usefixtures("restored_collector")
def test_tuning_freezes_existing_objects() -> None:
    long_lived = [object() for _ in range(10)]

    tune_for_throughput(freeze=True)

    assert gc.get_freeze_count() > len(long_lived)
    # Objects made after the freeze are collected as usual.
    cycle: list[object] = []
    cycle.append(cycle)
    del cycle
    assert gc.collect() >= 1
