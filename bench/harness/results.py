"""The results of a benchmark run: runs, medians, checks against targets, and their JSON form.

A scenario alternates its runs with those of its baselines (A B A B ...), because the
shared machine drifts by a third within minutes. Its figures are medians over the
complete runs of each role, and each target is a check on a ratio of two medians
measured in the same run, or on an absolute figure where the target is one. Roles
whose name starts with ``scenario`` are the scenario's own figures (one scenario may
measure several destinations in one run); the other roles are baselines.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1

ScenarioStatus = Literal["completed", "incomplete", "failed", "not built yet"]
Comparison = Literal[">=", "<="]


@dataclass(slots=True)
class Run:
    """One timed run of a scenario or of one of its baselines.

    ``rate`` is events per second. ``series`` is the rate over time as ``[seconds
    since the first publish, events per second]`` pairs; ``rss_series`` the service's
    resident set size as ``[seconds, bytes]`` pairs.
    """

    role: str
    repeat: int
    events: int
    delivered: int = 0
    seconds: float | None = None
    rate: float | None = None
    complete: bool = False
    peak_rss_bytes: int | None = None
    series: list[list[float]] = field(default_factory=list)
    rss_series: list[list[float]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Check:
    """One target: ``value`` (a ratio or an absolute figure) compared with ``threshold``."""

    name: str
    target: str
    comparison: Comparison
    threshold: float
    value: float | None = None
    figure: float | None = None
    reference: float | None = None
    unit: str = ""
    # Derived from the fields above and stored, so the JSON records pass or fail.
    met: bool | None = None

    def __post_init__(self) -> None:
        if self.value is None:
            self.met = None
        elif self.comparison == ">=":
            self.met = self.value >= self.threshold
        else:
            self.met = self.value <= self.threshold


@dataclass(slots=True)
class ScenarioResult:
    """Everything one scenario measured, with its targets checked."""

    id: str
    title: str
    status: ScenarioStatus
    roles: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)
    medians: dict[str, float] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    latency: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)
    command: str = ""

    def complete_runs(self, role: str) -> list[Run]:
        return [run for run in self.runs if run.role == role and run.complete]


@dataclass(slots=True)
class BenchResults:
    """One invocation of ``python -m bench run``."""

    started_at: str
    finished_at: str
    command: str
    size: str
    repeats: int
    machine: dict[str, Any]
    scenarios: list[ScenarioResult] = field(default_factory=list)
    schema_version: int = SCHEMA_VERSION

    @property
    def all_complete(self) -> bool:
        return all(scenario.status in ("completed", "not built yet") for scenario in self.scenarios)


def is_figure_role(role: str) -> bool:
    """Return whether runs of ``role`` measure the scenario itself rather than a baseline."""
    return role.startswith("scenario")


def median_rate(runs: list[Run]) -> float | None:
    """Return the median rate of the runs that have one."""
    rates = [run.rate for run in runs if run.rate is not None]
    return statistics.median(rates) if rates else None


def ratio(figure: float | None, reference: float | None) -> float | None:
    if figure is None or not reference:
        return None
    return figure / reference


def rate_ratio_check(
    name: str, target: str, threshold: float, figure: float | None, reference: float | None
) -> Check:
    """Return the check that the rate ``figure`` is at least ``threshold`` times ``reference``."""
    return Check(
        name=name,
        target=target,
        comparison=">=",
        threshold=threshold,
        value=ratio(figure, reference),
        figure=figure,
        reference=reference,
        unit="events/s",
    )


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Return the value at ``fraction`` (0 to 1) of sorted values, interpolating linearly."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    position = fraction * (len(sorted_values) - 1)
    lower = int(position)
    upper = min(lower + 1, len(sorted_values) - 1)
    weight = position - lower
    return sorted_values[lower] * (1 - weight) + sorted_values[upper] * weight


def rate_series(
    times: list[float], start: float, buckets: int = 100, weights: list[int] | None = None
) -> list[list[float]]:
    """Return events per second over time, from the times at which events arrived.

    ``weights`` gives the number of events at each time (1 each without it). The span
    from ``start`` to the last time is cut into about ``buckets`` equal intervals of
    at least 0.1 s.
    """
    if not times:
        return []
    span = max(max(times) - start, 1e-6)
    width = max(0.1, span / buckets)
    counts = [0] * (int(span / width) + 1)
    for position, moment in enumerate(times):
        weight = weights[position] if weights is not None else 1
        counts[max(0, int((moment - start) / width))] += weight
    return [[round(index * width, 3), count / width] for index, count in enumerate(counts)]


def write_results(results: BenchResults, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(asdict(results), option=orjson.OPT_INDENT_2))


def read_results(path: Path) -> BenchResults:
    data = orjson.loads(path.read_bytes())
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(
            f"{path}: schema_version {data.get('schema_version')!r} is not {SCHEMA_VERSION}"
        )
    scenarios = [_scenario_from_json(item) for item in data.pop("scenarios")]
    return BenchResults(**data, scenarios=scenarios)


def earlier_results(
    directory: Path, size: str, scenario_ids: Iterable[str], exclude: Path | None = None
) -> list[tuple[BenchResults, Path]]:
    """Return the newest results file of ``size`` in ``directory`` for each of ``scenario_ids``.

    The files come oldest first, each once, and only if it is the newest to have one
    of the scenarios. File names start with the start time, so their order is the
    order of the runs. A file that cannot be read, or has another schema version,
    is skipped with a warning.
    """
    wanted = set(scenario_ids)
    paths = sorted(directory.glob(f"*-{size}.json"), reverse=True)
    chosen: list[tuple[BenchResults, Path]] = []

    for path in paths:
        if not wanted:
            break
        if exclude is not None and path.resolve() == exclude.resolve():
            continue
        try:
            results = read_results(path)
        except (OSError, ValueError, TypeError, KeyError) as error:
            logger.warning(
                "skipped results file %s: %s", path, error, extra={"action": "results_skipped"}
            )
            continue
        found = wanted & {scenario.id for scenario in results.scenarios}
        if found:
            chosen.append((results, path))
            wanted -= found
    return chosen[::-1]


def _scenario_from_json(data: dict[str, Any]) -> ScenarioResult:
    runs = [Run(**run) for run in data.pop("runs")]
    checks = [Check(**check) for check in data.pop("checks")]
    return ScenarioResult(**data, runs=runs, checks=checks)
