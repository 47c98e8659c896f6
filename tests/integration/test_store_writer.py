"""Group commit of the SQLite writer: jobs share a transaction, and each fails alone."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from datastreams.errors import Conflict, StoreError
from datastreams.events.timefmt import now_time
from datastreams.store.sqlite.appender import EventAppender
from datastreams.store.sqlite.connection import connect
from datastreams.store.sqlite.store import QUERIES
from datastreams.store.sqlite.writer import Writer

HOLD_TIMEOUT_S = 10.0


@pytest.fixture
async def writer(tmp_path: Path) -> AsyncIterator[tuple[Writer, list[set[str]], Path]]:
    path = tmp_path / "writer.db"
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode = WAL")
        setup.execute("CREATE TABLE notes (text TEXT NOT NULL UNIQUE)")

    announced: list[set[str]] = []
    appender = EventAppender(QUERIES, now_time)
    started = Writer(partial(connect, str(path)), appender, on_queued=announced.append)
    await started.start()
    try:
        yield started, announced, path
    finally:
        await started.close()


def _insert(text: str) -> Callable[[sqlite3.Connection], str]:
    def work(connection: sqlite3.Connection) -> str:
        connection.execute("INSERT INTO notes (text) VALUES (?)", (text,))
        return text

    return work


async def _held_group(writer: Writer, jobs: list[Callable[[sqlite3.Connection], Any]]) -> list[Any]:
    """Run ``jobs`` so that they wait in the queue together and form one group."""
    release = threading.Event()
    holding = asyncio.ensure_future(writer.run(lambda connection: release.wait(HOLD_TIMEOUT_S)))
    # The writer thread now waits inside the first job while the others queue.
    await asyncio.sleep(0.05)
    calls = [asyncio.ensure_future(writer.run(job)) for job in jobs]
    await asyncio.sleep(0.05)
    release.set()
    await holding
    return await asyncio.gather(*calls, return_exceptions=True)


def _notes(path: Path) -> list[str]:
    with sqlite3.connect(path) as reader:
        return [row[0] for row in reader.execute("SELECT text FROM notes ORDER BY text")]


async def test_queued_jobs_share_commit(writer: tuple[Writer, list[set[str]], Path]) -> None:
    store_writer, _, path = writer
    commits_before = store_writer.stats.commits

    results = await _held_group(store_writer, [_insert(f"n{index}") for index in range(20)])

    assert results == [f"n{index}" for index in range(20)]
    assert sorted(_notes(path)) == sorted(f"n{index}" for index in range(20))
    # The held job commits alone, and the twenty waiting behind it share one commit.
    assert store_writer.stats.commits - commits_before <= 2


async def test_failed_job_rolls_back_alone(writer: tuple[Writer, list[set[str]], Path]) -> None:
    store_writer, announced, path = writer
    appender = store_writer._appender

    def note_then_fail(connection: sqlite3.Connection) -> None:
        connection.execute("INSERT INTO notes (text) VALUES ('rolled back')")
        appender.note_queued(["st-rolled-back"])
        raise Conflict("rolled back on purpose")

    def note_and_insert(connection: sqlite3.Connection) -> None:
        connection.execute("INSERT INTO notes (text) VALUES ('kept')")
        appender.note_queued(["st-kept"])

    results = await _held_group(
        store_writer, [_insert("first"), note_then_fail, note_and_insert, _insert("last")]
    )

    assert results[0] == "first"
    assert isinstance(results[1], Conflict)
    assert results[2] is None
    assert results[3] == "last"
    assert _notes(path) == ["first", "kept", "last"]
    assert {"st-kept"} in announced
    assert all("st-rolled-back" not in streams for streams in announced)


async def test_constraint_error_fails_one_job(
    writer: tuple[Writer, list[set[str]], Path],
) -> None:
    store_writer, _, path = writer

    results = await _held_group(store_writer, [_insert("same"), _insert("same"), _insert("other")])

    assert results[0] == "same"
    assert isinstance(results[1], Conflict)
    assert results[2] == "other"
    assert _notes(path) == ["other", "same"]


async def test_ended_transaction_retries_each_job(
    writer: tuple[Writer, list[set[str]], Path],
) -> None:
    store_writer, _, path = writer

    def end_transaction(connection: sqlite3.Connection) -> None:
        # A job that ends the group's transaction takes the group down with it.
        connection.execute("ROLLBACK")

    results = await _held_group(store_writer, [_insert("a"), end_transaction, _insert("b")])

    assert results[0] == "a"
    assert isinstance(results[1], StoreError)
    assert results[2] == "b"
    assert _notes(path) == ["a", "b"]
    assert store_writer.stats.group_retries >= 1
