"""The ingest parse workers of ``serve`` end with it, even when it is killed."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from service_process import bearer, create_tenants, event, start_server

pytestmark = pytest.mark.integration

EXIT_WAIT_S = 10.0


def _children(pid: int) -> list[int]:
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The parent pid is the second field after the command in parentheses.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            children.append(int(entry))
    return children


def _is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _parse_workers(pid: int) -> list[int]:
    return [
        child
        for child in _children(pid)
        if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
    ]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_worker_exits_after_sigkill(tmp_path: Path) -> None:
    db = tmp_path / "workers.db"
    tenants = create_tenants(db)
    server = start_server(db, env={"DATASTREAMS_INGEST_WORKERS": "1"})
    try:
        # The pool starts its worker with the first request it parses.
        response = httpx.post(
            f"{server.url}/api/v1/events",
            json=event(),
            headers=bearer(tenants.acme_producer),
            timeout=30,
        )
        assert response.status_code == 202
        workers = _parse_workers(server.process.pid)
        assert len(workers) == 1

        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=EXIT_WAIT_S)

        deadline = time.monotonic() + EXIT_WAIT_S
        while _is_running(workers[0]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _is_running(workers[0])
    finally:
        server.stop()
