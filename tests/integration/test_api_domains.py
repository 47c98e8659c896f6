"""/api/v1/domains against the real service: scope of admin keys, CRUD, paging."""

from __future__ import annotations

import uuid

import httpx
import pytest
from service_process import Tenants, assert_error_body, bearer, event

pytestmark = pytest.mark.integration

DOMAINS = "/api/v1/domains"


def new_domain_id(prefix: str = "acme") -> str:
    return f"{prefix}.{uuid.uuid4().hex[:10]}"


def create_child(http: httpx.Client, key: str, parent: str = "acme") -> dict[str, object]:
    body = {"id": new_domain_id(parent), "name": "Child", "parentId": parent}
    response = http.post(DOMAINS, json=body, headers=bearer(key))
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_list_shows_key_subtree(http: httpx.Client, tenants: Tenants) -> None:
    ids = [
        item["id"] for item in http.get(DOMAINS, headers=bearer(tenants.acme_admin)).json()["items"]
    ]

    assert "acme" in ids
    assert "acme.eu" in ids
    assert "globex" not in ids


def test_list_pages_with_cursor(http: httpx.Client, tenants: Tenants) -> None:
    headers = bearer(tenants.acme_admin)
    first = http.get(f"{DOMAINS}?limit=1", headers=headers).json()
    second = http.get(f"{DOMAINS}?limit=1&cursor={first['nextCursor']}", headers=headers).json()

    assert first["items"][0]["id"] == "acme"
    assert first["nextCursor"] is not None
    assert second["items"][0]["id"] > "acme"


def test_list_last_page_has_no_cursor(http: httpx.Client, tenants: Tenants) -> None:
    body = http.get(f"{DOMAINS}?limit=1000", headers=bearer(tenants.globex_admin)).json()

    assert body["nextCursor"] is None


def test_create_child_domain(http: httpx.Client, tenants: Tenants) -> None:
    domain_id = new_domain_id()
    body = {"id": domain_id, "name": "Acme Sales", "parentId": "acme"}
    response = http.post(DOMAINS, json=body, headers=bearer(tenants.acme_admin))

    created = response.json()
    assert response.status_code == 201
    assert response.headers["location"] == f"{DOMAINS}/{domain_id}"
    assert set(created) == {"id", "name", "parentId", "externalId", "createdAt", "updatedAt"}
    assert (created["id"], created["name"], created["parentId"]) == (
        domain_id,
        "Acme Sales",
        "acme",
    )
    assert created["externalId"]


def test_create_root_domain_is_422(http: httpx.Client, tenants: Tenants) -> None:
    response = http.post(
        DOMAINS,
        json={"id": new_domain_id("root"), "name": "Root"},
        headers=bearer(tenants.acme_admin),
    )

    error = assert_error_body(response, 422, "validation_failed")
    assert error["fields"][0]["field"] == "parentId"


def test_create_under_other_tenant_is_422(http: httpx.Client, tenants: Tenants) -> None:
    body = {"id": new_domain_id("globex"), "name": "Intruder", "parentId": "globex"}
    response = http.post(DOMAINS, json=body, headers=bearer(tenants.acme_admin))

    error = assert_error_body(response, 422)
    assert error["fields"] == [
        {"field": "parentId", "value": "globex", "message": "unknown domain"}
    ]


@pytest.mark.parametrize("domain_id", ["", "-leading-dash", "has space", "x" * 65, "ümlaut"])
def test_create_invalid_id_is_422(http: httpx.Client, tenants: Tenants, domain_id: str) -> None:
    body = {"id": domain_id, "name": "Bad", "parentId": "acme"}
    response = http.post(DOMAINS, json=body, headers=bearer(tenants.acme_admin))

    error = assert_error_body(response, 422)
    assert error["fields"][0]["field"] == "id"
    assert error["fields"][0]["value"] == domain_id


def test_create_unknown_member_is_422(http: httpx.Client, tenants: Tenants) -> None:
    body = {"id": new_domain_id(), "name": "X", "parentId": "acme", "colour": "red"}
    response = http.post(DOMAINS, json=body, headers=bearer(tenants.acme_admin))

    error = assert_error_body(response, 422)
    assert error["fields"][0]["field"] == "colour"


def test_get_other_tenant_domain_is_404(http: httpx.Client, tenants: Tenants) -> None:
    foreign = http.get(f"{DOMAINS}/globex", headers=bearer(tenants.acme_admin))
    unknown = http.get(f"{DOMAINS}/globey", headers=bearer(tenants.acme_admin))

    assert_error_body(foreign, 404, "not_found")
    assert_error_body(unknown, 404, "not_found")
    assert foreign.json()["error"]["message"].replace("globex", "") == unknown.json()["error"][
        "message"
    ].replace("globey", "")


def test_get_own_domain(http: httpx.Client, tenants: Tenants) -> None:
    response = http.get(f"{DOMAINS}/acme.eu", headers=bearer(tenants.acme_admin))

    assert response.json()["parentId"] == "acme"


def test_rename_domain(http: httpx.Client, tenants: Tenants) -> None:
    created = create_child(http, tenants.acme_admin)
    response = http.put(
        f"{DOMAINS}/{created['id']}", json={"name": "Renamed"}, headers=bearer(tenants.acme_admin)
    )

    changed = response.json()
    assert response.status_code == 200
    assert changed["name"] == "Renamed"
    assert changed["parentId"] == "acme"
    assert changed["updatedAt"] >= str(created["updatedAt"])


def test_put_back_what_get_returned(http: httpx.Client, tenants: Tenants) -> None:
    created = create_child(http, tenants.acme_admin)
    response = http.put(
        f"{DOMAINS}/{created['id']}",
        json={**created, "name": "Same"},
        headers=bearer(tenants.acme_admin),
    )

    assert response.status_code == 200


def test_move_domain_inside_subtree(http: httpx.Client, tenants: Tenants) -> None:
    created = create_child(http, tenants.acme_admin)
    body = {"name": "Moved", "parentId": "acme.eu"}
    response = http.put(f"{DOMAINS}/{created['id']}", json=body, headers=bearer(tenants.acme_admin))

    assert response.json()["parentId"] == "acme.eu"


def test_move_domain_outside_subtree_is_422(http: httpx.Client, tenants: Tenants) -> None:
    created = create_child(http, tenants.acme_admin)
    body = {"name": "Escape", "parentId": "globex"}
    response = http.put(f"{DOMAINS}/{created['id']}", json=body, headers=bearer(tenants.acme_admin))

    error = assert_error_body(response, 422)
    assert error["fields"][0]["field"] == "parentId"


def test_move_key_domain_to_root_is_422(http: httpx.Client, tenants: Tenants) -> None:
    body = {"name": "Acme", "parentId": None}
    response = http.put(f"{DOMAINS}/acme.eu", json=body, headers=bearer(tenants.acme_admin))

    assert_error_body(response, 422)


def test_put_other_tenant_domain_is_404(http: httpx.Client, tenants: Tenants) -> None:
    response = http.put(
        f"{DOMAINS}/globex", json={"name": "Mine"}, headers=bearer(tenants.acme_admin)
    )

    assert_error_body(response, 404)


def test_delete_domain(http: httpx.Client, tenants: Tenants) -> None:
    created = create_child(http, tenants.acme_admin)
    deleted = http.delete(f"{DOMAINS}/{created['id']}", headers=bearer(tenants.acme_admin))
    after = http.get(f"{DOMAINS}/{created['id']}", headers=bearer(tenants.acme_admin))

    assert deleted.status_code == 204
    assert_error_body(after, 404)


def test_delete_domain_with_child_is_409(http: httpx.Client, tenants: Tenants) -> None:
    parent = create_child(http, tenants.acme_admin)
    create_child(http, tenants.acme_admin, parent=str(parent["id"]))

    response = http.delete(f"{DOMAINS}/{parent['id']}", headers=bearer(tenants.acme_admin))

    assert_error_body(response, 409, "conflict")


def test_delete_other_tenant_domain_is_404(http: httpx.Client, tenants: Tenants) -> None:
    assert_error_body(http.delete(f"{DOMAINS}/globex", headers=bearer(tenants.acme_admin)), 404)


def test_new_domain_accepts_events_at_once(http: httpx.Client, tenants: Tenants) -> None:
    created = create_child(http, tenants.acme_admin)
    response = http.post(
        "/api/v1/events", json=event(str(created["id"])), headers=bearer(tenants.acme_producer)
    )

    assert response.json()["accepted"] == 1
