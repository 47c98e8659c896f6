"""Fixtures of the browser tests: one real service, HTTPS receivers, and headless Chromium.

The service runs as ``datastreams serve`` on its own SQLite file, with the tenants of
the integration tests (acme -> acme.eu, and globex) made by the real command line. It
trusts the receivers' CA through ``DATASTREAMS_TLS_CA_FILE`` and admits loopback
endpoints through ``DATASTREAMS_ALLOWED_ENDPOINT_NETWORKS``. Each test gets a fresh
browser context, so cookies never leak from one test to the next.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from browser_env import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Api, ReceiverLoop
from service_process import ServerProcess, Tenants, create_tenants, start_server

from datastreams.receiver import Receiver

PAGE_TIMEOUT_MS = 15_000


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def receivers(ca: trustme.CA) -> Iterator[ReceiverLoop]:
    loop = ReceiverLoop(ca)
    yield loop
    loop.close()


@pytest.fixture(scope="session")
def receiver(receivers: ReceiverLoop) -> Receiver:
    """A receiver that accepts every request."""
    return receivers.start()


@pytest.fixture(scope="session")
def browser_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("browser") / "datastreams.db"


@pytest.fixture(scope="session")
def browser_tenants(browser_db: Path) -> Tenants:
    return create_tenants(browser_db)


@pytest.fixture(scope="session")
def ui_server(
    browser_db: Path, browser_tenants: Tenants, ca: trustme.CA
) -> Iterator[ServerProcess]:
    ca_file = browser_db.with_name("receivers-ca.pem")
    ca.cert_pem.write_to_path(str(ca_file))
    running = start_server(
        browser_db,
        env={
            "DATASTREAMS_ALLOWED_ENDPOINT_NETWORKS": "127.0.0.0/8",
            "DATASTREAMS_TLS_CA_FILE": str(ca_file),
        },
    )
    yield running
    running.stop()


@pytest.fixture(scope="session")
def api(ui_server: ServerProcess, browser_tenants: Tenants) -> Iterator[Api]:
    client = Api(ui_server.url, browser_tenants.acme_admin, browser_tenants.acme_producer)
    yield client
    client.close()


# Playwright's sync API keeps an event loop running in this thread while it is open, so
# it is closed after each module: later asyncio tests of the session need the thread.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's Chromium (apt-get install chromium)")
    with sync_playwright() as started:
        yield started


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    launched = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield launched
    launched.close()


@pytest.fixture
def page(browser: Browser, ui_server: ServerProcess) -> Iterator[Page]:
    """A page in a fresh context; a script error or a blocked resource fails the test."""
    context = browser.new_context(base_url=ui_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    opened = context.new_page()
    problems: list[str] = []

    def record_console(message: ConsoleMessage) -> None:
        # Chromium reports what the Content-Security-Policy blocked on the console.
        if "Content Security Policy" in message.text:
            problems.append(f"console: {message.text}")

    opened.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    opened.on("console", record_console)

    yield opened

    context.close()
    assert problems == []
