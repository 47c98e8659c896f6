"""API key authentication, role checks and the domain scope of a key.

A request carries ``Authorization: Bearer <key>``. The ``Authenticator`` hashes the
key, looks the digest up in the store and caches the result for at most one second,
so a key revoked by another process (the command line) stops working within a
second. The scope of a key, its domain and every descendant, is cached until the
configuration epoch changes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from datastreams.errors import Forbidden, Unauthorized
from datastreams.security.keys import hash_api_key, role_of_api_key
from datastreams.store.base import Store
from datastreams.store.records import ApiKeyRole

if TYPE_CHECKING:
    from datastreams.service import Runtime

logger = logging.getLogger(__name__)

AUTH_CACHE_TTL_S = 1.0
# Past this many cached digests the cache is emptied, so random keys sent by a
# misbehaving client cannot grow memory without bound.
MAX_CACHED_KEYS = 10_000
SCOPE_PAGE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: the key's id, its role and the domain it belongs to."""

    key_id: str
    role: ApiKeyRole
    domain_id: str


class Authenticator:
    """Turns an ``Authorization`` header into a ``Principal`` and computes key scopes."""

    def __init__(
        self,
        store: Store,
        *,
        cache_ttl_s: float = AUTH_CACHE_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._cache_ttl_s = cache_ttl_s
        self._clock = clock
        self._keys: dict[str, tuple[float, Principal | None]] = {}
        self._scopes: dict[str, frozenset[str]] = {}
        # Bumped by every invalidation, so a scope computed before one is not cached after it.
        self._generation = 0

    async def authenticate(self, authorization: str | None) -> Principal:
        """Return the principal of a ``Bearer`` header, or raise ``Unauthorized``."""
        key = _bearer_token(authorization)
        if role_of_api_key(key) is None:
            raise Unauthorized("the API key is not valid")

        key_hash = hash_api_key(key)
        now = self._clock()
        cached = self._keys.get(key_hash)
        if cached is not None and cached[0] > now:
            principal = cached[1]
        else:
            principal = await self._load_principal(key_hash)
            if len(self._keys) >= MAX_CACHED_KEYS:
                self._keys.clear()
            self._keys[key_hash] = (now + self._cache_ttl_s, principal)

        if principal is None:
            raise Unauthorized("the API key is not valid")
        return principal

    async def scope(self, domain_id: str) -> frozenset[str]:
        """Return the ids of ``domain_id`` and all of its descendants."""
        cached = self._scopes.get(domain_id)
        if cached is not None:
            return cached

        generation = self._generation
        ids: set[str] = set()
        after: str | None = None
        while True:
            page = await self._store.list_domains(
                within=[domain_id], limit=SCOPE_PAGE_SIZE, after=after
            )
            ids.update(domain.id for domain in page)
            if len(page) < SCOPE_PAGE_SIZE:
                break
            after = page[-1].id

        scope = frozenset(ids)
        if generation == self._generation:
            self._scopes[domain_id] = scope
        return scope

    def invalidate(self) -> None:
        """Forget cached keys and scopes after domains or keys changed."""
        self._generation += 1
        self._keys.clear()
        self._scopes.clear()

    async def _load_principal(self, key_hash: str) -> Principal | None:
        record = await self._store.find_api_key(key_hash)
        if record is None or record.revoked_at is not None:
            return None
        return Principal(key_id=record.id, role=record.role, domain_id=record.domain_id)


def runtime_of(request: Request) -> Runtime:
    """Return the runtime that the application's lifespan started."""
    runtime: Runtime = request.app.state.runtime
    return runtime


def authenticator_of(request: Request) -> Authenticator:
    """Return the application's authenticator."""
    authenticator: Authenticator = request.app.state.authenticator
    return authenticator


async def require_key(request: Request) -> Principal:
    """Authenticate the request with a key of any role (a FastAPI dependency)."""
    return await authenticator_of(request).authenticate(request.headers.get("authorization"))


async def require_admin(principal: Annotated[Principal, Depends(require_key)]) -> Principal:
    """Authenticate the request and require an admin key."""
    if principal.role != "admin":
        raise Forbidden("this route needs an admin key (dsa_...)")
    return principal


async def require_producer(principal: Annotated[Principal, Depends(require_key)]) -> Principal:
    """Authenticate the request and require a producer key."""
    if principal.role != "producer":
        raise Forbidden("publishing events needs a producer key (dsp_...)")
    return principal


AnyKey = Annotated[Principal, Depends(require_key)]
AdminKey = Annotated[Principal, Depends(require_admin)]
ProducerKey = Annotated[Principal, Depends(require_producer)]


def _bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthorized("an API key is required: send Authorization: Bearer <key>")

    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be Bearer <key>")
    return token.strip()
