"""``datastreams receiver``: an HTTPS endpoint on this machine for trying out streams."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import io
import signal
import sys
from typing import TYPE_CHECKING

import click

from datastreams.cli.base import CommandFailed, main

if TYPE_CHECKING:
    from datastreams.receiver import Receiver

SIGNING_SECRET_PREFIX = "whsec_"
# How often the request count is updated, in seconds.
COUNT_INTERVAL_S = 1.0


def _check_response_script(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from datastreams.receiver import parse_response_script

    try:
        parse_response_script(value)
    except ValueError as error:
        raise click.BadParameter(f"{value!r}: {error}") from None
    return value


def _check_signing_secrets(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[str, ...]:
    for position, secret in enumerate(values, start=1):
        # The secret itself stays out of the message, as it does out of every log.
        if not _is_signing_secret(secret):
            raise click.BadParameter(
                f"secret {position} is invalid: expected {SIGNING_SECRET_PREFIX} followed by "
                "base64, as printed by 'datastreams streams signing-secret'"
            )
    return values


def _is_signing_secret(secret: str) -> bool:
    if not secret.startswith(SIGNING_SECRET_PREFIX):
        return False

    encoded = secret.removeprefix(SIGNING_SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        return False
    return bool(key)


@main.command("receiver")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address the receiver listens on."
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8443,
    show_default=True,
    help="TCP port the receiver listens on; 0 picks a free one, which the printed URL shows.",
)
@click.option(
    "--ca-out",
    type=click.Path(dir_okay=False),
    help="Write the receiver's CA certificate (PEM) to this file, for the service's "
    "DATASTREAMS_TLS_CA_FILE.",
)
@click.option(
    "--quiet",
    is_flag=True,
    help="Instead of each event, print the number of requests and of accepted events "
    "(those in requests given a 2xx response) once a second while they change.",
)
@click.option(
    "--record",
    "record_path",
    type=click.Path(dir_okay=False),
    help="Append one JSON line per request to this file: receivedAt (Unix time in "
    "seconds), method, status, events, and signatureValid when --secret is given.",
)
@click.option(
    "--respond",
    default="200",
    show_default=True,
    callback=_check_response_script,
    help="Status codes to respond with, one request after another: comma-separated "
    "STATUS[:RETRY_AFTER_S][xCOUNT] steps, the last repeating for ever. 503x3,200 responds "
    "with 503 three times, then 200. 429:2 adds Retry-After: 2 (seconds).",
)
@click.option(
    "--delay-ms",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Wait this many milliseconds before responding to each request.",
)
@click.option(
    "--secret",
    "signing_secrets",
    multiple=True,
    metavar="WHSEC",
    callback=_check_signing_secrets,
    help="A stream's signing secret (whsec_...) to verify Standard Webhooks signatures "
    "with; repeat for several. Requests without a valid signature get 401.",
)
def run_receiver(
    host: str,
    port: int,
    ca_out: str | None,
    quiet: bool,
    record_path: str | None,
    respond: str,
    delay_ms: int,
    signing_secrets: tuple[str, ...],
) -> None:
    """Run an HTTPS receiver that accepts deliveries, until Ctrl+C or SIGTERM.

    Prints "Receiving on URL" first. Without --quiet, prints each received event as
    "STATUS EVENT", where STATUS is the status code of the response.

    The receiver makes its own certificate authority at each start. For a service to
    deliver to it, give the service the CA file (--ca-out, then
    DATASTREAMS_TLS_CA_FILE) and admit loopback endpoints
    (DATASTREAMS_ALLOWED_ENDPOINT_NETWORKS=127.0.0.0/8).
    """
    from datastreams.receiver import Receiver, ReceiverConfig

    # Event lines must reach a pipe (such as tee or a test) as they arrive.
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)

    config = ReceiverConfig(
        host=host,
        port=port,
        respond=respond,
        delay_ms=delay_ms,
        signing_secrets=list(signing_secrets),
        quiet=quiet,
        record_path=record_path,
        ca_out=ca_out,
    )
    asyncio.run(_receive(Receiver(config)))


async def _receive(receiver: Receiver) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        # NOTE: event loops on Windows have no signal handlers; there Ctrl+C ends
        # asyncio.run with KeyboardInterrupt, which still stops the receiver.
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal_number, stopping.set)

    try:
        await receiver.start()
    except OSError as error:
        await receiver.stop()
        raise CommandFailed(f"the receiver failed to start: {error}") from None

    click.echo(f"Receiving on {receiver.url}")
    counts = RequestCounts()
    try:
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=COUNT_INTERVAL_S)
            changed = counts.take(receiver)
            if changed and receiver.config.quiet:
                click.echo(counts.describe())
    finally:
        await receiver.stop()

    counts.take(receiver)
    click.echo(f"Stopped: {counts.describe()}")


class RequestCounts:
    """Totals of the requests a receiver handled, kept while its request list is emptied."""

    def __init__(self) -> None:
        self.requests = 0
        self.events = 0

    def take(self, receiver: Receiver) -> bool:
        """Add the receiver's new requests to the totals; return whether they changed.

        The receiver keeps every request with its body for tests to inspect, which
        a long run cannot afford, so the list is emptied here.
        """
        new_requests = len(receiver.requests)
        receiver.requests.clear()
        changed = new_requests > 0 or receiver.event_count != self.events

        self.requests += new_requests
        self.events = receiver.event_count
        return changed

    def describe(self) -> str:
        return f"requests {self.requests}, accepted events {self.events}"
