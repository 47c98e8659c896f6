"""API keys: generation, hashing, and creating, listing and revoking key records.

A key is a role prefix (``dsa_`` for admin keys, ``dsp_`` for producer keys) followed
by 43 characters of ``secrets.token_urlsafe(32)``, which is 256 random bits. The store
keeps only the SHA-256 hex digest of the whole key and its first characters as a
visible prefix, so a copy of the database does not contain usable keys. The digest is
not salted: the key is random and long, so a dictionary attack cannot work, and an
unsalted digest lets the store find a key by an index lookup.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Collection
from typing import Any, cast

from datastreams.errors import FieldError, NotFound, ValidationError
from datastreams.events.timefmt import now_time
from datastreams.store.base import Store
from datastreams.store.records import ApiKeyRecord, ApiKeyRole

logger = logging.getLogger(__name__)

ROLE_PREFIXES: dict[ApiKeyRole, str] = {"admin": "dsa_", "producer": "dsp_"}
ROLES_BY_PREFIX: dict[str, ApiKeyRole] = {prefix: role for role, prefix in ROLE_PREFIXES.items()}
PREFIX_LENGTH = 4
KEY_RANDOM_BYTES = 32
# The role prefix plus four random characters: enough to tell keys apart in a list,
# far too little to guess the rest.
VISIBLE_PREFIX_LENGTH = 8
# Keys shorter or longer than this cannot have been issued here; checking the length
# first keeps an oversized header from being hashed.
MIN_KEY_LENGTH = PREFIX_LENGTH + 32
MAX_KEY_LENGTH = 256
MAX_KEY_NAME_LENGTH = 200


def generate_api_key(role: ApiKeyRole) -> str:
    """Return a new random key for ``role``, with the role's visible prefix."""
    return ROLE_PREFIXES[role] + secrets.token_urlsafe(KEY_RANDOM_BYTES)


def hash_api_key(key: str) -> str:
    """Return the SHA-256 hex digest under which the store keeps ``key``."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def role_of_api_key(key: str) -> ApiKeyRole | None:
    """Return the role that the key's prefix names, or ``None`` if it cannot be a key of ours."""
    if not MIN_KEY_LENGTH <= len(key) <= MAX_KEY_LENGTH:
        return None
    return ROLES_BY_PREFIX.get(key[:PREFIX_LENGTH])


def api_key_to_api(record: ApiKeyRecord) -> dict[str, Any]:
    """Return the API representation of a key record, which never contains the key or digest."""
    return {
        "id": record.id,
        "role": record.role,
        "domainId": record.domain_id,
        "prefix": record.prefix,
        "name": record.name,
        "createdAt": record.created_at,
        "revokedAt": record.revoked_at,
    }


class ApiKeyService:
    """Creates, lists and revokes API keys.

    ``scope`` arguments are the domain ids a caller may see (an admin key's domain and
    its descendants); ``None`` means every domain, which is what the command line uses.
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    async def create(
        self,
        domain_id: Any,
        role: Any,
        name: Any = "",
        *,
        scope: Collection[str] | None = None,
    ) -> tuple[ApiKeyRecord, str]:
        """Store a new key of ``role`` for ``domain_id`` and return its record and the key.

        The key itself is returned only here; afterwards only its digest exists.
        Raises ``ValidationError`` naming ``domainId``, ``role`` or ``name``.
        """
        checked_role, checked_name = _validate_key_fields(domain_id, role, name, scope)

        key = generate_api_key(checked_role)
        record = ApiKeyRecord(
            id=secrets.token_hex(8),
            role=checked_role,
            domain_id=domain_id,
            key_hash=hash_api_key(key),
            prefix=key[:VISIBLE_PREFIX_LENGTH],
            name=checked_name,
            created_at=now_time(),
        )

        try:
            stored = await self._store.create_api_key(record)
        except NotFound as exc:
            raise ValidationError(fields=[_unknown_domain(domain_id)]) from exc

        logger.info(
            "Created %s key %s for domain %s",
            stored.role,
            stored.id,
            stored.domain_id,
            extra={"action": "api_key_created", "key_id": stored.id, "domain_id": domain_id},
        )
        return stored, key

    async def list(
        self,
        *,
        scope_roots: Collection[str] | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> list[ApiKeyRecord]:
        """List keys ordered by id; with ``scope_roots``, only keys of those domains' subtrees."""
        within = list(scope_roots) if scope_roots is not None else None
        return await self._store.list_api_keys(within=within, limit=limit, after=after)

    async def get(self, key_id: str, *, scope_roots: Collection[str] | None = None) -> ApiKeyRecord:
        """Return one key record, or raise ``NotFound`` if it is unknown or outside the scope."""
        # NOTE: the store has no lookup by key id, so this pages through the keys in
        # scope. Key counts per tenant are small; a store method would make it one query.
        after: str | None = None
        while True:
            page = await self.list(scope_roots=scope_roots, limit=1000, after=after)
            for record in page:
                if record.id == key_id:
                    return record
            if len(page) < 1000:
                raise NotFound(f"API key {key_id!r} not found")
            after = page[-1].id

    async def revoke(
        self, key_id: str, *, scope_roots: Collection[str] | None = None
    ) -> ApiKeyRecord:
        """Revoke a key and return its record; revoking a revoked key changes nothing."""
        if scope_roots is not None:
            await self.get(key_id, scope_roots=scope_roots)

        try:
            record = await self._store.revoke_api_key(key_id)
        except NotFound:
            raise NotFound(f"API key {key_id!r} not found") from None

        logger.info(
            "Revoked key %s of domain %s",
            record.id,
            record.domain_id,
            extra={"action": "api_key_revoked", "key_id": record.id, "domain_id": record.domain_id},
        )
        return record


def _validate_key_fields(
    domain_id: Any, role: Any, name: Any, scope: Collection[str] | None
) -> tuple[ApiKeyRole, str]:
    errors: list[FieldError] = []

    if not isinstance(domain_id, str) or not domain_id:
        errors.append(FieldError("domainId", domain_id, "is required and must be a string"))
    elif scope is not None and domain_id not in scope:
        errors.append(_unknown_domain(domain_id))

    if role not in ROLE_PREFIXES:
        errors.append(FieldError("role", role, "must be admin or producer"))

    if name is None:
        name = ""
    if not isinstance(name, str):
        errors.append(FieldError("name", name, "must be a string"))
    elif len(name) > MAX_KEY_NAME_LENGTH:
        errors.append(FieldError("name", name, f"must be at most {MAX_KEY_NAME_LENGTH} characters"))

    if errors:
        raise ValidationError(fields=errors)
    return cast(ApiKeyRole, role), name


def _unknown_domain(domain_id: str) -> FieldError:
    # The same message for an unknown domain and another tenant's domain, so a key
    # cannot learn which domain ids exist.
    return FieldError("domainId", domain_id, "unknown domain")
