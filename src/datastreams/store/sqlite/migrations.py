"""Numbered schema migrations of the SQLite store.

Each file ``migrations/NNNN_description.sql`` is one migration. Pending files run
in version order, each in its own transaction together with its row in
``schema_migrations``. A failed migration therefore leaves no trace, and a second
process starting at the same time waits, then skips what the first one applied.

NOTE: ``PRAGMA foreign_keys`` cannot change inside a transaction and is on here, so
a later migration that rebuilds a referenced table (create, copy, drop, rename)
would cascade the drop to the referencing rows: it needs foreign keys turned off
around its transaction, which this runner does not do yet.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources

from datastreams.errors import StoreError

logger = logging.getLogger(__name__)

MIGRATIONS_PACKAGE = "datastreams.store.sqlite"
MIGRATIONS_FOLDER = "migrations"

_FILENAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")

# The same text as in schema.sql: the test comparing migrated and fresh schemas
# checks that they agree.
CREATE_SCHEMA_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file: its number, the rest of its name, and its SQL text."""

    version: int
    name: str
    sql: str

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"


def discover_migrations() -> list[Migration]:
    """Read the migration files shipped in the package, ordered by version.

    Raises ``StoreError`` for a file name that does not follow ``NNNN_name.sql`` or
    for two files with the same number, because either would be skipped or applied
    in the wrong order otherwise.
    """
    folder = resources.files(MIGRATIONS_PACKAGE).joinpath(MIGRATIONS_FOLDER)
    migrations: dict[int, Migration] = {}

    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue

        match = _FILENAME.match(entry.name)
        if match is None:
            raise StoreError(f"invalid migration file name {entry.name!r}: expected NNNN_name.sql")

        version = int(match["version"])
        if version in migrations:
            raise StoreError(f"two migration files have the number {version:04d}")
        migrations[version] = Migration(version, match["name"], entry.read_text("utf-8"))

    return [migrations[version] for version in sorted(migrations)]


def split_statements(sql: str) -> list[str]:
    """Split a migration script into single statements.

    ``sqlite3.complete_statement`` decides where a statement ends, so the semicolons
    inside a ``CREATE TRIGGER ... BEGIN ... END`` body do not split it.
    """
    statements: list[str] = []
    pending = ""

    for line in sql.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""

    if _strip_comments(pending).strip():
        raise StoreError(f"migration ends inside a statement: {pending.strip()[:80]!r}")
    return statements


def applied_versions(connection: sqlite3.Connection) -> set[int]:
    """Return the versions recorded in ``schema_migrations``."""
    rows = connection.execute("SELECT version FROM schema_migrations").fetchall()
    return {row[0] for row in rows}


def apply_migrations(
    connection: sqlite3.Connection,
    now: Callable[[], str],
    migrations: Sequence[Migration] | None = None,
) -> list[Migration]:
    """Apply the pending ``migrations`` (by default the shipped files) and return those applied.

    ``connection`` must be in autocommit mode. Raises ``StoreError`` when a migration
    fails (after rolling it back) or when the database has a version this program
    does not know, which means a newer release has migrated it.
    """
    if migrations is None:
        migrations = discover_migrations()

    try:
        connection.execute(CREATE_SCHEMA_MIGRATIONS)
        known = {migration.version for migration in migrations}
        unknown = applied_versions(connection) - known
    except sqlite3.Error as exc:
        raise StoreError(f"could not read the applied migrations: {exc}") from exc

    if unknown:
        raise StoreError(
            f"the database has schema version {max(unknown):04d}, newer than this program "
            f"supports ({max(known, default=0):04d}); upgrade datastreams"
        )

    applied: list[Migration] = []
    for migration in migrations:
        if _apply_one(connection, migration, now):
            applied.append(migration)
    return applied


def _apply_one(
    connection: sqlite3.Connection, migration: Migration, now: Callable[[], str]
) -> bool:
    statements = split_statements(migration.sql)

    try:
        # IMMEDIATE takes the write lock before the version check, so two processes
        # that open the same new file do not both apply the migration.
        connection.execute("BEGIN IMMEDIATE")
        if migration.version in applied_versions(connection):
            connection.execute("ROLLBACK")
            return False

        for statement in statements:
            connection.execute(statement)
        connection.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            (migration.version, migration.name, now()),
        )
        connection.execute("COMMIT")

    except sqlite3.Error as exc:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        logger.error(
            "Migration %s failed: %s",
            migration.label,
            exc,
            extra={"action": "migration_failed", "migration": migration.label},
        )
        raise StoreError(f"migration {migration.label} failed: {exc}") from exc

    logger.info(
        "Applied migration %s",
        migration.label,
        extra={"action": "migration_applied", "migration": migration.label},
    )
    return True


def _strip_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
