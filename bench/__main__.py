"""``python -m bench``: run the benchmark scenarios, or render the report of a results file.

    python -m bench run [--scenario N ...] [--size small|full] [--repeats K]
    python -m bench report RESULTS.json [MORE.json ...]

``run`` writes ``bench/results/<date>-<size>.json``; at full size it also renders
``docs/benchmarks.md`` and its plots. When it runs only some scenarios, the report
keeps the others from the newest results files of the same size in the results
folder, so their figures stay on the page. It exits with 1 when a scenario did not
complete or did not deliver every event, and never because of a speed target:
targets are reported, not enforced, because the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench.harness.machine import machine_facts
from bench.harness.results import BenchResults, earlier_results, read_results, write_results
from bench.harness.service import SERVICE_SETTINGS
from bench.scenarios import SCENARIOS
from bench.scenarios.common import RunContext

BENCH_DIRECTORY = Path(__file__).resolve().parent
DEFAULT_RESULTS_DIRECTORY = BENCH_DIRECTORY / "results"
DEFAULT_REPORT = BENCH_DIRECTORY.parent / "docs" / "benchmarks.md"
DEFAULT_REPEATS = {"small": 1, "full": 3}


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="Run scenarios and write a results file.")
    run.add_argument(
        "--scenario",
        action="append",
        choices=list(SCENARIOS),
        help="A scenario to run; repeat for several (default: all).",
    )
    run.add_argument("--size", choices=["small", "full"], default="full")
    run.add_argument(
        "--repeats",
        type=int,
        help="Runs of each scenario and of each baseline, alternated (default: 3 full, 1 small).",
    )
    run.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="A DATASTREAMS_* variable for every serve process; repeat for several.",
    )
    run.add_argument("--results-dir", type=Path, default=DEFAULT_RESULTS_DIRECTORY)
    report_choice = run.add_mutually_exclusive_group()
    report_choice.add_argument(
        "--report",
        type=Path,
        help="Render the report to this file (default at full size: docs/benchmarks.md).",
    )
    report_choice.add_argument("--no-report", action="store_true", help="Render no report.")

    report = commands.add_parser(
        "report",
        help="Render the report of results files; a scenario comes from the last file that has it.",
    )
    report.add_argument("results", type=Path, nargs="+", help="Results files, oldest first.")
    report.add_argument("--output", type=Path, default=DEFAULT_REPORT)

    arguments = parser.parse_args(argv)
    if arguments.command == "run" and arguments.repeats is not None and arguments.repeats < 1:
        parser.error(f"--repeats must be 1 or more, got {arguments.repeats}")
    for setting in getattr(arguments, "setting", []):
        name, equals, _ = setting.partition("=")
        if not equals or not name.startswith("DATASTREAMS_"):
            parser.error(f"--setting must be DATASTREAMS_NAME=VALUE, got {setting!r}")
    return arguments


def run_scenarios(arguments: argparse.Namespace, command: str) -> int:
    size = arguments.size
    repeats = arguments.repeats or DEFAULT_REPEATS[size]
    chosen = arguments.scenario or list(SCENARIOS)
    context = RunContext(size=size, repeats=repeats, progress=_progress)
    SERVICE_SETTINGS.update(setting.split("=", 1) for setting in arguments.setting)

    started_at = datetime.now(UTC)
    results = BenchResults(
        started_at=started_at.isoformat(timespec="seconds"),
        finished_at="",
        command=command,
        size=size,
        repeats=repeats,
        machine=machine_facts(),
    )
    for scenario_id in SCENARIOS:
        if scenario_id not in chosen:
            continue
        scenario = SCENARIOS[scenario_id]
        result = scenario.run(context)
        settings = "".join(f" --setting {setting}" for setting in arguments.setting)
        result.command = (
            f"python -m bench run --scenario {scenario_id} --size {size} --repeats {repeats}"
            f"{settings}"
        )
        results.scenarios.append(result)
        _progress(f"scenario {scenario_id}: {result.status}")

    results.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
    results_path = arguments.results_dir / f"{started_at:%Y-%m-%d-%H%M%S}-{size}.json"
    write_results(results, results_path)
    _progress(f"results written to {results_path}")

    report_path = arguments.report or (DEFAULT_REPORT if size == "full" else None)
    if report_path is not None and not arguments.no_report:
        not_run = [scenario_id for scenario_id in SCENARIOS if scenario_id not in chosen]
        earlier = earlier_results(arguments.results_dir, size, not_run, exclude=results_path)
        for _, path in earlier:
            _progress(f"the report keeps the scenarios that were not run from {path}")
        render_report([*earlier, (results, results_path)], report_path)

    _print_summary(results)
    return 0 if results.all_complete else 1


def render_report(files: list[tuple[BenchResults, Path]], report_path: Path) -> None:
    """Render the report of results files, given oldest first."""
    # matplotlib is imported only here, so a smoke run works without the bench extra.
    from bench.harness.report import write_report

    write_report(files, report_path)
    _progress(f"report written to {report_path}")


def _print_summary(results: BenchResults) -> None:
    for scenario in results.scenarios:
        if results.size == "full":
            checks = ", ".join(f"{check.name}: {_met_word(check.met)}" for check in scenario.checks)
        else:
            # A few hundred events tell nothing about speed, so only delivery is checked.
            checks = "every event delivered" if scenario.status == "completed" else ""
        print(f"{scenario.id:>3} {scenario.status:<13} {checks}", flush=True)
        for problem in scenario.problems[:5]:
            print(f"      {problem}", flush=True)


def _met_word(met: bool | None) -> str:
    return {True: "met", False: "not met", None: "no figure"}[met]


def _progress(message: str) -> None:
    stamp = datetime.now().strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    arguments = parse_arguments(argv)

    if arguments.command == "run":
        command = shlex.join(["python", "-m", "bench", *argv])
        return run_scenarios(arguments, command)

    files = [(read_results(path), path) for path in arguments.results]
    render_report(files, arguments.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
