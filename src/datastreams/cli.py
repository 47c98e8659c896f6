"""The ``datastreams`` command line.

``serve`` runs the service. ``domains``, ``keys`` and ``streams`` work directly on the
database named by ``--db`` (or ``DATASTREAMS_DB``), and a running ``serve`` on the same
database applies their changes within a second. ``publish`` posts events to a running
service.

Exit codes: 0 success, 1 rejected input or a failed operation (standard error names the
field and the value), 2 a usage error such as an invalid option or setting.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import IO, Any, TypeVar

import click
import orjson

from datastreams import __version__
from datastreams.errors import (
    DataStreamsError,
    FieldError,
    SettingsError,
    ValidationError,
)
from datastreams.settings import SETTINGS, SETTINGS_BY_NAME, Settings, SettingSpec, load_settings

logger = logging.getLogger(__name__)

T = TypeVar("T")
CommandFunction = Callable[..., Any]

LIST_PAGE_SIZE = 1000
DEFAULT_PUBLISH_URL = "http://127.0.0.1:8000"


class CommandFailed(click.ClickException):
    """An operation failed or its input was rejected (exit code 1)."""

    exit_code = 1


class DataStreamsGroup(click.Group):
    """A command group that turns the service's exceptions into exit codes and messages."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SettingsError as error:
            raise click.UsageError(error.message, ctx) from None
        except DataStreamsError as error:
            raise CommandFailed(describe_error(error)) from None


def describe_error(error: DataStreamsError) -> str:
    """Return the error's message, or for invalid input one line per field and value."""
    if not isinstance(error, ValidationError) or not error.fields:
        return error.message
    if len(error.fields) == 1:
        return _describe_field(error.fields[0])
    lines = ["the input is invalid:"]
    lines.extend(f"  {_describe_field(field)}" for field in error.fields)
    return "\n".join(lines)


def _describe_field(field: FieldError) -> str:
    if field.value is None:
        return f"{field.field}: {field.message}"
    shown = orjson.dumps(field.value, default=str).decode("utf-8")
    return f"{field.field}: {field.message} (value: {shown})"


# Options generated from the settings ---------------------------------------------


def setting_option(spec: SettingSpec) -> Callable[[CommandFunction], CommandFunction]:
    """Return the click option of one setting; it defaults to ``None`` so the variable applies."""
    default = "(none)" if spec.default is None else spec.default
    help_text = f"{spec.help} [env: {spec.env_var}; default: {default}]"

    if isinstance(spec.default, bool):
        negative = "--no-" + spec.flag[2:]
        return click.option(f"{spec.flag}/{negative}", spec.name, default=None, help=help_text)
    # Values stay strings here and are parsed by load_settings, so a bad flag gets
    # the same message as a bad variable.
    return click.option(
        spec.flag,
        spec.name,
        default=None,
        metavar="INTEGER" if isinstance(spec.default, int) else "TEXT",
        help=help_text,
    )


def setting_options(*names: str) -> Callable[[CommandFunction], CommandFunction]:
    """Add the options of the named settings (every setting when none are named)."""
    specs = [SETTINGS_BY_NAME[name] for name in names] if names else list(SETTINGS)

    def decorate(function: CommandFunction) -> CommandFunction:
        for spec in reversed(specs):
            function = setting_option(spec)(function)
        return function

    return decorate


def resolve_settings(flags: dict[str, Any]) -> Settings:
    """Resolve settings from the setting flags in ``flags``, the environment and defaults."""
    setting_flags = {name: value for name, value in flags.items() if name in SETTINGS_BY_NAME}
    return load_settings(setting_flags)


# The command groups ----------------------------------------------------------------


@click.group(cls=DataStreamsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="datastreams")
def main() -> None:
    """Data Streams: delivers a platform's system events to each tenant's own systems.

    Every setting can also be given as a DATASTREAMS_* environment variable; a flag
    wins over the variable.
    """


@main.command()
@setting_options()
def serve(**flags: Any) -> None:
    """Run the HTTP API until interrupted (Ctrl+C or SIGTERM).

    Prints "Listening on URL" on standard output once the service accepts requests;
    with --port 0 the URL shows the port the system chose. Logs go to standard error.
    """
    from datastreams.logs import configure_logging

    settings = resolve_settings(flags)
    configure_logging(settings.log_level, log_format=settings.log_format)

    listening = bind_socket(settings.host, settings.port)
    try:
        started = asyncio.run(_serve(settings, listening))
    except SystemExit:
        # Uvicorn exits this way when the application's startup fails; the cause is
        # already logged.
        started = False
    finally:
        listening.close()
    if not started:
        raise CommandFailed("the service failed to start; see the log on standard error")


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind a listening TCP socket, so the real port is known before the server starts."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise SettingsError(f"--host: cannot resolve {host!r}: {error}") from None

    family, kind, protocol, _, address = infos[0]
    listening = socket.socket(family, kind, protocol)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind(address)
    except OSError as error:
        listening.close()
        raise CommandFailed(f"cannot listen on {host} port {port}: {error.strerror}") from None
    listening.listen(2048)
    listening.set_inheritable(True)
    return listening


def url_of(listening: socket.socket) -> str:
    """Return the ``http://`` URL of a bound socket, with brackets around an IPv6 address."""
    host, port = listening.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


async def _serve(settings: Settings, listening: socket.socket) -> bool:
    import uvicorn

    from datastreams.api.app import create_app

    class AnnouncingServer(uvicorn.Server):
        """A uvicorn server that prints its URL once the application has started."""

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                url = url_of(listening)
                logger.info("Listening on %s", url, extra={"action": "serve_listening", "url": url})
                click.echo(f"Listening on {url}")
                sys.stdout.flush()

    app = create_app(settings, open_store(settings))
    config = uvicorn.Config(
        app,
        log_config=None,
        # Access lines would cost more than the ingest route itself at high rates.
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    server = AnnouncingServer(config)
    await server.serve(sockets=[listening])
    return bool(server.started)


def open_store(settings: Settings) -> Any:
    """Return the store that ``settings.db`` names (not opened yet)."""
    if settings.db.startswith(("postgresql://", "postgres://")):
        raise SettingsError("DATASTREAMS_DB: PostgreSQL is not supported yet; give an SQLite path")

    from datastreams.store.sqlite import SQLiteStore

    return SQLiteStore(settings.db)


def run_with_runtime(settings: Settings, action: Callable[[Any], Awaitable[T]]) -> T:
    """Open the database, run ``action(runtime)`` and close it again."""
    from datastreams.service import Runtime

    async def run() -> T:
        async with Runtime(settings, open_store(settings), background=False) as runtime:
            return await action(runtime)

    return asyncio.run(run())


def json_option(function: CommandFunction) -> CommandFunction:
    """Add ``--json``, which prints JSON instead of a table."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(
        function
    )


def domain_option(function: CommandFunction) -> CommandFunction:
    """Add the required ``--domain`` option."""
    return click.option("--domain", "domain_id", required=True, help="Id of the domain.")(function)


# Domains ---------------------------------------------------------------------------


@main.group()
def domains() -> None:
    """Create and list domains (tenants) in the database."""


@domains.command("add")
@click.argument("domain_id", metavar="ID")
@click.option("--name", required=True, help="Display name of the domain.")
@click.option("--parent", "parent_id", help="Id of the parent domain; omit for a root domain.")
@setting_options("db")
def domains_add(domain_id: str, name: str, parent_id: str | None, **flags: Any) -> None:
    """Create a domain and print its id.

    ID is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.
    """
    body = {"id": domain_id, "name": name, "parentId": parent_id}
    domain = run_with_runtime(resolve_settings(flags), lambda runtime: runtime.domains.create(body))
    click.echo(domain.id)


@domains.command("list")
@json_option
@setting_options("db")
def domains_list(as_json: bool, **flags: Any) -> None:
    """List every domain, ordered by id."""
    from datastreams.domains import domain_to_api

    async def list_all(runtime: Any) -> list[dict[str, Any]]:
        return [domain_to_api(domain) async for domain in _all_pages(runtime.domains.list)]

    items = run_with_runtime(resolve_settings(flags), list_all)
    print_items(
        items,
        as_json=as_json,
        columns=[("ID", "id"), ("NAME", "name"), ("PARENT", "parentId"), ("CREATED", "createdAt")],
    )


# Keys ------------------------------------------------------------------------------


@main.group()
def keys() -> None:
    """Create, list and revoke API keys."""


@keys.command("create")
@domain_option
@click.option(
    "--role",
    type=click.Choice(["admin", "producer"]),
    required=True,
    help="admin keys manage domains, streams and keys; producer keys publish events.",
)
@click.option("--name", default="", help="A label that tells keys apart in lists.")
@setting_options("db")
def keys_create(domain_id: str, role: str, name: str, **flags: Any) -> None:
    """Create a key for a domain and its subdomains; print the key alone.

    The key is shown only this once: the database keeps a SHA-256 digest.
    """

    async def create(runtime: Any) -> str:
        _, key = await runtime.keys.create(domain_id, role, name)
        return str(key)

    click.echo(run_with_runtime(resolve_settings(flags), create))


@keys.command("list")
@json_option
@setting_options("db")
def keys_list(as_json: bool, **flags: Any) -> None:
    """List every key (its visible prefix only), ordered by id."""
    from datastreams.security.keys import api_key_to_api

    async def list_all(runtime: Any) -> list[dict[str, Any]]:
        return [api_key_to_api(record) async for record in _all_pages(runtime.keys.list)]

    items = run_with_runtime(resolve_settings(flags), list_all)
    print_items(
        items,
        as_json=as_json,
        columns=[
            ("ID", "id"),
            ("ROLE", "role"),
            ("DOMAIN", "domainId"),
            ("PREFIX", "prefix"),
            ("NAME", "name"),
            ("CREATED", "createdAt"),
            ("REVOKED", "revokedAt"),
        ],
    )


@keys.command("revoke")
@click.argument("key_id")
@setting_options("db")
def keys_revoke(key_id: str, **flags: Any) -> None:
    """Revoke a key; a running service rejects it within a second."""
    run_with_runtime(resolve_settings(flags), lambda runtime: runtime.keys.revoke(key_id))
    click.echo(f"Revoked key {key_id}")


# Streams ---------------------------------------------------------------------------

STREAM_SETTINGS = ("db", "encryption_key", "strict_event_types")
STREAM_COLUMNS = [
    ("ID", "id"),
    ("TYPE", "type"),
    ("NAME", "name"),
    ("ENABLED", "enabled"),
    ("VERSION", "version"),
    ("DESCRIPTION", "description"),
]


@main.group()
def streams() -> None:
    """Manage the data streams of a domain."""


@streams.command("list")
@domain_option
@json_option
@setting_options(*STREAM_SETTINGS)
def streams_list(domain_id: str, as_json: bool, **flags: Any) -> None:
    """List the streams of a domain, ordered by id."""

    async def list_all(runtime: Any) -> list[dict[str, Any]]:
        service = runtime.streams()
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page, cursor = await service.list(domain_id, limit=LIST_PAGE_SIZE, cursor=cursor)
            items.extend(page)
            if cursor is None:
                return items

    items = run_with_runtime(resolve_settings(flags), list_all)
    print_items(items, as_json=as_json, columns=STREAM_COLUMNS)


@streams.command("show")
@domain_option
@click.argument("stream_id")
@json_option
@setting_options(*STREAM_SETTINGS)
def streams_show(domain_id: str, stream_id: str, as_json: bool, **flags: Any) -> None:
    """Show one stream; secret values are never shown."""
    stream = run_with_runtime(
        resolve_settings(flags), lambda runtime: runtime.streams().get(domain_id, stream_id)
    )
    if as_json:
        click.echo(dumps_json(stream))
        return

    width = max(len(name) for name in stream)
    for name, value in stream.items():
        click.echo(f"{name.ljust(width)}  {_cell(value)}")


@streams.command("add")
@domain_option
@click.option(
    "--file",
    "body_file",
    type=click.File("rb"),
    required=True,
    help="The stream as the API's JSON body; - reads standard input.",
)
@setting_options(*STREAM_SETTINGS)
def streams_add(domain_id: str, body_file: IO[bytes], **flags: Any) -> None:
    """Create a stream from a JSON file and print its id alone."""
    body = read_json_file(body_file)
    stream, warnings = run_with_runtime(
        resolve_settings(flags), lambda runtime: runtime.streams().create(domain_id, body)
    )
    _echo_warnings(warnings)
    click.echo(stream["id"])


@streams.command("update")
@domain_option
@click.argument("stream_id")
@click.option(
    "--file",
    "patch_file",
    type=click.File("rb"),
    required=True,
    help="A JSON Merge Patch of the stream; - reads standard input.",
)
@click.option(
    "--version",
    "version",
    type=int,
    help="Expected stored version; default: the file's version, else the stored one.",
)
@setting_options(*STREAM_SETTINGS)
def streams_update(
    domain_id: str, stream_id: str, patch_file: IO[bytes], version: int | None, **flags: Any
) -> None:
    """Change a stream with a JSON Merge Patch and print the new version."""
    patch = read_json_file(patch_file)
    if version is not None:
        patch["version"] = version

    async def update(runtime: Any) -> tuple[dict[str, Any], list[str]]:
        service = runtime.streams()
        if "version" not in patch:
            stored = await service.get(domain_id, stream_id)
            patch["version"] = stored["version"]
        result: tuple[dict[str, Any], list[str]] = await service.patch(domain_id, stream_id, patch)
        return result

    stream, warnings = run_with_runtime(resolve_settings(flags), update)
    _echo_warnings(warnings)
    click.echo(f"Updated stream {stream['id']} to version {stream['version']}")


@streams.command("enable")
@domain_option
@click.argument("stream_id")
@setting_options(*STREAM_SETTINGS)
def streams_enable(domain_id: str, stream_id: str, **flags: Any) -> None:
    """Enable a stream: events from now on are delivered."""
    _set_enabled(domain_id, stream_id, True, flags)


@streams.command("disable")
@domain_option
@click.argument("stream_id")
@setting_options(*STREAM_SETTINGS)
def streams_disable(domain_id: str, stream_id: str, **flags: Any) -> None:
    """Disable a stream: events while it is disabled are never sent."""
    _set_enabled(domain_id, stream_id, False, flags)


@streams.command("remove")
@domain_option
@click.argument("stream_id")
@setting_options(*STREAM_SETTINGS)
def streams_remove(domain_id: str, stream_id: str, **flags: Any) -> None:
    """Delete a stream and the deliveries still queued for it."""
    run_with_runtime(
        resolve_settings(flags), lambda runtime: runtime.streams().delete(domain_id, stream_id)
    )
    click.echo(f"Removed stream {stream_id}")


def _set_enabled(domain_id: str, stream_id: str, enabled: bool, flags: dict[str, Any]) -> None:
    run_with_runtime(
        resolve_settings(flags),
        lambda runtime: runtime.streams().set_enabled(domain_id, stream_id, enabled),
    )
    click.echo(f"{'Enabled' if enabled else 'Disabled'} stream {stream_id}")


def _echo_warnings(warnings: Sequence[str]) -> None:
    for warning in warnings:
        click.echo(f"Warning: {warning}", err=True)


# Publish ---------------------------------------------------------------------------


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


# Output ----------------------------------------------------------------------------


def read_json_file(source: IO[bytes]) -> dict[str, Any]:
    """Read a file that must hold one JSON object; ``ValidationError`` names the file."""
    name = getattr(source, "name", "-")
    try:
        value = orjson.loads(source.read())
    except orjson.JSONDecodeError as error:
        invalid = FieldError(str(name), None, f"is not valid JSON: {error}")
        raise ValidationError(fields=[invalid]) from None
    if not isinstance(value, dict):
        raise ValidationError(fields=[FieldError(str(name), None, "must contain one JSON object")])
    return value


def dumps_json(value: Any) -> str:
    """Return ``value`` as indented JSON."""
    return orjson.dumps(value, option=orjson.OPT_INDENT_2, default=str).decode("utf-8")


def print_items(
    items: list[dict[str, Any]], *, as_json: bool, columns: Sequence[tuple[str, str]]
) -> None:
    """Print ``items`` as JSON, or as a table with the given (header, member) columns."""
    if as_json:
        click.echo(dumps_json(items))
        return

    rows = [[header for header, _ in columns]]
    rows.extend([_cell(item.get(member)) for _, member in columns] for item in items)
    widths = [max(len(row[column]) for row in rows) for column in range(len(columns))]
    for row in rows:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return orjson.dumps(value, default=str).decode("utf-8")
    return str(value)


async def _all_pages(list_page: Callable[..., Awaitable[list[Any]]]) -> Any:
    after: str | None = None
    while True:
        page = await list_page(limit=LIST_PAGE_SIZE, after=after)
        for item in page:
            yield item
        if len(page) < LIST_PAGE_SIZE:
            return
        after = page[-1].id


# Demo ------------------------------------------------------------------------------


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
