"""Commands about a stream's deliveries: the Test action, status, attempts, statistics, replay.

Each command prints a table, or with ``--json`` the body the HTTP API returns for the
same request.
"""

from __future__ import annotations

import sys
from typing import IO, Any

import click

from datastreams.cli.admin import STREAM_SETTINGS, streams
from datastreams.cli.base import (
    domain_option,
    dumps_json,
    json_option,
    main,
    print_fields,
    print_items,
    read_json_file,
    resolve_settings,
    run_with_runtime,
    setting_options,
)

# The probe is sent from this process, so the endpoint address rules and the trusted
# certificate authorities of this process apply to it.
PROBE_SETTINGS = (*STREAM_SETTINGS, "allowed_endpoint_networks", "tls_ca_file")

PROBE_STEP_COLUMNS = [
    ("STEP", "step"),
    ("ENDPOINT", "endpoint"),
    ("STATUS", "status"),
    ("ERROR", "errorCode"),
    ("LATENCY_MS", "latencyMs"),
    ("MESSAGE", "message"),
]
ATTEMPT_COLUMNS = [
    ("AT", "at"),
    ("OUTCOME", "outcome"),
    ("RECORDS", "records"),
    ("ENDPOINT", "endpoint"),
    ("STATUS", "status"),
    ("ERROR", "errorCode"),
    ("LATENCY_MS", "latencyMs"),
    ("MESSAGE", "message"),
]
STATS_COLUMNS = [("MINUTE", "minute"), ("DELIVERED", "delivered"), ("FAILED", "failed")]

TIME_HELP = "an ISO 8601 time with a zone, such as 2024-05-01T00:00:00Z"


@streams.command("test")
@domain_option
@click.argument("stream_id", required=False)
@click.option(
    "--file",
    "body_file",
    type=click.File("rb"),
    help="Test this configuration (the API's JSON body of a stream) instead of a saved "
    "stream; - reads standard input. With an id in it, secrets it leaves out come from "
    "that saved stream.",
)
@json_option
@setting_options(*PROBE_SETTINGS)
def streams_test(
    domain_id: str,
    stream_id: str | None,
    body_file: IO[bytes] | None,
    as_json: bool,
    **flags: Any,
) -> None:
    """Send a probe event through a saved stream (STREAM_ID) or a configuration (--file).

    The probe is a ValidateDataStreamConfiguration event. It ignores the stream's
    filters and enabled switch, and tries each endpoint once. Prints each step, then
    "passed" or "failed"; exits with 1 when the probe failed.

    The probe is sent from this process, so --allowed-endpoint-networks and
    --tls-ca-file (or their variables) apply here as they do in serve.
    """
    if (stream_id is None) == (body_file is None):
        raise click.UsageError("give exactly one of STREAM_ID and --file")

    body = read_json_file(body_file) if body_file is not None else None

    async def test(runtime: Any) -> dict[str, Any]:
        deliveries = runtime.deliveries()
        if body is not None:
            result: dict[str, Any] = await deliveries.test_body(domain_id, body)
        else:
            result = await deliveries.test_saved(domain_id, str(stream_id))
        return result

    result = run_with_runtime(resolve_settings(flags), test)

    if as_json:
        click.echo(dumps_json(result))
    else:
        print_items(result["steps"], as_json=False, columns=PROBE_STEP_COLUMNS)
        click.echo("passed" if result["passed"] else "failed")
    if not result["passed"]:
        sys.exit(1)


@streams.command("status")
@domain_option
@click.argument("stream_id")
@json_option
@setting_options(*STREAM_SETTINGS)
def streams_status(domain_id: str, stream_id: str, as_json: bool, **flags: Any) -> None:
    """Show a stream's delivery state, queue depth and counters.

    The state is idle, delivering, backingOff, failing or disabled, as the running
    serve last wrote it. oldestQueuedAgeSeconds is in seconds.
    """
    status = run_with_runtime(
        resolve_settings(flags),
        lambda runtime: runtime.deliveries().status(domain_id, stream_id),
    )
    print_fields(status, as_json=as_json)


@streams.command("attempts")
@domain_option
@click.argument("stream_id")
@click.option(
    "--limit",
    type=int,
    default=50,
    show_default=True,
    help="Number of attempts to show, newest first (1 to 200).",
)
@json_option
@setting_options(*STREAM_SETTINGS)
def streams_attempts(
    domain_id: str, stream_id: str, limit: int, as_json: bool, **flags: Any
) -> None:
    """List the latest calls to the stream's destination, newest first."""
    result = run_with_runtime(
        resolve_settings(flags),
        lambda runtime: runtime.deliveries().attempts(domain_id, stream_id, limit),
    )

    if as_json:
        click.echo(dumps_json(result))
        return
    print_items(result["items"], as_json=False, columns=ATTEMPT_COLUMNS)


@streams.command("stats")
@domain_option
@click.argument("stream_id")
@click.option(
    "--minutes",
    type=int,
    default=60,
    show_default=True,
    help="Number of minutes to show, ending with the current one (1 to 1440).",
)
@json_option
@setting_options(*STREAM_SETTINGS)
def streams_stats(
    domain_id: str, stream_id: str, minutes: int, as_json: bool, **flags: Any
) -> None:
    """Show the events delivered and failed in each minute (UTC), oldest first."""
    result = run_with_runtime(
        resolve_settings(flags),
        lambda runtime: runtime.deliveries().stats(domain_id, stream_id, minutes),
    )

    if as_json:
        click.echo(dumps_json(result))
        return
    print_items(result["items"], as_json=False, columns=STATS_COLUMNS)


@main.command()
@domain_option
@click.option("--stream", "stream_id", required=True, help="Id of the stream.")
@click.option(
    "--from",
    "from_time",
    required=True,
    help=f"Start of the range of event times, inclusive: {TIME_HELP}.",
)
@click.option(
    "--to",
    "to_time",
    required=True,
    help=f"End of the range of event times, exclusive: {TIME_HELP}.",
)
@setting_options(*STREAM_SETTINGS)
def replay(domain_id: str, stream_id: str, from_time: str, to_time: str, **flags: Any) -> None:
    """Queue the stored events of a time range to a stream again; print "queued N".

    Selects the events of the stream's domain and its subdomains with a time in
    the range that pass the stream's current filters. Events older than the
    retention (DATASTREAMS_EVENT_RETENTION_S of serve) are no longer stored. The
    receiver may get events it already has, and can tell them apart by guid.

    A running serve sends them within about a second, because an idle dispatcher
    checks its queue every second. A stream that is backing off sends them when its
    wait ends.
    """
    body = {"from": from_time, "to": to_time}
    result = run_with_runtime(
        resolve_settings(flags),
        lambda runtime: runtime.deliveries().replay(domain_id, stream_id, body),
    )
    click.echo(f"queued {result['queued']}")
