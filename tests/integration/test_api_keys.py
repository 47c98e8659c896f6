"""/api/v1/keys against the real service: the key shown once, scope, revocation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from service_process import Tenants, assert_error_body, bearer, event

pytestmark = pytest.mark.integration

KEYS = "/api/v1/keys"


def create_key(http: httpx.Client, admin_key: str, **body: Any) -> dict[str, Any]:
    response = http.post(
        KEYS, json={"domainId": "acme.eu", "role": "producer", **body}, headers=bearer(admin_key)
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def list_all_keys(http: httpx.Client, admin_key: str) -> list[dict[str, Any]]:
    return list(http.get(f"{KEYS}?limit=1000", headers=bearer(admin_key)).json()["items"])


def test_create_returns_key_once(http: httpx.Client, tenants: Tenants) -> None:
    created = create_key(http, tenants.acme_admin, name="eu ingest")

    assert created["key"].startswith("dsp_")
    assert len(created["key"]) >= 4 + 32
    assert created["prefix"] == created["key"][:8]
    assert (created["role"], created["domainId"], created["name"]) == (
        "producer",
        "acme.eu",
        "eu ingest",
    )
    assert created["revokedAt"] is None


def test_created_key_publishes(http: httpx.Client, tenants: Tenants) -> None:
    created = create_key(http, tenants.acme_admin)
    response = http.post("/api/v1/events", json=event("acme.eu"), headers=bearer(created["key"]))

    assert response.json()["accepted"] == 1


def test_created_admin_key_manages_its_subtree(http: httpx.Client, tenants: Tenants) -> None:
    created = create_key(http, tenants.acme_admin, role="admin")
    own = http.get("/api/v1/domains/acme.eu", headers=bearer(created["key"]))
    parent = http.get("/api/v1/domains/acme", headers=bearer(created["key"]))

    assert created["key"].startswith("dsa_")
    assert own.status_code == 200
    assert_error_body(parent, 404)


def test_list_never_shows_key(http: httpx.Client, tenants: Tenants) -> None:
    created = create_key(http, tenants.acme_admin)
    listed = list_all_keys(http, tenants.acme_admin)

    entry = next(item for item in listed if item["id"] == created["id"])
    assert set(entry) == {"id", "role", "domainId", "prefix", "name", "createdAt", "revokedAt"}
    assert created["key"] not in str(listed)


def test_list_hides_other_tenant_keys(http: httpx.Client, tenants: Tenants) -> None:
    domains = {item["domainId"] for item in list_all_keys(http, tenants.globex_admin)}

    assert domains == {"globex"}


def test_create_for_other_tenant_is_422(http: httpx.Client, tenants: Tenants) -> None:
    response = http.post(
        KEYS, json={"domainId": "globex", "role": "admin"}, headers=bearer(tenants.acme_admin)
    )

    error = assert_error_body(response, 422)
    assert error["fields"] == [
        {"field": "domainId", "value": "globex", "message": "unknown domain"}
    ]


def test_create_bad_role_is_422(http: httpx.Client, tenants: Tenants) -> None:
    response = http.post(
        KEYS, json={"domainId": "acme", "role": "root"}, headers=bearer(tenants.acme_admin)
    )

    error = assert_error_body(response, 422)
    assert error["fields"][0]["field"] == "role"


def test_revoked_key_is_401(http: httpx.Client, tenants: Tenants) -> None:
    created = create_key(http, tenants.acme_admin)
    http.post("/api/v1/events", json=event("acme.eu"), headers=bearer(created["key"]))

    revoked = http.delete(f"{KEYS}/{created['id']}", headers=bearer(tenants.acme_admin))
    response = http.post("/api/v1/events", json=event("acme.eu"), headers=bearer(created["key"]))

    assert revoked.status_code == 204
    assert_error_body(response, 401, "unauthorized")


def test_revoke_shows_revoked_at(http: httpx.Client, tenants: Tenants) -> None:
    created = create_key(http, tenants.acme_admin)
    http.delete(f"{KEYS}/{created['id']}", headers=bearer(tenants.acme_admin))

    entry = next(
        item for item in list_all_keys(http, tenants.acme_admin) if item["id"] == created["id"]
    )
    assert entry["revokedAt"] is not None


def test_revoke_other_tenant_key_is_404(http: httpx.Client, tenants: Tenants) -> None:
    created = create_key(http, tenants.acme_admin)
    response = http.delete(f"{KEYS}/{created['id']}", headers=bearer(tenants.globex_admin))
    still_works = http.post("/api/v1/events", json=event("acme.eu"), headers=bearer(created["key"]))

    assert_error_body(response, 404, "not_found")
    assert still_works.status_code == 202


def test_revoke_unknown_key_is_404(http: httpx.Client, tenants: Tenants) -> None:
    assert_error_body(
        http.delete(f"{KEYS}/0000000000000000", headers=bearer(tenants.acme_admin)), 404
    )
