from __future__ import annotations

import logging
import re
import sqlite3
from importlib import resources
from pathlib import Path

import pytest

from datastreams.errors import StoreError
from datastreams.store.sqlite import SQLiteStore
from datastreams.store.sqlite.connection import connect
from datastreams.store.sqlite.migrations import (
    Migration,
    apply_migrations,
    discover_migrations,
    split_statements,
)

FIXED_TIME = "2024-01-01T00:00:00.0000000Z"


def fixed_now() -> str:
    return FIXED_TIME


def normalise_sql(sql: str | None) -> str:
    # sqlite_master keeps the text as written, comments included.
    if sql is None:
        return ""
    without_comments = re.sub(r"--[^\n]*", "", sql)
    return " ".join(without_comments.split())


def schema_of(path: Path) -> list[tuple[str, str, str, str]]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    return sorted((kind, name, table, normalise_sql(sql)) for kind, name, table, sql in rows)


def schema_file_text() -> str:
    return resources.files("datastreams.store.sqlite").joinpath("schema.sql").read_text("utf-8")


async def migrate(path: Path) -> None:
    store = SQLiteStore(str(path), now=fixed_now)
    await store.open()
    await store.close()


async def test_migrations_equal_schema_file(tmp_path: Path) -> None:
    migrated = tmp_path / "migrated.db"
    fresh = tmp_path / "fresh.db"
    await migrate(migrated)
    with sqlite3.connect(fresh) as connection:
        connection.executescript(schema_file_text())

    assert schema_of(migrated) == schema_of(fresh)


async def test_migrations_recorded(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    await migrate(path)

    with sqlite3.connect(path) as connection:
        rows = connection.execute(
            "SELECT version, name, applied_at FROM schema_migrations"
        ).fetchall()

    expected = [
        (migration.version, migration.name, FIXED_TIME) for migration in discover_migrations()
    ]
    assert sorted(rows) == expected


async def test_open_creates_config_epoch_row(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    await migrate(path)

    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT id, epoch FROM config_epoch").fetchall()

    assert rows == [(1, 0)]


async def test_reopen_applies_nothing(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    await migrate(path)

    connection = connect(str(path))
    try:
        applied = apply_migrations(connection, fixed_now)
    finally:
        connection.close()

    assert applied == []


async def test_migration_logs_applied(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="datastreams.store.sqlite.migrations")

    await migrate(tmp_path / "store.db")

    actions = [getattr(record, "action", None) for record in caplog.records]
    assert actions.count("migration_applied") == len(discover_migrations())


def test_failed_migration_rolls_back(tmp_path: Path) -> None:
    good = Migration(1, "good", "CREATE TABLE kept (id INTEGER PRIMARY KEY);")
    bad = Migration(
        2,
        "bad",
        "CREATE TABLE half_done (id INTEGER PRIMARY KEY);\nINSERT INTO no_such_table VALUES (1);",
    )
    connection = connect(str(tmp_path / "store.db"))

    try:
        with pytest.raises(StoreError, match="0002_bad"):
            apply_migrations(connection, fixed_now, [good, bad])
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        versions = {row[0] for row in connection.execute("SELECT version FROM schema_migrations")}
    finally:
        connection.close()

    assert "kept" in tables
    assert "half_done" not in tables
    assert versions == {1}


def test_newer_database_rejected(tmp_path: Path) -> None:
    connection = connect(str(tmp_path / "store.db"))

    try:
        apply_migrations(connection, fixed_now)
        connection.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', ?)",
            (FIXED_TIME,),
        )
        with pytest.raises(StoreError, match="9999"):
            apply_migrations(connection, fixed_now)
    finally:
        connection.close()


def test_split_statements_keeps_trigger_body() -> None:
    script = """
    CREATE TABLE counter (n INTEGER);
    -- a comment between statements
    CREATE TRIGGER bump AFTER INSERT ON counter
    BEGIN
        UPDATE counter SET n = n + 1;
        UPDATE counter SET n = n + 1;
    END;
    """

    statements = split_statements(script)

    assert len(statements) == 2
    assert statements[1].rstrip().endswith("END;")


def test_split_statements_rejects_unfinished() -> None:
    with pytest.raises(StoreError, match="inside a statement"):
        split_statements("CREATE TABLE t (id INTEGER);\nCREATE TABLE u (id INTEGER)")


async def test_file_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    await migrate(path)

    with sqlite3.connect(path) as connection:
        mode = connection.execute("PRAGMA journal_mode").fetchone()[0]

    assert mode == "wal"


def test_connection_pragmas(tmp_path: Path) -> None:
    connection = connect(str(tmp_path / "store.db"))
    try:
        foreign_keys = connection.execute("PRAGMA foreign_keys").fetchone()[0]
        synchronous = connection.execute("PRAGMA synchronous").fetchone()[0]
        busy_timeout = connection.execute("PRAGMA busy_timeout").fetchone()[0]
    finally:
        connection.close()

    assert foreign_keys == 1
    assert synchronous == 2  # FULL
    assert busy_timeout == 5000


async def test_open_unwritable_path(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "missing-folder" / "store.db"))
    with pytest.raises(StoreError, match="missing-folder"):
        await store.open()
