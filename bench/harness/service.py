"""The service under test: ``datastreams serve`` on a fresh SQLite file in a temporary folder.

Domains and keys are created with the command line on the database before ``serve``
starts, as an operator would. Subdomains and streams are created through the HTTP
API with the admin key, because a command per domain would take minutes for a tree.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.harness.memory import RssSampler
from bench.harness.processes import (
    LOOPBACK,
    ChildProcess,
    HarnessError,
    clean_environment,
    free_port,
    python_command,
    run_to_completion,
)

# Deliveries go to receivers on loopback, which the endpoint check must admit.
ALLOWED_NETWORKS = "127.0.0.0/8"
CLI_TIMEOUT_S = 60.0
START_TIMEOUT_S = 60.0
API_TIMEOUT_S = 30.0


# Settings that ``python -m bench run --setting NAME=VALUE`` gives every serve process,
# such as DATASTREAMS_AWS_CALLS_IN_FLIGHT=1.
SERVICE_SETTINGS: dict[str, str] = {}


@dataclass(frozen=True, slots=True)
class Keys:
    """The API keys of the benchmark's root domain."""

    admin: str
    producer: str


class ServiceUnderTest:
    """One ``datastreams serve`` process and the database it works on.

    ``environment``, when given, replaces this process's environment (without
    ``DATASTREAMS_*`` variables) as the base for ``serve`` and its commands.
    """

    def __init__(
        self,
        directory: Path,
        root_domain: str,
        ca_file: Path | None,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        self.directory = directory
        self.root_domain = root_domain
        self.db_path = directory / "datastreams.db"
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.keys: Keys | None = None
        self.rss: RssSampler | None = None
        base = dict(environment) if environment is not None else clean_environment()
        self._environment = {
            **base,
            **SERVICE_SETTINGS,
            "DATASTREAMS_DB": str(self.db_path),
            "DATASTREAMS_ALLOWED_ENDPOINT_NETWORKS": ALLOWED_NETWORKS,
            "DATASTREAMS_LOG_LEVEL": "WARNING",
        }
        if ca_file is not None:
            self._environment["DATASTREAMS_TLS_CA_FILE"] = str(ca_file)
        self._child = ChildProcess(
            "datastreams serve",
            python_command("datastreams", "serve", "--host", LOOPBACK, "--port", str(self.port)),
            directory / "serve.log",
        )
        self._http: httpx.Client | None = None

    @property
    def process(self) -> ChildProcess:
        return self._child

    def create_tenant(self) -> Keys:
        """Create the root domain and its admin and producer keys with the command line."""
        self._cli("domains", "add", self.root_domain, "--name", "Benchmark district")
        admin = self._cli_output("keys", "create", "--domain", self.root_domain, "--role", "admin")
        producer = self._cli_output(
            "keys", "create", "--domain", self.root_domain, "--role", "producer"
        )
        self.keys = Keys(admin=admin, producer=producer)
        return self.keys

    def start(self) -> None:
        """Start ``serve``, wait until ``/readyz`` returns 200, and start sampling its memory."""
        self._child.start(self._environment)
        self._http = httpx.Client(base_url=self.url, timeout=API_TIMEOUT_S)
        self._wait_until_ready()
        self.rss = RssSampler(self._child.pid)
        self.rss.start()

    def stop(self) -> int:
        """Stop the service; return its peak resident set size in bytes (0 if unknown)."""
        peak_bytes = self.rss.stop() if self.rss is not None else 0
        self._child.stop()
        if self._http is not None:
            self._http.close()
            self._http = None
        return peak_bytes

    def add_domains(self, domains: Sequence[tuple[str, str]]) -> None:
        """Create subdomains, given as (id, parent id) pairs with parents first."""
        for domain_id, parent_id in domains:
            self._api(
                "POST",
                "/api/v1/domains",
                {"id": domain_id, "name": f"Domain {domain_id}", "parentId": parent_id},
            )

    def add_stream(self, domain_id: str, body: dict[str, Any]) -> str:
        """Create a stream on ``domain_id`` and return its id."""
        created = self._api("POST", f"/api/v1/domains/{domain_id}/streams", body)
        return str(created["id"])

    def stream_status(self, domain_id: str, stream_id: str) -> dict[str, Any]:
        return self._api("GET", f"/api/v1/domains/{domain_id}/streams/{stream_id}/status")

    def _api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        assert self._http is not None and self.keys is not None
        response = self._http.request(
            method, path, json=body, headers={"Authorization": f"Bearer {self.keys.admin}"}
        )
        if response.status_code >= 300:
            raise HarnessError(
                f"{method} {path} failed with HTTP {response.status_code}: {response.text[:500]}"
            )
        return response.json()

    def _wait_until_ready(self) -> None:
        assert self._http is not None
        deadline = time.monotonic() + START_TIMEOUT_S

        while time.monotonic() < deadline:
            if not self._child.is_running():
                raise HarnessError(f"datastreams serve exited early; {self._child.log_tail()}")
            try:
                if self._http.get("/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)

        raise HarnessError(f"datastreams serve was not ready within {START_TIMEOUT_S:g} s")

    def _cli(self, *args: str) -> None:
        run_to_completion(
            f"datastreams {args[0]} {args[1]}",
            python_command("datastreams", *args),
            self._environment,
            self.directory / "cli.log",
            CLI_TIMEOUT_S,
        )

    def _cli_output(self, *args: str) -> str:
        # The key is the only line the command prints, so it goes to a file of its own.
        output_path = self.directory / "cli-output.txt"
        output_path.unlink(missing_ok=True)
        child = ChildProcess(
            f"datastreams {args[0]} {args[1]}",
            python_command("datastreams", *args),
            output_path,
        )
        child.start(self._environment)
        exit_code = child.wait(CLI_TIMEOUT_S)
        output = output_path.read_text(encoding="utf-8").strip()
        if exit_code != 0 or not output:
            raise HarnessError(f"datastreams {' '.join(args)} exited with {exit_code}: {output}")
        return output.splitlines()[-1]
