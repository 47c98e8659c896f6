"""Routes ``/api/v1/keys``: an admin key lists, creates and revokes the keys of its subtree.

The key itself appears once, in the response that creates it. Lists show only the
visible prefix.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from datastreams.api.auth import AdminKey, authenticator_of, runtime_of
from datastreams.api.bodies import json_response, read_json_object
from datastreams.api.pagination import PageRequest, page_body, page_request
from datastreams.errors import FieldError, ValidationError
from datastreams.security.keys import api_key_to_api

router = APIRouter(prefix="/api/v1/keys", tags=["keys"])

CREATE_MEMBERS = frozenset({"domainId", "role", "name"})


@router.get("")
async def list_keys(
    request: Request, principal: AdminKey, page: Annotated[PageRequest, Depends(page_request)]
) -> Response:
    """List the keys of the key's domain and its descendants, ordered by id."""
    records = await runtime_of(request).keys.list(
        scope_roots=[principal.domain_id], limit=page.limit + 1, after=page.after
    )
    return json_response(
        page_body(records, page, id_of=lambda record: record.id, to_api=api_key_to_api)
    )


@router.post("", status_code=201)
async def create_key(request: Request, principal: AdminKey) -> Response:
    """Create a key for a domain of the subtree; the response shows ``key`` only this once."""
    body = await read_json_object(request)
    unknown = [
        FieldError(name, value, "unknown member")
        for name, value in body.items()
        if name not in CREATE_MEMBERS
    ]
    if unknown:
        raise ValidationError(fields=unknown)

    scope = await authenticator_of(request).scope(principal.domain_id)
    record, key = await runtime_of(request).keys.create(
        body.get("domainId"), body.get("role"), body.get("name", ""), scope=scope
    )

    created = api_key_to_api(record)
    created["key"] = key
    return json_response(created, 201, headers={"Location": f"/api/v1/keys/{record.id}"})


@router.delete("/{key_id}", status_code=204)
async def revoke_key(request: Request, key_id: str, principal: AdminKey) -> Response:
    """Revoke a key of the subtree; requests with it fail within a second."""
    runtime = runtime_of(request)

    await runtime.keys.revoke(key_id, scope_roots=[principal.domain_id])
    runtime.notify_config_change()
    return Response(status_code=204)
