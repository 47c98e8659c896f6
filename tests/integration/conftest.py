"""Fixtures of the integration tests: one real service for the session, on 127.0.0.1.

The session server has its own SQLite file. Tenants are created with the real command
line before it starts:

    acme (root) -> acme.eu        globex (root)

with an admin and a producer key for acme and globex, and a producer key for acme.eu.
The server runs with small limits (``SMALL_LIMITS``), so size tests send kilobytes.

Delivery tests instead get a server of their own per test (``env``). It runs on a copy
of a database whose domains and keys are made once per session. Its HTTPS receivers
listen on 127.0.0.1 with certificates from one trustme CA, which the server trusts
through ``DATASTREAMS_TLS_CA_FILE``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import trustme
from delivery_env import DeliveryEnv, DeliveryTemplate
from service_process import SMALL_LIMITS, ServerProcess, Tenants, create_tenants, start_server

from datastreams.receiver import Receiver, ReceiverConfig


@pytest.fixture(scope="session")
def session_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("service") / "datastreams.db"


@pytest.fixture(scope="session")
def tenants(session_db: Path) -> Tenants:
    return create_tenants(session_db)


@pytest.fixture(scope="session")
def server(session_db: Path, tenants: Tenants) -> Iterator[ServerProcess]:
    running = start_server(session_db, env=SMALL_LIMITS)
    yield running
    running.stop()


@pytest.fixture()
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10.0) as client:
        yield client


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def receiver(ca: trustme.CA) -> AsyncIterator[Receiver]:
    async with Receiver(ReceiverConfig(), ca=ca) as started:
        yield started


@pytest.fixture
async def backup_receiver(ca: trustme.CA) -> AsyncIterator[Receiver]:
    async with Receiver(ReceiverConfig(), ca=ca) as started:
        yield started


@pytest.fixture(scope="session")
def delivery_template(tmp_path_factory: pytest.TempPathFactory) -> DeliveryTemplate:
    return DeliveryTemplate.create(tmp_path_factory.mktemp("delivery-template"))


@pytest.fixture
def env(
    tmp_path: Path, ca: trustme.CA, delivery_template: DeliveryTemplate
) -> Iterator[DeliveryEnv]:
    delivery_env = DeliveryEnv.from_template(delivery_template, tmp_path, ca)
    yield delivery_env
    delivery_env.close()
