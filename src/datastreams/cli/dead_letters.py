"""``datastreams dead-letters``: list, redrive and delete the dead letters of a stream.

A dead letter is an event that failed permanently for one stream, or waited longer
than the stream's retry window. Redrive queues it again.
"""

from __future__ import annotations

from typing import Any

import click

from datastreams.cli.admin import STREAM_SETTINGS
from datastreams.cli.base import (
    LIST_PAGE_SIZE,
    CommandFunction,
    domain_option,
    dumps_json,
    json_option,
    main,
    print_items,
    resolve_settings,
    run_with_runtime,
    setting_options,
)
from datastreams.errors import FieldError, ValidationError

DEAD_LETTER_COLUMNS = [
    ("ID", "id"),
    ("TIME", "time"),
    ("TYPE", "type"),
    ("DOMAIN", "domainId"),
    ("ATTEMPTS", "attempts"),
    ("DEAD_AT", "deadAt"),
    ("ERROR", "error"),
]
DEFAULT_LIMIT = 100
TIME_HELP = "an ISO 8601 time with a zone"


@main.group("dead-letters")
def dead_letters() -> None:
    """List, redrive and delete the dead letters of a stream."""


def stream_option(function: CommandFunction) -> CommandFunction:
    """Add the required ``--stream`` option."""
    return click.option("--stream", "stream_id", required=True, help="Id of the stream.")(function)


def selection_options(function: CommandFunction) -> CommandFunction:
    """Add the options that select dead letters: ``--id``, ``--from`` with ``--to``, ``--all``."""
    options = [
        click.option(
            "--id",
            "ids",
            type=int,
            multiple=True,
            help="Id of a dead letter; repeat for several (at most 10000).",
        ),
        click.option(
            "--from",
            "from_time",
            help=f"Select by event time from this time, inclusive: {TIME_HELP}.",
        ),
        click.option(
            "--to",
            "to_time",
            help=f"Select by event time up to this time, exclusive: {TIME_HELP}.",
        ),
        click.option("--all", "select_all", is_flag=True, help="Select every dead letter."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@dead_letters.command("list")
@domain_option
@stream_option
@click.option(
    "--limit",
    type=click.IntRange(1, LIST_PAGE_SIZE),
    default=DEFAULT_LIMIT,
    show_default=True,
    help=f"Number of dead letters to show (1 to {LIST_PAGE_SIZE}).",
)
@click.option("--cursor", help="Show the page after this one: the nextCursor a list printed.")
@json_option
@setting_options(*STREAM_SETTINGS)
def dead_letters_list(
    domain_id: str,
    stream_id: str,
    limit: int,
    cursor: str | None,
    as_json: bool,
    **flags: Any,
) -> None:
    """List a stream's dead letters with their last error, oldest first.

    With --json, prints {"items": [...], "nextCursor": ...} as the HTTP API does; each
    item carries the event as it was queued.
    """
    from datastreams.api.pagination import encode_cursor, list_body

    after = _dead_letter_id(cursor) if cursor is not None else None
    items, next_after = run_with_runtime(
        resolve_settings(flags),
        lambda runtime: runtime.deliveries().dead_letters(
            domain_id, stream_id, limit=limit, after=after
        ),
    )
    next_cursor = encode_cursor(str(next_after)) if next_after is not None else None

    if as_json:
        click.echo(dumps_json(list_body(items, next_cursor)))
        return
    print_items(items, as_json=False, columns=DEAD_LETTER_COLUMNS)
    if next_cursor is not None:
        click.echo(f"More dead letters follow: add --cursor {next_cursor}", err=True)


@dead_letters.command("redrive")
@domain_option
@stream_option
@selection_options
@setting_options(*STREAM_SETTINGS)
def dead_letters_redrive(
    domain_id: str,
    stream_id: str,
    ids: tuple[int, ...],
    from_time: str | None,
    to_time: str | None,
    select_all: bool,
    **flags: Any,
) -> None:
    """Queue the selected dead letters again and print "queued N".

    Select with --id (repeatable), with --from and --to, or with --all. A running
    serve sends them within about a second, because an idle dispatcher checks its
    queue every second. A stream that is backing off sends them when its wait ends.
    """
    body = _selection_body(ids, from_time, to_time, select_all)
    result = run_with_runtime(
        resolve_settings(flags),
        lambda runtime: runtime.deliveries().redrive(domain_id, stream_id, body),
    )
    click.echo(f"queued {result['queued']}")


@dead_letters.command("delete")
@domain_option
@stream_option
@selection_options
@setting_options(*STREAM_SETTINGS)
def dead_letters_delete(
    domain_id: str,
    stream_id: str,
    ids: tuple[int, ...],
    from_time: str | None,
    to_time: str | None,
    select_all: bool,
    **flags: Any,
) -> None:
    """Delete the selected dead letters for good and print "deleted N".

    Select with --id (repeatable), with --from and --to, or with --all.
    """
    body = _selection_body(ids, from_time, to_time, select_all)
    result = run_with_runtime(
        resolve_settings(flags),
        lambda runtime: runtime.deliveries().delete_dead_letters(domain_id, stream_id, body),
    )
    click.echo(f"deleted {result['deleted']}")


def _selection_body(
    ids: tuple[int, ...], from_time: str | None, to_time: str | None, select_all: bool
) -> dict[str, Any]:
    """Return the API's selection body for the given options; exactly one kind is allowed."""
    has_range = from_time is not None or to_time is not None
    given = sum([bool(ids), has_range, select_all])
    if given != 1:
        raise click.UsageError("select dead letters with exactly one of --id, --from/--to or --all")
    if has_range and (from_time is None or to_time is None):
        raise click.UsageError("--from and --to must be given together")

    if ids:
        return {"ids": list(ids)}
    if select_all:
        return {"all": True}
    return {"from": from_time, "to": to_time}


def _dead_letter_id(cursor: str) -> int:
    from datastreams.api.pagination import decode_cursor

    after = decode_cursor(cursor)
    if not after.isdigit():
        raise ValidationError(fields=[FieldError("cursor", cursor, "is not a valid cursor")])
    return int(after)
