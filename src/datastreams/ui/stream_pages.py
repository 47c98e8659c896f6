"""The pages of a domain's streams: the list, and one stream's status, attempts and dead letters.

The list and the live part of a stream's page have fragment routes that the pages'
script fetches every few seconds. Those requests do not count as activity, so a page
left open does not keep its session alive.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from datastreams.api.auth import runtime_of
from datastreams.errors import BodyError, ValidationError
from datastreams.settings import Secret
from datastreams.ui.access import (
    Form,
    PageRoute,
    check_csrf,
    delivery_service,
    is_fragment_request,
    read_form,
    redirect,
    require_domain,
    require_session,
    stream_service,
)
from datastreams.ui.chart import build_chart
from datastreams.ui.forms import parse_decimal
from datastreams.ui.navigation import page_context
from datastreams.ui.sessions import Session
from datastreams.ui.templating import html_response

logger = logging.getLogger(__name__)

router = APIRouter(route_class=PageRoute, include_in_schema=False)

STREAMS_PER_PAGE = 50
DEAD_LETTERS_PER_PAGE = 50
ATTEMPTS_SHOWN = 20
DEAD_LETTER_ACTIONS = frozenset({"redrive", "delete", "redrive-all", "delete-all"})
CHART_MINUTES = 60
REFRESH_INTERVAL_MS = 5000
# The replay form's inputs are in UTC, to the minute, as ``<input type="datetime-local">``
# sends them.
LOCAL_TIME_FORMAT = "%Y-%m-%dT%H:%M"


@dataclass(frozen=True, slots=True)
class StreamRow:
    """One row of the list: the stream, its status and the events delivered in the last hour."""

    stream: dict[str, Any]
    status: dict[str, Any]
    delivered_last_hour: int


@router.get("/domains/{domain_id}/streams")
async def stream_list_page(
    request: Request, domain_id: str, after: Annotated[str | None, Query()] = None
) -> Response:
    """List the domain's streams with their state, queue depth and counts."""
    session = await require_session(request)
    await require_domain(request, session.principal, domain_id)

    rows, next_after = await _stream_rows(request, session, domain_id, after)
    frame = await page_context(request, session, domain_id)
    return html_response(
        "streams.html",
        {
            **frame,
            "rows": rows,
            "domain_id": domain_id,
            "after": after,
            "next_after": next_after,
            "refresh_url": _rows_url(domain_id, after),
            "refresh_ms": REFRESH_INTERVAL_MS,
        },
    )


@router.get("/domains/{domain_id}/streams/rows")
async def stream_rows_fragment(
    request: Request, domain_id: str, after: Annotated[str | None, Query()] = None
) -> Response:
    """Return the rows of the list, for the periodic refresh."""
    session = await require_session(request, touch=False)
    await require_domain(request, session.principal, domain_id)

    rows, _ = await _stream_rows(request, session, domain_id, after)
    return html_response("fragments/stream_rows.html", {"rows": rows, "domain_id": domain_id})


@router.get("/domains/{domain_id}/streams/{stream_id}")
async def stream_page(
    request: Request,
    domain_id: str,
    stream_id: str,
    dead_after: Annotated[str, Query()] = "",
) -> Response:
    """Show a stream's status, chart, latest attempts, dead letters and replay form."""
    session = await require_session(request)
    await require_domain(request, session.principal, domain_id)

    # The page of dead letters after an id; anything else shows the first page.
    after = parse_decimal(dead_after)
    new_secret = session.new_secrets.pop(stream_id, None)
    return await _render_stream_page(
        request, session, domain_id, stream_id, dead_after=after, new_secret=new_secret
    )


@router.get("/domains/{domain_id}/streams/{stream_id}/live")
async def stream_live_fragment(request: Request, domain_id: str, stream_id: str) -> Response:
    """Return the status, chart and attempts of a stream, for the periodic refresh."""
    session = await require_session(request, touch=False)
    await require_domain(request, session.principal, domain_id)

    live = await _live_context(request, session, domain_id, stream_id)
    return html_response("fragments/stream_live.html", live)


@router.post("/domains/{domain_id}/streams/{stream_id}/test")
async def test_saved_stream(request: Request, domain_id: str, stream_id: str) -> Response:
    """Send a probe through the saved stream and show each endpoint's result."""
    session = await _posted_session(request, domain_id)
    result = await delivery_service(request, session.principal).test_saved(domain_id, stream_id)

    if is_fragment_request(request):
        return html_response("fragments/test_result.html", {"test_result": result})
    return await _render_stream_page(request, session, domain_id, stream_id, test_result=result)


@router.post("/domains/{domain_id}/streams/{stream_id}/enabled")
async def set_stream_enabled(request: Request, domain_id: str, stream_id: str) -> Response:
    """Turn the stream on or off."""
    session, form = await _posted_form(request, domain_id)
    enabled = form.get("enabled") == "true"

    stream = await stream_service(request, session.principal).set_enabled(
        domain_id, stream_id, enabled
    )
    if enabled:
        session.flash("success", f"Enabled \u201c{_label(stream)}\u201d.")
    else:
        session.flash(
            "info",
            f"Disabled \u201c{_label(stream)}\u201d. Events that occur while it is disabled "
            "are not sent to it.",
        )
    return redirect(request, _stream_url(domain_id, stream_id))


@router.post("/domains/{domain_id}/streams/{stream_id}/delete")
async def delete_stream(request: Request, domain_id: str, stream_id: str) -> Response:
    """Delete the stream with its queue and dead letters, once the deletion is confirmed.

    The page's script shows a dialog and sends ``confirmed=yes``; without the script
    the first post shows a confirmation page that sends it.
    """
    session, form = await _posted_form(request, domain_id)
    streams = stream_service(request, session.principal)

    stream = await streams.get(domain_id, stream_id)
    if form.get("confirmed") != "yes":
        frame = await page_context(request, session, domain_id)
        context = {
            **frame,
            "label": _label(stream),
            "stream_url": _stream_url(domain_id, stream_id),
        }
        return html_response("confirm_delete.html", context)

    await streams.delete(domain_id, stream_id)
    session.flash("success", f"Deleted stream \u201c{_label(stream)}\u201d.")
    return redirect(request, f"/domains/{domain_id}/streams")


@router.post("/domains/{domain_id}/streams/{stream_id}/dead-letters")
async def change_dead_letters(request: Request, domain_id: str, stream_id: str) -> Response:
    """Redrive or delete the selected dead letters, or all of them."""
    session, form = await _posted_form(request, domain_id)
    deliveries = delivery_service(request, session.principal)
    action = form.get("action", "")
    back = _stream_url(domain_id, stream_id) + "#dead-letters"

    if action not in DEAD_LETTER_ACTIONS:
        raise BodyError(f"unknown dead letter action {action!r}; reload the page")

    if action.endswith("-all"):
        selection: dict[str, Any] = {"all": True}
    else:
        parsed = [parse_decimal(value) for value in form.getlist("ids")]
        ids = [dead_letter_id for dead_letter_id in parsed if dead_letter_id is not None]
        if not ids:
            session.flash("error", "Select at least one dead letter first.")
            return redirect(request, back)
        selection = {"ids": ids}

    if action.startswith("redrive"):
        queued = (await deliveries.redrive(domain_id, stream_id, selection))["queued"]
        session.flash("success", f"Queued {_count(queued, 'dead letter')} for delivery again.")
    else:
        result = await deliveries.delete_dead_letters(domain_id, stream_id, selection)
        session.flash("success", f"Deleted {_count(result['deleted'], 'dead letter')}.")
    return redirect(request, back)


@router.post("/domains/{domain_id}/streams/{stream_id}/replay")
async def replay_events(request: Request, domain_id: str, stream_id: str) -> Response:
    """Queue the stored events of a time range again through the stream's filters."""
    session, form = await _posted_form(request, domain_id)
    values = {"from": form.get("from", ""), "to": form.get("to", "")}
    body = {member: _utc_time(value) for member, value in values.items()}

    try:
        result = await delivery_service(request, session.principal).replay(
            domain_id, stream_id, body
        )
    except ValidationError as exc:
        errors: dict[str, list[str]] = {}
        for error in exc.fields:
            errors.setdefault(error.field, []).append(error.message)
        return await _render_stream_page(
            request,
            session,
            domain_id,
            stream_id,
            replay={"values": values, "errors": errors},
            status_code=422,
        )

    session.flash("success", f"Queued {_count(result['queued'], 'event')} for replay.")
    return redirect(request, _stream_url(domain_id, stream_id) + "#replay")


@router.post("/domains/{domain_id}/streams/{stream_id}/signing-secret")
async def rotate_signing_secret(request: Request, domain_id: str, stream_id: str) -> Response:
    """Generate a new signing secret and show it once."""
    session, _ = await _posted_form(request, domain_id)
    streams = stream_service(request, session.principal)

    _, secret = await streams.rotate_signing_secret(domain_id, stream_id)
    # As the API route does: replace the running dispatcher before responding, so every
    # request sent after this page carries the new signature.
    await runtime_of(request).apply_stream_changes()

    # Redirected rather than rendered, so reloading the page cannot post the form again
    # and generate yet another secret. The stream page shows it once.
    session.new_secrets[stream_id] = Secret(secret)
    return redirect(request, _stream_url(domain_id, stream_id))


async def _posted_session(request: Request, domain_id: str) -> Session:
    session, _ = await _posted_form(request, domain_id)
    return session


async def _posted_form(request: Request, domain_id: str) -> tuple[Session, Form]:
    session = await require_session(request)
    form = await read_form(request)
    check_csrf(session, form)
    await require_domain(request, session.principal, domain_id)
    return session, form


async def _stream_rows(
    request: Request, session: Session, domain_id: str, after: str | None
) -> tuple[list[StreamRow], str | None]:
    streams = stream_service(request, session.principal)
    deliveries = delivery_service(request, session.principal)

    items, next_after = await streams.list(domain_id, limit=STREAMS_PER_PAGE, cursor=after)
    rows = []
    for stream in items:
        status = await deliveries.status(domain_id, stream["id"])
        stats = await deliveries.stats(domain_id, stream["id"], CHART_MINUTES)
        delivered = sum(item["delivered"] for item in stats["items"])
        rows.append(StreamRow(stream=stream, status=status, delivered_last_hour=delivered))
    return rows, next_after


async def _live_context(
    request: Request, session: Session, domain_id: str, stream_id: str
) -> dict[str, Any]:
    deliveries = delivery_service(request, session.principal)
    status = await deliveries.status(domain_id, stream_id)
    stats = await deliveries.stats(domain_id, stream_id, CHART_MINUTES)
    attempts = await deliveries.attempts(domain_id, stream_id, ATTEMPTS_SHOWN)
    return {
        "status": status,
        "chart": build_chart(stats["items"]),
        "attempts": attempts["items"],
    }


async def _render_stream_page(
    request: Request,
    session: Session,
    domain_id: str,
    stream_id: str,
    *,
    dead_after: int | None = None,
    test_result: dict[str, Any] | None = None,
    replay: dict[str, Any] | None = None,
    new_secret: str | None = None,
    status_code: int = 200,
) -> Response:
    stream = await stream_service(request, session.principal).get(domain_id, stream_id)
    live = await _live_context(request, session, domain_id, stream_id)
    deliveries = delivery_service(request, session.principal)
    dead_letters, next_dead_after = await deliveries.dead_letters(
        domain_id, stream_id, limit=DEAD_LETTERS_PER_PAGE, after=dead_after
    )
    for dead_letter in dead_letters:
        dead_letter["eventText"] = orjson.dumps(dead_letter.pop("event")).decode("utf-8")

    frame = await page_context(request, session, domain_id)
    return html_response(
        "stream.html",
        {
            **frame,
            **live,
            "stream": stream,
            "stream_url": _stream_url(domain_id, stream_id),
            "label": _label(stream),
            "friendly_names": {
                event_type.name: event_type.friendly_name
                for event_type in runtime_of(request).catalogue
            },
            "dead_letters": dead_letters,
            "dead_after": dead_after,
            "next_dead_after": next_dead_after,
            "test_result": test_result,
            "replay": replay or {"values": _default_replay_range(), "errors": {}},
            "new_secret": new_secret,
            "live_url": f"{_stream_url(domain_id, stream_id)}/live",
            "refresh_ms": REFRESH_INTERVAL_MS,
        },
        status_code,
    )


def _default_replay_range() -> dict[str, str]:
    now = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    return {
        "from": (now - timedelta(hours=1)).strftime(LOCAL_TIME_FORMAT),
        "to": now.strftime(LOCAL_TIME_FORMAT),
    }


def _utc_time(value: str) -> str | None:
    # A datetime-local input sends no zone; the form labels its inputs as UTC. A value
    # typed with a zone is passed on as it is.
    text = value.strip()
    if not text:
        return None
    has_zone = text.endswith(("Z", "z")) or "+" in text[10:] or "-" in text[10:]
    return text if has_zone else text + "Z"


def _rows_url(domain_id: str, after: str | None) -> str:
    url = f"/domains/{domain_id}/streams/rows"
    return f"{url}?after={quote(after)}" if after else url


def _stream_url(domain_id: str, stream_id: str) -> str:
    return f"/domains/{domain_id}/streams/{stream_id}"


def _label(stream: dict[str, Any]) -> str:
    return str(stream["description"] or stream["name"])


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
