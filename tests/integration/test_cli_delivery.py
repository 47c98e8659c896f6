"""The delivery commands of the real command line in subprocesses.

``streams test``, ``status``, ``attempts``, ``stats`` and ``signing-secret``,
``dead-letters``, ``replay`` and ``receiver``. Streams live in domains of their own,
so no other test's events reach them; HTTPS endpoints are on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import re
import shutil
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from service_process import (
    clean_environment,
    event,
    firehose_stream,
    run_cli,
    run_cli_ok,
    start_server,
)

from datastreams.receiver import Receiver

pytestmark = pytest.mark.integration

SECRET_LINE = re.compile(r"whsec_[A-Za-z0-9+/]+=*\n")
RECEIVER_URL_LINE = re.compile(r"Receiving on (https://127\.0\.0\.1:(\d+)/)")
# A port where nothing listens on 127.0.0.1, so connections are refused.
CLOSED_ENDPOINT = "https://127.0.0.1:9/"
PROBE_EVENT_TYPE = "ValidateDataStreamConfiguration"
LINE_TIMEOUT_S = 10.0
DEAD_LETTER_TIMEOUT_S = 20.0

# The events of the dead letter database: two in May 2024, one in June.
MAY_TIMES = ("2024-05-01T12:00:00.1234567Z", "2024-05-20T08:30:00Z")
JUNE_TIME = "2024-06-01T09:00:00Z"
MAY_FROM = "2024-05-01T00:00:00Z"
EVENT_TYPE = "UserEntityCreated"
MAY_TO = "2024-06-01T00:00:00Z"


def unique_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def https_body(endpoint: str, **members: Any) -> dict[str, Any]:
    """Return the body of a disabled HTTPS stream, so no running service delivers to it."""
    body: dict[str, Any] = {
        "type": "https",
        "name": unique_id("receiver"),
        "description": "Command line delivery test",
        "enabled": False,
        "https": {"endpoints": [endpoint], "method": "POST", "timeoutSeconds": 5},
    }
    body.update(members)
    return body


def add_stream(db: Path, domain_id: str, body: dict[str, Any], tmp_path: Path) -> str:
    path = tmp_path / f"{uuid.uuid4().hex}.json"
    path.write_bytes(orjson.dumps(body))
    return run_cli_ok("streams", "add", "--domain", domain_id, "--file", str(path), db=db).strip()


@pytest.fixture(scope="module")
def domain(session_db: Path) -> str:
    """A root domain of this module in the session database."""
    domain_id = unique_id("cli-delivery")
    run_cli_ok("domains", "add", domain_id, "--name", "CLI delivery", db=session_db)
    return domain_id


@pytest.fixture
def closed_stream(session_db: Path, domain: str, tmp_path: Path) -> str:
    """A new HTTPS stream whose endpoint refuses connections."""
    return add_stream(session_db, domain, https_body(CLOSED_ENDPOINT), tmp_path)


@pytest.fixture
def receiver_ca_file(receiver: Receiver, tmp_path: Path) -> Path:
    path = tmp_path / "receiver-ca.pem"
    path.write_bytes(receiver.ca_pem())
    return path


# streams status, attempts, stats -------------------------------------------------------


def test_status_fresh_stream_json(session_db: Path, domain: str, closed_stream: str) -> None:
    status = orjson.loads(
        run_cli_ok("streams", "status", "--domain", domain, closed_stream, "--json", db=session_db)
    )

    assert status["state"] == "disabled"
    assert status["queueDepth"] == 0
    assert status["delivered"] == 0
    assert status["deadLetters"] == 0
    assert status["lastError"] is None


def test_status_fresh_stream_table(session_db: Path, domain: str, closed_stream: str) -> None:
    lines = run_cli_ok(
        "streams", "status", "--domain", domain, closed_stream, db=session_db
    ).splitlines()

    assert ["state", "disabled"] in [line.split() for line in lines]
    assert ["queueDepth", "0"] in [line.split() for line in lines]


def test_status_unknown_stream_exits_1(session_db: Path, domain: str) -> None:
    finished = run_cli("streams", "status", "--domain", domain, "no-such-stream", db=session_db)

    assert finished.returncode == 1
    assert "no-such-stream" in finished.stderr


def test_attempts_fresh_stream_empty(session_db: Path, domain: str, closed_stream: str) -> None:
    listed = orjson.loads(
        run_cli_ok(
            "streams", "attempts", "--domain", domain, closed_stream, "--json", db=session_db
        )
    )

    assert listed == {"items": [], "nextCursor": None}


def test_attempts_table_header(session_db: Path, domain: str, closed_stream: str) -> None:
    lines = run_cli_ok(
        "streams", "attempts", "--domain", domain, closed_stream, db=session_db
    ).splitlines()

    assert len(lines) == 1
    assert lines[0].split()[:3] == ["AT", "OUTCOME", "RECORDS"]


def test_attempts_limit_over_max_exits_1(session_db: Path, domain: str, closed_stream: str) -> None:
    finished = run_cli(
        "streams", "attempts", "--domain", domain, closed_stream, "--limit", "500", db=session_db
    )

    assert finished.returncode == 1
    assert "limit" in finished.stderr
    assert "500" in finished.stderr


def test_stats_one_item_per_minute(session_db: Path, domain: str, closed_stream: str) -> None:
    stats = orjson.loads(
        run_cli_ok(
            "streams",
            "stats",
            "--domain",
            domain,
            closed_stream,
            "--minutes",
            "5",
            "--json",
            db=session_db,
        )
    )

    assert stats["minutes"] == 5
    assert len(stats["items"]) == 5
    assert {(item["delivered"], item["failed"]) for item in stats["items"]} == {(0, 0)}


def test_stats_table_rows(session_db: Path, domain: str, closed_stream: str) -> None:
    lines = run_cli_ok(
        "streams", "stats", "--domain", domain, closed_stream, "--minutes", "3", db=session_db
    ).splitlines()

    assert lines[0].split() == ["MINUTE", "DELIVERED", "FAILED"]
    assert len(lines) == 4


def test_stats_minutes_over_max_exits_1(session_db: Path, domain: str, closed_stream: str) -> None:
    finished = run_cli(
        "streams", "stats", "--domain", domain, closed_stream, "--minutes", "5000", db=session_db
    )

    assert finished.returncode == 1
    assert "minutes" in finished.stderr
    assert "5000" in finished.stderr


# streams signing-secret -----------------------------------------------------------------


def test_signing_secret_prints_only_secret(
    session_db: Path, domain: str, closed_stream: str
) -> None:
    finished = run_cli(
        "streams", "signing-secret", "--domain", domain, closed_stream, db=session_db
    )

    assert finished.returncode == 0
    assert SECRET_LINE.fullmatch(finished.stdout)


def test_signing_secret_changes_each_call(
    session_db: Path, domain: str, closed_stream: str
) -> None:
    arguments = ("streams", "signing-secret", "--domain", domain, closed_stream)
    first = run_cli_ok(*arguments, db=session_db)
    second = run_cli_ok(*arguments, db=session_db)

    assert SECRET_LINE.fullmatch(second)
    assert first != second


def test_signing_secret_firehose_exits_1(session_db: Path, domain: str, tmp_path: Path) -> None:
    stream_id = add_stream(session_db, domain, firehose_stream(enabled=False), tmp_path)

    finished = run_cli("streams", "signing-secret", "--domain", domain, stream_id, db=session_db)

    assert finished.returncode == 1
    assert "type" in finished.stderr
    assert finished.stdout == ""


# streams test ---------------------------------------------------------------------------


async def test_probe_saved_stream_passes(
    session_db: Path, domain: str, receiver: Receiver, receiver_ca_file: Path, tmp_path: Path
) -> None:
    stream_id = await asyncio.to_thread(
        add_stream, session_db, domain, https_body(receiver.url), tmp_path
    )

    # The receiver responds on this event loop, so the command runs on a thread.
    finished = await asyncio.to_thread(
        run_cli,
        "streams",
        "test",
        "--domain",
        domain,
        stream_id,
        db=session_db,
        env={"DATASTREAMS_TLS_CA_FILE": str(receiver_ca_file)},
    )

    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.splitlines()[-1] == "passed"
    assert len(receiver.requests) == 1
    assert orjson.loads(receiver.requests[0].body)["type"] == PROBE_EVENT_TYPE


async def test_probe_file_passes_json(
    session_db: Path, domain: str, receiver: Receiver, receiver_ca_file: Path, tmp_path: Path
) -> None:
    body_file = tmp_path / "unsaved.json"
    body_file.write_bytes(orjson.dumps(https_body(receiver.url)))

    finished = await asyncio.to_thread(
        run_cli,
        "streams",
        "test",
        "--domain",
        domain,
        "--file",
        str(body_file),
        "--json",
        db=session_db,
        env={"DATASTREAMS_TLS_CA_FILE": str(receiver_ca_file)},
    )

    result = orjson.loads(finished.stdout)
    assert finished.returncode == 0
    assert result["passed"] is True
    assert result["steps"][0]["status"] == 200
    assert result["event"]["type"] == PROBE_EVENT_TYPE


async def test_probe_file_with_id_signs(
    session_db: Path, domain: str, receiver: Receiver, receiver_ca_file: Path, tmp_path: Path
) -> None:
    body = https_body(receiver.url)
    stream_id = await asyncio.to_thread(add_stream, session_db, domain, body, tmp_path)
    secret = await asyncio.to_thread(
        run_cli_ok, "streams", "signing-secret", "--domain", domain, stream_id, db=session_db
    )
    # Requests without a signature by this secret get 401.
    receiver.set_signing_secrets([secret.strip()])
    body_file = tmp_path / "saved.json"
    body_file.write_bytes(orjson.dumps({**body, "id": stream_id}))

    finished = await asyncio.to_thread(
        run_cli,
        "streams",
        "test",
        "--domain",
        domain,
        "--file",
        str(body_file),
        db=session_db,
        env={"DATASTREAMS_TLS_CA_FILE": str(receiver_ca_file)},
    )

    assert finished.returncode == 0, finished.stdout
    assert receiver.requests[0].signature_valid is True


async def test_probe_file_unsigned_fails(
    session_db: Path, domain: str, receiver: Receiver, receiver_ca_file: Path, tmp_path: Path
) -> None:
    receiver.set_signing_secrets(["whsec_" + "A" * 43 + "="])
    body_file = tmp_path / "unsigned.json"
    body_file.write_bytes(orjson.dumps(https_body(receiver.url)))

    finished = await asyncio.to_thread(
        run_cli,
        "streams",
        "test",
        "--domain",
        domain,
        "--file",
        str(body_file),
        db=session_db,
        env={"DATASTREAMS_TLS_CA_FILE": str(receiver_ca_file)},
    )

    assert finished.returncode == 1
    assert "http_401" in finished.stdout


def test_probe_closed_port_fails(session_db: Path, domain: str, closed_stream: str) -> None:
    finished = run_cli("streams", "test", "--domain", domain, closed_stream, db=session_db)

    assert finished.returncode == 1
    assert finished.stdout.splitlines()[-1] == "failed"
    assert "connection_error" in finished.stdout
    assert CLOSED_ENDPOINT in finished.stdout


def test_probe_without_ca_fails_tls(
    session_db: Path, domain: str, tmp_path: Path, receiver_process: ReceiverProcess
) -> None:
    stream_id = add_stream(session_db, domain, https_body(receiver_process.url), tmp_path)

    finished = run_cli("streams", "test", "--domain", domain, stream_id, db=session_db)

    assert finished.returncode == 1
    assert "tls_error" in finished.stdout


def test_probe_needs_stream_or_file(session_db: Path, domain: str) -> None:
    finished = run_cli("streams", "test", "--domain", domain, db=session_db)

    assert finished.returncode == 2
    assert "--file" in finished.stderr


# dead-letters and replay on a stream without dead letters ------------------------------


def test_dead_letters_list_empty_json(session_db: Path, domain: str, closed_stream: str) -> None:
    listed = orjson.loads(
        run_cli_ok(
            "dead-letters",
            "list",
            "--domain",
            domain,
            "--stream",
            closed_stream,
            "--json",
            db=session_db,
        )
    )

    assert listed == {"items": [], "nextCursor": None}


def test_dead_letters_list_empty_table(session_db: Path, domain: str, closed_stream: str) -> None:
    lines = run_cli_ok(
        "dead-letters", "list", "--domain", domain, "--stream", closed_stream, db=session_db
    ).splitlines()

    assert lines == ["ID  TIME  TYPE  DOMAIN  ATTEMPTS  DEAD_AT  ERROR"]


def test_redrive_all_empty_queues_none(session_db: Path, domain: str, closed_stream: str) -> None:
    printed = run_cli_ok(
        "dead-letters",
        "redrive",
        "--domain",
        domain,
        "--stream",
        closed_stream,
        "--all",
        db=session_db,
    )

    assert printed == "queued 0\n"


def test_redrive_without_selection_exits_2(
    session_db: Path, domain: str, closed_stream: str
) -> None:
    finished = run_cli(
        "dead-letters", "redrive", "--domain", domain, "--stream", closed_stream, db=session_db
    )

    assert finished.returncode == 2
    assert "--all" in finished.stderr


def test_delete_two_selections_exits_2(session_db: Path, domain: str, closed_stream: str) -> None:
    finished = run_cli(
        "dead-letters",
        "delete",
        "--domain",
        domain,
        "--stream",
        closed_stream,
        "--all",
        "--id",
        "1",
        db=session_db,
    )

    assert finished.returncode == 2


def test_delete_from_without_to_exits_2(session_db: Path, domain: str, closed_stream: str) -> None:
    finished = run_cli(
        "dead-letters",
        "delete",
        "--domain",
        domain,
        "--stream",
        closed_stream,
        "--from",
        MAY_FROM,
        db=session_db,
    )

    assert finished.returncode == 2
    assert "--to" in finished.stderr


def test_replay_from_after_to_exits_1(session_db: Path, domain: str, closed_stream: str) -> None:
    finished = run_cli(
        "replay",
        "--domain",
        domain,
        "--stream",
        closed_stream,
        "--from",
        MAY_TO,
        "--to",
        MAY_FROM,
        db=session_db,
    )

    assert finished.returncode == 1
    assert finished.stderr.startswith("Error: to:")
    assert MAY_FROM in finished.stderr


def test_replay_invalid_time_exits_1(session_db: Path, domain: str, closed_stream: str) -> None:
    finished = run_cli(
        "replay",
        "--domain",
        domain,
        "--stream",
        closed_stream,
        "--from",
        "yesterday",
        "--to",
        MAY_TO,
        db=session_db,
    )

    assert finished.returncode == 1
    assert '"yesterday"' in finished.stderr


# dead-letters and replay on stored events ---------------------------------------------


@dataclass(frozen=True)
class DeadLetterDatabase:
    """A database whose stream has a dead letter for each of three published events."""

    db: Path
    domain_id: str
    stream_id: str


@pytest.fixture(scope="module")
def dead_letter_template(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[DeadLetterDatabase]:
    """Publish three events through a real service to a receiver that responds with 400."""
    folder = tmp_path_factory.mktemp("dead-letters")
    db = folder / "datastreams.db"
    domain_id = "school"
    run_cli_ok("domains", "add", domain_id, "--name", "School", db=db)
    producer_key = run_cli_ok(
        "keys", "create", "--domain", domain_id, "--role", "producer", db=db
    ).strip()

    # 400 is a permanent error, so each event becomes a dead letter at its first attempt.
    with start_receiver(
        tmp_path_factory.mktemp("receiver"), "--respond", "400", "--quiet"
    ) as receiver:
        # The filter keeps the stream's own configuration event out of its queue.
        body = https_body(receiver.url, enabled=True, filters=[{"eventType": EVENT_TYPE}])
        stream_id = add_stream(db, domain_id, body, tmp_path_factory.mktemp("body"))
        server = start_server(db, env={"DATASTREAMS_TLS_CA_FILE": str(receiver.ca_file)})
        try:
            events_file = folder / "events.ndjson"
            times = (*MAY_TIMES, JUNE_TIME)
            events_file.write_bytes(
                b"".join(
                    orjson.dumps(event(domain_id, time=at, type=EVENT_TYPE)) + b"\n" for at in times
                )
            )
            run_cli_ok(
                "publish", str(events_file), "--url", server.url, "--api-key", producer_key, db=db
            )
            wait_for_dead_letters(db, domain_id, stream_id, count=len(times))
        finally:
            server.stop()

    yield DeadLetterDatabase(db, domain_id, stream_id)


@pytest.fixture
def dead_letter_db(dead_letter_template: DeadLetterDatabase, tmp_path: Path) -> DeadLetterDatabase:
    """A copy of the template, so each test changes dead letters of its own."""
    folder = tmp_path / "copy"
    shutil.copytree(dead_letter_template.db.parent, folder)
    return DeadLetterDatabase(
        folder / dead_letter_template.db.name,
        dead_letter_template.domain_id,
        dead_letter_template.stream_id,
    )


def list_dead_letters(db: Path, domain_id: str, stream_id: str) -> list[dict[str, Any]]:
    listed = run_cli_ok(
        "dead-letters", "list", "--domain", domain_id, "--stream", stream_id, "--json", db=db
    )
    items: list[dict[str, Any]] = orjson.loads(listed)["items"]
    return items


def wait_for_dead_letters(db: Path, domain_id: str, stream_id: str, *, count: int) -> None:
    deadline = time.monotonic() + DEAD_LETTER_TIMEOUT_S
    while time.monotonic() < deadline:
        if len(list_dead_letters(db, domain_id, stream_id)) >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"fewer than {count} dead letters after {DEAD_LETTER_TIMEOUT_S} s")


def selection_command(
    action: str, target: DeadLetterDatabase, *selection: str
) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "dead-letters",
        action,
        "--domain",
        target.domain_id,
        "--stream",
        target.stream_id,
        *selection,
        db=target.db,
    )


def test_dead_letters_list_items(dead_letter_db: DeadLetterDatabase) -> None:
    items = list_dead_letters(dead_letter_db.db, dead_letter_db.domain_id, dead_letter_db.stream_id)

    assert [item["time"] for item in items] == [
        "2024-05-01T12:00:00.1234567Z",
        "2024-05-20T08:30:00.0000000Z",
        "2024-06-01T09:00:00.0000000Z",
    ]
    assert items[0]["event"]["domainId"] == dead_letter_db.domain_id
    assert "400" in items[0]["error"]


def test_dead_letters_list_pages(dead_letter_db: DeadLetterDatabase) -> None:
    arguments = ("--domain", dead_letter_db.domain_id, "--stream", dead_letter_db.stream_id)
    first = orjson.loads(
        run_cli_ok(
            "dead-letters", "list", *arguments, "--limit", "2", "--json", db=dead_letter_db.db
        )
    )
    second = orjson.loads(
        run_cli_ok(
            "dead-letters",
            "list",
            *arguments,
            "--limit",
            "2",
            "--cursor",
            first["nextCursor"],
            "--json",
            db=dead_letter_db.db,
        )
    )

    assert len(first["items"]) == 2
    assert [item["time"] for item in second["items"]] == [JUNE_TIME.replace("Z", ".0000000Z")]
    assert second["nextCursor"] is None


def test_dead_letters_table_notes_more(dead_letter_db: DeadLetterDatabase) -> None:
    finished = selection_command("list", dead_letter_db, "--limit", "1")

    assert finished.returncode == 0
    assert len(finished.stdout.splitlines()) == 2
    assert "--cursor" in finished.stderr


def test_redrive_by_id(dead_letter_db: DeadLetterDatabase) -> None:
    items = list_dead_letters(dead_letter_db.db, dead_letter_db.domain_id, dead_letter_db.stream_id)

    finished = selection_command("redrive", dead_letter_db, "--id", str(items[0]["id"]))
    remaining = list_dead_letters(
        dead_letter_db.db, dead_letter_db.domain_id, dead_letter_db.stream_id
    )

    assert finished.stdout == "queued 1\n"
    assert [item["id"] for item in remaining] == [item["id"] for item in items[1:]]


def test_redrive_by_time_range(dead_letter_db: DeadLetterDatabase) -> None:
    finished = selection_command("redrive", dead_letter_db, "--from", MAY_FROM, "--to", MAY_TO)

    assert finished.stdout == "queued 2\n"


def test_delete_all(dead_letter_db: DeadLetterDatabase) -> None:
    finished = selection_command("delete", dead_letter_db, "--all")
    remaining = list_dead_letters(
        dead_letter_db.db, dead_letter_db.domain_id, dead_letter_db.stream_id
    )

    assert finished.stdout == "deleted 3\n"
    assert remaining == []


def test_replay_counts_stored_events(dead_letter_db: DeadLetterDatabase) -> None:
    printed = run_cli_ok(
        "replay",
        "--domain",
        dead_letter_db.domain_id,
        "--stream",
        dead_letter_db.stream_id,
        "--from",
        MAY_FROM,
        "--to",
        MAY_TO,
        db=dead_letter_db.db,
    )

    assert printed == "queued 2\n"


def test_replay_queues_for_status(dead_letter_db: DeadLetterDatabase) -> None:
    run_cli_ok(
        "replay",
        "--domain",
        dead_letter_db.domain_id,
        "--stream",
        dead_letter_db.stream_id,
        "--from",
        "2024-01-01T00:00:00Z",
        "--to",
        "2025-01-01T00:00:00Z",
        db=dead_letter_db.db,
    )
    status = orjson.loads(
        run_cli_ok(
            "streams",
            "status",
            "--domain",
            dead_letter_db.domain_id,
            dead_letter_db.stream_id,
            "--json",
            db=dead_letter_db.db,
        )
    )

    assert status["queueDepth"] == 3
    assert status["deadLetters"] == 3


# receiver ---------------------------------------------------------------------------------


class ReceiverProcess:
    """A running ``datastreams receiver --port 0``, its output lines and the CA file it wrote."""

    def __init__(self, process: subprocess.Popen[str], ca_file: Path) -> None:
        self.process = process
        self.ca_file = ca_file
        self.url = ""
        self.port = 0
        # A thread reads standard output, so a test can wait for a line with a timeout
        # even when several lines arrived in one read.
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read_output, daemon=True)
        self._reader.start()

    def _read_output(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def read_line(self, timeout_s: float = LINE_TIMEOUT_S) -> str:
        """Return the next line of standard output, or fail the test after ``timeout_s``."""
        try:
            line = self._lines.get(timeout=timeout_s)
        except queue.Empty:
            raise AssertionError(f"no output from the receiver within {timeout_s} s") from None
        if line is None:
            raise AssertionError(f"the receiver exited with {self.process.poll()}")
        return line

    def client_ssl_context(self) -> ssl.SSLContext:
        """Return a client context that trusts the CA the receiver wrote."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def stop(self) -> int:
        """Stop the receiver with SIGTERM and return its exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=LINE_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=LINE_TIMEOUT_S)
        return self.process.returncode

    def close(self) -> None:
        """Stop the receiver and close its output once the reader has seen the end."""
        self.stop()
        self._reader.join(timeout=LINE_TIMEOUT_S)
        assert self.process.stdout is not None
        self.process.stdout.close()


@contextlib.contextmanager
def start_receiver(folder: Path, *args: str) -> Iterator[ReceiverProcess]:
    """Run ``datastreams receiver --port 0 --ca-out FOLDER/ca.pem ARGS`` while in ``with``."""
    ca_file = folder / "ca.pem"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "datastreams",
            "receiver",
            "--port",
            "0",
            "--ca-out",
            str(ca_file),
            *args,
        ],
        env=clean_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    running = ReceiverProcess(process, ca_file)
    try:
        first_line = running.read_line()
        match = RECEIVER_URL_LINE.fullmatch(first_line)
        assert match is not None, f"unexpected first line {first_line!r}"
        running.url = match[1]
        running.port = int(match[2])
        yield running
    finally:
        running.close()


@pytest.fixture
def receiver_process(tmp_path: Path) -> Iterator[ReceiverProcess]:
    with start_receiver(tmp_path, "--record", str(tmp_path / "requests.ndjson")) as running:
        yield running


def test_receiver_prints_real_port(receiver_process: ReceiverProcess) -> None:
    assert receiver_process.port != 0
    assert receiver_process.ca_file.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")


def test_receiver_prints_events(receiver_process: ReceiverProcess) -> None:
    with httpx.Client(verify=receiver_process.client_ssl_context()) as client:
        response = client.post(receiver_process.url, content=b'{"n":1}\n{"n":2}\n')

    assert response.status_code == 200
    assert receiver_process.read_line() == '200 {"n":1}'
    assert receiver_process.read_line() == '200 {"n":2}'


def test_receiver_records_requests(receiver_process: ReceiverProcess, tmp_path: Path) -> None:
    with httpx.Client(verify=receiver_process.client_ssl_context()) as client:
        client.post(receiver_process.url, content=b'{"n":1}')
        client.put(receiver_process.url, content=b'{"n":2}\n{"n":3}\n')
    exit_code = receiver_process.stop()

    records = [
        orjson.loads(line) for line in (tmp_path / "requests.ndjson").read_bytes().splitlines()
    ]
    assert exit_code == 0
    assert [record["method"] for record in records] == ["POST", "PUT"]
    assert records[1]["events"] == ['{"n":2}', '{"n":3}']
    assert {record["status"] for record in records} == {200}


def test_receiver_summary_on_stop(receiver_process: ReceiverProcess) -> None:
    with httpx.Client(verify=receiver_process.client_ssl_context()) as client:
        client.post(receiver_process.url, content=b'{"n":1}')
    receiver_process.read_line()
    receiver_process.stop()

    assert receiver_process.read_line() == "Stopped: requests 1, accepted events 1"


def test_receiver_quiet_prints_counts(tmp_path: Path) -> None:
    with start_receiver(tmp_path, "--quiet", "--respond", "503,200") as running:
        with httpx.Client(verify=running.client_ssl_context()) as client:
            statuses = [client.post(running.url, content=b'{"n":1}').status_code for _ in "ab"]
        # A count line may fall between the two requests, so read up to two lines.
        counts = running.read_line()
        if counts != "requests 2, accepted events 1":
            counts = running.read_line()

    assert statuses == [503, 200]
    assert counts == "requests 2, accepted events 1"


def test_receiver_bad_respond_exits_2() -> None:
    finished = run_cli("receiver", "--port", "0", "--respond", "200,abc")

    assert finished.returncode == 2
    assert "--respond" in finished.stderr
    assert "'200,abc'" in finished.stderr


def test_receiver_bad_secret_hidden(tmp_path: Path) -> None:
    finished = run_cli("receiver", "--port", "0", "--secret", "whsec_not*base64")

    assert finished.returncode == 2
    assert "--secret" in finished.stderr
    assert "not*base64" not in finished.stderr


def test_receiver_port_in_use_exits_1(receiver_process: ReceiverProcess) -> None:
    finished = run_cli("receiver", "--port", str(receiver_process.port))

    assert finished.returncode == 1
    assert "failed to start" in finished.stderr
