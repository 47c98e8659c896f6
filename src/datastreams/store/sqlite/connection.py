"""Opening SQLite connections with the store's settings, and mapping their errors."""

from __future__ import annotations

import queue
import sqlite3
import threading

from datastreams.errors import Conflict, DataStreamsError, StoreError

# How long a statement waits for a lock held by another connection before it fails.
# The command line works on the same file as a running service, so both wait
# rather than fail at once when their writes meet.
BUSY_TIMEOUT_MS = 5000


def connect(path: str, *, read_only: bool = False) -> sqlite3.Connection:
    """Open a connection to ``path`` in autocommit mode, with the store's PRAGMAs set.

    Callers issue ``BEGIN IMMEDIATE``/``COMMIT`` themselves. ``synchronous=FULL``
    makes every commit sync the write-ahead log, so a commit survives a power loss.
    A read-only connection may be used by several threads in turn, never at once.
    """
    connection = sqlite3.connect(
        path,
        timeout=BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,
        check_same_thread=not read_only,
    )
    try:
        connection.row_factory = sqlite3.Row
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        connection.execute("PRAGMA synchronous = FULL")
        connection.execute("PRAGMA foreign_keys = ON")
        if read_only:
            connection.execute("PRAGMA query_only = ON")
    except BaseException:
        connection.close()
        raise
    return connection


def enable_wal(connection: sqlite3.Connection) -> None:
    """Switch the database file to write-ahead logging, which lets readers run beside the writer.

    The mode is stored in the file, so it holds for every later connection.
    """
    mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise StoreError(f"could not switch the database to WAL mode (journal_mode is {mode!r})")


def translate_error(exc: sqlite3.Error) -> DataStreamsError:
    """Return the ``datastreams.errors`` exception for an error raised by ``sqlite3``.

    Callers raise the result ``from exc``. Constraint failures become ``Conflict``.
    The store checks the expected conflicts first to give a precise message, so a
    constraint failure that reaches this point is a race or a bug. Everything else is
    a retriable ``StoreError``.
    """
    if isinstance(exc, sqlite3.IntegrityError):
        return Conflict(f"the change conflicts with stored data: {exc}")
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return StoreError(
            f"the database is locked by another connection "
            f"(waited {BUSY_TIMEOUT_MS} ms): {exc}; try again"
        )
    return StoreError(f"the database operation failed: {exc}")


class ReadPool:
    """Read-only connections reused by short reads on worker threads.

    A read takes an idle connection or opens a new one, so the pool grows to the
    number of reads that ran at the same time (at most the thread pool's size).
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._idle: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False

    def acquire(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError("the store is closed; open it before reading")
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            return connect(self._path, read_only=True)

    def release(self, connection: sqlite3.Connection) -> None:
        with self._lock:
            if not self._closed:
                self._idle.put(connection)
                return
        connection.close()

    def close(self) -> None:
        """Close the idle connections now and the others when they are released."""
        with self._lock:
            self._closed = True
        while True:
            try:
                connection = self._idle.get_nowait()
            except queue.Empty:
                return
            connection.close()
