"""The supervisor: one dispatcher task per enabled stream, kept in step with the configuration.

It rereads the streams whenever the store's configuration epoch changes, which also
catches changes made by the command line in another process. It then starts a
dispatcher for each enabled stream, restarts one whose stream got a new version, and
stops those whose stream was disabled or deleted. Queued deliveries of a disabled stream
stay in the queue and resume when it is enabled again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from datastreams.delivery.dispatcher import (
    STATE_DISABLED,
    STATE_FAILING,
    Dispatcher,
    DispatchSettings,
)
from datastreams.delivery.sinks import (
    SinkOptions,
    UnsupportedStreamType,
    build_sink,
    calls_in_flight,
)
from datastreams.events.catalogue import Catalogue
from datastreams.filters import compile_filters, filters_from_config
from datastreams.metrics import Metrics
from datastreams.store.records import StreamRecord

logger = logging.getLogger(__name__)

# How often the configuration epoch is read; the command line's changes reach the
# dispatchers within this time.
CONFIG_POLL_S = 0.5

# How often the queue depth gauges are refreshed.
QUEUE_DEPTH_INTERVAL_S = 5.0


class DeliverySupervisor:
    """Starts, restarts and stops the dispatchers of every stream."""

    def __init__(
        self,
        store: Any,
        catalogue: Catalogue,
        read_secrets: Callable[[StreamRecord], dict[str, Any]],
        sink_options: SinkOptions,
        *,
        metrics: Metrics | None = None,
        restart_grace_s: float = 5.0,
    ) -> None:
        self._store = store
        self._catalogue = catalogue
        self._read_secrets = read_secrets
        self._sink_options = sink_options
        self._metrics = metrics
        self._restart_grace_s = restart_grace_s
        self._depth_task: asyncio.Task[None] | None = None
        self._dispatchers: dict[str, tuple[Dispatcher, asyncio.Task[None]]] = {}
        self._epoch: int | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._stopping = False
        # The watch loop and routes that apply their own change at once both sync;
        # one at a time, so a stream never gets two dispatchers.
        self._sync_lock = asyncio.Lock()

    @property
    def dispatchers(self) -> dict[str, Dispatcher]:
        return {stream_id: pair[0] for stream_id, pair in self._dispatchers.items()}

    async def start(self) -> None:
        self._store.add_append_listener(self._on_appended)
        await self.sync()
        self._watch_task = asyncio.create_task(self._watch_configuration())
        if self._metrics is not None:
            self._depth_task = asyncio.create_task(self._measure_queue_depths(self._metrics))

    async def stop(self, grace_s: float) -> None:
        """Stop every dispatcher, letting in-flight requests finish for up to ``grace_s``.

        Requests still running then are cancelled; their deliveries stay queued and
        are sent again after a restart.
        """
        self._stopping = True
        for task in (self._watch_task, self._depth_task):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

        stream_ids = list(self._dispatchers)
        await asyncio.gather(*(self._stop_dispatcher(sid, grace_s) for sid in stream_ids))

    def _on_appended(self, stream_ids: set[str]) -> None:
        for stream_id in stream_ids:
            pair = self._dispatchers.get(stream_id)
            if pair is not None:
                pair[0].wake()

    async def _watch_configuration(self) -> None:
        while not self._stopping:
            await asyncio.sleep(CONFIG_POLL_S)
            try:
                await self.sync()
            except Exception:
                logger.exception(
                    "reading the stream configuration failed; retrying",
                    extra={"action": "supervisor_sync_failed"},
                )

    async def _measure_queue_depths(self, metrics: Metrics) -> None:
        while not self._stopping:
            try:
                depths = {
                    stream_id: await self._store.count_queued(stream_id)
                    for stream_id in list(self._dispatchers)
                }
            except Exception:
                logger.warning(
                    "reading queue depths for the metrics failed",
                    exc_info=True,
                    extra={"action": "queue_depth_failed"},
                )
            else:
                metrics.set_queue_depths(depths)
            await asyncio.sleep(QUEUE_DEPTH_INTERVAL_S)

    async def sync(self) -> None:
        """Bring the running dispatchers in line with the stored streams.

        The configuration poll calls it; a route may call it too, so that its change
        applies to every delivery sent after its response.
        """
        async with self._sync_lock:
            await self._sync()

    async def _sync(self) -> None:
        epoch = await self._store.config_epoch()
        if epoch == self._epoch or self._stopping:
            return
        self._epoch = epoch

        streams = await self._all_streams()
        wanted = {record.id: record for record in streams if record.enabled}

        for stream_id in list(self._dispatchers):
            dispatcher = self._dispatchers[stream_id][0]
            record = wanted.get(stream_id)
            if record is None or record.version != dispatcher.settings.version:
                await self._stop_dispatcher(stream_id, grace_s=self._restart_grace_s)

        for record in streams:
            if not record.enabled:
                await self._store.set_stream_state(record.id, STATE_DISABLED, None)
            elif record.id not in self._dispatchers:
                await self._start_dispatcher(record)

    async def _all_streams(self) -> list[StreamRecord]:
        streams: list[StreamRecord] = []
        after: str | None = None
        while True:
            page = await self._store.list_streams(None, limit=1000, after=after)
            streams.extend(page)
            if len(page) < 1000:
                return streams
            after = page[-1].id

    async def _start_dispatcher(self, record: StreamRecord) -> None:
        try:
            sink = build_sink(record, self._read_secrets(record), self._sink_options)
        except UnsupportedStreamType as exc:
            await self._store.set_stream_state(record.id, STATE_FAILING, str(exc))
            return

        aws = record.config.get("aws") or {}
        settings = DispatchSettings(
            stream_id=record.id,
            version=record.version,
            filters=compile_filters(filters_from_config(record.config.get("filters") or [])),
            retry_window_s=float(record.config.get("retryWindowSeconds", 86_400)),
            backoff_max_s=float(record.config.get("backoffMaxSeconds", 300)),
            max_in_flight=calls_in_flight(record, self._sink_options.aws_calls_in_flight),
            partition_key=str(aws.get("partitionKey", "domainId")),
        )
        dispatcher = Dispatcher(settings, sink, self._store, self._catalogue, metrics=self._metrics)
        task = asyncio.create_task(dispatcher.run(), name=f"dispatcher-{record.id}")
        task.add_done_callback(lambda done: self._report_crash(record.id, done))
        self._dispatchers[record.id] = (dispatcher, task)

    def _report_crash(self, stream_id: str, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        logger.error(
            "dispatcher of stream %s crashed: %r; it restarts on the next configuration check",
            stream_id,
            task.exception(),
            extra={"action": "dispatcher_crashed", "stream_id": stream_id},
        )
        pair = self._dispatchers.get(stream_id)
        if pair is not None and pair[1] is task:
            del self._dispatchers[stream_id]
            self._epoch = None

    async def _stop_dispatcher(self, stream_id: str, grace_s: float) -> None:
        pair = self._dispatchers.pop(stream_id, None)
        if pair is None:
            return
        dispatcher, task = pair

        dispatcher.request_stop()
        done, _ = await asyncio.wait([task], timeout=grace_s)
        if not done:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
