"""Unit tests of medians, percentiles, rate series, checks and the results file."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.harness.results import (
    BenchResults,
    Check,
    Run,
    ScenarioResult,
    earlier_results,
    median_rate,
    percentile,
    rate_series,
    ratio,
    read_results,
    write_results,
)


def test_percentile_interpolates() -> None:
    values = [10.0, 20.0, 30.0, 40.0]

    assert percentile(values, 0.0) == 10.0
    assert percentile(values, 1.0) == 40.0
    assert percentile(values, 0.5) == pytest.approx(25.0)


def test_percentile_of_nothing() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.5)


def test_median_rate_skips_missing() -> None:
    runs = [
        Run("scenario", 0, 10, rate=100.0),
        Run("scenario", 1, 10),
        Run("scenario", 2, 10, rate=300.0),
    ]

    assert median_rate(runs) == pytest.approx(200.0)


def test_ratio_without_reference() -> None:
    assert ratio(10.0, None) is None
    assert ratio(None, 10.0) is None
    assert ratio(10.0, 0.0) is None


def test_check_at_least() -> None:
    assert Check("x", ">= 0.5", ">=", 0.5, value=0.5).met is True
    assert Check("x", ">= 0.5", ">=", 0.5, value=0.49).met is False


def test_check_at_most() -> None:
    assert Check("x", "<= 20 ms", "<=", 20.0, value=19.0).met is True
    assert Check("x", "<= 20 ms", "<=", 20.0, value=21.0).met is False


def test_check_without_value() -> None:
    assert Check("x", ">= 0.5", ">=", 0.5).met is None


def test_rate_series_counts_per_second() -> None:
    # 100 events a second for 10 s, and one more at the end.
    times = [100.0 + step * 0.01 for step in range(1001)]

    series = rate_series(times, start=100.0, buckets=10)

    assert len(series) == 11
    assert series[0] == [0.0, pytest.approx(100.0)]
    assert series[-1] == [10.0, pytest.approx(1.0)]


def test_rate_series_empty() -> None:
    assert rate_series([], start=0.0) == []


def test_results_round_trip(tmp_path: Path) -> None:
    scenario = ScenarioResult(
        id="1",
        title="Ingest",
        status="completed",
        roles={"scenario": "ingest"},
        runs=[Run("scenario", 0, 10, delivered=10, rate=5.0, complete=True)],
        checks=[Check("ratio", ">= 0.6", ">=", 0.6, value=0.7)],
    )
    results = BenchResults(
        "start", "end", "python -m bench run", "small", 1, {"cores": 2}, [scenario]
    )
    path = tmp_path / "results.json"

    write_results(results, path)
    loaded = read_results(path)

    assert loaded.scenarios[0].runs[0].rate == 5.0
    assert loaded.scenarios[0].checks[0].met is True
    assert loaded.machine == {"cores": 2}


def test_results_wrong_schema(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text('{"schema_version": 99}', encoding="utf-8")

    with pytest.raises(ValueError, match="schema_version 99"):
        read_results(path)


def test_rate_series_weights() -> None:
    series = rate_series([0.25, 2.0], start=0.0, buckets=2, weights=[500, 100])

    assert series == [[0.0, 500.0], [1.0, 0.0], [2.0, 100.0]]


def _results_with(*scenario_ids: str) -> BenchResults:
    scenarios = [
        ScenarioResult(id=scenario_id, title="t", status="completed")
        for scenario_id in scenario_ids
    ]
    return BenchResults("s", "f", "c", "full", 3, {}, scenarios)


def test_earlier_results_pick_newest_per_scenario(tmp_path: Path) -> None:
    write_results(_results_with("1", "2", "7"), tmp_path / "2026-01-01-000000-full.json")
    write_results(_results_with("1"), tmp_path / "2026-01-02-000000-full.json")
    write_results(_results_with("2"), tmp_path / "2026-01-03-000000-small.json")
    current = tmp_path / "2026-01-04-000000-full.json"
    write_results(_results_with("2"), current)

    earlier = earlier_results(tmp_path, "full", ["1", "2"], exclude=current)

    assert [path.name for _, path in earlier] == [
        "2026-01-01-000000-full.json",
        "2026-01-02-000000-full.json",
    ]


def test_earlier_results_skip_unreadable_file(tmp_path: Path) -> None:
    write_results(_results_with("1"), tmp_path / "2026-01-01-000000-full.json")
    (tmp_path / "2026-01-02-000000-full.json").write_text("{", encoding="utf-8")

    earlier = earlier_results(tmp_path, "full", ["1"])

    assert [path.name for _, path in earlier] == ["2026-01-01-000000-full.json"]


def test_earlier_results_for_no_scenario(tmp_path: Path) -> None:
    write_results(_results_with("1"), tmp_path / "2026-01-01-000000-full.json")

    assert earlier_results(tmp_path, "full", []) == []
