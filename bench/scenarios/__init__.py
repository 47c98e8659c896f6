"""The benchmark scenarios, in the order the report lists them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bench.harness.results import ScenarioResult
from bench.scenarios import aws, backlog, end_to_end, fan_out, ingest, latency, single_event
from bench.scenarios.common import RunContext


@dataclass(frozen=True, slots=True)
class Scenario:
    """A scenario's id (as ``--scenario`` takes it), title and entry point."""

    id: str
    title: str
    run: Callable[[RunContext], ScenarioResult]


SCENARIOS: dict[str, Scenario] = {
    scenario.id: scenario
    for scenario in (
        Scenario(ingest.ID, ingest.TITLE, ingest.run),
        Scenario(end_to_end.ID, end_to_end.TITLE, end_to_end.run),
        Scenario("3", single_event.TITLE, single_event.run),
        Scenario("3b", single_event.TITLE_3B, single_event.run_in_flight),
        Scenario(fan_out.ID, fan_out.TITLE, fan_out.run),
        Scenario(latency.ID, latency.TITLE, latency.run),
        Scenario(backlog.ID, backlog.TITLE, backlog.run),
        Scenario(aws.ID, aws.TITLE, aws.run),
    )
}
