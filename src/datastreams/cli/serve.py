"""``datastreams serve``: the HTTP API and the dispatchers in one process."""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from typing import Any

import click

from datastreams.cli.base import (
    CommandFailed,
    main,
    open_store,
    resolve_settings,
    setting_options,
)
from datastreams.errors import SettingsError
from datastreams.gc_tuning import tune_for_throughput
from datastreams.settings import Settings

logger = logging.getLogger(__name__)


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
                tune_for_throughput(freeze=True)
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
