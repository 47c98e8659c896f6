"""Helpers of the browser tests: receivers on a background loop, the API, and page steps.

The tests drive Debian's Chromium through Playwright's sync API, so the receivers run
on an event loop of their own in a background thread.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import trustme
from playwright.sync_api import Page, expect

from datastreams.receiver import Receiver, ReceiverConfig

CHROMIUM = Path("/usr/bin/chromium")
# Playwright's own browser download is not used: the tests launch the system's
# Chromium, headless, with no traffic of its own beyond 127.0.0.1.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "browser"
LOOP_TIMEOUT_S = 10.0
WAIT_TIMEOUT_S = 20.0
# Longer than the pages' refresh interval of 5 seconds, plus a delivery round.
REFRESH_TIMEOUT_MS = 15_000


class ReceiverLoop:
    """An event loop in a background thread that runs HTTPS receivers sharing one CA."""

    def __init__(self, ca: trustme.CA) -> None:
        self.ca = ca
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="receivers", daemon=True
        )
        self._receivers: list[Receiver] = []
        self._thread.start()

    def start(self, **config: Any) -> Receiver:
        """Start a receiver on 127.0.0.1 with a free port; ``config`` sets ``ReceiverConfig``."""
        receiver = Receiver(ReceiverConfig(**config), ca=self.ca)
        asyncio.run_coroutine_threadsafe(receiver.start(), self._loop).result(LOOP_TIMEOUT_S)
        self._receivers.append(receiver)
        return receiver

    def set_response_script(self, receiver: Receiver, script: str) -> None:
        """Set the status codes a receiver responds with, on the receivers' loop."""
        done = threading.Event()

        def apply() -> None:
            receiver.set_response_script(script)
            done.set()

        self._loop.call_soon_threadsafe(apply)
        assert done.wait(LOOP_TIMEOUT_S), "the receivers' loop did not respond"

    def close(self) -> None:
        for receiver in self._receivers:
            asyncio.run_coroutine_threadsafe(receiver.stop(), self._loop).result(LOOP_TIMEOUT_S)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(LOOP_TIMEOUT_S)
        self._loop.close()


def wait_until(condition: Callable[[], bool], message: str) -> None:
    """Poll ``condition`` until it holds, or fail the test after ``WAIT_TIMEOUT_S``."""
    deadline = time.monotonic() + WAIT_TIMEOUT_S
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {WAIT_TIMEOUT_S} s waiting until {message}")


def probe_requests(receiver: Receiver) -> list[bytes]:
    """Return the bodies of the Test action's probes that ``receiver`` got."""
    return [
        request.body
        for request in list(receiver.requests)
        if b"ValidateDataStreamConfiguration" in request.body
    ]


def endpoint_of(receiver: Receiver) -> str:
    """Return a URL of ``receiver`` with a path of its own.

    Every stream of a domain receives the domain's events, so each test's stream posts
    to its own path and the test counts only the requests to that path.
    """
    return f"{receiver.url}streams/{uuid.uuid4().hex}"


def received_lines(receiver: Receiver, endpoint: str, guid: str = "") -> list[bytes]:
    """Return the event lines that ``receiver`` accepted at ``endpoint``, of ``guid`` if given."""
    path = endpoint.removeprefix(receiver.url.rstrip("/"))
    return [
        line
        for request in list(receiver.requests)
        if request.path == path and 200 <= request.status < 300
        for line in request.event_lines()
        if guid.encode() in line
    ]


class Api:
    """The HTTP API of the service under test, for the steps a test does not do in a page."""

    def __init__(self, url: str, admin_key: str, producer_key: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=10.0)
        self._admin = {"Authorization": f"Bearer {admin_key}"}
        self._producer = {"Authorization": f"Bearer {producer_key}"}

    def close(self) -> None:
        self.http.close()

    def create_stream(self, domain_id: str, **members: Any) -> dict[str, Any]:
        response = self.http.post(
            f"/api/v1/domains/{domain_id}/streams", json=members, headers=self._admin
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    def https_stream(
        self, domain_id: str, endpoint: str, *, event_type: str = "UserEntityCreated", **https: Any
    ) -> dict[str, Any]:
        """Create an enabled HTTPS stream with one filter, named uniquely."""
        return self.create_stream(
            domain_id,
            description=f"Browser test {uuid.uuid4().hex[:6]}",
            type="https",
            name=f"browser-{uuid.uuid4().hex[:10]}",
            filters=[{"eventType": event_type, "properties": []}],
            https={"endpoints": endpoint, "retries": 0, **https},
        )

    def get_stream(self, domain_id: str, stream_id: str) -> httpx.Response:
        return self.http.get(
            f"/api/v1/domains/{domain_id}/streams/{stream_id}", headers=self._admin
        )

    def list_streams(self, domain_id: str) -> list[dict[str, Any]]:
        response = self.http.get(
            f"/api/v1/domains/{domain_id}/streams?limit=1000", headers=self._admin
        )
        assert response.status_code == 200, response.text
        return list(response.json()["items"])

    def status(self, domain_id: str, stream_id: str) -> dict[str, Any]:
        response = self.http.get(
            f"/api/v1/domains/{domain_id}/streams/{stream_id}/status", headers=self._admin
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    def disable(self, domain_id: str, stream_id: str) -> None:
        version = self.get_stream(domain_id, stream_id).json()["version"]
        response = self.http.patch(
            f"/api/v1/domains/{domain_id}/streams/{stream_id}",
            json={"version": version, "enabled": False},
            headers=self._admin,
        )
        assert response.status_code == 200, response.text

    def publish_users(self, domain_id: str, count: int) -> list[str]:
        """Publish ``count`` UserEntityCreated events and return their guids."""
        events = [
            {
                "domainId": domain_id,
                "type": "UserEntityCreated",
                "data": {
                    "userId": str(4400 + index),
                    "version": 1,
                    "newUser": {"firstName": "Jamie", "lastName": "Rivera", "username": "jr"},
                },
            }
            for index in range(count)
        ]
        response = self.http.post("/api/v1/events", json=events, headers=self._producer)
        assert response.status_code == 202, response.text
        return [item["guid"] for item in response.json()["items"]]

    def create_admin_key(self, domain_id: str) -> dict[str, Any]:
        response = self.http.post(
            "/api/v1/keys", json={"domainId": domain_id, "role": "admin"}, headers=self._admin
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    def revoke_key(self, key_id: str) -> None:
        response = self.http.delete(f"/api/v1/keys/{key_id}", headers=self._admin)
        assert response.status_code == 204, response.text


def sign_in(page: Page, key: str) -> None:
    """Sign in through the sign-in form and wait for the streams page."""
    page.goto("/")
    page.get_by_label("Admin key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Data streams", level=1)).to_be_visible()


def screenshot(page: Page, name: str) -> None:
    """Save a screenshot under artifacts/browser/: the whole page, or the window under a dialog."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    dialog_open = page.locator("dialog[open]").count() > 0
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=not dialog_open)


def unlabelled_controls(page: Page) -> list[str]:
    """Return a description of every form control on the page that has no label."""
    result: list[str] = page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
            .filter((control) => control.labels.length === 0
                && !control.getAttribute('aria-label')
                && !control.getAttribute('aria-labelledby'))
            .map((control) => control.outerHTML.slice(0, 120))"""
    )
    return result
