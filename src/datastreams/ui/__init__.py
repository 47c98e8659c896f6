"""The admin web pages: a domain's data streams, served by ``datastreams serve`` at ``/``.

Server-rendered Jinja2 templates with one small script of the package's own. The pages
call the same services as the HTTP API, as the signed-in admin key.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from datastreams.settings import Settings
from datastreams.ui import account, stream_dialog, stream_pages
from datastreams.ui.sessions import SessionStore
from datastreams.ui.templating import STATIC_PATH


def install_ui(app: FastAPI, settings: Settings) -> None:
    """Add the pages, their static files and the session store to the application."""
    app.state.ui_sessions = SessionStore(float(settings.ui_session_idle_s))

    # The dialog's "/streams/new" must come before the stream page's "/streams/{id}".
    for module in (account, stream_dialog, stream_pages):
        app.include_router(module.router)
    app.mount(
        STATIC_PATH,
        StaticFiles(packages=[("datastreams.ui", "static")]),
        name="ui-static",
    )
