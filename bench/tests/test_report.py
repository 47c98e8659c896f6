"""Unit tests of the Markdown report."""

from __future__ import annotations

from bench.harness.report import render_report
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
