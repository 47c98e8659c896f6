"""The frame of every signed-in page: the domain picker, the signed-in key and flash messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request

from datastreams.api.auth import Principal, runtime_of
from datastreams.store.records import Domain
from datastreams.ui.sessions import Session

MAX_PICKER_DOMAINS = 5000
DOMAIN_PAGE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class PickerDomain:
    """One entry of the domain picker: the domain and its depth below the key's domain."""

    id: str
    name: str
    depth: int

    @property
    def label(self) -> str:
        indent = "\u00a0\u00a0\u00a0" * self.depth
        return f"{indent}{self.name} ({self.id})"


async def picker_domains(request: Request, principal: Principal) -> list[PickerDomain]:
    """Return the domains the key may see, as a tree in depth-first order.

    NOTE: the picker lists at most ``MAX_PICKER_DOMAINS`` domains; a domain past that
    limit is still reachable by its URL.
    """
    domains: list[Domain] = []
    after: str | None = None
    while len(domains) < MAX_PICKER_DOMAINS:
        page = await runtime_of(request).domains.list(
            scope_roots=[principal.domain_id], limit=DOMAIN_PAGE_SIZE, after=after
        )
        domains.extend(page)
        if len(page) < DOMAIN_PAGE_SIZE:
            break
        after = page[-1].id

    by_id = {domain.id: domain for domain in domains}
    children: dict[str | None, list[Domain]] = {}
    for domain in domains:
        parent = domain.parent_id if domain.parent_id in by_id else None
        children.setdefault(parent, []).append(domain)

    ordered: list[PickerDomain] = []

    def visit(domain: Domain, depth: int) -> None:
        ordered.append(PickerDomain(domain.id, domain.name, depth))
        for child in sorted(children.get(domain.id, []), key=lambda item: item.name.lower()):
            visit(child, depth + 1)

    for root in children.get(None, []):
        visit(root, 0)
    return ordered


async def page_context(request: Request, session: Session, domain_id: str) -> dict[str, Any]:
    """Return the template values of the frame around a page of ``domain_id``."""
    domains = await picker_domains(request, session.principal)
    current = next((domain for domain in domains if domain.id == domain_id), None)
    if current is None:
        stored = await runtime_of(request).domains.get(domain_id)
        current = PickerDomain(stored.id, stored.name, 0)

    return {
        "csrf_token": session.csrf_token,
        "principal": session.principal,
        "domains": domains,
        "domain": current,
        "flashes": session.pop_flashes(),
    }
