"""API keys: format, digest, the key service, and the authenticator's one-second cache."""

from __future__ import annotations

import hashlib
import re

import pytest
from fakes import InMemoryStore

from datastreams.api.auth import Authenticator
from datastreams.errors import NotFound, Unauthorized, ValidationError
from datastreams.security.keys import (
    ApiKeyService,
    api_key_to_api,
    generate_api_key,
    hash_api_key,
    role_of_api_key,
)
from datastreams.store.records import Domain

KEY_PATTERN = re.compile(r"ds[ap]_[A-Za-z0-9_-]{43}")


class FakeClock:
    """A monotonic clock that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
async def store() -> InMemoryStore:
    memory = InMemoryStore()
    await memory.create_domain(Domain(id="acme", name="Acme", external_id="e1"))
    await memory.create_domain(
        Domain(id="acme.eu", name="Acme EU", parent_id="acme", external_id="e2")
    )
    await memory.create_domain(Domain(id="globex", name="Globex", external_id="e3"))
    return memory


# Format and digest ------------------------------------------------------------------


@pytest.mark.parametrize(("role", "prefix"), [("admin", "dsa_"), ("producer", "dsp_")])
def test_generate_key_prefix(role: str, prefix: str) -> None:
    key = generate_api_key(role)  # type: ignore[arg-type]

    assert key.startswith(prefix)
    assert KEY_PATTERN.fullmatch(key)


def test_generate_key_random() -> None:
    assert generate_api_key("admin") != generate_api_key("admin")


def test_hash_key_sha256_hex() -> None:
    key = generate_api_key("producer")

    assert hash_api_key(key) == hashlib.sha256(key.encode()).hexdigest()


@pytest.mark.parametrize(
    ("key", "role"),
    [
        ("dsa_" + "a" * 43, "admin"),
        ("dsp_" + "a" * 43, "producer"),
        ("dsx_" + "a" * 43, None),
        ("dsa_" + "a" * 10, None),
        ("dsa_" + "a" * 300, None),
        ("", None),
    ],
    ids=["admin", "producer", "unknown-prefix", "too-short", "too-long", "empty"],
)
def test_role_of_key(key: str, role: str | None) -> None:
    assert role_of_api_key(key) == role


# The key service --------------------------------------------------------------------


async def test_create_stores_digest_only(store: InMemoryStore) -> None:
    record, key = await ApiKeyService(store).create("acme", "producer", "ingest")

    stored = await store.find_api_key(hash_api_key(key))
    assert stored is not None
    assert stored.id == record.id
    assert key not in repr(stored)
    assert record.prefix == key[:8]


async def test_to_api_has_no_secret(store: InMemoryStore) -> None:
    record, key = await ApiKeyService(store).create("acme", "admin")

    shown = api_key_to_api(record)
    assert set(shown) == {"id", "role", "domainId", "prefix", "name", "createdAt", "revokedAt"}
    assert record.key_hash not in shown.values()
    assert key not in shown.values()


async def test_create_unknown_domain_names_field(store: InMemoryStore) -> None:
    with pytest.raises(ValidationError) as raised:
        await ApiKeyService(store).create("nowhere", "admin")

    assert raised.value.fields[0].field == "domainId"
    assert raised.value.fields[0].value == "nowhere"


async def test_create_outside_scope_names_field(store: InMemoryStore) -> None:
    with pytest.raises(ValidationError) as raised:
        await ApiKeyService(store).create("globex", "admin", scope={"acme", "acme.eu"})

    assert raised.value.fields[0].message == "unknown domain"


async def test_create_bad_role_and_name(store: InMemoryStore) -> None:
    with pytest.raises(ValidationError) as raised:
        await ApiKeyService(store).create("acme", "owner", 17)

    assert [field.field for field in raised.value.fields] == ["role", "name"]


async def test_revoke_outside_scope_not_found(store: InMemoryStore) -> None:
    service = ApiKeyService(store)
    record, _ = await service.create("globex", "producer")

    with pytest.raises(NotFound):
        await service.revoke(record.id, scope_roots=["acme"])


async def test_revoke_sets_revoked_at(store: InMemoryStore) -> None:
    service = ApiKeyService(store)
    record, _ = await service.create("acme.eu", "producer")

    revoked = await service.revoke(record.id, scope_roots=["acme"])

    assert revoked.revoked_at is not None


# The authenticator ------------------------------------------------------------------


async def test_authenticate_bearer(store: InMemoryStore) -> None:
    record, key = await ApiKeyService(store).create("acme", "producer")

    principal = await Authenticator(store).authenticate(f"Bearer {key}")

    assert (principal.key_id, principal.role, principal.domain_id) == (
        record.id,
        "producer",
        "acme",
    )


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Basic abc", "Bearer dsa_" + "x" * 43],
    ids=["none", "empty", "no-token", "basic", "unknown"],
)
async def test_authenticate_rejects(store: InMemoryStore, header: str | None) -> None:
    with pytest.raises(Unauthorized):
        await Authenticator(store).authenticate(header)


async def test_revoked_key_cached_under_a_second(store: InMemoryStore) -> None:
    service = ApiKeyService(store)
    record, key = await service.create("acme", "producer")
    clock = FakeClock()
    authenticator = Authenticator(store, clock=clock)
    await authenticator.authenticate(f"Bearer {key}")

    await service.revoke(record.id)
    clock.now += 0.5
    still_cached = await authenticator.authenticate(f"Bearer {key}")
    clock.now += 0.6

    assert still_cached.key_id == record.id
    with pytest.raises(Unauthorized):
        await authenticator.authenticate(f"Bearer {key}")


async def test_invalidate_drops_cached_key(store: InMemoryStore) -> None:
    service = ApiKeyService(store)
    record, key = await service.create("acme", "producer")
    authenticator = Authenticator(store, clock=FakeClock())
    await authenticator.authenticate(f"Bearer {key}")

    await service.revoke(record.id)
    authenticator.invalidate()

    with pytest.raises(Unauthorized):
        await authenticator.authenticate(f"Bearer {key}")


async def test_scope_has_descendants(store: InMemoryStore) -> None:
    assert await Authenticator(store).scope("acme") == frozenset({"acme", "acme.eu"})


async def test_scope_refreshed_after_invalidate(store: InMemoryStore) -> None:
    authenticator = Authenticator(store)
    await authenticator.scope("acme")
    await store.create_domain(
        Domain(id="acme.us", name="Acme US", parent_id="acme", external_id="e4")
    )

    cached = await authenticator.scope("acme")
    authenticator.invalidate()
    refreshed = await authenticator.scope("acme")

    assert "acme.us" not in cached
    assert "acme.us" in refreshed
