"""Signing in with an admin key, signing out, the start page and the domain picker."""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from datastreams.api.auth import authenticator_of
from datastreams.errors import Unauthorized
from datastreams.ui.access import (
    SESSION_COOKIE,
    PageRoute,
    SignInRequired,
    check_csrf,
    read_form,
    redirect,
    require_domain,
    require_session,
    session_store_of,
)
from datastreams.ui.templating import PAGE_HEADERS, html_response

logger = logging.getLogger(__name__)

router = APIRouter(route_class=PageRoute, include_in_schema=False)

# The sign-in form carries a token that must match this cookie, so another site
# cannot sign a browser in with the other site's key.
SIGN_IN_COOKIE = "datastreams_sign_in"
SIGN_IN_TOKEN_BYTES = 32
SIGN_IN_TOKEN_MAX_AGE_S = 3600
MAX_KEY_CHARS = 200


@router.get("/")
async def start_page(request: Request) -> Response:
    """Open the streams of the key's own domain, or the sign-in page."""
    session = await require_session(request)
    return RedirectResponse(f"/domains/{session.principal.domain_id}/streams", status_code=303)


@router.get("/sign-in")
async def sign_in_page(
    request: Request, next_url: Annotated[str, Query(alias="next")] = "/"
) -> Response:
    """Show the sign-in form, or go on when the browser is signed in already."""
    try:
        await require_session(request)
    except SignInRequired:
        return _sign_in_form(request, next_url=_safe_next(next_url))
    return RedirectResponse(_safe_next(next_url), status_code=303)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    """Start a session for a valid admin key."""
    form = await read_form(request)
    next_url = _safe_next(form.get("next", "/"))
    key = form.get("key", "").strip()

    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    token = form.get("sign_in_token", "")
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        message = "The sign-in form expired. Enter the key again."
        return _sign_in_form(request, next_url=next_url, error=message, status_code=403)

    if not key:
        return _sign_in_form(
            request, next_url=next_url, error="Enter an admin key.", status_code=422
        )

    try:
        if len(key) > MAX_KEY_CHARS:
            raise Unauthorized("the API key is not valid")
        principal = await authenticator_of(request).authenticate(f"Bearer {key}")
    except Unauthorized:
        logger.info("Sign-in failed: the key is not valid", extra={"action": "ui_sign_in_failed"})
        message = "This key is not valid. Check that it was copied whole and is not revoked."
        return _sign_in_form(request, next_url=next_url, error=message, status_code=401)

    if principal.role != "admin":
        logger.info(
            "Sign-in with key %s failed: not an admin key",
            principal.key_id,
            extra={"action": "ui_sign_in_failed", "key_id": principal.key_id},
        )
        message = "The admin pages need an admin key (dsa_...). This is a producer key."
        return _sign_in_form(request, next_url=next_url, error=message, status_code=403)

    session = session_store_of(request).create(principal, key)
    logger.info(
        "Key %s signed in to the admin pages",
        principal.key_id,
        extra={"action": "ui_signed_in", "key_id": principal.key_id},
    )

    response = RedirectResponse(next_url, status_code=303, headers=PAGE_HEADERS)
    response.set_cookie(
        SESSION_COOKIE,
        session.id,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.delete_cookie(SIGN_IN_COOKIE, path="/sign-in")
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    """End the session and forget its cookie."""
    store = session_store_of(request)
    session = store.get(request.cookies.get(SESSION_COOKIE), touch=False)
    if session is not None:
        # Only the session's own forms may end it, so another site cannot sign a user out.
        check_csrf(session, await read_form(request))
        store.delete(session.id)
        logger.info(
            "Key %s signed out of the admin pages",
            session.principal.key_id,
            extra={"action": "ui_signed_out", "key_id": session.principal.key_id},
        )

    response = RedirectResponse("/sign-in", status_code=303, headers=PAGE_HEADERS)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/domains")
async def pick_domain(request: Request, domain: Annotated[str, Query()] = "") -> Response:
    """Open the streams of the domain chosen in the picker."""
    session = await require_session(request)
    domain_id = domain or session.principal.domain_id
    await require_domain(request, session.principal, domain_id)
    return redirect(request, f"/domains/{domain_id}/streams")


def _sign_in_form(
    request: Request, *, next_url: str, error: str | None = None, status_code: int = 200
) -> Response:
    token = secrets.token_urlsafe(SIGN_IN_TOKEN_BYTES)
    expired = request.query_params.get("expired") == "1"
    response = html_response(
        "sign_in.html",
        {"sign_in_token": token, "next_url": next_url, "error": error, "expired": expired},
        status_code,
    )
    response.set_cookie(
        SIGN_IN_COOKIE,
        token,
        max_age=SIGN_IN_TOKEN_MAX_AGE_S,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/sign-in",
    )
    return response


def _safe_next(target: str) -> str:
    # Only a path of this site: "//host" and "/\host" would leave it.
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
