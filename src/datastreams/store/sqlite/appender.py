"""Appending events to the log and queueing their deliveries (fan-out on write).

Runs on the writer thread, inside a transaction the caller opened, so the events
and their deliveries become durable together.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence

import orjson

from datastreams.delivery.routing import RoutingTable
from datastreams.errors import StoreError
from datastreams.events.container import Event
from datastreams.store.records import AppendOutcome
from datastreams.store.sqlite.rows import domain_from_row, stream_from_row

logger = logging.getLogger(__name__)


class EventAppender:
    """Inserts events and their deliveries into the log and the stream queues.

    Keeps a routing table and rebuilds it when the configuration epoch moves. Also
    collects the ids of the streams that got deliveries in the open transaction, which
    the writer takes after the commit. Not thread-safe: only the writer thread uses it.
    """

    def __init__(self, queries: Mapping[str, str], now: Callable[[], str]) -> None:
        self._queries = queries
        self._now = now
        self._routing: RoutingTable | None = None
        self._routing_epoch: int | None = None
        self._queued_stream_ids: set[str] = set()

    def append(
        self, connection: sqlite3.Connection, batches: Sequence[Sequence[Event]]
    ) -> list[list[AppendOutcome]]:
        """Append every batch in order and return the outcomes of each batch.

        A guid already stored, or seen earlier in any of the batches, is a duplicate
        and is not stored again. The caller holds the write lock (``BEGIN IMMEDIATE``),
        which is what makes the seq numbers given here the next ones free.
        """
        routing = self.current_routing(connection)
        received_at = self._now()

        guids = list({event.guid for batch in batches for event in batch})
        stored_times = self._find_stored_times(connection, guids)
        next_seq = self._last_seq(connection) + 1

        event_rows: list[tuple[int, str, str, str, str, str, bytes]] = []
        delivery_rows: list[tuple[str, int, str, str]] = []
        outcomes: list[list[AppendOutcome]] = []

        for batch in batches:
            batch_outcomes: list[AppendOutcome] = []
            for event in batch:
                stored_time = stored_times.get(event.guid)
                if stored_time is not None:
                    batch_outcomes.append(AppendOutcome("duplicate", event.guid, stored_time))
                    continue

                seq = next_seq
                next_seq += 1
                stored_times[event.guid] = event.time
                event_rows.append(
                    (
                        seq,
                        event.guid,
                        event.domain_id,
                        event.type,
                        event.time,
                        received_at,
                        event.encode(),
                    )
                )
                for stream_id in routing.streams_for(event.domain_id, event.type):
                    delivery_rows.append((stream_id, seq, received_at, received_at))
                batch_outcomes.append(AppendOutcome("accepted", event.guid, event.time, seq))
            outcomes.append(batch_outcomes)

        self._insert(connection, event_rows, delivery_rows)
        return outcomes

    def current_routing(self, connection: sqlite3.Connection) -> RoutingTable:
        """Return the routing table, rebuilt first if the configuration epoch moved.

        One cheap SELECT per transaction notices changes made by any connection,
        including another process such as the command line.
        """
        epoch = connection.execute(self._queries["get_config_epoch"]).fetchone()[0]
        if self._routing is not None and epoch == self._routing_epoch:
            return self._routing

        domains = [
            domain_from_row(row) for row in connection.execute(self._queries["list_all_domains"])
        ]
        streams = [
            stream_from_row(row) for row in connection.execute(self._queries["list_all_streams"])
        ]
        self._routing = RoutingTable.build(domains, streams)
        self._routing_epoch = epoch
        logger.debug(
            "Rebuilt the routing table at configuration epoch %d (%d domains, %d streams)",
            epoch,
            len(domains),
            len(streams),
            extra={"action": "routing_rebuilt", "epoch": epoch},
        )
        return self._routing

    def note_queued(self, stream_ids: Iterable[str]) -> None:
        """Add to the streams that got deliveries in the open transaction.

        ``append`` calls it itself; other writes that queue deliveries (a replay, a
        redrive) call it so that the writer announces them after the commit.
        """
        self._queued_stream_ids.update(stream_ids)

    def take_queued_stream_ids(self) -> set[str]:
        """Return the streams noted since the last call and start a new set."""
        stream_ids = self._queued_stream_ids
        self._queued_stream_ids = set()
        return stream_ids

    def forget_routing(self) -> None:
        """Drop the routing table after a rollback.

        The table may have been built from changes that were rolled back, and the
        epoch number it was built at can be reached again by other changes.
        """
        self._routing = None
        self._routing_epoch = None

    def _find_stored_times(
        self, connection: sqlite3.Connection, guids: list[str]
    ) -> dict[str, str]:
        if not guids:
            return {}
        rows = connection.execute(
            self._queries["find_stored_guids"], {"guids": orjson.dumps(guids).decode("utf-8")}
        )
        return {row[0]: row[1] for row in rows}

    def _last_seq(self, connection: sqlite3.Connection) -> int:
        return int(connection.execute(self._queries["get_last_seq"]).fetchone()[0])

    def _insert(
        self,
        connection: sqlite3.Connection,
        event_rows: list[tuple[int, str, str, str, str, str, bytes]],
        delivery_rows: list[tuple[str, int, str, str]],
    ) -> None:
        if not event_rows:
            return

        cursor = connection.executemany(self._queries["insert_event"], event_rows)
        if cursor.rowcount != len(event_rows):
            # Cannot happen while this connection holds the write lock: every guid was
            # checked above. Failing keeps the returned seq numbers from being wrong.
            raise StoreError(
                f"inserted {cursor.rowcount} of {len(event_rows)} new events; "
                "another writer changed the log during the transaction"
            )

        if delivery_rows:
            connection.executemany(self._queries["insert_delivery"], delivery_rows)
            self.note_queued(row[0] for row in delivery_rows)
