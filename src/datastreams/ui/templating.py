"""Rendering the admin pages: the Jinja2 environment, its filters and the response headers."""

from __future__ import annotations

import json
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

from datastreams import __version__

STATIC_PATH = "/ui/static"

# The pages load scripts and styles from this service only, and no other site may
# frame them or receive their forms.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # Pages can show a signing secret once, and always show a tenant's configuration.
    "Cache-Control": "no-store",
}

STATE_LABELS = {
    "idle": "Idle",
    "delivering": "Delivering",
    "backingOff": "Backing off",
    "failing": "Failing",
    "disabled": "Disabled",
}
STREAM_TYPE_LABELS = {
    "https": "HTTPS",
    "firehose": "Amazon Kinesis Data Firehose",
    "kinesis": "Amazon Kinesis Data Streams",
    "sqs": "Amazon SQS",
}


def static_url(name: str) -> str:
    """Return the URL of a static file; the version makes browsers fetch it again after upgrades."""
    return f"{STATIC_PATH}/{name}?v={__version__}"


def display_time(value: str | None) -> str:
    """Return a stored time such as ``2026-12-04T21:33:43.1077877Z`` as ``2026-12-04 21:33:43``."""
    if not value:
        return ""
    return value[:19].replace("T", " ")


def display_seconds(value: float | None) -> str:
    """Return a duration in seconds in the largest unit that keeps it readable."""
    if value is None:
        return ""
    if value < 60:
        return f"{value:.0f} s"
    if value < 3600:
        return f"{value / 60:.0f} min"
    if value < 86_400:
        return f"{value / 3600:.1f} h"
    return f"{value / 86_400:.1f} d"


def pretty_json(value: Any) -> str:
    """Return ``value`` as indented JSON, for a person to read or copy."""
    return json.dumps(value, indent=2)


def _build_environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("datastreams.ui", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["static_url"] = static_url
    environment.globals["state_labels"] = STATE_LABELS
    environment.globals["stream_type_labels"] = STREAM_TYPE_LABELS
    environment.filters["display_time"] = display_time
    environment.filters["display_seconds"] = display_seconds
    environment.filters["pretty_json"] = pretty_json
    return environment


environment = _build_environment()


def render_html(template: str, context: dict[str, Any]) -> str:
    """Render one template to text."""
    return environment.get_template(template).render(**context)


def html_response(
    template: str,
    context: dict[str, Any],
    status_code: int = 200,
    *,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render one template as a response with the pages' security headers."""
    return HTMLResponse(
        render_html(template, context),
        status_code=status_code,
        headers={**PAGE_HEADERS, **(headers or {})},
    )
