"""The raw SQLite baseline: the service's event rows written with plain ``sqlite3``.

The database is made by the service's own command line, so it has the service's
tables and indexes. The rows are the ones ``datastreams serve`` would insert for
the same events (seq, guid, domain, type, time, received time, canonical line), built
before the clock starts. They are written with ``executemany``, 500 rows a
transaction, in WAL mode with ``synchronous=FULL`` as the service runs.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.harness.events import domain_of, event_time, guid_of, type_of, typical_line
from bench.harness.processes import clean_environment, python_command, run_to_completion

ROWS_PER_TRANSACTION = 500
RECEIVED_AT = "2024-09-12T12:00:00.0000000Z"
CLI_TIMEOUT_S = 60.0

# The same statement as the service's insert, including its guid conflict clause.
INSERT_EVENT = (
    "INSERT INTO events (seq, guid, domain_id, type, time, received_at, line) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (guid) DO NOTHING"
)


@dataclass(frozen=True, slots=True)
class SqliteRun:
    """One timed baseline run (Unix times in seconds)."""

    started_at: float
    finished_at: float
    rows: int

    @property
    def seconds(self) -> float:
        return self.finished_at - self.started_at


def create_database(directory: Path, root_domain: str) -> Path:
    """Create an empty service database with the service's own command line."""
    db_path = directory / "baseline.db"
    run_to_completion(
        "datastreams domains add",
        python_command("datastreams", "domains", "add", root_domain, "--name", "Baseline"),
        clean_environment(DATASTREAMS_DB=str(db_path)),
        directory / "baseline-cli.log",
        CLI_TIMEOUT_S,
    )
    return db_path


def event_rows(
    run_tag: int, count: int, domains: Sequence[str]
) -> list[tuple[int, str, str, str, str, str, bytes]]:
    """Return the events table rows of ``count`` typical events, seq numbers from 1."""
    return [
        (
            index + 1,
            guid_of(run_tag, index),
            domain_of(index, domains),
            type_of(index),
            event_time(index),
            RECEIVED_AT,
            typical_line(run_tag, index, domains),
        )
        for index in range(count)
    ]


def write_rows(db_path: Path, rows: Sequence[tuple[object, ...]]) -> SqliteRun:
    """Write ``rows`` into the events table, timed, and return the run."""
    connection = sqlite3.connect(db_path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = FULL")

        started_at = time.time()
        for start in range(0, len(rows), ROWS_PER_TRANSACTION):
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(INSERT_EVENT, rows[start : start + ROWS_PER_TRANSACTION])
            connection.execute("COMMIT")
        finished_at = time.time()

        stored = connection.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        connection.close()
    return SqliteRun(started_at, finished_at, int(stored))
