"""The AWS stub process, the environment that points botocore at it, and its record file.

``AwsStubProcess`` runs ``bench.harness.aws_stub`` on 127.0.0.1. ``aws_environment``
is the environment of every process of an AWS run: dummy credentials, no shared
config files, no instance metadata, and ``AWS_ENDPOINT_URL`` at the stub, so botocore
sends nothing to AWS or to a metadata address. ``wait_for_stub_receipts`` polls the
stub's counts cheaply, and once they show that everything may have arrived, reads the
record file to find the first receipt of every guid, as for the HTTPS receivers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from bench.harness.aws_stub import COUNTS_PATH, destination_of, record_payloads
from bench.harness.processes import (
    LOOPBACK,
    ChildProcess,
    HarnessError,
    clean_environment,
    free_port,
    python_command,
)
from bench.harness.receiver import Receipts

REGION = "us-east-1"
START_TIMEOUT_S = 30.0
COUNTS_TIMEOUT_S = 10.0
WAIT_POLL_S = 0.25

# Static dummy credentials end botocore's credential chain before it would ask an
# instance or container metadata address; the disabled metadata is a second guard.
AWS_VARIABLES = {
    "AWS_ACCESS_KEY_ID": "benchmark",
    "AWS_SECRET_ACCESS_KEY": "benchmark",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


def aws_environment(endpoint_url: str) -> dict[str, str]:
    """Return a clean environment whose AWS settings all point at ``endpoint_url`` on loopback.

    Every inherited ``AWS_*`` variable is dropped, because a profile, a role or a
    per-service endpoint would send botocore elsewhere. Raises ``ValueError`` for an
    endpoint that is not on 127.0.0.1.
    """
    host = urlsplit(endpoint_url).hostname
    if host != LOOPBACK:
        raise ValueError(f"the AWS endpoint must be on {LOOPBACK}, got {endpoint_url!r}")

    environment = {
        name: value for name, value in clean_environment().items() if not name.startswith("AWS_")
    }
    environment.update(AWS_VARIABLES)
    environment["AWS_ENDPOINT_URL"] = endpoint_url
    return environment


class AwsStubProcess:
    """The stub on 127.0.0.1, recording every data call to ``record_path``."""

    def __init__(self, directory: Path, name: str = "aws-stub") -> None:
        self.name = name
        self.port = free_port()
        self.record_path = directory / f"{name}-record.ndjson"
        command = python_command(
            "bench.harness.aws_stub", "--port", str(self.port), "--record", str(self.record_path)
        )
        self._child = ChildProcess(name, command, directory / f"{name}.log")
        self._http: httpx.Client | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def environment(self) -> dict[str, str]:
        """The environment for every process that talks to the stub."""
        return aws_environment(self.url)

    @property
    def process(self) -> ChildProcess:
        return self._child

    def start(self) -> None:
        """Start the stub and wait until it accepts connections."""
        self._child.start(self.environment)
        self._child.wait_for_port(self.port, START_TIMEOUT_S)
        self._http = httpx.Client(base_url=self.url, timeout=COUNTS_TIMEOUT_S)

    def stop(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
        self._child.stop()

    def counts(self) -> dict[str, int]:
        """Return the records received so far per destination (``service/name``)."""
        if self._http is None:
            raise HarnessError(f"{self.name} has not been started")
        try:
            response = self._http.get(COUNTS_PATH)
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise HarnessError(f"reading the counts of {self.name} failed: {error}") from error
        counts: dict[str, dict[str, float]] = response.json()
        return {destination: int(count["records"]) for destination, count in counts.items()}


def read_stub_receipts(path: Path, expected: Mapping[str, frozenset[str]]) -> dict[str, Receipts]:
    """Read the stub's record file; return the receipts of each expected destination.

    Records of other guids are counted as ``other_events``; calls to destinations
    that ``expected`` does not name are left out.
    """
    receipts = {destination: Receipts() for destination in expected}
    if not path.exists():
        return receipts

    with path.open("rb") as record_file:
        for line in record_file:
            if not line.strip():
                continue
            call = orjson.loads(line)
            target, body = call["target"], call["body"]
            destination = destination_of(target, body)
            if destination not in receipts:
                continue
            received_at = float(call["receivedAt"])
            _add_call(receipts[destination], expected[destination], target, body, received_at)
    return receipts


def _add_call(
    receipts: Receipts,
    guids: frozenset[str],
    target: str,
    body: dict[str, Any],
    received_at: float,
) -> None:
    # The stub accepts every record, so every call counts as a 2xx request.
    receipts.requests += 1
    first_receipt = receipts.first_receipt

    for payload in record_payloads(target, body):
        guid = orjson.loads(payload)["guid"]
        if guid not in guids:
            receipts.other_events += 1
            continue
        receipts.events += 1
        if guid not in first_receipt:
            first_receipt[guid] = received_at


def wait_for_stub_receipts(
    stub: AwsStubProcess,
    expected: Mapping[str, frozenset[str]],
    *,
    timeout_s: float,
    is_alive: Iterable[ChildProcess] = (),
) -> dict[str, Receipts]:
    """Wait until every destination received each of its expected guids, or ``timeout_s`` passes.

    The counts come from the stub's memory and cost little, so they are polled every
    quarter second. The record file is read only when every count has reached its
    expected number and changed since the last read. A count can reach it early,
    because at-least-once delivery can repeat records.
    """
    deadline = time.monotonic() + timeout_s
    checked_at_counts: dict[str, int] | None = None

    while True:
        counts = stub.counts()
        arrived = all(counts.get(name, 0) >= len(guids) for name, guids in expected.items())
        if arrived and counts != checked_at_counts:
            checked_at_counts = counts
            receipts = read_stub_receipts(stub.record_path, expected)
            if _all_received(receipts, expected):
                return receipts

        for process in (stub.process, *is_alive):
            if not process.is_running():
                raise HarnessError(f"{process.name} exited during the run; {process.log_tail()}")
        if time.monotonic() >= deadline:
            return read_stub_receipts(stub.record_path, expected)
        time.sleep(WAIT_POLL_S)


def _all_received(receipts: Mapping[str, Receipts], expected: Mapping[str, frozenset[str]]) -> bool:
    return all(len(receipts[name].first_receipt) == len(guids) for name, guids in expected.items())
