"""A restarted service keeps domains, keys, streams and events of its SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from service_process import (
    Tenants,
    bearer,
    create_tenants,
    event,
    firehose_stream,
    start_server,
    stored_event_lines,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def restarted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Create state through a first server, stop it, and start a second on the same file."""
    db: Path = tmp_path_factory.mktemp("restart") / "restart.db"
    tenants: Tenants = create_tenants(db)

    first = start_server(db)
    try:
        with httpx.Client(base_url=first.url) as http:
            child = {"id": "acme.kept", "name": "Kept", "parentId": "acme"}
            http.post("/api/v1/domains", json=child, headers=bearer(tenants.acme_admin))
            stream = http.post(
                "/api/v1/domains/acme/streams",
                json=firehose_stream(),
                headers=bearer(tenants.acme_admin),
            ).json()
            key = http.post(
                "/api/v1/keys",
                json={"domainId": "acme.kept", "role": "producer"},
                headers=bearer(tenants.acme_admin),
            ).json()["key"]
            sent = event("acme.kept")
            http.post("/api/v1/events", json=sent, headers=bearer(key))
    finally:
        exit_code = first.stop()

    second = start_server(db)
    yield {
        "server": second,
        "tenants": tenants,
        "stream": stream,
        "key": key,
        "event": sent,
        "exit_code": exit_code,
    }
    second.stop()


def test_restart_first_server_stopped_cleanly(restarted: dict[str, Any]) -> None:
    # SIGTERM ends a graceful shutdown; uvicorn then re-raises the signal.
    assert restarted["exit_code"] in (0, -15)


def test_restart_keeps_domains(restarted: dict[str, Any]) -> None:
    with httpx.Client(base_url=restarted["server"].url) as http:
        response = http.get(
            "/api/v1/domains/acme.kept", headers=bearer(restarted["tenants"].acme_admin)
        )

    assert response.json()["name"] == "Kept"


def test_restart_keeps_streams(restarted: dict[str, Any]) -> None:
    stream = restarted["stream"]
    with httpx.Client(base_url=restarted["server"].url) as http:
        response = http.get(
            f"/api/v1/domains/acme/streams/{stream['id']}",
            headers=bearer(restarted["tenants"].acme_admin),
        )

    assert response.json() == stream


def test_restart_keeps_keys(restarted: dict[str, Any]) -> None:
    with httpx.Client(base_url=restarted["server"].url) as http:
        response = http.post(
            "/api/v1/events", json=event("acme.kept"), headers=bearer(restarted["key"])
        )

    assert response.json()["accepted"] == 1


def test_restart_keeps_events(restarted: dict[str, Any]) -> None:
    sent = restarted["event"]
    with httpx.Client(base_url=restarted["server"].url) as http:
        response = http.post("/api/v1/events", json=sent, headers=bearer(restarted["key"]))

    assert response.json()["items"][0]["status"] == "duplicate"
    assert len(stored_event_lines(restarted["server"].db, sent["guid"])) == 1
