"""kinesis-local, a Kinesis emulator independent of moto, on 127.0.0.1 for the Kinesis sink's tests.

kinesis-local is the npm build of kinesis-mock (Scala.js, run by Node.js).
``scripts/install-kinesis-local.sh`` installs it into ``.cache/kinesis-local/``.
``ensure_installed`` runs that script when the package is missing, and
``require_kinesis_local`` turns a failed install into a test failure in CI and a skip
elsewhere. ``running_kinesis_local`` starts the emulator in a subprocess and stops it.

What kinesis-local 0.6.2 does differently from AWS, from its README and from running it:

- It listens on every interface and has no setting for the address, so the process
  starts through ``LOOPBACK_PRELOAD``, which binds its servers to 127.0.0.1.
- It serves one default account, ``AWS_ACCOUNT_ID``, to every request whose access
  key id is not a 12-digit account id. The credentials from moto's AssumeRole are not,
  so the emulator runs with the customer's account as its default.
- DescribeStreamSummary returns no ``MaxRecordSizeInKiB``.
- PutRecords accepts more than 500 records per call, records over 1 MiB and calls over
  5 MiB: tests of those limits must check the requests, not the emulator's response.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from aws_moto import CUSTOMER_ACCOUNT, REGION
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

# Keep in step with VERSION in scripts/install-kinesis-local.sh.
KINESIS_LOCAL_VERSION = "0.6.2"

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "install-kinesis-local.sh"
PACKAGE_DIR = REPO_ROOT / ".cache" / "kinesis-local" / "node_modules" / "kinesis-local"

INSTALL_TIMEOUT_S = 300.0
# kinesis-local accepted calls 0.7 to 3 s after its start on a 2-core machine (measured).
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 5.0
STREAM_ACTIVE_TIMEOUT_S = 10.0
POLL_INTERVAL_S = 0.1

# The state column of ``/proc/net/tcp`` for a listening socket.
TCP_LISTEN = "0A"

# Bounds the GetRecords calls per shard when reading a stream back.
MAX_READS_PER_SHARD = 100

# Node.js code run before kinesis-local's main.js (``node -e``). kinesis-local calls
# ``server.listen(port, callback)`` for its wildcard address, or
# ``server.listen(port, host, callback)``, so the host argument is set or replaced.
LOOPBACK_PRELOAD = """
const net = require("node:net");
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === "number") {
    if (typeof args[1] === "string") {
      args[1] = "127.0.0.1";
    } else {
      args.splice(1, 0, "127.0.0.1");
    }
  }
  return listen.apply(this, args);
};
require(process.argv[1]);
"""


class KinesisLocalUnavailable(Exception):
    """Node.js, npm or the kinesis-local package is missing and cannot be installed."""


@dataclass
class KinesisLocal:
    """A running kinesis-local process and a client of the customer's account."""

    process: subprocess.Popen[bytes]
    endpoint: str
    # The HTTP port that ``endpoint`` names, then the HTTPS port that no test uses.
    ports: tuple[int, int]
    log_path: Path
    _client: Any = field(default=None, repr=False)

    def client(self) -> Any:
        """Return a Kinesis client of the emulator's default account, the customer's."""
        if self._client is None:
            session = botocore.session.Session()
            self._client = session.create_client(
                "kinesis",
                region_name=REGION,
                endpoint_url=self.endpoint,
                config=Config(
                    connect_timeout=2, read_timeout=10, retries={"total_max_attempts": 1}
                ),
            )
        return self._client

    def create_stream(self, name: str, shards: int = 4) -> dict[str, Any]:
        """Create a stream, wait until it is ACTIVE and return its summary.

        kinesis-local keeps a new stream CREATING for ``CREATE_STREAM_DURATION`` (500 ms).
        """
        kinesis = self.client()
        kinesis.create_stream(StreamName=name, ShardCount=shards)

        deadline = time.monotonic() + STREAM_ACTIVE_TIMEOUT_S
        while True:
            summary: dict[str, Any] = kinesis.describe_stream_summary(StreamName=name)[
                "StreamDescriptionSummary"
            ]
            if summary["StreamStatus"] == "ACTIVE":
                return summary
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"stream {name} is still {summary['StreamStatus']} after "
                    f"{STREAM_ACTIVE_TIMEOUT_S} s"
                )
            time.sleep(POLL_INTERVAL_S)

    def stream_records(self, name: str) -> list[tuple[str, str, bytes]]:
        """Return ``(shard id, partition key, data)`` of every record, in order per shard."""
        kinesis = self.client()
        records: list[tuple[str, str, bytes]] = []

        for shard in kinesis.list_shards(StreamName=name)["Shards"]:
            shard_id = shard["ShardId"]
            iterator = kinesis.get_shard_iterator(
                StreamName=name, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]

            for _ in range(MAX_READS_PER_SHARD):
                response = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
                records.extend(
                    (shard_id, item["PartitionKey"], item["Data"]) for item in response["Records"]
                )
                iterator = response.get("NextShardIterator")
                if not response["Records"] or not iterator:
                    break
            else:
                raise AssertionError(
                    f"shard {shard_id} of {name} still had records after "
                    f"{MAX_READS_PER_SHARD} GetRecords calls"
                )
        return records

    def close(self) -> None:
        """Close the client's connections."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def log_tail(self, lines: int = 20) -> str:
        """Return the last lines of the emulator's output, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def ensure_installed() -> Path:
    """Return kinesis-local's ``main.js``, running the install script first if it is missing.

    Raises ``KinesisLocalUnavailable`` with the reason when Node.js is missing or the
    install fails.
    """
    if shutil.which("node") is None:
        raise KinesisLocalUnavailable(
            "'node' not found on PATH, and kinesis-local needs Node.js. Install Node.js and "
            "npm (Debian: apt-get install nodejs npm), then run scripts/install-kinesis-local.sh"
        )

    main_js = PACKAGE_DIR / "main.js"
    if main_js.is_file() and _installed_version() == KINESIS_LOCAL_VERSION:
        return main_js

    try:
        finished = subprocess.run(
            ["bash", str(INSTALL_SCRIPT)],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise KinesisLocalUnavailable(
            f"{INSTALL_SCRIPT.name} timed out after {INSTALL_TIMEOUT_S} s"
        ) from exc
    if finished.returncode != 0 or not main_js.is_file():
        raise KinesisLocalUnavailable(
            f"{INSTALL_SCRIPT.name} failed with exit status {finished.returncode}: "
            f"{finished.stderr.strip()[-2000:]}"
        )
    return main_js


def require_kinesis_local() -> Path:
    """Return kinesis-local's ``main.js``, or fail the test in CI and skip it elsewhere.

    CI must run these tests, so there a missing Node.js or a failed install is an error.
    """
    try:
        return ensure_installed()
    except KinesisLocalUnavailable as exc:
        message = f"kinesis-local is unavailable: {exc}"
        if os.environ.get("CI", "").lower() in {"true", "1"}:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def _installed_version() -> str | None:
    try:
        package = json.loads((PACKAGE_DIR / "package.json").read_text())
    except (OSError, ValueError):
        return None
    version = package.get("version")
    return str(version) if version is not None else None


def free_port() -> int:
    """Return a TCP port of 127.0.0.1 that was free a moment ago.

    kinesis-local takes its ports from variables and cannot report a port that the
    system chose, so another process could take the port between this call and the
    start. On a test machine that race is rare.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextlib.contextmanager
def running_kinesis_local(main_js: Path, workdir: Path) -> Iterator[KinesisLocal]:
    """Start kinesis-local's ``main_js`` on 127.0.0.1, in memory, in ``workdir``."""
    plain_port = free_port()
    tls_port = free_port()
    log_path = workdir / "kinesis-local.log"

    environment = {
        **os.environ,
        "KINESIS_MOCK_PLAIN_PORT": str(plain_port),
        # The HTTPS port is unused, but kinesis-local always opens it.
        "KINESIS_MOCK_TLS_PORT": str(tls_port),
        "KINESIS_MOCK_CERT_PATH": str(main_js.parent / "server.json"),
        "AWS_ACCOUNT_ID": CUSTOMER_ACCOUNT,
        "AWS_REGION": REGION,
        "SHOULD_PERSIST_DATA": "false",
        "LOAD_DATA_IF_EXISTS": "false",
        # Each test creates its own 4-shard stream, and the default limit of 50 open
        # shards would cap the module at 12 tests.
        "SHARD_LIMIT": "1000",
        "LOG_LEVEL": "WARN",
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["node", "-e", LOOPBACK_PRELOAD, str(main_js)],
            cwd=workdir,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    emulator = KinesisLocal(
        process, f"http://127.0.0.1:{plain_port}", (plain_port, tls_port), log_path
    )

    try:
        _wait_until_ready(emulator)
        yield emulator
    finally:
        emulator.close()
        _stop(process)


def listening_addresses(port: int) -> set[str]:
    """Return the local addresses with a TCP socket listening on ``port``, from ``/proc/net``.

    Reads the kernel's socket tables instead of connecting, so nothing is sent.
    """
    addresses: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local_address, state = line.split()[1], line.split()[3]
            address_hex, port_hex = local_address.split(":")
            if state == TCP_LISTEN and int(port_hex, 16) == port:
                addresses.add(_decode_address(address_hex))
    return addresses


def _decode_address(address_hex: str) -> str:
    # The kernel prints each 32-bit word of the address in the host's byte order.
    raw = b"".join(
        struct.pack("=I", int(address_hex[start : start + 8], 16))
        for start in range(0, len(address_hex), 8)
    )
    family = socket.AF_INET if len(raw) == 4 else socket.AF_INET6
    return socket.inet_ntop(family, raw)


def _wait_until_ready(emulator: KinesisLocal) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    last_error: Exception | None = None

    while time.monotonic() < deadline:
        if emulator.process.poll() is not None:
            raise RuntimeError(
                f"kinesis-local exited with status {emulator.process.returncode} during "
                f"start:\n{emulator.log_tail()}"
            )
        # NOTE: kinesis-local 0.6.2 ignored SIGTERM whenever botocore calls had been
        # refused during its start, for a reason not found. Plain connection attempts
        # left it stoppable, so the first call waits until the port accepts.
        try:
            with socket.create_connection(("127.0.0.1", emulator.ports[0]), timeout=1):
                pass
            emulator.client().list_streams(Limit=1)
            return
        except (OSError, BotoCoreError, ClientError) as exc:
            last_error = exc
        time.sleep(POLL_INTERVAL_S)

    raise RuntimeError(
        f"kinesis-local start timed out: no response at {emulator.endpoint} within "
        f"{START_TIMEOUT_S} s (last error: {last_error}):\n{emulator.log_tail()}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    # kinesis-local keeps its streams in memory only, so a kill loses nothing that a
    # clean stop would keep.
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)
