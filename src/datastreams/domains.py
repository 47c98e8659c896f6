"""Domains (tenants): validation of the API body, creation, changes and removal.

Domains form a tree. A ``scope`` argument is the set of domain ids a caller may see: an
admin key's domain and its descendants. ``None`` means every domain, which is what the
command line uses, and only then may a domain be created without a parent.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import Any, cast

from datastreams.errors import FieldError, NotFound, ValidationError
from datastreams.events.timefmt import now_time
from datastreams.store.base import Store
from datastreams.store.records import Domain

logger = logging.getLogger(__name__)

DOMAIN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_DOMAIN_NAME_LENGTH = 200
WRITABLE_MEMBERS = frozenset({"id", "name", "parentId"})
READ_ONLY_MEMBERS = frozenset({"externalId", "createdAt", "updatedAt"})


def domain_to_api(domain: Domain) -> dict[str, Any]:
    """Return the API representation of a domain."""
    return {
        "id": domain.id,
        "name": domain.name,
        "parentId": domain.parent_id,
        "externalId": domain.external_id,
        "createdAt": domain.created_at,
        "updatedAt": domain.updated_at,
    }


def is_valid_domain_id(value: Any) -> bool:
    """Return whether ``value`` is a string of 1 to 64 letters, digits, ``.``, ``_`` or ``-``."""
    return isinstance(value, str) and DOMAIN_ID_PATTERN.fullmatch(value) is not None


class DomainService:
    """Creates, reads, changes and deletes domains, within a caller's scope."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def create(
        self, body: Mapping[str, Any], *, scope: Collection[str] | None = None
    ) -> Domain:
        """Validate an API body (``id``, ``name``, ``parentId``) and store the new domain.

        With a ``scope``, ``parentId`` is required and must be inside it, so an admin
        key can only add domains below its own. Raises ``ValidationError`` naming the
        field, or ``Conflict`` if the id is taken.
        """
        errors = _unknown_member_errors(body, allowed=WRITABLE_MEMBERS)

        domain_id = body.get("id")
        if not is_valid_domain_id(domain_id):
            errors.append(_invalid_id(domain_id))

        name = body.get("name")
        _check_name(name, errors)

        parent_id = body.get("parentId")
        if parent_id is None and scope is not None:
            errors.append(FieldError("parentId", None, "is required: a key adds subdomains"))
        elif parent_id is not None:
            _check_parent(parent_id, scope, errors)

        if errors:
            raise ValidationError(fields=errors)

        now = now_time()
        domain = Domain(
            id=cast(str, domain_id),
            name=cast(str, name),
            parent_id=parent_id,
            external_id=str(uuid.uuid4()),
            created_at=now,
            updated_at=now,
        )

        try:
            stored = await self._store.create_domain(domain)
        except NotFound as exc:
            raise ValidationError(fields=[_unknown_parent(parent_id)]) from exc

        logger.info(
            "Created domain %s",
            stored.id,
            extra={"action": "domain_created", "domain_id": stored.id},
        )
        return stored

    async def get(self, domain_id: str, *, scope: Collection[str] | None = None) -> Domain:
        """Return one domain, or raise ``NotFound`` if it is unknown or outside ``scope``."""
        if scope is not None and domain_id not in scope:
            raise _not_found(domain_id)

        try:
            return await self._store.get_domain(domain_id)
        except NotFound:
            raise _not_found(domain_id) from None

    async def list(
        self,
        *,
        scope_roots: Collection[str] | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> list[Domain]:
        """List domains ordered by id; with ``scope_roots``, only those subtrees."""
        within = list(scope_roots) if scope_roots is not None else None
        return await self._store.list_domains(within=within, limit=limit, after=after)

    async def replace(
        self, domain_id: str, body: Mapping[str, Any], *, scope: Collection[str] | None = None
    ) -> Domain:
        """Change a domain's ``name`` and, if given, its ``parentId``.

        The read-only members of a domain may be sent back unchanged, so that a client
        can PUT what it got. With a ``scope``, a new parent must be inside it; keeping
        the current parent is always allowed.
        """
        current = await self.get(domain_id, scope=scope)
        errors = _unknown_member_errors(body, allowed=WRITABLE_MEMBERS | READ_ONLY_MEMBERS)

        if "id" in body and body["id"] != domain_id:
            errors.append(FieldError("id", body["id"], "must match the domain id of the URL"))

        name = body.get("name")
        _check_name(name, errors)

        parent_id = body.get("parentId", current.parent_id)
        if parent_id != current.parent_id:
            if parent_id is None and scope is not None:
                errors.append(FieldError("parentId", None, "is required: a key manages subdomains"))
            elif parent_id is not None:
                _check_parent(parent_id, scope, errors)

        if errors:
            raise ValidationError(fields=errors)

        changed = replace(current, name=cast(str, name), parent_id=parent_id, updated_at=now_time())
        try:
            stored = await self._store.update_domain(changed)
        except NotFound as exc:
            # The domain exists (it was just read), so the missing one is the new parent.
            raise ValidationError(fields=[_unknown_parent(parent_id)]) from exc

        logger.info(
            "Changed domain %s",
            stored.id,
            extra={"action": "domain_changed", "domain_id": stored.id},
        )
        return stored

    async def delete(self, domain_id: str, *, scope: Collection[str] | None = None) -> None:
        """Delete a domain; ``Conflict`` while it has subdomains, streams or keys."""
        await self.get(domain_id, scope=scope)

        await self._store.delete_domain(domain_id)

        logger.info(
            "Deleted domain %s",
            domain_id,
            extra={"action": "domain_deleted", "domain_id": domain_id},
        )


def _unknown_member_errors(body: Mapping[str, Any], *, allowed: frozenset[str]) -> list[FieldError]:
    return [
        FieldError(member, body[member], "unknown member")
        for member in body
        if member not in allowed
    ]


def _check_name(name: Any, errors: list[FieldError]) -> None:
    if not isinstance(name, str) or not name.strip():
        errors.append(FieldError("name", name, "is required and must be a non-empty string"))
    elif len(name) > MAX_DOMAIN_NAME_LENGTH:
        errors.append(
            FieldError("name", name, f"must be at most {MAX_DOMAIN_NAME_LENGTH} characters")
        )


def _check_parent(parent_id: Any, scope: Collection[str] | None, errors: list[FieldError]) -> None:
    if not is_valid_domain_id(parent_id):
        errors.append(_invalid_id(parent_id, field="parentId"))
    elif scope is not None and parent_id not in scope:
        errors.append(_unknown_parent(parent_id))


def _invalid_id(value: Any, *, field: str = "id") -> FieldError:
    return FieldError(
        field,
        value,
        "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
    )


def _unknown_parent(parent_id: Any) -> FieldError:
    # The same message for an unknown domain and one outside the caller's scope.
    return FieldError("parentId", parent_id, "unknown domain")


def _not_found(domain_id: str) -> NotFound:
    return NotFound(f"domain {domain_id!r} not found")
