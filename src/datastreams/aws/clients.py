"""botocore clients for customers' roles, created once and reused, and the threads that run them.

The service's own identity comes from botocore's default credential chain
(environment, shared files, container or instance metadata). For each ``AwsRole``
the factory keeps one botocore session whose credentials come from AssumeRole with
that identity, and one client per service on it. Endpoints come from botocore's
configuration too, so ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>`` point
every client at an emulator.

botocore is blocking, so every call runs in the factory's thread pool (``run``).
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import botocore.session
from botocore.config import Config
from botocore.credentials import CredentialResolver, DeferredRefreshableCredentials

from datastreams import __version__
from datastreams.aws.credentials import (
    Clock,
    FixedCredentialProvider,
    assume_role,
    refreshable_credentials,
)
from datastreams.aws.roles import AwsRole

T = TypeVar("T")

# A slow network fails the connection attempt after this long, and a call that sent
# its request waits this long for the response. A batch of 500 records within 5 MiB
# gets its response within a few seconds, so 30 s only ends a stuck connection.
CONNECT_TIMEOUT_S = 5.0
# NOTE: a thread cannot be cancelled, so a call in flight when the process stops
# delays its exit until the call ends, up to these timeouts.
READ_TIMEOUT_S = 30.0

# Threads shared by the calls of every AWS stream of the process: at most this many
# calls run at once. A stream has up to DATASTREAMS_AWS_CALLS_IN_FLIGHT (4 by default)
# calls in flight (``delivery/sinks.py``), so eight streams sending at full speed take
# all threads.
# Further calls wait for a thread.
MAX_WORKERS = 32

# Connections kept per client. Streams of one role and service share a client, and
# every call runs in one of the threads, so a client never needs more connections than
# there are threads. A smaller pool would make urllib3 open and discard connections.
MAX_POOL_CONNECTIONS = MAX_WORKERS

# An event name of botocore's event system (such as ``before-send.kinesis.PutRecords``)
# and its handler, registered on every client that a factory creates.
EventHook = tuple[str, Callable[..., Any]]


def client_config() -> Config:
    """Return the botocore configuration of every client: timeouts, pool size, no retries."""
    return Config(
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        max_pool_connections=MAX_POOL_CONNECTIONS,
        # The dispatcher retries with the stream's back-off, so the stream keeps its
        # order and a throttled destination gets time. botocore's own retries would
        # only add delay before the dispatcher receives the failure.
        retries={"total_max_attempts": 1, "mode": "standard"},
        tcp_keepalive=True,
        user_agent_extra=f"datastreams/{__version__}",
    )


class AwsClientFactory:
    """Creates and caches botocore clients per customer role, and runs their calls in threads.

    ``source_session`` provides the service's own identity (botocore's default chain
    when ``None``). ``event_hooks`` are registered on every session the factory
    creates, so they apply to the STS calls too. ``clock`` replaces the time that
    refreshable credentials compare with their expiry.
    """

    def __init__(
        self,
        *,
        source_session: botocore.session.Session | None = None,
        event_hooks: Sequence[EventHook] = (),
        clock: Clock | None = None,
        max_workers: int = MAX_WORKERS,
    ) -> None:
        self._event_hooks = tuple(event_hooks)
        self._source_session = source_session or botocore.session.Session()
        self._register_hooks(self._source_session)
        self._loader = self._source_session.get_component("data_loader")
        self._config = client_config()
        self._clock = clock
        # Reentrant: a credential fetch takes the lock to get the STS client, and
        # botocore could fetch credentials while this thread creates a client under it.
        self._lock = threading.RLock()
        self._sts_clients: dict[str, Any] = {}
        self._credentials: dict[AwsRole, DeferredRefreshableCredentials] = {}
        self._sessions: dict[AwsRole, botocore.session.Session] = {}
        self._clients: dict[tuple[str, AwsRole], Any] = {}
        self._executor = ThreadPoolExecutor(max_workers, thread_name_prefix="aws-call")

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """Run a blocking function (a botocore call) in the factory's threads."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(function, *args))

    def client(self, service: str, role: AwsRole) -> Any:
        """Return the cached client of ``service`` for the role, creating it on first use.

        Creating a client reads botocore's service model, so call this from ``run``.
        """
        key = (service, role)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                session = self._role_session(role)
                client = session.create_client(
                    service, region_name=role.region, config=self._config
                )
                self._clients[key] = client
        return client

    def assume_role_now(self, role: AwsRole) -> dict[str, str]:
        """Call AssumeRole at once, without the cache; the Test action uses this."""
        with self._lock:
            sts_client = self._sts_client(role.region)
        return assume_role(sts_client, role)

    def client_with_credentials(
        self, service: str, role: AwsRole, credentials: dict[str, str]
    ) -> Any:
        """Return a new, uncached client that signs with ``credentials`` (close it after use)."""
        session = self._new_session()
        session.set_credentials(
            credentials["access_key"], credentials["secret_key"], credentials["token"]
        )
        return session.create_client(service, region_name=role.region, config=self._config)

    def forget(self, role: AwsRole) -> None:
        """Drop the role's credentials and clients, so the next call assumes the role again.

        Called when AWS rejects the credentials themselves (expired or invalid), which
        a refresh by expiry time would not fix.
        """
        with self._lock:
            self._credentials.pop(role, None)
            self._sessions.pop(role, None)
            for key in [key for key in self._clients if key[1] == role]:
                del self._clients[key]

    def close(self) -> None:
        """Stop the threads and close every cached client's connections."""
        self._executor.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            clients = [*self._clients.values(), *self._sts_clients.values()]
            self._clients.clear()
            self._sts_clients.clear()
            self._sessions.clear()
            self._credentials.clear()
        for client in clients:
            client.close()

    # Caches, called with the lock held ----------------------------------------------

    def _role_session(self, role: AwsRole) -> botocore.session.Session:
        session = self._sessions.get(role)
        if session is None:
            session = self._new_session()
            provider = FixedCredentialProvider(self._role_credentials(role))
            session.register_component("credential_provider", CredentialResolver([provider]))
            self._sessions[role] = session
        return session

    def _role_credentials(self, role: AwsRole) -> DeferredRefreshableCredentials:
        credentials = self._credentials.get(role)
        if credentials is None:
            fetch = functools.partial(self._assume_role_for_cache, role)
            credentials = refreshable_credentials(fetch, self._clock)
            self._credentials[role] = credentials
        return credentials

    def _assume_role_for_cache(self, role: AwsRole) -> dict[str, str]:
        with self._lock:
            sts_client = self._sts_client(role.region)
        return assume_role(sts_client, role)

    def _sts_client(self, region: str) -> Any:
        # Regional STS endpoints keep AssumeRole working when another region has an
        # outage, and the region's endpoint must be enabled for the stream anyway.
        client = self._sts_clients.get(region)
        if client is None:
            client = self._source_session.create_client(
                "sts", region_name=region, config=self._config
            )
            self._sts_clients[region] = client
        return client

    def _new_session(self) -> botocore.session.Session:
        session = botocore.session.Session()
        # Sessions share the service models that botocore reads from its data files.
        session.register_component("data_loader", self._loader)
        self._register_hooks(session)
        return session

    def _register_hooks(self, session: botocore.session.Session) -> None:
        for event_name, handler in self._event_hooks:
            session.register(event_name, handler)


_shared_factory: AwsClientFactory | None = None
_shared_factory_lock = threading.Lock()


def shared_client_factory() -> AwsClientFactory:
    """Return the process's factory, so all its streams share credentials, clients and threads."""
    global _shared_factory
    with _shared_factory_lock:
        if _shared_factory is None:
            _shared_factory = AwsClientFactory()
        return _shared_factory
