"""``domains``, ``keys`` and ``streams``: configuration commands that work on ``--db``.

A running ``serve`` on the same database applies their changes within a second.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import IO, Any

import click

from datastreams.cli.base import (
    LIST_PAGE_SIZE,
    domain_option,
    json_option,
    main,
    print_fields,
    print_items,
    read_json_file,
    resolve_settings,
    run_with_runtime,
    setting_options,
)

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


async def _all_pages(list_page: Callable[..., Awaitable[list[Any]]]) -> Any:
    after: str | None = None
    while True:
        page = await list_page(limit=LIST_PAGE_SIZE, after=after)
        for item in page:
            yield item
        if len(page) < LIST_PAGE_SIZE:
            return
        after = page[-1].id


# Streams ---------------------------------------------------------------------------

# Every command that reads or writes streams may decrypt or encrypt their secrets.
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
    """Manage the data streams of a domain and see how their deliveries go."""


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
    print_fields(stream, as_json=as_json)


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


@streams.command("signing-secret")
@domain_option
@click.argument("stream_id")
@setting_options(*STREAM_SETTINGS)
def streams_signing_secret(domain_id: str, stream_id: str, **flags: Any) -> None:
    """Generate a new signing secret for an HTTPS stream and print it alone.

    The secret is shown only this once. Requests carry a signature with the new
    secret and one with the previous secret for 24 hours, so receivers can switch
    over. A running serve adds the new signature within about a second; requests it
    sends before then carry the previous signature only.
    """

    async def rotate(runtime: Any) -> str:
        _, secret = await runtime.streams().rotate_signing_secret(domain_id, stream_id)
        return str(secret)

    click.echo(run_with_runtime(resolve_settings(flags), rotate))


def _set_enabled(domain_id: str, stream_id: str, enabled: bool, flags: dict[str, Any]) -> None:
    run_with_runtime(
        resolve_settings(flags),
        lambda runtime: runtime.streams().set_enabled(domain_id, stream_id, enabled),
    )
    click.echo(f"{'Enabled' if enabled else 'Disabled'} stream {stream_id}")


def _echo_warnings(warnings: Sequence[str]) -> None:
    for warning in warnings:
        click.echo(f"Warning: {warning}", err=True)
