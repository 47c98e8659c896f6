"""PNG plots of a results file, drawn with matplotlib (the ``bench`` extra).

Each scenario whose runs have a rate series gets a plot of delivered events per
second over time (accepted events for the ingest scenarios). The backlog scenario's
plot adds the service's memory on a second axis. The latency scenario also gets a
plot of the latency distribution.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from bench.harness.results import BenchResults, ScenarioResult, is_figure_role

MB = 1_000_000
FIGURE_SIZE = (8, 4)
DPI = 100


def draw_plots(results: BenchResults, directory: Path) -> dict[str, list[Path]]:
    """Draw every plot into ``directory``; return the files of each scenario id."""
    directory.mkdir(parents=True, exist_ok=True)
    plots: dict[str, list[Path]] = {}

    for scenario in results.scenarios:
        files: list[Path] = []
        if any(run.series for run in scenario.runs):
            files.append(_draw_rates(scenario, directory / f"scenario-{scenario.id}-rate.png"))
        if any(run.details.get("latency") for run in scenario.runs):
            files.append(_draw_latency(scenario, directory / f"scenario-{scenario.id}-latency.png"))
        if files:
            plots[scenario.id] = files
    return plots


def _draw_rates(scenario: ScenarioResult, path: Path) -> Path:
    figure, axes = plt.subplots(figsize=FIGURE_SIZE)
    memory_axes = None
    # Twenty distinct colours: scenario 7 draws fifteen series.
    palette = plt.get_cmap("tab20")
    colours = [palette(index) for index in range(palette.N)]

    drawn = [run for run in scenario.runs if run.series]
    for index, run in enumerate(drawn):
        seconds = [point[0] for point in run.series]
        rates = [point[1] for point in run.series]
        style = "-" if is_figure_role(run.role) else "--"
        axes.plot(
            seconds,
            rates,
            style,
            color=colours[index % len(colours)],
            label=f"{run.role}, run {run.repeat + 1}",
            linewidth=1,
        )

        if run.role == "scenario" and run.rss_series and scenario.id == "6":
            memory_axes = memory_axes or axes.twinx()
            memory_axes.plot(
                [point[0] for point in run.rss_series],
                [point[1] / MB for point in run.rss_series],
                ":",
                color="black",
                label=f"service RSS, run {run.repeat + 1}",
            )

    axes.set_title(f"Scenario {scenario.id}: {scenario.title}", fontsize=9)
    axes.set_xlabel("seconds since the first publish")
    axes.set_ylabel("events per second")
    # Outside the plot, so the legend hides no series.
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    if memory_axes is not None:
        memory_axes.set_ylabel("resident set size (MB)")
        memory_axes.legend(fontsize=7, loc="lower left", bbox_to_anchor=(1.12, 0.0))
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    plt.close(figure)
    return path


def _draw_latency(scenario: ScenarioResult, path: Path) -> Path:
    figure, axes = plt.subplots(figsize=FIGURE_SIZE)

    for run in scenario.runs:
        latency = run.details.get("latency")
        if not latency:
            continue
        milliseconds = [max(point[0], 0.01) for point in latency["cdf"]]
        fractions = [point[1] for point in latency["cdf"]]
        axes.plot(milliseconds, fractions, label=f"run {run.repeat + 1}", linewidth=1)

    for check in scenario.checks:
        axes.axvline(check.threshold, linestyle=":", color="grey")
        axes.text(check.threshold, 0.02, f" {check.name} target", fontsize=7, rotation=90)

    axes.set_xscale("log")
    axes.set_title(f"Scenario {scenario.id}: latency from publish to receipt", fontsize=9)
    axes.set_xlabel("latency (ms, log scale)")
    axes.set_ylabel("fraction of events")
    # The target labels stand at the bottom of their lines, so the legend goes above.
    axes.legend(fontsize=7, loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    plt.close(figure)
    return path
