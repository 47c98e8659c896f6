"""The single writer thread of the SQLite store, with group commit.

SQLite allows one writer at a time, so one thread with its own connection runs
every write. Coroutines hand it jobs through a queue and await a future that the
thread resolves with ``loop.call_soon_threadsafe`` once the job's transaction has
committed (or failed).

Group commit: the jobs waiting in the queue are taken together, up to
``MAX_GROUP_JOBS`` jobs and ``max_group_events`` appended events, and written in one
transaction. With ``synchronous=FULL`` every commit syncs the write-ahead log, so one
sync then covers many callers: producers' appends and every dispatcher's outcome.
Each job runs inside a savepoint of its own (appends next to each other share one),
so a job that fails rolls back alone and the rest commit. If the transaction itself
fails, each job runs again in a transaction of its own.

After each commit that queued deliveries, the writer passes the ids of the streams
that got them to ``on_queued``, still on the writer thread. ``on_commit`` is called
after every commit, also on the writer thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from datastreams.errors import DataStreamsError, StoreError
from datastreams.events.container import Event
from datastreams.store.records import AppendOutcome
from datastreams.store.sqlite.appender import EventAppender
from datastreams.store.sqlite.connection import translate_error

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Maximum number of events written in one group transaction. A single batch larger
# than this is still written whole, in a transaction of its own.
MAX_GROUP_EVENTS = 5000

# Maximum number of jobs (appends and other writes) in one group transaction. Each
# dispatcher writes its outcomes as jobs, so many streams share one commit's sync.
MAX_GROUP_JOBS = 64


@dataclass(slots=True)
class WriterStats:
    """Counters of the writer thread, for tests and metrics."""

    commits: int = 0
    rollbacks: int = 0
    append_groups: int = 0
    appended_batches: int = 0
    appended_events: int = 0
    largest_group_events: int = 0
    group_retries: int = 0


@dataclass(slots=True)
class _AppendJob:
    events: Sequence[Event]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[list[AppendOutcome]]


@dataclass(slots=True)
class _WorkJob:
    work: Callable[[sqlite3.Connection], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


_Job = _AppendJob | _WorkJob

# Put in the queue by close(): the thread finishes the jobs queued before it, then stops.
_STOP = object()


class Writer:
    """Runs every write of one store on one thread, in transactions."""

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        appender: EventAppender,
        *,
        max_group_events: int = MAX_GROUP_EVENTS,
        on_queued: Callable[[set[str]], None] | None = None,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self.stats = WriterStats()
        self._connect = connect
        self._appender = appender
        self._on_queued = on_queued
        self._on_commit = on_commit
        self._max_group_events = max_group_events
        self._queue: queue.SimpleQueue[_Job | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closing = False

    async def start(self) -> None:
        """Start the thread and wait until its connection is open.

        Raises ``StoreError`` when the connection cannot be opened.
        """
        started: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._run, args=(started,), name="datastreams-sqlite-writer", daemon=True
        )
        self._thread.start()
        await asyncio.wrap_future(started)

    async def append(self, events: Sequence[Event]) -> list[AppendOutcome]:
        """Append events in a transaction shared with other waiting appends.

        Returns the outcomes once that transaction has committed.
        """
        if not events:
            return []

        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[AppendOutcome]] = loop.create_future()
        self._submit(_AppendJob(tuple(events), loop, future))
        return await future

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work(connection)`` in a transaction of its own and return its result.

        ``work`` raises a ``DataStreamsError`` to roll back with that error; other
        exceptions roll back too and reach the caller as ``StoreError``.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._submit(_WorkJob(work, loop, future))
        return await future

    async def close(self) -> None:
        """Finish every job queued so far, then stop the thread and close its connection."""
        if self._thread is None or self._closing:
            return

        self._closing = True
        self._queue.put(_STOP)
        await asyncio.to_thread(self._thread.join)

    def _submit(self, job: _Job) -> None:
        if self._thread is None or self._closing:
            raise StoreError("the store is closed; open it before writing")
        if not self._thread.is_alive():
            raise StoreError("the writer thread has stopped; see the log for its error")
        self._queue.put(job)

    # Everything below runs on the writer thread. -----------------------------------

    def _run(self, started: concurrent.futures.Future[None]) -> None:
        try:
            connection = self._connect()
        except sqlite3.Error as exc:
            error = translate_error(exc)
            error.__cause__ = exc
            started.set_exception(error)
            return
        except BaseException as exc:
            started.set_exception(exc)
            return

        started.set_result(None)
        try:
            self._serve(connection)
        finally:
            connection.close()
            self._fail_waiting_jobs()

    def _serve(self, connection: sqlite3.Connection) -> None:
        carried: _Job | object | None = None

        while True:
            job = carried if carried is not None else self._queue.get()
            carried = None

            if job is _STOP:
                return

            assert isinstance(job, _AppendJob | _WorkJob)
            group, carried = self._take_group(job)
            self._commit_group(connection, group)

    def _take_group(self, first: _Job) -> tuple[list[_Job], object | None]:
        """Collect the jobs already waiting behind ``first``, within the group bounds.

        Returns the group, in queue order, and the job that ended it, if any, to run
        next. ``_STOP`` always ends a group.
        """
        group: list[_Job] = [first]
        event_count = len(first.events) if isinstance(first, _AppendJob) else 0

        while len(group) < MAX_GROUP_JOBS:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return group, None

            if not isinstance(job, _AppendJob | _WorkJob):
                return group, job
            if isinstance(job, _AppendJob):
                if event_count + len(job.events) > self._max_group_events:
                    return group, job
                event_count += len(job.events)
            group.append(job)
        return group, None

    def _commit_group(self, connection: sqlite3.Connection, group: list[_Job]) -> None:
        """Run the group's jobs in one transaction, each inside a savepoint of its own.

        A job that fails rolls back to its savepoint and gets its error; the others
        commit. If the transaction itself fails (BEGIN, COMMIT, or an error that ends
        the transaction), each job runs again in a transaction of its own.
        """
        try:
            connection.execute("BEGIN IMMEDIATE")
            settled = [
                result
                for segment in _segments(group)
                for result in self._run_segment(connection, segment)
            ]
            connection.execute("COMMIT")
        except Exception as exc:
            self._rollback(connection)
            if len(group) == 1:
                self._fail(group[0], exc)
                return

            self.stats.group_retries += 1
            logger.warning(
                "Group commit of %d jobs failed, retrying each job alone: %s",
                len(group),
                exc,
                extra={"action": "group_commit_retry", "jobs": len(group)},
            )
            for job in group:
                self._commit_group(connection, [job])
            return
        except BaseException:
            self._rollback(connection)
            raise

        self.stats.commits += 1
        if self._on_commit is not None:
            self._on_commit()
        self._announce_queued()
        self._count_appends(group, settled)

        for job, result, error in settled:
            if error is not None:
                self._fail(job, error)
            else:
                _resolve(job, result, None)

    def _run_segment(
        self, connection: sqlite3.Connection, segment: list[_Job]
    ) -> list[tuple[_Job, Any, Exception | None]]:
        """Run one work job, or a run of appends together, inside a savepoint.

        When appends that ran together fail, each runs again alone, so only the batch
        at fault gets the error.
        """
        # Stream ids noted before this segment are kept aside, so a rollback to the
        # savepoint drops only what the segment noted.
        noted_before = self._appender.take_queued_stream_ids()
        connection.execute("SAVEPOINT job")
        try:
            if isinstance(segment[0], _WorkJob):
                results: list[Any] = [segment[0].work(connection)]
            else:
                batches = [job.events for job in segment if isinstance(job, _AppendJob)]
                results = list(self._appender.append(connection, batches))
        except Exception as exc:
            self._roll_back_segment(connection)
            self._appender.note_queued(noted_before)
            if len(segment) > 1:
                self.stats.group_retries += 1
                return [
                    result for job in segment for result in self._run_segment(connection, [job])
                ]
            return [(segment[0], None, exc)]

        connection.execute("RELEASE job")
        self._appender.note_queued(noted_before)
        return [(job, result, None) for job, result in zip(segment, results, strict=True)]

    def _roll_back_segment(self, connection: sqlite3.Connection) -> None:
        self._appender.forget_routing()
        self._appender.take_queued_stream_ids()
        if not connection.in_transaction:
            # SQLite ended the whole transaction (a full disk, an I/O error): the
            # group as a whole fails and its jobs run again alone.
            raise StoreError("the write transaction was rolled back by SQLite")
        connection.execute("ROLLBACK TO job")
        connection.execute("RELEASE job")

    def _count_appends(
        self, group: list[_Job], settled: list[tuple[_Job, Any, Exception | None]]
    ) -> None:
        appended = [job for job, _, error in settled if isinstance(job, _AppendJob) and not error]
        if not appended:
            return
        event_count = sum(len(job.events) for job in appended)
        self.stats.append_groups += 1
        self.stats.appended_batches += len(appended)
        self.stats.appended_events += event_count
        self.stats.largest_group_events = max(self.stats.largest_group_events, event_count)

    def _announce_queued(self) -> None:
        stream_ids = self._appender.take_queued_stream_ids()
        if not stream_ids or self._on_queued is None:
            return

        try:
            self._on_queued(stream_ids)
        except Exception:
            # The commit is done; a failing announcement must not fail the write.
            logger.exception(
                "Announcing queued deliveries failed",
                extra={"action": "queued_announce_failed", "streams": len(stream_ids)},
            )

    def _rollback(self, connection: sqlite3.Connection) -> None:
        self._appender.forget_routing()
        # The deliveries noted in this transaction are rolled back with it.
        self._appender.take_queued_stream_ids()
        if not connection.in_transaction:
            return

        self.stats.rollbacks += 1
        try:
            connection.execute("ROLLBACK")
        except sqlite3.Error as exc:
            logger.error("Rollback failed: %s", exc, extra={"action": "writer_rollback_failed"})

    def _fail(self, job: _Job, exc: Exception) -> None:
        if isinstance(exc, DataStreamsError) and not isinstance(exc, StoreError):
            # A rule of the store (not found, conflict, invalid) that the caller handles.
            _resolve(job, None, exc)
            return

        if isinstance(exc, StoreError):
            error: DataStreamsError = exc
        elif isinstance(exc, sqlite3.Error):
            error = translate_error(exc)
            error.__cause__ = exc
        else:
            error = StoreError(f"writing to the database failed: {type(exc).__name__}: {exc}")
            error.__cause__ = exc

        logger.error(
            "Write transaction failed: %s",
            exc,
            extra={"action": "writer_failed", "error_type": type(exc).__name__},
        )
        _resolve(job, None, error)

    def _fail_waiting_jobs(self) -> None:
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(job, _AppendJob | _WorkJob):
                _resolve(job, None, StoreError("the store was closed before the write ran"))


def _segments(group: list[_Job]) -> list[list[_Job]]:
    """Split a group into runs of appends, which the appender writes together, and single jobs."""
    segments: list[list[_Job]] = []
    for job in group:
        if isinstance(job, _AppendJob) and segments and isinstance(segments[-1][0], _AppendJob):
            segments[-1].append(job)
        else:
            segments.append([job])
    return segments


def _resolve(job: _Job, result: Any, error: BaseException | None) -> None:
    try:
        job.loop.call_soon_threadsafe(_settle, job.future, result, error)
    except RuntimeError:
        # The caller's event loop is closed, so no caller is waiting for this result.
        logger.warning(
            "Dropped the result of a write: its event loop is closed",
            extra={"action": "writer_result_dropped"},
        )


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
