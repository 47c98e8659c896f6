"""Checkpoints of the write-ahead log on a thread of their own.

With SQLite's automatic checkpoint, the COMMIT that takes the log past 1,000 pages
also copies the log into the database file and syncs it, on the writer thread, while
every caller of the group waits. Measured alone, appending 200,000 typical events took
8.1 us per event with automatic checkpoints and 7.1 us with none, and the ingest
benchmark ran about 8% faster with this thread. So the writer's
connection turns the automatic checkpoint off, and this thread runs a ``PASSIVE``
checkpoint after commits, at most once per ``CHECKPOINT_INTERVAL_S``. A passive
checkpoint never blocks the writer: it copies the frames that no reader still needs,
and the rest at the next one.

Other connections (the command line, the read pool) keep the automatic checkpoint,
so the log is still copied when the service is not running.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

# Between checkpoints the log grows by this much of the write rate: at 50,000 events
# per second of about 600 bytes each with their indexes, some 30 MB.
CHECKPOINT_INTERVAL_S = 1.0

# How long close() waits for a checkpoint that is running.
CLOSE_TIMEOUT_S = 30.0


@dataclass(slots=True)
class CheckpointStats:
    """Counters of the checkpoint thread, for tests."""

    checkpoints: int = 0
    failures: int = 0
    # Frames of the log at the last checkpoint, and how many of them it copied.
    last_log_frames: int = 0
    last_copied_frames: int = 0


def disable_automatic_checkpoint(connection: sqlite3.Connection) -> None:
    """Turn off the automatic checkpoint of ``connection``; a ``Checkpointer`` does it instead."""
    connection.execute("PRAGMA wal_autocheckpoint = 0")


class Checkpointer:
    """Copies the write-ahead log into the database file after commits, on its own thread."""

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        *,
        interval_s: float = CHECKPOINT_INTERVAL_S,
    ) -> None:
        self.stats = CheckpointStats()
        self._connect = connect
        self._interval_s = interval_s
        self._committed = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name="datastreams-sqlite-checkpointer", daemon=True
        )
        self._thread.start()

    def committed(self) -> None:
        """Note that the writer committed; called on the writer thread after each commit."""
        self._committed.set()

    def close(self) -> None:
        """Stop the thread, waiting for a checkpoint that is running."""
        if self._thread is None:
            return
        self._stopping.set()
        self._committed.set()
        self._thread.join(CLOSE_TIMEOUT_S)
        self._thread = None

    def _run(self) -> None:
        try:
            connection = self._connect()
        except sqlite3.Error as exc:
            # The writer's own automatic checkpoint is off, so the log now grows until
            # the next start; the store still works.
            logger.error(
                "The checkpoint thread could not open the database: %s",
                exc,
                extra={"action": "checkpointer_failed"},
            )
            return

        try:
            while True:
                self._committed.wait()
                if self._stopping.is_set():
                    return
                self._committed.clear()
                self._checkpoint(connection)
                # Commits during the pause are covered by the next checkpoint.
                if self._stopping.wait(self._interval_s):
                    return
        finally:
            connection.close()

    def _checkpoint(self, connection: sqlite3.Connection) -> None:
        try:
            row = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:
            self.stats.failures += 1
            logger.warning(
                "Checkpoint of the write-ahead log failed, trying again after the next commit: %s",
                exc,
                extra={"action": "checkpoint_failed"},
            )
            return

        _, log_frames, copied_frames = row
        self.stats.checkpoints += 1
        self.stats.last_log_frames = log_frames
        self.stats.last_copied_frames = copied_frames
