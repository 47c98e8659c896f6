"""Unit tests of the Markdown report."""

from __future__ import annotations

from bench.harness.report import ReportSource, render_report, render_sources, select_scenarios
from bench.harness.results import BenchResults, Check, Run, ScenarioResult


def _results() -> BenchResults:
    ingest = ScenarioResult(
        id="1",
        title="Ingest over HTTP",
        status="completed",
        roles={"scenario": "ingest over HTTP", "sqlite": "plain sqlite3"},
        runs=[
            Run("sqlite", 0, 100, delivered=100, rate=40_000.0, complete=True),
            Run("scenario", 0, 100, delivered=100, rate=20_000.0, complete=True),
        ],
        medians={"scenario": 20_000.0, "sqlite": 40_000.0},
        checks=[
            Check(
                "ingest / SQLite",
                ">= 0.6 of the baseline",
                ">=",
                0.6,
                0.5,
                20_000.0,
                40_000.0,
                "events/s",
            )
        ],
        command="python -m bench run --scenario 1 --size full --repeats 3",
    )
    latency = ScenarioResult(
        id="5",
        title="Latency",
        status="completed",
        roles={"scenario": "steady"},
        checks=[Check("p50 latency", "<= 20 ms", "<=", 20.0, 7.5, 7.5, None, "ms")],
    )
    aws = ScenarioResult(id="7", title="AWS sinks", status="not built yet", problems=["no sinks"])
    machine = {"cores": 2, "python": "3.11.7", "sqlite": "3.40.1"}
    return BenchResults(
        "2024-01-01T00:00:00",
        "2024-01-01T01:00:00",
        "python -m bench run --size full",
        "full",
        3,
        machine,
        [ingest, latency, aws],
    )


def test_report_names_command_and_machine() -> None:
    text = render_report(_results(), "../bench/results/x.json")

    assert "    python -m bench run --size full" in text
    assert "2 cores; Python 3.11.7; SQLite 3.40.1" in text
    assert "`python -m bench run --scenario 1 --size full --repeats 3`" in text


def test_report_says_which_targets_are_met() -> None:
    text = render_report(_results(), "x.json")

    assert "Met: 5 (p50 latency)." in text
    assert "Not met: 1 (ingest / SQLite)." in text
    assert "| target | >= 0.6 of the baseline: **not met** |" in text


def test_report_shows_ratio_with_figures() -> None:
    text = render_report(_results(), "x.json")

    assert "0.50 (20,000 / 40,000 events/s)" in text


def test_report_marks_unbuilt_scenario() -> None:
    text = render_report(_results(), "x.json")

    assert "Not built yet: no sinks." in text


def test_report_links_plots() -> None:
    text = render_report(_results(), "x.json", {"1": ["benchmarks/scenario-1-rate.png"]})

    assert "![Scenario 1](benchmarks/scenario-1-rate.png)" in text


def _single(scenario: ScenarioResult, started_at: str, command: str) -> BenchResults:
    machine = {"cores": 2, "python": "3.11.7", "sqlite": "3.40.1", "loadAverage": [1.0]}
    return BenchResults(started_at, started_at, command, "full", 3, machine, [scenario])


def _sources() -> list[ReportSource]:
    older = _results()
    aws = ScenarioResult(
        id="7",
        title="AWS sinks",
        status="completed",
        roles={"scenario": "Kinesis", "scenarioSqs": "SQS", "putRecords": "bare loop"},
        runs=[
            Run("putRecords", 0, 100, delivered=100, rate=50_000.0, complete=True),
            Run("scenario", 0, 100, delivered=100, rate=8_000.0, complete=True),
            Run("scenarioSqs", 0, 100, delivered=100, rate=3_000.0, complete=True),
        ],
        medians={"putRecords": 50_000.0, "scenario": 8_000.0, "scenarioSqs": 3_000.0},
        command="python -m bench run --scenario 7 --size full --repeats 3",
    )
    newer = _single(aws, "2024-02-01T00:00:00", "python -m bench run --scenario 7 --size full")
    return [
        ReportSource(older, "../bench/results/old.json"),
        ReportSource(newer, "../bench/results/new.json"),
    ]


def test_merged_report_takes_newest_scenario() -> None:
    text = render_sources(_sources())

    assert "Not built yet" not in text
    assert "| figure: Kinesis | 8,000 events/s (median of 1) |" in text
    assert "| 1 | Ingest over HTTP | ingest / SQLite |" in text


def test_merged_report_lists_each_file() -> None:
    text = render_sources(_sources())

    assert "- [old.json](../bench/results/old.json): `python -m bench run --size full`" in text
    assert "shown here: scenarios 1, 5. Machine:" in text
    assert "shown here: scenario 7. Machine: 2 cores; Python 3.11.7" in text
    assert "| results | [new.json](../bench/results/new.json) |" in text


def test_merged_report_leaves_out_unused_file() -> None:
    older, newer = _sources()
    newer.results.scenarios = _results().scenarios

    text = render_sources([older, newer])

    assert "old.json" not in text
    assert "| results |" not in text


def test_report_labels_scenario_roles_as_figures() -> None:
    text = render_sources(_sources())

    assert "| figure: SQS | 3,000 events/s (median of 1) |" in text
    assert "| baseline: bare loop | 50,000 events/s (median of 1) |" in text


def test_selected_scenarios_keep_first_order() -> None:
    selected = select_scenarios(_sources())

    assert [scenario.id for scenario, _ in selected] == ["1", "5", "7"]
    assert selected[2][1].link == "../bench/results/new.json"
