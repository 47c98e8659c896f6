"""A server process with a domain tree and keys, for end-to-end delivery tests."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import trustme
from service_process import ServerProcess, run_cli_ok, start_server

POLL_S = 0.05


@dataclass(frozen=True)
class DeliveryTemplate:
    """A database with domains ``district`` > ``school-a``/``school-b`` and their keys.

    Building it runs the command line five times (about 2 s), so a test session builds
    it once and every test starts its server on a copy.
    """

    db: Path
    admin_key: str
    producer_key: str

    @classmethod
    def create(cls, directory: Path) -> DeliveryTemplate:
        db = directory / "template.db"
        run_cli_ok("domains", "add", "district", "--name", "District", db=db)
        for school in ("school-a", "school-b"):
            run_cli_ok("domains", "add", school, "--name", school, "--parent", "district", db=db)
        admin_key = run_cli_ok(
            "keys", "create", "--domain", "district", "--role", "admin", db=db
        ).strip()
        producer_key = run_cli_ok(
            "keys", "create", "--domain", "district", "--role", "producer", db=db
        ).strip()
        return cls(db, admin_key, producer_key)

    def copy_to(self, db: Path) -> None:
        """Write a consistent copy of the template database to ``db``."""
        source = sqlite3.connect(self.db)
        target = sqlite3.connect(db)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()


@dataclass
class DeliveryEnv:
    """A running server with domains ``district`` > ``school-a``/``school-b`` and their keys."""

    tmp_path: Path
    ca_file: Path
    server: ServerProcess
    admin_key: str
    producer_key: str
    extra_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, tmp_path: Path, ca: trustme.CA, **env: str) -> DeliveryEnv:
        """Build the domains and keys in ``tmp_path``, then start the server."""
        template_dir = tmp_path / "template"
        template_dir.mkdir()
        return cls.from_template(DeliveryTemplate.create(template_dir), tmp_path, ca, **env)

    @classmethod
    def from_template(
        cls, template: DeliveryTemplate, tmp_path: Path, ca: trustme.CA, **env: str
    ) -> DeliveryEnv:
        """Start the server on a copy of ``template`` in ``tmp_path``; ``env`` adds variables."""
        db = tmp_path / "datastreams.db"
        template.copy_to(db)
        ca_file = tmp_path / "receiver-ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))

        extra_env = {"DATASTREAMS_TLS_CA_FILE": str(ca_file), **env}
        server = start_server(db, env=extra_env)
        return cls(tmp_path, ca_file, server, template.admin_key, template.producer_key, extra_env)

    def close(self) -> None:
        self.server.stop()

    def restart(self) -> None:
        """Start a new server process on the same database (the old one must be stopped)."""
        self.server = start_server(self.server.db, env=self.extra_env)

    def admin(self) -> httpx.AsyncClient:
        """Return a client that sends the admin key (the tests run receivers on the same loop)."""
        return httpx.AsyncClient(
            base_url=self.server.url,
            headers={"Authorization": f"Bearer {self.admin_key}"},
            timeout=30,
        )

    async def create_stream(self, body: dict[str, Any], domain: str = "district") -> dict[str, Any]:
        async with self.admin() as client:
            response = await client.post(f"/api/v1/domains/{domain}/streams", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    async def publish(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(
                f"{self.server.url}/api/v1/events",
                json=events,
                headers={"Authorization": f"Bearer {self.producer_key}"},
            )
        assert response.status_code == 202, response.text
        return response.json()

    async def status(self, stream_id: str, domain: str = "district") -> dict[str, Any]:
        async with self.admin() as client:
            response = await client.get(f"/api/v1/domains/{domain}/streams/{stream_id}/status")
        assert response.status_code == 200, response.text
        return response.json()

    async def metrics(self) -> str:
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.get(f"{self.server.url}/metrics")
        assert response.status_code == 200, response.text
        return response.text


def https_stream(endpoints: list[str], **https: Any) -> dict[str, Any]:
    """Return a stream body for an HTTPS stream without filters."""
    return {
        "type": "https",
        "name": f"receiver-{time.monotonic_ns()}",
        "description": "test receiver",
        "https": {"endpoints": endpoints, **https},
    }


def event(n: int, domain: str = "school-a", event_type: str = "ItemActivity") -> dict[str, Any]:
    """Return a small valid event whose guid encodes ``n``."""
    return {
        "guid": f"00000000-0000-4000-8000-{n:012d}",
        "domainId": domain,
        "type": event_type,
        "data": {"itemId": f"item-{n}", "courseId": "c1", "n": n},
        "userId": "u1",
    }


async def wait_until(check: Callable[[], bool], timeout_s: float = 20.0) -> None:
    """Wait until ``check()`` is true, or fail the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(POLL_S)
    raise AssertionError(f"condition not met within {timeout_s} s")
