"""/api/v1/domains/{domainId}/streams against the real service, including tenant isolation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from service_process import Tenants, assert_error_body, bearer, firehose_stream

pytestmark = pytest.mark.integration

ACME_STREAMS = "/api/v1/domains/acme/streams"
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


def create_stream(
    http: httpx.Client, key: str, path: str = ACME_STREAMS, **members: Any
) -> dict[str, Any]:
    response = http.post(path, json=firehose_stream(**members), headers=bearer(key))
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_create_answers_201_with_location(http: httpx.Client, tenants: Tenants) -> None:
    response = http.post(ACME_STREAMS, json=firehose_stream(), headers=bearer(tenants.acme_admin))

    stream = response.json()
    assert response.status_code == 201
    assert response.headers["location"] == f"{ACME_STREAMS}/{stream['id']}"
    assert stream["version"] == 1
    assert stream["domainId"] == "acme"
    assert "warnings" not in stream


def test_create_unknown_filter_type_warns(http: httpx.Client, tenants: Tenants) -> None:
    filters = [{"eventType": "NoSuchEventType", "properties": ""}]
    stream = create_stream(http, tenants.acme_admin, filters=filters)

    assert len(stream["warnings"]) == 1
    assert "NoSuchEventType" in stream["warnings"][0]


def test_create_in_descendant_domain(http: httpx.Client, tenants: Tenants) -> None:
    stream = create_stream(http, tenants.acme_admin, path="/api/v1/domains/acme.eu/streams")

    assert stream["domainId"] == "acme.eu"


def test_create_duplicate_name_is_409(http: httpx.Client, tenants: Tenants) -> None:
    stream = create_stream(http, tenants.acme_admin)
    response = http.post(
        ACME_STREAMS, json=firehose_stream(stream["name"]), headers=bearer(tenants.acme_admin)
    )

    assert_error_body(response, 409, "conflict")


def test_get_stream(http: httpx.Client, tenants: Tenants) -> None:
    stream = create_stream(http, tenants.acme_admin)
    response = http.get(f"{ACME_STREAMS}/{stream['id']}", headers=bearer(tenants.acme_admin))

    assert response.json() == stream


def test_list_streams_pages(http: httpx.Client, tenants: Tenants) -> None:
    path = "/api/v1/domains/acme.eu/streams"
    created = [create_stream(http, tenants.acme_admin, path=path)["id"] for _ in range(3)]

    seen: list[str] = []
    cursor: str | None = None
    for _ in range(20):
        query = f"?limit=2&cursor={cursor}" if cursor else "?limit=2"
        page = http.get(path + query, headers=bearer(tenants.acme_admin)).json()
        seen.extend(item["id"] for item in page["items"])
        cursor = page["nextCursor"]
        if cursor is None:
            break

    assert set(created) <= set(seen)
    assert len(seen) == len(set(seen))


def test_replace_stream(http: httpx.Client, tenants: Tenants) -> None:
    stream = create_stream(http, tenants.acme_admin)
    body = firehose_stream(stream["name"], version=1, description="Replaced")
    response = http.put(
        f"{ACME_STREAMS}/{stream['id']}", json=body, headers=bearer(tenants.acme_admin)
    )

    assert response.status_code == 200
    assert response.json()["description"] == "Replaced"
    assert response.json()["version"] == 2


def test_patch_merge_patch(http: httpx.Client, tenants: Tenants) -> None:
    stream = create_stream(http, tenants.acme_admin)
    response = http.patch(
        f"{ACME_STREAMS}/{stream['id']}",
        content=b'{"version": 1, "enabled": false}',
        headers=bearer(tenants.acme_admin) | MERGE_PATCH,
    )

    assert response.status_code == 200
    assert response.json()["enabled"] is False
    assert response.json()["name"] == stream["name"]


def test_patch_plain_json(http: httpx.Client, tenants: Tenants) -> None:
    stream = create_stream(http, tenants.acme_admin)
    response = http.patch(
        f"{ACME_STREAMS}/{stream['id']}",
        json={"version": 1, "description": "JSON"},
        headers=bearer(tenants.acme_admin),
    )

    assert response.json()["description"] == "JSON"


def test_patch_text_plain_is_415(http: httpx.Client, tenants: Tenants) -> None:
    stream = create_stream(http, tenants.acme_admin)
    response = http.patch(
        f"{ACME_STREAMS}/{stream['id']}",
        content=b'{"version": 1}',
        headers=bearer(tenants.acme_admin) | {"Content-Type": "text/plain"},
    )

    assert_error_body(response, 415)


def test_patch_without_version_is_422(http: httpx.Client, tenants: Tenants) -> None:
    stream = create_stream(http, tenants.acme_admin)
    response = http.patch(
        f"{ACME_STREAMS}/{stream['id']}",
        json={"description": "x"},
        headers=bearer(tenants.acme_admin),
    )

    error = assert_error_body(response, 422)
    assert error["fields"][0]["field"] == "version"


def test_delete_stream(http: httpx.Client, tenants: Tenants) -> None:
    stream = create_stream(http, tenants.acme_admin)
    deleted = http.delete(f"{ACME_STREAMS}/{stream['id']}", headers=bearer(tenants.acme_admin))
    after = http.get(f"{ACME_STREAMS}/{stream['id']}", headers=bearer(tenants.acme_admin))

    assert deleted.status_code == 204
    assert deleted.content == b""
    assert_error_body(after, 404, "not_found")


def test_unknown_stream_is_404(http: httpx.Client, tenants: Tenants) -> None:
    response = http.get(
        f"{ACME_STREAMS}/0190a1b2-0000-7000-8000-000000000000", headers=bearer(tenants.acme_admin)
    )

    assert_error_body(response, 404, "not_found")


# Tenant isolation -----------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_other_tenant_stream_is_404(http: httpx.Client, tenants: Tenants, method: str) -> None:
    stream = create_stream(http, tenants.acme_admin)
    body = {} if method in ("GET", "DELETE") else {"json": {"version": 1, "description": "taken"}}
    response = http.request(
        method, f"{ACME_STREAMS}/{stream['id']}", headers=bearer(tenants.globex_admin), **body
    )

    assert_error_body(response, 404, "not_found")


def test_other_tenant_stream_unchanged(http: httpx.Client, tenants: Tenants) -> None:
    stream = create_stream(http, tenants.acme_admin)
    http.delete(f"{ACME_STREAMS}/{stream['id']}", headers=bearer(tenants.globex_admin))

    response = http.get(f"{ACME_STREAMS}/{stream['id']}", headers=bearer(tenants.acme_admin))
    assert response.status_code == 200


def test_stream_under_wrong_domain_is_404(http: httpx.Client, tenants: Tenants) -> None:
    stream = create_stream(http, tenants.acme_admin)
    response = http.get(
        f"/api/v1/domains/globex/streams/{stream['id']}", headers=bearer(tenants.globex_admin)
    )

    assert_error_body(response, 404)


def test_other_tenant_list_is_404(http: httpx.Client, tenants: Tenants) -> None:
    response = http.get(ACME_STREAMS, headers=bearer(tenants.globex_admin))

    assert_error_body(response, 404, "not_found")


def test_own_list_hides_other_tenant(http: httpx.Client, tenants: Tenants) -> None:
    acme_stream = create_stream(http, tenants.acme_admin)
    globex_stream = create_stream(http, tenants.globex_admin, path="/api/v1/domains/globex/streams")

    listed = http.get(
        "/api/v1/domains/globex/streams?limit=1000", headers=bearer(tenants.globex_admin)
    ).json()
    ids = [item["id"] for item in listed["items"]]
    assert globex_stream["id"] in ids
    assert acme_stream["id"] not in ids


def test_create_in_other_tenant_is_404(http: httpx.Client, tenants: Tenants) -> None:
    response = http.post(
        "/api/v1/domains/globex/streams", json=firehose_stream(), headers=bearer(tenants.acme_admin)
    )

    assert_error_body(response, 404, "not_found")
