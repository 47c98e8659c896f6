"""The web application: routes under ``/api/v1``, health checks, admin pages, and the runtime."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from starlette.responses import Response

from datastreams import __version__
from datastreams.api import delivery, domains, event_types, ingest, keys, streams
from datastreams.api.auth import Authenticator, runtime_of
from datastreams.api.bodies import json_response
from datastreams.api.errors import install_error_handlers
from datastreams.events.catalogue import Catalogue
from datastreams.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from datastreams.service import Runtime
from datastreams.settings import Settings
from datastreams.store.base import Store
from datastreams.ui import install_ui

logger = logging.getLogger(__name__)


def create_app(settings: Settings, store: Store, *, catalogue: Catalogue | None = None) -> FastAPI:
    """Build the application; its lifespan opens ``store`` and closes it at shutdown."""
    runtime = Runtime(settings, store, catalogue=catalogue)
    authenticator = Authenticator(store)
    runtime.on_config_change(authenticator.invalidate)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with runtime:
            yield

    app = FastAPI(
        title="Data Streams",
        version=__version__,
        summary="Delivers a platform's system events to each tenant's own data systems.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.authenticator = authenticator

    install_error_handlers(app)
    for module in (domains, delivery, streams, keys, event_types, ingest):
        app.include_router(module.router)
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["health"])
    app.add_api_route("/readyz", readyz, methods=["GET"], tags=["health"])
    app.add_api_route("/metrics", metrics, methods=["GET"], tags=["health"])
    install_ui(app, settings)
    return app


async def healthz() -> Response:
    """Return 200 while the process runs."""
    return json_response({"status": "ok"})


async def metrics(request: Request) -> Response:
    """Return the process's metrics in the Prometheus text format."""
    rendered = runtime_of(request).metrics.render()
    return Response(rendered, media_type=METRICS_CONTENT_TYPE)


async def readyz(request: Request) -> Response:
    """Return 200 when a query to the store succeeds, else 503."""
    try:
        await runtime_of(request).store.config_epoch()
    except Exception:
        logger.warning(
            "Readiness check failed: the query to the store failed",
            exc_info=True,
            extra={"action": "readiness_failed"},
        )
        return json_response({"status": "unavailable"}, 503)
    return json_response({"status": "ready"})
