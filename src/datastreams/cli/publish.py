"""``datastreams publish``: post the events of an NDJSON file to a running service."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import IO, Any

import click
import orjson

from datastreams.cli.base import CommandFailed, dumps_json, json_option, main

DEFAULT_PUBLISH_URL = "http://127.0.0.1:8000"


@main.command()
@click.argument("events_file", metavar="FILE", type=click.File("rb"))
@click.option(
    "--url",
    default=DEFAULT_PUBLISH_URL,
    show_default=True,
    envvar="DATASTREAMS_URL",
    help="Base URL of the running service. [env: DATASTREAMS_URL]",
)
@click.option(
    "--api-key",
    envvar="DATASTREAMS_API_KEY",
    required=True,
    help="A producer key (dsp_...). [env: DATASTREAMS_API_KEY]",
)
@click.option(
    "--timeout-s",
    type=float,
    default=10.0,
    show_default=True,
    help="Timeout per request, in seconds.",
)
@click.option(
    "--batch-items",
    type=click.IntRange(1, 1000),
    default=500,
    show_default=True,
    help="Maximum events per request.",
)
@json_option
def publish(
    events_file: IO[bytes],
    url: str,
    api_key: str,
    timeout_s: float,
    batch_items: int,
    as_json: bool,
) -> None:
    """Publish the events of an NDJSON FILE (- reads standard input) and print a summary.

    Events without a guid get one before the first request, so retries never store
    an event twice. Exits with 1 if any event was rejected; standard error lists
    each one with its index (0-based, counting non-blank lines), field, value and reason.
    """
    from datastreams.client import Client, ClientError

    events, rejected = read_ndjson_events(events_file)

    try:
        with Client(url, api_key, timeout_s=timeout_s, max_batch_items=batch_items) as client:
            result = client.publish(event for _, event in events)
    except ClientError as error:
        raise CommandFailed(str(error)) from None

    # The client numbers the events it sent; map those back to the items of the file.
    for item in result.items:
        if item.status == "rejected" and item.error is not None:
            rejected.append((events[item.index][0], item.error))
    rejected.sort(key=lambda entry: entry[0])

    if as_json:
        summary = {
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "rejected": len(rejected),
            "items": [{"index": index, "error": item_error} for index, item_error in rejected],
        }
        click.echo(dumps_json(summary))
    else:
        click.echo(
            f"accepted {result.accepted}, duplicates {result.duplicates}, rejected {len(rejected)}"
        )

    for index, item_error in rejected:
        shown = orjson.dumps(item_error.get("value"), default=str).decode("utf-8")
        field, reason = item_error.get("field"), item_error.get("message")
        click.echo(f"item {index}: {field} = {shown}: {reason}", err=True)
    if rejected:
        sys.exit(1)


def read_ndjson_events(
    source: IO[bytes],
) -> tuple[list[tuple[int, dict[str, Any]]], list[tuple[int, dict[str, Any]]]]:
    """Read the non-blank lines of an NDJSON file.

    Returns the events with their item index, and the lines that are not a JSON
    object with their index and an error body naming the field ``(line)``.
    """
    events: list[tuple[int, dict[str, Any]]] = []
    unreadable: list[tuple[int, dict[str, Any]]] = []

    for index, line in enumerate(_non_blank_lines(source)):
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            unreadable.append((index, _line_error(line, f"is not valid JSON: {error}")))
            continue
        if not isinstance(value, dict):
            unreadable.append((index, _line_error(line, "must be a JSON object")))
            continue
        events.append((index, value))
    return events, unreadable


def _non_blank_lines(source: IO[bytes]) -> Iterator[bytes]:
    for raw in source:
        line = raw.strip()
        if line:
            yield line


def _line_error(line: bytes, message: str) -> dict[str, Any]:
    shown = line[:80].decode("utf-8", "replace")
    return {"field": "(line)", "value": shown, "message": message}
