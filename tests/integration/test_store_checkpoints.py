"""The SQLite store copies its write-ahead log on the checkpoint thread, not in commits."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from test_store_contract import make_event

from datastreams.store.records import Domain
from datastreams.store.sqlite.checkpointer import Checkpointer
from datastreams.store.sqlite.connection import connect
from datastreams.store.sqlite.store import SQLiteStore

WAIT_S = 10.0


def _wait_for(condition: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


async def test_writer_commits_without_checkpoint(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "store.db"))
    await store.open()
    try:
        writer_autocheckpoint = await store._require_writer().run(
            lambda connection: connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        )
    finally:
        await store.close()

    assert writer_autocheckpoint == 0


async def test_appends_reach_database_file(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = SQLiteStore(str(path))
    await store.open()
    try:
        await store.create_domain(Domain("d1", "First"))
        size_before = path.stat().st_size
        for _ in range(20):
            await store.append_events([make_event("d1") for _ in range(100)])

        checkpointer = store._checkpointer
        assert checkpointer is not None
        # The thread copies the log after commits: every frame ends up in the file.
        _wait_for(
            lambda: (
                checkpointer.stats.checkpoints >= 1
                and checkpointer.stats.last_copied_frames == checkpointer.stats.last_log_frames
                and path.stat().st_size > size_before
            )
        )
        assert checkpointer.stats.failures == 0
    finally:
        await store.close()

    # Another connection reads every event once the store is closed.
    with sqlite3.connect(path) as reader:
        count = reader.execute("SELECT count(*) FROM events").fetchone()[0]
    assert count == 2000


def test_checkpoints_at_most_once_per_interval(tmp_path: Path) -> None:
    path = tmp_path / "plain.db"
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode = WAL")
        setup.execute("CREATE TABLE t (x)")

    checkpointer = Checkpointer(lambda: connect(str(path)), interval_s=5.0)
    checkpointer.start()
    try:
        writer = connect(str(path))
        for value in range(50):
            writer.execute("INSERT INTO t VALUES (?)", (value,))
            checkpointer.committed()
        _wait_for(lambda: checkpointer.stats.checkpoints >= 1)
        # Fifty commits within the interval take one or two checkpoints, not fifty.
        time.sleep(0.2)
        assert checkpointer.stats.checkpoints <= 2
        writer.close()
    finally:
        checkpointer.close()


def test_failed_open_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    def fail_to_open() -> sqlite3.Connection:
        raise sqlite3.OperationalError("unable to open database file")

    checkpointer = Checkpointer(fail_to_open)
    checkpointer.start()
    checkpointer.close()

    messages = [record.getMessage() for record in caplog.records]
    assert any("could not open the database" in message for message in messages)
