"""The add and edit dialog of a stream: showing the form, Test without saving, and Save.

The pages' script opens the form in a dialog and posts it with ``FRAGMENT_HEADER``, so
the response replaces the dialog's content: the form again with field errors or Test
results, or a redirect to the saved stream. Without the script the same routes serve
a whole page, and the form's buttons (add or remove a filter row, change the stream
type) are handled on the server.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from datastreams.api.auth import runtime_of
from datastreams.aws.trust import trust_policy
from datastreams.errors import Conflict, NotFound, ValidationError
from datastreams.events.catalogue import Catalogue
from datastreams.ui.access import (
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
from datastreams.ui.forms import (
    FORM_ERRORS,
    FilterRow,
    StreamForm,
    apply_field_errors,
    body_from_form,
    form_from_post,
    form_from_stream,
    parse_decimal,
)
from datastreams.ui.navigation import page_context
from datastreams.ui.sessions import Session
from datastreams.ui.templating import html_response

logger = logging.getLogger(__name__)

router = APIRouter(route_class=PageRoute, include_in_schema=False)

REMOVE_FILTER_ACTION = "remove-filter-"


@router.get("/domains/{domain_id}/streams/new")
async def new_stream_form(request: Request, domain_id: str) -> Response:
    """Show an empty form for a new stream."""
    session = await require_session(request)
    await require_domain(request, session.principal, domain_id)
    return await _render_form(request, session, domain_id, StreamForm())


@router.post("/domains/{domain_id}/streams/new")
async def submit_new_stream(request: Request, domain_id: str) -> Response:
    """Test or save a new stream, or change the rows of the form."""
    return await _submit(request, domain_id, stream_id=None)


@router.get("/domains/{domain_id}/streams/{stream_id}/edit")
async def edit_stream_form(request: Request, domain_id: str, stream_id: str) -> Response:
    """Show the form of a saved stream."""
    session = await require_session(request)
    await require_domain(request, session.principal, domain_id)
    stream = await stream_service(request, session.principal).get(domain_id, stream_id)
    return await _render_form(request, session, domain_id, form_from_stream(stream))


@router.post("/domains/{domain_id}/streams/{stream_id}/edit")
async def submit_stream_edit(request: Request, domain_id: str, stream_id: str) -> Response:
    """Test or save the changes of a saved stream, or change the rows of the form."""
    return await _submit(request, domain_id, stream_id=stream_id)


async def _submit(request: Request, domain_id: str, *, stream_id: str | None) -> Response:
    session = await require_session(request)
    posted = await read_form(request)
    check_csrf(session, posted)
    await require_domain(request, session.principal, domain_id)

    streams = stream_service(request, session.principal)
    saved = await streams.get(domain_id, stream_id) if stream_id is not None else None
    form = form_from_post(posted, stream=saved)
    action = posted.get("action", "save")

    if action == "add-filter":
        form.filters.append(FilterRow())
        return await _render_form(request, session, domain_id, form)
    if action.startswith(REMOVE_FILTER_ACTION):
        _remove_filter_row(form, action.removeprefix(REMOVE_FILTER_ACTION))
        return await _render_form(request, session, domain_id, form)
    if action == "change-type":
        return await _render_form(request, session, domain_id, form)

    body, filter_rows = body_from_form(form)
    if action == "test":
        try:
            result = await delivery_service(request, session.principal).test_body(domain_id, body)
        except ValidationError as exc:
            apply_field_errors(form, exc.fields, filter_rows)
            return await _render_form(request, session, domain_id, form, status_code=422)
        return await _render_form(request, session, domain_id, form, test_result=result)

    try:
        if stream_id is None:
            stream, warnings = await streams.create(domain_id, body)
        else:
            stream, warnings = await streams.replace(domain_id, stream_id, body)
    except ValidationError as exc:
        apply_field_errors(form, exc.fields, filter_rows)
        return await _render_form(request, session, domain_id, form, status_code=422)
    except Conflict as exc:
        await _explain_conflict(request, session, domain_id, form, exc)
        return await _render_form(request, session, domain_id, form, status_code=409)

    label = stream["description"] or stream["name"]
    session.flash("success", f"Saved stream \u201c{label}\u201d.")
    for warning in warnings:
        session.flash("warning", warning)
    return redirect(request, f"/domains/{domain_id}/streams/{stream['id']}")


def _remove_filter_row(form: StreamForm, raw_index: str) -> None:
    index = parse_decimal(raw_index)
    if index is not None and index < len(form.filters):
        del form.filters[index]


async def _explain_conflict(
    request: Request, session: Session, domain_id: str, form: StreamForm, error: Conflict
) -> None:
    # A save conflicts for two reasons: another stream of the type has the name, or
    # someone changed this stream since the form was opened.
    if form.stream_id is not None:
        try:
            current = await stream_service(request, session.principal).get(
                domain_id, form.stream_id
            )
        except NotFound:
            form.add_error(FORM_ERRORS, "This stream was deleted since the form was opened.")
            return
        if current["version"] != form.version:
            form.add_error(
                FORM_ERRORS,
                "Someone changed this stream since the form was opened. Close the form, "
                "open it again and reapply your changes.",
            )
            return
    form.add_error("name", error.message)


async def _render_form(
    request: Request,
    session: Session,
    domain_id: str,
    form: StreamForm,
    *,
    test_result: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    runtime = runtime_of(request)
    domain = await runtime.domains.get(domain_id)
    external_id = form.external_id or domain.external_id

    if form.is_edit:
        action_url = f"/domains/{domain_id}/streams/{form.stream_id}/edit"
        cancel_url = f"/domains/{domain_id}/streams/{form.stream_id}"
    else:
        action_url = f"/domains/{domain_id}/streams/new"
        cancel_url = f"/domains/{domain_id}/streams"

    context: dict[str, Any] = {
        "form": form,
        "csrf_token": session.csrf_token,
        "action_url": action_url,
        "cancel_url": cancel_url,
        "event_groups": event_type_groups(runtime.catalogue),
        "friendly_names": {
            event_type.name: event_type.friendly_name for event_type in runtime.catalogue
        },
        "property_paths": {
            event_type.name: list(event_type.property_paths) for event_type in runtime.catalogue
        },
        "external_id": external_id,
        "trust_policy": trust_policy(external_id, runtime.settings.aws_principal_arn),
        "test_result": test_result,
    }
    if is_fragment_request(request):
        return html_response("fragments/stream_form.html", context, status_code)

    frame = await page_context(request, session, domain_id)
    return html_response("stream_form_page.html", {**frame, **context}, status_code)


def event_type_groups(catalogue: Catalogue) -> list[tuple[str, list[tuple[str, str]]]]:
    """Return the catalogue's groups with the name and friendly name of each type."""
    groups: dict[str, list[tuple[str, str]]] = {name: [] for name in catalogue.groups()}
    for event_type in catalogue:
        groups[event_type.group].append((event_type.name, event_type.friendly_name))
    return [(group, sorted(types, key=lambda item: item[1])) for group, types in groups.items()]
