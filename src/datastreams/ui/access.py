"""Request handling shared by the admin pages: the session, the domain scope, forms and CSRF.

``PageRoute`` turns the service's exceptions into HTML pages (or a redirect to the
sign-in page), so the pages never respond with the JSON error bodies of the API.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import parse_qsl, quote

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.datastructures import ImmutableMultiDict
from starlette.responses import RedirectResponse, Response

from datastreams.api.auth import Principal, authenticator_of, runtime_of
from datastreams.api.bodies import media_type_of, read_body
from datastreams.delivery.service import DeliveryService
from datastreams.errors import (
    BodyError,
    Conflict,
    DataStreamsError,
    Forbidden,
    LimitExceeded,
    NotFound,
    StoreError,
    Unauthorized,
    UnsupportedMediaType,
    ValidationError,
)
from datastreams.streams.service import StreamService
from datastreams.ui.sessions import Session, SessionStore
from datastreams.ui.templating import PAGE_HEADERS, html_response

logger = logging.getLogger(__name__)

SESSION_COOKIE = "datastreams_session"
# Requests made by the pages' script for a part of a page carry this header. A
# redirect in the response to them is sent in ``LOCATION_HEADER`` for the script to follow.
FRAGMENT_HEADER = "Datastreams-Fragment"
LOCATION_HEADER = "Datastreams-Location"

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 1_048_576
MAX_FORM_FIELDS = 2000

Form = ImmutableMultiDict[str, str]


class SignInRequired(Exception):
    """The request has no live session, or its key is no longer valid."""


def actor_of(principal: Principal) -> str:
    """Return the user id that configuration change events record for the key's changes."""
    return f"apiKey:{principal.key_id}"


def stream_service(request: Request, principal: Principal) -> StreamService:
    """Return the stream service the API routes use, acting as the key."""
    return runtime_of(request).streams(actor=actor_of(principal))


def delivery_service(request: Request, principal: Principal) -> DeliveryService:
    """Return the delivery service the API routes use, acting as the key."""
    return runtime_of(request).deliveries(actor=actor_of(principal))


def session_store_of(request: Request) -> SessionStore:
    """Return the application's session store."""
    store: SessionStore = request.app.state.ui_sessions
    return store


def is_fragment_request(request: Request) -> bool:
    """Return whether the pages' script requested a part of a page."""
    return request.headers.get(FRAGMENT_HEADER) == "1"


async def require_session(request: Request, *, touch: bool = True) -> Session:
    """Return the request's session after checking its key again, or raise ``SignInRequired``.

    The key is checked on every request, so a key revoked or deleted since sign-in
    ends its sessions within the authenticator's one-second cache.
    """
    store = session_store_of(request)
    session = store.get(request.cookies.get(SESSION_COOKIE), touch=touch)
    if session is None:
        raise SignInRequired()

    try:
        principal = await authenticator_of(request).authenticate(f"Bearer {session.key}")
    except Unauthorized:
        store.delete(session.id)
        logger.info(
            "Ended the session of key %s: the key is no longer valid",
            session.principal.key_id,
            extra={"action": "ui_session_key_invalid", "key_id": session.principal.key_id},
        )
        raise SignInRequired() from None

    if principal.role != "admin":
        store.delete(session.id)
        raise SignInRequired()
    return session


async def require_domain(request: Request, principal: Principal, domain_id: str) -> None:
    """Raise ``NotFound`` unless ``domain_id`` is the key's domain or one of its descendants."""
    scope = await authenticator_of(request).scope(principal.domain_id)
    if domain_id not in scope:
        raise NotFound(f"domain {domain_id!r} not found")


async def read_form(request: Request) -> Form:
    """Read an ``application/x-www-form-urlencoded`` body of at most ``MAX_FORM_BYTES``."""
    media_type = media_type_of(request)
    if media_type != FORM_MEDIA_TYPE:
        raise UnsupportedMediaType(
            f"content type {media_type or '(none)'} is not supported; send {FORM_MEDIA_TYPE}"
        )

    raw = await read_body(request, MAX_FORM_BYTES)
    try:
        text = raw.decode("utf-8")
        pairs = parse_qsl(
            text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS, errors="strict"
        )
    except UnicodeDecodeError:
        raise BodyError("the form is not valid UTF-8") from None
    except ValueError as exc:
        raise BodyError(f"the form cannot be read: {exc}") from None
    return ImmutableMultiDict(pairs)


def check_csrf(session: Session, form: Form) -> None:
    """Raise ``Forbidden`` unless the form carries the session's CSRF token."""
    token = form.get("csrf_token", "")
    if not hmac.compare_digest(token.encode(), session.csrf_token.encode()):
        raise Forbidden("the form has expired or did not come from this page; reload the page")


def redirect(request: Request, url: str) -> Response:
    """Send the browser to ``url`` after a POST, also when the pages' script made the request."""
    if is_fragment_request(request):
        return Response(status_code=204, headers={LOCATION_HEADER: url, **PAGE_HEADERS})
    return RedirectResponse(url, status_code=303, headers=PAGE_HEADERS)


def sign_in_url(request: Request) -> str:
    """Return the sign-in page's URL that comes back to the requested page afterwards."""
    target = request.url.path
    if request.method != "GET" or is_fragment_request(request):
        target = "/"
    # A browser that still sends a session cookie had a session, which has ended.
    expired = "&expired=1" if request.cookies.get(SESSION_COOKIE) else ""
    return f"/sign-in?next={quote(target, safe='/')}{expired}"


class PageRoute(APIRoute):
    """A route of the admin pages: errors become HTML pages, a missing session a redirect."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_page(request: Request) -> Response:
            try:
                return await handle(request)
            except SignInRequired:
                if is_fragment_request(request):
                    return Response(status_code=401, headers=PAGE_HEADERS)
                return RedirectResponse(sign_in_url(request), status_code=303)
            except DataStreamsError as exc:
                return error_page(request, exc)

        return handle_page


ERROR_PAGES: tuple[tuple[type[DataStreamsError], int, str], ...] = (
    (NotFound, 404, "Not found"),
    (Forbidden, 403, "Not allowed"),
    (BodyError, 400, "Invalid request"),
    (ValidationError, 422, "Invalid input"),
    (Conflict, 409, "Conflict"),
    (LimitExceeded, 413, "Request too large"),
    (UnsupportedMediaType, 415, "Unsupported request"),
    (StoreError, 503, "Service unavailable"),
)


def error_page(request: Request, error: DataStreamsError) -> Response:
    """Render the page for an error that no page handles itself."""
    status, title = 500, "Something went wrong"
    for error_class, page_status, page_title in ERROR_PAGES:
        if isinstance(error, error_class):
            status, title = page_status, page_title
            break

    if status >= 500:
        logger.error(
            "Page %s %s failed: %s",
            request.method,
            request.url.path,
            type(error).__name__,
            exc_info=error,
            extra={"action": "ui_request_failed", "path": request.url.path, "status": status},
        )
        message = "The service could not complete the request. Try again in a moment."
        headers = {"Retry-After": "1"} if status == 503 else None
    else:
        logger.debug(
            "Page %s %s rejected: %s",
            request.method,
            request.url.path,
            error.message,
            extra={"action": "ui_request_rejected", "path": request.url.path, "status": status},
        )
        message = error.message
        headers = None

    if is_fragment_request(request):
        return html_response(
            "fragments/error.html",
            {"title": title, "message": message},
            status,
            headers=headers,
        )
    return html_response(
        "error.html",
        {"title": title, "message": message, "status": status},
        status,
        headers=headers,
    )
