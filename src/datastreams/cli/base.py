"""Parts every command shares: the ``main`` group, errors, setting options and output helpers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
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

T = TypeVar("T")
CommandFunction = Callable[..., Any]

LIST_PAGE_SIZE = 1000


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
    help_text = f"{spec.help} [env: {spec.env_var}; default: {_shown_default(spec.default)}]"

    if isinstance(spec.default, bool):
        negative = "--no-" + spec.flag[2:]
        return click.option(f"{spec.flag}/{negative}", spec.name, default=None, help=help_text)
    # Values stay strings here and are parsed by load_settings, so a bad flag gets
    # the same message as a bad variable.
    return click.option(
        spec.flag,
        spec.name,
        default=None,
        metavar=_metavar(spec.default),
        help=help_text,
    )


def _shown_default(default: Any) -> Any:
    # An empty tuple or string would show as "()" or nothing; both mean "none".
    if default is None or (isinstance(default, tuple | str) and not default):
        return "(none)"
    return default


def _metavar(default: Any) -> str:
    if isinstance(default, int):
        return "INTEGER"
    if isinstance(default, float):
        return "FLOAT"
    return "TEXT"


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


# The command group -----------------------------------------------------------------


@click.group(cls=DataStreamsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="datastreams")
def main() -> None:
    """Data Streams: delivers a platform's system events to each tenant's own systems.

    Every setting can also be given as a DATASTREAMS_* environment variable; a flag
    wins over the variable.
    """


# The database ----------------------------------------------------------------------


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


# Shared options --------------------------------------------------------------------


def json_option(function: CommandFunction) -> CommandFunction:
    """Add ``--json``, which prints JSON instead of a table."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(
        function
    )


def domain_option(function: CommandFunction) -> CommandFunction:
    """Add the required ``--domain`` option."""
    return click.option("--domain", "domain_id", required=True, help="Id of the domain.")(function)


# Input and output ------------------------------------------------------------------


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


def print_fields(value: Mapping[str, Any], *, as_json: bool) -> None:
    """Print one object as JSON, or as two columns: member name and value."""
    if as_json:
        click.echo(dumps_json(value))
        return

    width = max(len(name) for name in value)
    for name, member in value.items():
        click.echo(f"{name.ljust(width)}  {_cell(member)}")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return orjson.dumps(value, default=str).decode("utf-8")
    return str(value)
