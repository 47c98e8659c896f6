"""Helpers that run the real service and command line in subprocesses on 127.0.0.1.

``start_server`` runs ``python -m datastreams serve --port 0``, reads the URL it prints
and waits for ``/readyz``. ``run_cli`` runs any other command. Both pass a clean
environment: no ``DATASTREAMS_*`` variable of the calling shell leaks in.
"""

from __future__ import annotations

import os
import selectors
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0

# Limits of the session server.
SMALL_LIMITS = {
    "DATASTREAMS_MAX_BODY_BYTES": "65536",
    "DATASTREAMS_MAX_BATCH_ITEMS": "50",
    "DATASTREAMS_MAX_EVENT_BYTES": "4096",
}

FIREHOSE_ROLE_ARN = "arn:aws:iam::123456789012:role/datastreams"


# Endpoints in tests point at loopback only, which the address check must admit.
LOOPBACK_NETWORKS = "127.0.0.0/8,::1/128"


def clean_environment(**variables: str) -> dict[str, str]:
    """Return this process's environment without ``DATASTREAMS_*`` variables, plus ``variables``.

    Loopback endpoints are admitted unless ``variables`` says otherwise.
    """
    env = {name: value for name, value in os.environ.items() if not name.startswith("DATASTREAMS_")}
    env["DATASTREAMS_ALLOWED_ENDPOINT_NETWORKS"] = LOOPBACK_NETWORKS
    env.update(variables)
    return env


def run_cli(
    *args: str,
    db: Path | None = None,
    env: dict[str, str] | None = None,
    input_text: str | None = None,
    timeout_s: float = 60.0,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m datastreams ARGS`` and return the finished process."""
    variables = dict(env or {})
    if db is not None:
        variables.setdefault("DATASTREAMS_DB", str(db))
    return subprocess.run(
        [sys.executable, "-m", "datastreams", *args],
        env=clean_environment(**variables),
        input=input_text,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def run_cli_ok(*args: str, db: Path, **kwargs: Any) -> str:
    """Run the command line, fail the test unless it exits with 0, and return its stdout."""
    finished = run_cli(*args, db=db, **kwargs)
    assert finished.returncode == 0, f"{args} exited {finished.returncode}: {finished.stderr}"
    return finished.stdout


@dataclass
class ServerProcess:
    """A running ``datastreams serve`` and what a test needs to reach it."""

    url: str
    process: subprocess.Popen[bytes]
    db: Path
    log: Path

    def stop(self) -> int | None:
        """Stop the server with SIGTERM and return its exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT_S)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode

    def log_text(self) -> str:
        """Return what the server logged so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")


def start_server(
    db: Path, *, env: dict[str, str] | None = None, args: Sequence[str] = ()
) -> ServerProcess:
    """Start ``datastreams serve --port 0`` and wait until ``/readyz`` returns 200."""
    log = db.with_name(f"{db.stem}-{uuid.uuid4().hex[:8]}.log")
    variables = {"DATASTREAMS_DB": str(db), **(env or {})}
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "datastreams",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                *args,
            ],
            env=clean_environment(**variables),
            stdout=subprocess.PIPE,
            stderr=log_file,
        )

    server = ServerProcess(url="", process=process, db=db, log=log)
    try:
        server.url = _read_listening_url(process)
        _wait_until_ready(server.url)
    except BaseException:
        server.stop()
        raise
    return server


def _read_listening_url(process: subprocess.Popen[bytes]) -> str:
    # serve prints "Listening on http://127.0.0.1:PORT" once it accepts requests.
    assert process.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    try:
        while time.monotonic() < deadline:
            if not selector.select(timeout=0.2):
                if process.poll() is not None:
                    break
                continue
            line = process.stdout.readline().decode("utf-8").strip()
            if line.startswith("Listening on "):
                return line.removeprefix("Listening on ")
            if not line and process.poll() is not None:
                break
    finally:
        selector.close()
    raise RuntimeError(f"the server did not start (exit code {process.poll()})")


def _wait_until_ready(url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url}/readyz did not answer 200 in time")


@dataclass
class Tenants:
    """The domains and keys created before the session server started."""

    acme_admin: str
    acme_producer: str
    acme_eu_producer: str
    globex_admin: str
    globex_producer: str


def create_tenants(db: Path) -> Tenants:
    """Create the acme and globex domains and their keys with the command line."""
    run_cli_ok("domains", "add", "acme", "--name", "Acme", db=db)
    run_cli_ok("domains", "add", "acme.eu", "--name", "Acme Europe", "--parent", "acme", db=db)
    run_cli_ok("domains", "add", "globex", "--name", "Globex", db=db)

    def create_key(domain: str, role: str) -> str:
        return run_cli_ok("keys", "create", "--domain", domain, "--role", role, db=db).strip()

    return Tenants(
        acme_admin=create_key("acme", "admin"),
        acme_producer=create_key("acme", "producer"),
        acme_eu_producer=create_key("acme.eu", "producer"),
        globex_admin=create_key("globex", "admin"),
        globex_producer=create_key("globex", "producer"),
    )


def bearer(key: str) -> dict[str, str]:
    """Return the Authorization header for ``key``."""
    return {"Authorization": f"Bearer {key}"}


def firehose_stream(name: str | None = None, **members: Any) -> dict[str, Any]:
    """Return a valid firehose stream body; saving it sends nothing anywhere."""
    body: dict[str, Any] = {
        "type": "firehose",
        "name": name or f"events-{uuid.uuid4().hex[:12]}",
        "description": "Integration test stream",
        "aws": {"roleArn": FIREHOSE_ROLE_ARN, "region": "us-east-1"},
    }
    body.update(members)
    return body


def new_guid() -> str:
    """Return a new lower-case UUID."""
    return str(uuid.uuid4())


def event(domain_id: str = "acme", **members: Any) -> dict[str, Any]:
    """Return a valid event of ``domain_id`` with a new guid."""
    container: dict[str, Any] = {
        "time": "2024-05-01T12:00:00.1234567Z",
        "guid": new_guid(),
        "domainId": domain_id,
        "type": "UserEntityCreated",
        "data": {"userId": "42", "newUser": {"firstName": "Ada"}},
    }
    container.update(members)
    return container


def assert_error_body(
    response: httpx.Response, status: int, code: str | None = None
) -> dict[str, Any]:
    """Assert the status and the shared error body shape; return the ``error`` member."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"error"}
    error = body["error"]
    assert isinstance(error["code"], str)
    assert isinstance(error["message"], str)
    assert isinstance(error["fields"], list)
    if code is not None:
        assert error["code"] == code
    return dict(error)


def stored_event_lines(db: Path, guid: str) -> list[bytes]:
    """Return the canonical lines stored under ``guid``, read from the database file."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10.0)
    try:
        rows = connection.execute("SELECT line FROM events WHERE guid = ?", (guid,)).fetchall()
    finally:
        connection.close()
    return [bytes(row[0]) for row in rows]
