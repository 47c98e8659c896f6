"""Parsing ingest bodies in worker processes.

Parsing and validation cost 6 to 13 us of CPU per typical event (the fast read of
canonical NDJSON lines, or the strict reader), which on the event loop's thread would
also compete with the store's writer thread for the GIL. With
``DATASTREAMS_INGEST_WORKERS`` above 0 the service parses in that many worker
processes instead. Workers return compact tuples, and the events rebuilt from them
carry their canonical line but an empty ``data``: after parsing, ingest needs only the
line, the ids, the type and the time.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from datastreams import errors
from datastreams.errors import DataStreamsError, FieldError
from datastreams.events.container import Event
from datastreams.events.parsing import ItemParsed, ItemRejected, parse_ingest_body
from datastreams.gc_tuning import tune_for_throughput

ParsedItems = list[ItemParsed | ItemRejected]

# How often a worker checks that the serving process still runs.
PARENT_CHECK_INTERVAL_S = 1.0


class ParsePool:
    """A pool of worker processes that run ``parse_ingest_body``."""

    def __init__(self, workers: int, known_types: Iterable[str] | None = None) -> None:
        # "spawn" starts clean interpreters: forking a process that runs threads (the
        # store's writer, the event loop) can copy a lock in its locked state.
        context = multiprocessing.get_context("spawn")
        self._executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=_start_worker,
            initargs=(os.getpid(),),
        )
        self._known_types = frozenset(known_types) if known_types is not None else None

    async def parse(
        self, body: bytes, content_type: str | None, *, max_event_bytes: int, max_items: int
    ) -> ParsedItems:
        """Parse ``body`` in a worker; raise the same errors as ``parse_ingest_body``."""
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(
            self._executor,
            _parse_compact,
            body,
            content_type,
            max_event_bytes,
            max_items,
            self._known_types,
        )
        return _expand(result)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


def _start_worker(parent_pid: int) -> None:
    # A worker's parsed events would otherwise trigger frequent collections; see gc_tuning.
    tune_for_throughput(freeze=True)
    threading.Thread(
        target=_exit_with_parent, args=(parent_pid,), name="parent-watch", daemon=True
    ).start()


def _exit_with_parent(parent_pid: int) -> None:
    # A worker waits for work on a pipe that stays open when the serving process is
    # killed (SIGKILL, the out-of-memory killer), so it would run on as an orphan.
    # Once the parent is gone the worker is reparented, and exits.
    while os.getppid() == parent_pid:
        time.sleep(PARENT_CHECK_INTERVAL_S)
    os._exit(0)


def _parse_compact(
    body: bytes,
    content_type: str | None,
    max_event_bytes: int,
    max_items: int,
    known_types: frozenset[str] | None,
) -> tuple[str, Any]:
    # Runs in a worker. Exceptions travel as plain values because the service's error
    # classes take keyword arguments that pickling would drop.
    is_known_type = known_types.__contains__ if known_types is not None else None
    try:
        items = parse_ingest_body(
            body,
            content_type,
            max_event_bytes=max_event_bytes,
            max_items=max_items,
            is_known_type=is_known_type,
        )
    except DataStreamsError as exc:
        fields = [(field.field, field.value, field.message) for field in _fields_of(exc)]
        return "error", (type(exc).__name__, exc.message, fields)

    compact: list[tuple[Any, ...]] = []
    for item in items:
        if isinstance(item, ItemRejected):
            error = item.error
            compact.append((item.index, error.field, error.value, error.message, item.guid))
            continue
        event = item.event
        compact.append(
            (
                item.index,
                event.time,
                event.guid,
                event.domain_id,
                event.type,
                event.user_id,
                event.agent_user_id,
                event.session_id,
                item.line,
                item.guid_assigned,
                item.time_assigned,
            )
        )
    return "items", compact


def _expand(result: tuple[str, Any]) -> ParsedItems:
    kind, payload = result
    if kind == "error":
        class_name, message, fields = payload
        error_class = getattr(errors, class_name)
        if issubclass(error_class, errors.ValidationError):
            raise error_class(message, [FieldError(*field) for field in fields])
        raise error_class(message)

    items: ParsedItems = []
    for entry in payload:
        if len(entry) == 5:
            index, field, value, message, guid = entry
            items.append(ItemRejected(index, FieldError(field, value, message), guid))
            continue
        (index, time, guid, domain_id, event_type, user_id, agent_id, session_id, line,
         guid_assigned, time_assigned) = entry  # fmt: skip
        event = Event(
            time, guid, domain_id, event_type, {}, user_id, agent_id, session_id, line=line
        )
        items.append(ItemParsed(index, event, line, guid_assigned, time_assigned))
    return items


def _fields_of(exc: DataStreamsError) -> list[FieldError]:
    return list(getattr(exc, "fields", []))
