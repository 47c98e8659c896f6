"""The benchmark report (``docs/benchmarks.md``), rendered from one or more results files.

``render_report`` and ``render_sources`` are pure: they turn results into Markdown,
so tests can check the text. ``write_report`` also draws the plots into a folder
beside the report and links them.

A report of several results files shows each scenario from the last file that has
it, so a run of some scenarios can replace their sections and keep the others.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.harness.results import BenchResults, Check, Run, ScenarioResult, is_figure_role

# Memory is shown in decimal megabytes, the unit of the memory target.
MB = 1_000_000

HOW_TO_RUN = """\
`make bench` runs every scenario at full size and rewrites this page;
`make bench-smoke` runs each at a tiny size and only checks that every event is
delivered. Each scenario starts the real `datastreams serve` on SQLite in a
temporary folder and `datastreams receiver --quiet --record` on 127.0.0.1, and
publishes from a separate process with four asyncio tasks of `datastreams.client`,
in 500-event batches of a typical 350-byte event. The producer builds its events
before the first publish, as the baselines build theirs before their timers start,
so that on 2 cores it does not take CPU time from the service. Throughput is events
over the time from the first publish to the last receipt. The ingest figures end at
the last ingest response instead, and scenario 6's drain starts at the receiver's
start. Memory is the peak resident set size (VmHWM) of the `serve` process.
A baseline that names another scenario is run again inside this one, so its median
differs a little from that scenario's own. Scenario 6 runs once at full size, whatever
`--repeats` says. Scenario 7 delivers to a stub of STS, Kinesis, Firehose and SQS on 127.0.0.1
(`bench/harness/aws_stub.py`) instead of receivers, and counts receipts there.
`bench/README.md` describes the options and the profiling tool."""

NOISE_NOTE = (
    "The machine is shared with other work, and medians drift by up to a third between "
    "runs a few minutes apart. Each baseline therefore runs alternately with its "
    "scenario (A B A B ...), and every ratio compares medians from the same run. "
    "Treat differences of less than a third between runs as noise."
)


@dataclass(frozen=True, slots=True)
class ReportSource:
    """One results file of a report: its results and the link to it from the report."""

    results: BenchResults
    link: str


def write_report(files: Sequence[tuple[BenchResults, Path]], report_path: Path) -> None:
    """Draw the plots and write the report of results files, given oldest first."""
    from bench.harness.plots import draw_plots

    sources = [
        ReportSource(results, _relative(results_path, report_path.parent))
        for results, results_path in files
    ]
    shown = [scenario for scenario, _ in select_scenarios(sources)]
    plots_directory = report_path.parent / report_path.stem
    plots = draw_plots(dataclasses.replace(sources[-1].results, scenarios=shown), plots_directory)
    links = {
        scenario_id: [_relative(path, report_path.parent) for path in paths]
        for scenario_id, paths in plots.items()
    }
    text = render_sources(sources, links)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(text, encoding="utf-8")


def select_scenarios(
    sources: Sequence[ReportSource],
) -> list[tuple[ScenarioResult, ReportSource]]:
    """Return each scenario from the last source that has it, in the order ids first appear."""
    chosen: dict[str, tuple[ScenarioResult, ReportSource]] = {}
    order: list[str] = []
    for source in sources:
        for scenario in source.results.scenarios:
            if scenario.id not in chosen:
                order.append(scenario.id)
            chosen[scenario.id] = (scenario, source)
    return [chosen[scenario_id] for scenario_id in order]


def render_report(
    results: BenchResults, results_link: str, plots: dict[str, list[str]] | None = None
) -> str:
    """Return the report of one results file as Markdown; ``plots`` maps ids to image paths."""
    return render_sources([ReportSource(results, results_link)], plots)


def render_sources(
    sources: Sequence[ReportSource], plots: dict[str, list[str]] | None = None
) -> str:
    """Return the report of several results files, given oldest first, as Markdown."""
    if not sources:
        raise ValueError("a report needs at least one results file")
    plots = plots or {}
    selected = select_scenarios(sources)
    used = [source for source in sources if any(chosen is source for _, chosen in selected)]
    scenarios = [scenario for scenario, _ in selected]

    lines = ["# Benchmarks", ""]
    if len(used) == 1:
        lines.extend(_single_source_header(used[0]))
    else:
        lines.extend(_sources_header(used, selected))
    lines.extend(
        [
            HOW_TO_RUN,
            "",
            NOISE_NOTE,
            "",
            "## Targets",
            "",
            "| # | scenario | check | target | measured | met |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
    )
    for scenario in scenarios:
        lines.extend(_summary_rows(scenario))

    lines.extend(["", _met_sentence(scenarios), ""])
    for scenario, source in selected:
        results_link = source.link if len(used) > 1 else None
        lines.extend(
            _scenario_section(
                scenario,
                _machine_line(source.results),
                plots.get(scenario.id, []),
                results_link,
            )
        )
    return "\n".join(lines).rstrip() + "\n"


def _single_source_header(source: ReportSource) -> list[str]:
    results = source.results
    return [
        "Generated by `python -m bench report` from "
        f"[{Path(source.link).name}]({source.link}), the results of:",
        "",
        f"    {results.command}",
        "",
        f"Run from {results.started_at} to {results.finished_at} (UTC) at size "
        f"`{results.size}`, {_runs_phrase(results.repeats)} of each scenario and baseline "
        "unless a scenario says otherwise.",
        "",
        f"Machine: {_machine_line(results)}.",
        "",
    ]


def _sources_header(
    sources: Sequence[ReportSource], selected: Sequence[tuple[ScenarioResult, ReportSource]]
) -> list[str]:
    lines = [
        "Generated by `python -m bench report` from these results files, oldest first. "
        "Each scenario comes from the newest file that has it and names that file.",
        "",
    ]
    for source in sources:
        results = source.results
        shown = ", ".join(scenario.id for scenario, chosen in selected if chosen is source)
        lines.append(
            f"- [{Path(source.link).name}]({source.link}): `{results.command}`, "
            f"run from {results.started_at} to {results.finished_at} (UTC) at size "
            f"`{results.size}`, {_runs_phrase(results.repeats)} of each scenario and "
            f"baseline unless a scenario says otherwise; shown here: {_scenarios_phrase(shown)}. "
            f"Machine: {_machine_line(results)}."
        )
    lines.append("")
    return lines


def _scenarios_phrase(ids: str) -> str:
    return f"scenarios {ids}" if "," in ids else f"scenario {ids}"


def _runs_phrase(repeats: int) -> str:
    return "1 run" if repeats == 1 else f"{repeats} runs"


def _machine_line(results: BenchResults) -> str:
    facts = results.machine
    parts = [f"{facts.get('cores')} cores"]
    if facts.get("cpuModel"):
        parts.append(str(facts["cpuModel"]))
    if facts.get("memoryMiB"):
        parts.append(f"{facts['memoryMiB']:,} MiB memory")
    parts.append(f"Python {facts.get('python')}")
    parts.append(f"SQLite {facts.get('sqlite')}")
    if facts.get("system"):
        parts.append(str(facts["system"]))
    if facts.get("loadAverage"):
        load = ", ".join(f"{value:g}" for value in facts["loadAverage"])
        parts.append(f"load average {load} at the start")
    return "; ".join(parts)


def _summary_rows(scenario: ScenarioResult) -> list[str]:
    if not scenario.checks:
        return [f"| {scenario.id} | {scenario.title} | | | {scenario.status} | |"]
    return [
        f"| {scenario.id} | {scenario.title} | {check.name} | {check.target} | "
        f"{_format_value(check)} | {_met_word(check, scenario)} |"
        for check in scenario.checks
    ]


def _met_sentence(scenarios: Sequence[ScenarioResult]) -> str:
    checks = [(scenario, check) for scenario in scenarios for check in scenario.checks]
    met = [f"{scenario.id} ({check.name})" for scenario, check in checks if check.met]
    not_met = [f"{scenario.id} ({check.name})" for scenario, check in checks if check.met is False]
    missing = [f"{scenario.id} ({check.name})" for scenario, check in checks if check.met is None]
    sentences = [
        f"Met: {', '.join(met) if met else 'none'}.",
        f"Not met: {', '.join(not_met) if not_met else 'none'}.",
    ]
    if missing:
        sentences.append(f"No figure: {', '.join(missing)}.")
    incomplete = [scenario.id for scenario in scenarios if scenario.status == "incomplete"]
    if incomplete:
        sentences.append(
            f"Scenarios {', '.join(incomplete)} did not deliver every event in some runs; "
            "their medians use only the complete runs."
        )
    return " ".join(sentences)


def _scenario_section(
    scenario: ScenarioResult, machine: str, plots: list[str], results_link: str | None
) -> list[str]:
    lines = [f"## {scenario.id}. {scenario.title}", ""]
    if scenario.status == "not built yet":
        lines.extend(["Not built yet: " + "; ".join(scenario.problems) + ".", ""])
        return lines

    lines.extend(["| | |", "| --- | --- |"])
    for role, description in scenario.roles.items():
        runs = scenario.complete_runs(role)
        median = scenario.medians.get(role)
        median_text = f"{median:,.0f} events/s" if median is not None else "no complete run"
        name = "figure" if is_figure_role(role) else "baseline"
        lines.append(f"| {name}: {description} | {median_text} (median of {len(runs)}) |")

    if scenario.latency:
        latency = scenario.latency
        lines.append(
            f"| latency (median over runs) | p50 {latency['p50Ms']:.1f} ms, p90 "
            f"{latency['p90Ms']:.1f} ms, p99 {latency['p99Ms']:.1f} ms, max "
            f"{latency['maxMs']:.1f} ms |"
        )
    for check in scenario.checks:
        lines.append(f"| {check.name} | {_format_value(check)} |")
        lines.append(f"| target | {check.target}: **{_met_word(check, scenario)}** |")

    parameters = ", ".join(
        f"{name} {_format_number(value)}" for name, value in scenario.parameters.items()
    )
    lines.append(f"| parameters | {parameters} |")
    lines.append(f"| status | {scenario.status} |")
    lines.append(f"| machine | {machine} |")
    lines.append(f"| command | `{scenario.command}` |")
    if results_link is not None:
        lines.append(f"| results | [{Path(results_link).name}]({results_link}) |")
    lines.extend(["", "Runs in the order they ran:", ""])
    lines.extend(_run_line(run) for run in scenario.runs)
    lines.append("")

    if scenario.problems:
        lines.append("Problems:")
        lines.append("")
        lines.extend(f"- {problem}" for problem in scenario.problems[:20])
        lines.append("")
    for plot in plots:
        lines.extend([f"![Scenario {scenario.id}]({plot})", ""])
    return lines


def _run_line(run: Run) -> str:
    rate = f"{run.rate:,.0f} events/s" if run.rate is not None else "no rate"
    seconds = f" in {run.seconds:.2f} s" if run.seconds is not None else ""
    events = f"{run.delivered:,} of {run.events:,} events"
    parts = [f"- {run.role}, run {run.repeat + 1}: {rate}{seconds}, {events}"]
    if run.peak_rss_bytes:
        parts.append(f"peak RSS {run.peak_rss_bytes / MB:,.0f} MB")
    latency = run.details.get("latency")
    if latency:
        parts.append(f"p50 {latency['p50Ms']:.1f} ms, p99 {latency['p99Ms']:.1f} ms")
    repeats = run.details.get("repeatedDeliveries")
    if repeats:
        parts.append(f"{repeats} delivered more than once")
    if not run.complete:
        parts.append("INCOMPLETE")
    return ", ".join(parts)


def _format_value(check: Check) -> str:
    if check.value is None:
        return "no figure"
    if check.unit == "events/s" and check.figure is not None and check.reference is not None:
        return f"{check.value:.2f} ({check.figure:,.0f} / {check.reference:,.0f} events/s)"
    return f"{check.value:,.1f} {check.unit}".strip()


def _met_word(check: Check, scenario: ScenarioResult) -> str:
    if check.met is None:
        return "no figure"
    return "met" if check.met else "not met"


def _format_number(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _relative(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()
