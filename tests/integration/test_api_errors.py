"""Status codes and the shared error body of the real service, route by route."""

from __future__ import annotations

import httpx
import orjson
import pytest
from service_process import Tenants, assert_error_body, bearer, firehose_stream

pytestmark = pytest.mark.integration

JSON = {"Content-Type": "application/json"}


# Health ---------------------------------------------------------------------------


def test_healthz_without_key(http: httpx.Client) -> None:
    response = http.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_without_key(http: httpx.Client) -> None:
    response = http.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


# 401 ------------------------------------------------------------------------------


def test_missing_key_is_401(http: httpx.Client) -> None:
    response = http.get("/api/v1/domains")

    assert_error_body(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


def test_unknown_key_is_401(http: httpx.Client) -> None:
    response = http.get("/api/v1/domains", headers=bearer("dsa_" + "A" * 43))

    assert_error_body(response, 401, "unauthorized")


def test_malformed_key_is_401(http: httpx.Client) -> None:
    response = http.get("/api/v1/domains", headers=bearer("hello"))

    assert_error_body(response, 401, "unauthorized")


def test_basic_scheme_is_401(http: httpx.Client, tenants: Tenants) -> None:
    response = http.get("/api/v1/domains", headers={"Authorization": f"Basic {tenants.acme_admin}"})

    assert_error_body(response, 401, "unauthorized")


def test_key_never_echoed(http: httpx.Client) -> None:
    key = "dsa_" + "B" * 43
    response = http.get("/api/v1/domains", headers=bearer(key))

    assert key not in response.text


# 403 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/v1/domains", "/api/v1/keys", "/api/v1/domains/acme/streams"]
)
def test_producer_key_on_admin_route_is_403(
    http: httpx.Client, tenants: Tenants, path: str
) -> None:
    response = http.get(path, headers=bearer(tenants.acme_producer))

    assert_error_body(response, 403, "forbidden")


# 404 and 405 ------------------------------------------------------------------------


def test_unknown_route_is_404(http: httpx.Client, tenants: Tenants) -> None:
    response = http.get("/api/v1/nothing-here", headers=bearer(tenants.acme_admin))

    assert_error_body(response, 404, "not_found")


def test_unknown_domain_is_404(http: httpx.Client, tenants: Tenants) -> None:
    response = http.get("/api/v1/domains/no-such-domain", headers=bearer(tenants.acme_admin))

    assert_error_body(response, 404, "not_found")


def test_wrong_method_is_405(http: httpx.Client, tenants: Tenants) -> None:
    response = http.patch("/api/v1/domains", headers=bearer(tenants.acme_admin))

    assert_error_body(response, 405, "method_not_allowed")


# 400, 413, 415 on management routes --------------------------------------------------


def test_invalid_json_is_400(http: httpx.Client, tenants: Tenants) -> None:
    response = http.post(
        "/api/v1/domains", content=b"{not json", headers=bearer(tenants.acme_admin) | JSON
    )

    assert_error_body(response, 400, "invalid_body")


def test_json_array_body_is_400(http: httpx.Client, tenants: Tenants) -> None:
    response = http.post(
        "/api/v1/domains", content=b"[]", headers=bearer(tenants.acme_admin) | JSON
    )

    assert_error_body(response, 400, "invalid_body")


def test_form_body_is_415(http: httpx.Client, tenants: Tenants) -> None:
    response = http.post("/api/v1/domains", data={"id": "x"}, headers=bearer(tenants.acme_admin))

    assert_error_body(response, 415, "unsupported_media_type")


def test_large_management_body_is_413(http: httpx.Client, tenants: Tenants) -> None:
    body = orjson.dumps({"id": "big", "name": "x" * 2_000_000, "parentId": "acme"})
    response = http.post("/api/v1/domains", content=body, headers=bearer(tenants.acme_admin) | JSON)

    assert_error_body(response, 413, "limit_exceeded")


# 409 ------------------------------------------------------------------------------


def test_duplicate_domain_is_409(http: httpx.Client, tenants: Tenants) -> None:
    body = {"id": "acme.dup", "name": "Duplicate", "parentId": "acme"}
    http.post("/api/v1/domains", json=body, headers=bearer(tenants.acme_admin))
    response = http.post("/api/v1/domains", json=body, headers=bearer(tenants.acme_admin))

    assert_error_body(response, 409, "conflict")


def test_stale_version_is_409(http: httpx.Client, tenants: Tenants) -> None:
    headers = bearer(tenants.acme_admin)
    created = http.post("/api/v1/domains/acme/streams", json=firehose_stream(), headers=headers)
    stream = created.json()
    path = created.headers["location"]
    http.patch(path, json={"version": 1, "description": "first"}, headers=headers)

    response = http.patch(path, json={"version": 1, "description": "second"}, headers=headers)

    assert_error_body(response, 409, "conflict")
    assert stream["version"] == 1


# 422 ------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["0", "1001", "abc"])
def test_bad_limit_is_422(http: httpx.Client, tenants: Tenants, limit: str) -> None:
    response = http.get(f"/api/v1/domains?limit={limit}", headers=bearer(tenants.acme_admin))

    error = assert_error_body(response, 422, "validation_failed")
    assert error["fields"][0]["field"] == "limit"
    assert error["fields"][0]["value"] == limit


def test_bad_cursor_is_422(http: httpx.Client, tenants: Tenants) -> None:
    response = http.get("/api/v1/domains?cursor=%%%%", headers=bearer(tenants.acme_admin))

    error = assert_error_body(response, 422, "validation_failed")
    assert error["fields"][0]["field"] == "cursor"


def test_invalid_stream_names_field(http: httpx.Client, tenants: Tenants) -> None:
    body = {
        "type": "https",
        "name": "receiver",
        "https": {"endpoints": ["https://127.0.0.1:9/a", "http://x"]},
    }
    response = http.post(
        "/api/v1/domains/acme/streams", json=body, headers=bearer(tenants.acme_admin)
    )

    error = assert_error_body(response, 422, "validation_failed")
    assert {"field": "https.endpoints[1]", "value": "http://x"}.items() <= error["fields"][
        0
    ].items()


def test_secret_not_echoed_in_error(http: httpx.Client, tenants: Tenants) -> None:
    secret = "header-secret-value-0123456789"
    body = {
        "type": "https",
        "name": "receiver",
        "https": {"endpoints": ["http://x"], "headers": {"Host": secret}},
    }
    response = http.post(
        "/api/v1/domains/acme/streams", json=body, headers=bearer(tenants.acme_admin)
    )

    assert response.status_code == 422
    assert secret not in response.text


# Event types ------------------------------------------------------------------------


def test_event_types_with_producer_key(http: httpx.Client, tenants: Tenants) -> None:
    response = http.get("/api/v1/event-types", headers=bearer(tenants.acme_producer))

    names = [item["name"] for item in response.json()["items"]]
    assert response.status_code == 200
    assert "UserEntityCreated" in names


def test_event_types_without_key_is_401(http: httpx.Client) -> None:
    assert_error_body(http.get("/api/v1/event-types"), 401, "unauthorized")
