"""Routes ``/api/v1/domains``: an admin key manages the domains of its subtree.

A key's own domain is visible and can be renamed, but new domains must name a
parent inside the subtree: root domains are created only with the command line.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from datastreams.api.auth import AdminKey, authenticator_of, runtime_of
from datastreams.api.bodies import json_response, read_json_object
from datastreams.api.pagination import PageRequest, page_body, page_request
from datastreams.domains import domain_to_api

router = APIRouter(prefix="/api/v1/domains", tags=["domains"])


@router.get("")
async def list_domains(
    request: Request, principal: AdminKey, page: Annotated[PageRequest, Depends(page_request)]
) -> Response:
    """List the key's domain and its descendants, ordered by id."""
    domains = await runtime_of(request).domains.list(
        scope_roots=[principal.domain_id], limit=page.limit + 1, after=page.after
    )
    return json_response(
        page_body(domains, page, id_of=lambda domain: domain.id, to_api=domain_to_api)
    )


@router.post("", status_code=201)
async def create_domain(request: Request, principal: AdminKey) -> Response:
    """Create a domain below one of the key's domains (``parentId`` is required)."""
    body = await read_json_object(request)
    authenticator = authenticator_of(request)
    runtime = runtime_of(request)

    scope = await authenticator.scope(principal.domain_id)
    domain = await runtime.domains.create(body, scope=scope)
    runtime.notify_config_change()

    headers = {"Location": f"/api/v1/domains/{domain.id}"}
    return json_response(domain_to_api(domain), 201, headers=headers)


@router.get("/{domain_id}")
async def get_domain(request: Request, domain_id: str, principal: AdminKey) -> Response:
    """Return one domain of the key's subtree."""
    scope = await authenticator_of(request).scope(principal.domain_id)
    domain = await runtime_of(request).domains.get(domain_id, scope=scope)
    return json_response(domain_to_api(domain))


@router.put("/{domain_id}")
async def replace_domain(request: Request, domain_id: str, principal: AdminKey) -> Response:
    """Rename a domain or move it to another parent inside the key's subtree."""
    body = await read_json_object(request)
    runtime = runtime_of(request)

    scope = await authenticator_of(request).scope(principal.domain_id)
    domain = await runtime.domains.replace(domain_id, body, scope=scope)
    runtime.notify_config_change()
    return json_response(domain_to_api(domain))


@router.delete("/{domain_id}", status_code=204)
async def delete_domain(request: Request, domain_id: str, principal: AdminKey) -> Response:
    """Delete a domain that has no subdomains, streams or keys."""
    runtime = runtime_of(request)

    scope = await authenticator_of(request).scope(principal.domain_id)
    await runtime.domains.delete(domain_id, scope=scope)
    runtime.notify_config_change()
    return Response(status_code=204)
