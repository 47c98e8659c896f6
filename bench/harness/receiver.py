"""The receiver process (``datastreams receiver``) and the reading of its record file.

The receiver appends one JSON line per request to its record file: ``receivedAt``
(Unix time in seconds, taken when the body has been read), ``method``, ``status`` and
``events`` (the event lines, as strings). ``RecordReader`` follows the file while a run
goes on and counts events cheaply. Once the count shows that everything may have
arrived, ``read_receipts`` finds the first receipt of every guid.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import trustme

from bench.harness.processes import (
    LOOPBACK,
    ChildProcess,
    HarnessError,
    clean_environment,
    free_port,
    python_command,
)

START_TIMEOUT_S = 30.0
WAIT_POLL_S = 0.25


@dataclass(frozen=True, slots=True)
class FixedCa:
    """A certificate authority kept in files, so receivers started later present it."""

    cert_path: Path
    key_path: Path

    @classmethod
    def create(cls, directory: Path) -> FixedCa:
        ca = trustme.CA()
        cert_path = directory / "fixed-ca.pem"
        key_path = directory / "fixed-ca-key.pem"
        cert_path.write_bytes(ca.cert_pem.bytes())
        key_path.write_bytes(ca.private_key_pem.bytes())
        key_path.chmod(0o600)
        return cls(cert_path, key_path)


class ReceiverProcess:
    """One receiver on 127.0.0.1, recording every request to ``record_path``.

    Without ``fixed_ca`` it runs ``datastreams receiver``, which makes a new CA at each
    start and writes it to ``ca_path``. With ``fixed_ca`` it runs the harness's own
    small receiver (``bench.harness.receiver_main``) presenting that CA, because a
    service started earlier with that CA file must trust a receiver started later.
    """

    def __init__(
        self,
        directory: Path,
        name: str,
        *,
        delay_ms: int = 0,
        port: int | None = None,
        fixed_ca: FixedCa | None = None,
    ) -> None:
        self.name = name
        self.port = port or free_port()
        self.record_path = directory / f"{name}-record.ndjson"
        self.ca_path = fixed_ca.cert_path if fixed_ca else directory / f"{name}-ca.pem"
        self.started_at: float | None = None

        if fixed_ca is None:
            command = python_command(
                "datastreams",
                "receiver",
                "--port",
                str(self.port),
                "--quiet",
                "--record",
                str(self.record_path),
                "--ca-out",
                str(self.ca_path),
                "--delay-ms",
                str(delay_ms),
            )
        else:
            command = python_command(
                "bench.harness.receiver_main",
                "--port",
                str(self.port),
                "--record",
                str(self.record_path),
                "--ca-cert",
                str(fixed_ca.cert_path),
                "--ca-key",
                str(fixed_ca.key_path),
                "--delay-ms",
                str(delay_ms),
            )
        self._child = ChildProcess(name, command, directory / f"{name}.log")

    @property
    def url(self) -> str:
        return f"https://{LOOPBACK}:{self.port}/"

    def start(self) -> None:
        """Start the receiver and wait until it accepts connections and its CA file exists."""
        self._child.start(clean_environment())
        deadline = time.monotonic() + START_TIMEOUT_S
        self._child.wait_for_port(self.port, START_TIMEOUT_S)

        # Under load the port can accept connections (another process may even hold it briefly)
        # before the receiver has written its CA file, so the file gets the same deadline.
        while not self.ca_path.exists():
            if time.monotonic() > deadline:
                raise HarnessError(f"{self.name} did not write its CA file {self.ca_path}")
            time.sleep(0.05)
        self.started_at = time.time()

    def stop(self) -> None:
        self._child.stop()


@dataclass(slots=True)
class Receipts:
    """Receipts of a set of expected guids, read from record files."""

    # guid -> receivedAt of its first receipt with a 2xx status
    first_receipt: dict[str, float] = field(default_factory=dict)
    # event lines of expected guids received with a 2xx status, repeats included
    events: int = 0
    # event lines of other guids, such as the events the service emits when a
    # stream is created
    other_events: int = 0
    requests: int = 0
    non_2xx_requests: int = 0

    @property
    def last_first_receipt(self) -> float | None:
        return max(self.first_receipt.values()) if self.first_receipt else None

    @property
    def repeats(self) -> int:
        """Return how many expected events arrived more than once (at-least-once delivery)."""
        return self.events - len(self.first_receipt)


class RecordReader:
    """Follows one receiver record file from its start."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.event_count = 0
        self._offset = 0
        self._partial = b""

    def count_new(self) -> int:
        """Read the lines appended since the last call; return the 2xx event count so far."""
        for record in self._new_records():
            if 200 <= record["status"] < 300:
                self.event_count += len(record["events"])
        return self.event_count

    def _new_records(self) -> Iterator[dict[str, Any]]:
        try:
            with self.path.open("rb") as record_file:
                record_file.seek(self._offset)
                chunk = record_file.read()
        except FileNotFoundError:
            return
        self._offset += len(chunk)

        data = self._partial + chunk
        lines = data.split(b"\n")
        # The receiver may be writing the last line right now; keep it for later.
        self._partial = lines.pop()
        for line in lines:
            if line:
                yield orjson.loads(line)


def read_receipts(paths: Iterable[Path], guid_filter: frozenset[str] | None = None) -> Receipts:
    """Read whole record files and return the first receipt of each guid.

    With ``guid_filter`` only those guids are kept, and the others are only counted.
    """
    receipts = Receipts()
    for path in paths:
        if not path.exists():
            continue
        with path.open("rb") as record_file:
            for line in record_file:
                if line.strip():
                    _add_request(receipts, orjson.loads(line), guid_filter)
    return receipts


def _add_request(
    receipts: Receipts, record: dict[str, Any], guid_filter: frozenset[str] | None
) -> None:
    receipts.requests += 1
    if not 200 <= record["status"] < 300:
        receipts.non_2xx_requests += 1
        return

    received_at = float(record["receivedAt"])
    events = record["events"]
    first_receipt = receipts.first_receipt
    for text in events:
        guid = orjson.loads(text)["guid"]
        if guid_filter is not None and guid not in guid_filter:
            receipts.other_events += 1
            continue
        receipts.events += 1
        if guid not in first_receipt:
            first_receipt[guid] = received_at


def wait_for_receipts(
    readers: list[RecordReader],
    expected_guids: frozenset[str],
    *,
    timeout_s: float,
    is_alive: Iterable[ChildProcess] = (),
) -> Receipts:
    """Wait until every expected guid was received once, or ``timeout_s`` passes.

    Counting new lines is cheap, so it runs every quarter second. The full read that
    checks each guid runs only when the count reaches the number expected. The count
    can reach it early, because at-least-once delivery can repeat events.
    """
    deadline = time.monotonic() + timeout_s
    paths = [reader.path for reader in readers]
    checked_at_count = -1

    while True:
        count = sum(reader.count_new() for reader in readers)
        if count >= len(expected_guids) and count != checked_at_count:
            checked_at_count = count
            receipts = read_receipts(paths, expected_guids)
            if len(receipts.first_receipt) == len(expected_guids):
                return receipts

        for process in is_alive:
            if not process.is_running():
                raise HarnessError(f"{process.name} exited during the run; {process.log_tail()}")
        if time.monotonic() >= deadline:
            return read_receipts(paths, expected_guids)
        time.sleep(WAIT_POLL_S)
