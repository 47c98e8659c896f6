"""``datastreams demo``: the service with simulated traffic and a local HTTPS receiver."""

from __future__ import annotations

import sys

import click

from datastreams.cli.base import main


@main.command()
@click.option(
    "--db",
    type=click.Path(dir_okay=False),
    help="SQLite file to keep the demo's data in. [default: a temporary file, removed at exit]",
)
@click.option(
    "--events",
    "event_count",
    type=click.IntRange(min=0),
    default=5000,
    show_default=True,
    help="Number of simulated events to publish.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0),
    default=500.0,
    show_default=True,
    help="Events published per second; 0 publishes as fast as possible.",
)
@click.option(
    "--exit-when-done",
    is_flag=True,
    help="Exit once both streams have delivered every event, instead of serving until Ctrl+C.",
)
@click.option(
    "--timeout-s",
    type=click.FloatRange(min=0, min_open=True),
    default=120.0,
    show_default=True,
    help="With --exit-when-done, exit 1 if delivery has not finished this many seconds "
    "after the start.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the API listens on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="TCP port of the API; 0 picks a free one.",
)
@click.option(
    "--seed", type=int, default=1, show_default=True, help="Seed of the simulated activity."
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default="WARNING",
    show_default=True,
    help="Lowest level of the service's log records, written to standard error.",
)
def demo(
    db: str | None,
    event_count: int,
    rate: float,
    exit_when_done: bool,
    timeout_s: float,
    host: str,
    port: int,
    seed: int,
    log_level: str,
) -> None:
    """Run the service with simulated school traffic delivered to a local HTTPS receiver.

    Creates a district with four schools and two HTTPS streams (every event, and
    grades with new enrollments), publishes simulated events and prints progress
    once a second. The API address and an admin key are printed first, so the API
    can be explored while the demo runs.
    """
    from datastreams.demo.runner import DemoOptions, run_demo

    options = DemoOptions(
        db=db,
        events=event_count,
        rate=rate,
        exit_when_done=exit_when_done,
        timeout_s=timeout_s,
        host=host,
        port=port,
        seed=seed,
        log_level=log_level.upper(),
    )
    exit_code = run_demo(options)
    if exit_code:
        sys.exit(exit_code)
