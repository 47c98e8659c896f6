"""The runtime of one process: the open store, the services built on it, background loops.

``serve`` runs a ``Runtime`` as the web application's lifespan; the administrative
commands of the command line run one without background loops. In ``serve`` the
delivery supervisor runs one dispatcher per enabled stream, and two loops run beside it:

- the retention loop removes stored events older than ``event_retention_s`` (the
  store keeps events that still have queued deliveries);
- the configuration poll reads the store's configuration epoch every half second and
  notifies listeners (such as the API's key cache) when another process changed domains,
  keys or streams, so those changes apply within a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import TracebackType

from datastreams.delivery.service import DeliveryService
from datastreams.delivery.sinks import SinkOptions
from datastreams.delivery.supervisor import DeliverySupervisor
from datastreams.domains import DomainService
from datastreams.events.catalogue import Catalogue, load_catalogue
from datastreams.events.parse_pool import ParsePool
from datastreams.events.timefmt import format_time
from datastreams.metrics import Metrics
from datastreams.security.endpoints import check_endpoint_on_save
from datastreams.security.keys import ApiKeyService
from datastreams.security.secrets import SecretBox, load_secret_box
from datastreams.settings import Settings
from datastreams.store.base import Store
from datastreams.streams.service import StreamService

logger = logging.getLogger(__name__)

CONFIG_POLL_INTERVAL_S = 0.5


class Runtime:
    """Opens the store, builds the services and runs the background loops of one process."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        catalogue: Catalogue | None = None,
        background: bool = True,
        deliver: bool | None = None,
        config_poll_interval_s: float = CONFIG_POLL_INTERVAL_S,
    ) -> None:
        self.settings = settings
        self.store = store
        self.catalogue = catalogue if catalogue is not None else load_catalogue()
        self.domains = DomainService(store)
        self.keys = ApiKeyService(store)
        self._secret_box: SecretBox | None = None
        self._background = background
        self._config_poll_interval_s = config_poll_interval_s
        self._config_listeners: list[Callable[[], None]] = []
        self._config_epoch: int | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._opened = False
        self.supervisor: DeliverySupervisor | None = None
        self.metrics = Metrics()
        self.parse_pool: ParsePool | None = None
        self._deliver = deliver

    @property
    def secret_box(self) -> SecretBox:
        """The box that encrypts stream secrets, loaded on first use.

        Loading may create the key file beside the database, so commands that never
        touch streams do not load it.
        """
        if self._secret_box is None:
            self._secret_box = load_secret_box(self.settings.encryption_key, self.settings.db)
        return self._secret_box

    def is_known_type(self, event_type: str) -> bool:
        """Return whether the catalogue lists ``event_type``."""
        return event_type in self.catalogue

    def streams(self, *, actor: str | None = None) -> StreamService:
        """Return the stream service; ``actor`` names who makes changes in audit events."""
        return StreamService(
            self.store,
            self.secret_box,
            is_known_type=self.is_known_type,
            strict_event_types=self.settings.strict_event_types,
            actor=actor,
            endpoint_checker=self.check_endpoint,
            aws_principal_arn=self.settings.aws_principal_arn,
        )

    @property
    def sink_options(self) -> SinkOptions:
        """Settings that every sink of this process shares."""
        return SinkOptions(
            allowed_networks=self.settings.allowed_endpoint_networks,
            tls_ca_file=self.settings.tls_ca_file,
            aws_calls_in_flight=self.settings.aws_calls_in_flight,
        )

    def deliveries(self, *, actor: str | None = None) -> DeliveryService:
        """Return the service for status, dead letters, replay and the Test action."""
        return DeliveryService(self.store, self.streams(actor=actor), self.sink_options)

    async def apply_stream_changes(self) -> None:
        """Bring the dispatchers in line with the stored streams now, not at the next poll.

        Called after this process changed a stream, so a disabled stream stops and a
        new secret is in use before the change's response is sent.
        """
        if self.supervisor is not None:
            await self.supervisor.sync()

    async def check_endpoint(self, url: str) -> tuple[str | None, str | None]:
        """Check an HTTPS endpoint against the address rules when a stream is saved."""
        return await check_endpoint_on_save(url, self.settings.allowed_endpoint_networks)

    def on_config_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` whenever domains, keys or streams change, in any process."""
        self._config_listeners.append(listener)

    def notify_config_change(self) -> None:
        """Tell the listeners about a change this process made, without waiting for the poll."""
        for listener in self._config_listeners:
            listener()

    async def start(self) -> None:
        """Open the store and, with background loops, load the secret box and start the loops."""
        await self.store.open()
        self._opened = True

        if self._background:
            try:
                # Loaded now, so a missing or invalid key stops the start rather than
                # the first request that touches a stream.
                _ = self.secret_box
                self._config_epoch = await self.store.config_epoch()
            except BaseException:
                await self.close()
                raise
            self._tasks = [
                asyncio.create_task(self._poll_config_epoch(), name="config-epoch-poll"),
                asyncio.create_task(self._run_retention(), name="retention"),
            ]

        if self._background and self.settings.ingest_workers > 0:
            known = self.catalogue.names() if self.settings.strict_event_types else None
            self.parse_pool = ParsePool(self.settings.ingest_workers, known)

        deliver = self._background if self._deliver is None else self._deliver
        if deliver:
            self.supervisor = DeliverySupervisor(
                self.store,
                self.catalogue,
                self.streams().read_secrets,
                self.sink_options,
                metrics=self.metrics,
                restart_grace_s=self.settings.shutdown_grace_s,
            )
            await self.supervisor.start()

        logger.debug("Runtime started", extra={"action": "runtime_started"})

    async def close(self) -> None:
        """Stop the dispatchers and background loops, then close the store.

        Dispatchers get ``shutdown_grace_s`` to finish their requests; what they do
        not finish stays queued and is sent after the next start.
        """
        if self.supervisor is not None:
            await self.supervisor.stop(self.settings.shutdown_grace_s)
            self.supervisor = None

        if self.parse_pool is not None:
            await asyncio.to_thread(self.parse_pool.close)
            self.parse_pool = None

        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

        if self._opened:
            self._opened = False
            await self.store.close()
        logger.debug("Runtime closed", extra={"action": "runtime_closed"})

    async def __aenter__(self) -> Runtime:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def check_config_epoch(self) -> bool:
        """Read the configuration epoch once; notify the listeners and return True if it moved."""
        epoch = await self.store.config_epoch()
        if epoch == self._config_epoch:
            return False

        self._config_epoch = epoch
        self.notify_config_change()
        return True

    async def purge_expired_events(self) -> int:
        """Delete the events received longer than ``event_retention_s`` ago; return how many."""
        cutoff = datetime.now(UTC) - timedelta(seconds=self.settings.event_retention_s)
        removed = await self.store.purge_expired_events(format_time(cutoff))
        if removed:
            logger.info(
                "Removed %d expired events",
                removed,
                extra={"action": "events_purged", "count": removed},
            )
        return removed

    async def _poll_config_epoch(self) -> None:
        while True:
            await asyncio.sleep(self._config_poll_interval_s)
            try:
                await self.check_config_epoch()
            except Exception:
                # The next poll retries; until then cached keys and scopes stay in use.
                logger.warning(
                    "Reading the configuration epoch failed",
                    exc_info=True,
                    extra={"action": "config_epoch_poll_failed"},
                )

    async def purge_expired_dead_letters(self) -> int:
        """Delete the dead letters older than ``dead_letter_retention_s``; return how many."""
        cutoff = datetime.now(UTC) - timedelta(seconds=self.settings.dead_letter_retention_s)
        return await self.store.purge_dead_letters(format_time(cutoff))

    async def _run_retention(self) -> None:
        while True:
            try:
                await self.purge_expired_events()
                await self.purge_expired_dead_letters()
            except Exception:
                logger.warning(
                    "Removing expired events failed; retrying in %d s",
                    self.settings.retention_interval_s,
                    exc_info=True,
                    extra={"action": "events_purge_failed"},
                )
            await asyncio.sleep(self.settings.retention_interval_s)
