"""``datastreams demo``: the service, a receiver and simulated school traffic in one process.

The demo starts an HTTPS receiver on 127.0.0.1 and the service on a temporary SQLite
database (or ``--db``), trusting the receiver's certificate authority and admitting
loopback endpoints. It creates a district with four schools, an admin key and a
producer key. Two HTTPS streams on the district point at the receiver: one receives
every event, the other grades and new enrollments reduced to a few members. Then
it publishes simulated events with the Python client and prints progress once a
second, read from each stream's status route.

Without ``exit_when_done`` it keeps serving after publishing, so a person can explore
the API, until SIGINT or SIGTERM. With it, the demo exits 0 once both streams have
delivered every event they select, or 1 when the timeout passes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import httpx
import uvicorn

from datastreams.api.app import create_app
from datastreams.cli.serve import bind_socket, url_of
from datastreams.client import AsyncClient, ClientError, PublishResult
from datastreams.demo.progress import DemoStream, format_progress, format_summary, read_status
from datastreams.demo.simulator import LmsSimulator
from datastreams.errors import Conflict
from datastreams.logs import configure_logging
from datastreams.receiver import ReceivedRequest, Receiver, ReceiverConfig
from datastreams.service import Runtime
from datastreams.settings import Settings, load_settings
from datastreams.store.sqlite import SQLiteStore

logger = logging.getLogger(__name__)

DISTRICT_ID = "1176022"
DISTRICT_NAME = "Riverside Unified School District"
SCHOOL_IDS = ("1176031", "1176032", "1176033", "1176034")

# The receiver and the service talk over loopback only.
LOOPBACK_NETWORKS = "127.0.0.0/8,::1/128"
MAX_PUBLISH_BATCH = 500
PROGRESS_INTERVAL_S = 1.0
# Statuses are read more often than progress is printed, so the time at which
# delivery finished is known to a fraction of a second.
STATUS_INTERVAL_S = 0.2
STATUS_TIMEOUT_S = 5.0
SERVER_START_TIMEOUT_S = 30.0
SERVER_SHUTDOWN_GRACE_S = 10

GRADE_MEMBERS = ["enrollmentId", "userId", "courseId", "itemId", "version"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

EXIT_OK = 0
EXIT_FAILED = 1
# The shell's code for a process ended by SIGINT.
EXIT_INTERRUPTED = 130


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """Options of one ``datastreams demo`` run; the command's help describes each."""

    db: str | None = None
    events: int = 5000
    rate: float = 500.0
    exit_when_done: bool = False
    timeout_s: float = 120.0
    host: str = "127.0.0.1"
    port: int = 0
    seed: int = 1
    log_level: str = "WARNING"


class DemoFailed(Exception):
    """An error that stops the demo; its message is printed for the user."""


def run_demo(options: DemoOptions, output: TextIO | None = None) -> int:
    """Run the demo and return the process exit code; messages go to ``output``."""
    if options.events < 0:
        raise ValueError(f"events must be 0 or more, got {options.events}")
    if options.rate < 0:
        raise ValueError(f"rate must be 0 or more, got {options.rate}")

    configure_logging(options.log_level)
    demo = Demo(options, output or sys.stdout)
    try:
        return asyncio.run(demo.run())
    except DemoFailed as error:
        print(f"Demo failed: {error}", file=sys.stderr, flush=True)
        return EXIT_FAILED


def demo_streams(receiver_url: str) -> list[DemoStream]:
    """Return the two streams the demo creates, pointing at paths of ``receiver_url``."""
    every_event = DemoStream(
        label="every-event",
        path="/every-event",
        body={
            "description": "Demo: every event of the district",
            "type": "https",
            "name": "demo-every-event",
            "enabled": True,
            "filters": [],
            "https": {"endpoints": [receiver_url + "every-event"], "batchSize": 100},
        },
    )
    grades = DemoStream(
        label="grades",
        path="/grades",
        body={
            "description": "Demo: grades and new enrollments, reduced to a few members",
            "type": "https",
            "name": "demo-grades",
            "enabled": True,
            "filters": [
                {
                    "eventType": "GradeCreated",
                    "properties": [*GRADE_MEMBERS, "newGrade.status", "newGrade.possible"],
                },
                {
                    "eventType": "GradeChanged",
                    "properties": [
                        *GRADE_MEMBERS,
                        "oldGrade.status",
                        "newGrade.status",
                        "newGrade.score",
                        "newGrade.possible",
                        "newGrade.letter",
                    ],
                },
                {"eventType": "EnrollmentEntityCreated", "properties": []},
            ],
            "https": {"endpoints": [receiver_url + "grades"], "batchSize": 50},
        },
        event_types=frozenset({"GradeCreated", "GradeChanged", "EnrollmentEntityCreated"}),
    )
    return [every_event, grades]


class Demo:
    """One run of the demo; ``run`` returns the exit code."""

    def __init__(self, options: DemoOptions, output: TextIO) -> None:
        self.options = options
        self.output = output
        self.streams: list[DemoStream] = []
        self.published = 0
        self.rejected = 0
        self._receiver: Receiver | None = None
        self._stop = asyncio.Event()
        self._started_at = time.monotonic()
        self._publish_started_at: float | None = None
        self._publish_finished_at: float | None = None
        self._delivered_at: float | None = None
        self._last_progress = ""

    async def run(self) -> int:
        with tempfile.TemporaryDirectory(prefix="datastreams-demo-") as work_directory:
            async with contextlib.AsyncExitStack() as stack:
                stack.enter_context(self._stop_on_signals())
                exit_code = await self._run(stack, Path(work_directory))
        return exit_code

    async def _run(self, stack: contextlib.AsyncExitStack, work_directory: Path) -> int:
        options = self.options

        receiver = self._receiver = Receiver(ReceiverConfig(quiet=True))
        receiver.handler = self._count_received
        await receiver.start()
        stack.push_async_callback(receiver.stop)
        ca_file = work_directory / "receiver-ca.pem"
        ca_file.write_bytes(receiver.ca_pem())

        settings = load_settings(
            {
                "host": options.host,
                "port": str(options.port),
                "db": options.db or str(work_directory / "demo.db"),
                "allowed_endpoint_networks": LOOPBACK_NETWORKS,
                "tls_ca_file": str(ca_file),
                "log_level": options.log_level,
            }
        )
        api_url, runtime = await self._start_service(stack, settings)
        client_url = _client_url(api_url)

        simulator = LmsSimulator(SCHOOL_IDS, seed=options.seed, parent_id=DISTRICT_ID)
        await _create_domains(runtime, simulator.school_names)
        _, admin_key = await runtime.keys.create(DISTRICT_ID, "admin", "demo admin")
        _, producer_key = await runtime.keys.create(DISTRICT_ID, "producer", "demo producer")

        admin = httpx.AsyncClient(
            base_url=client_url,
            headers={"Authorization": f"Bearer {admin_key}"},
            timeout=STATUS_TIMEOUT_S,
        )
        stack.push_async_callback(admin.aclose)
        self.streams = demo_streams(receiver.url)
        await self._create_streams(admin)

        self._print_header(api_url, admin_key, receiver.url, settings.db)
        publisher = AsyncClient(client_url, producer_key)
        stack.push_async_callback(publisher.aclose)
        publishing = asyncio.create_task(self._publish(publisher, simulator), name="demo-publish")
        try:
            return await self._watch(admin, publishing)
        finally:
            # _watch has raised any error of publishing already, so only its end matters.
            publishing.cancel()
            await asyncio.wait([publishing])
            if not publishing.cancelled():
                publishing.exception()

    # Setting up -----------------------------------------------------------------

    async def _start_service(
        self, stack: contextlib.AsyncExitStack, settings: Settings
    ) -> tuple[str, Runtime]:
        listening = bind_socket(settings.host, settings.port)
        stack.callback(listening.close)
        app = create_app(settings, SQLiteStore(settings.db))
        config = uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=SERVER_SHUTDOWN_GRACE_S,
        )
        server = EmbeddedServer(config)
        serving = asyncio.create_task(_serve(server, listening), name="demo-server")
        stack.push_async_callback(_stop_server, server, serving)

        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not server.started:
            if serving.done() or time.monotonic() > deadline:
                raise DemoFailed("the service failed to start; see the log on standard error")
            await asyncio.sleep(0.02)

        runtime: Runtime = app.state.runtime
        return url_of(listening), runtime

    async def _create_streams(self, admin: httpx.AsyncClient) -> None:
        base = f"/api/v1/domains/{DISTRICT_ID}/streams"
        names = {stream.body["name"] for stream in self.streams}

        # A demo that ran before on the same --db left streams whose receiver is gone.
        # Removing them keeps them from failing beside the new ones.
        listed = await admin.get(base, params={"limit": 1000})
        _raise_for_status(listed, "listing the streams of the district")
        for item in listed.json()["items"]:
            if item["type"] == "https" and item["name"] in names:
                removed = await admin.delete(f"{base}/{item['id']}")
                _raise_for_status(removed, f"removing the old demo stream {item['id']}")

        for stream in self.streams:
            created = await admin.post(base, json=stream.body)
            _raise_for_status(created, f"creating the stream {stream.body['name']}")
            stream.id = created.json()["id"]

    def _print_header(self, api_url: str, admin_key: str, receiver_url: str, db: str) -> None:
        options = self.options
        rate = f"{options.rate:g} events/s" if options.rate else "full speed"
        where = db if options.db else "a temporary database"
        self._print(
            f"Data Streams demo: {options.events} events at {rate} from {len(SCHOOL_IDS)} "
            f"schools of district {DISTRICT_ID} to 2 HTTPS streams ({where})"
        )
        self._print(f"  API       {api_url}   admin key {admin_key}")
        if not options.exit_when_done:
            # With --exit-when-done the API is gone seconds later, so a hint would mislead.
            self._print(
                f'  Try       curl -H "Authorization: Bearer {admin_key}" '
                f"{api_url}/api/v1/domains/{DISTRICT_ID}/streams"
            )
            self._print(f"  Web page  {api_url}/ (sign in with the admin key)")
        self._print(f"  Receiver  {receiver_url} (paths {', '.join(s.path for s in self.streams)})")

    # Publishing and watching --------------------------------------------------------

    async def _publish(self, publisher: AsyncClient, simulator: LmsSimulator) -> None:
        options = self.options
        # Below 500 events/s a batch is one second's events, so progress moves every second.
        batch_size = MAX_PUBLISH_BATCH
        if options.rate:
            batch_size = max(1, min(MAX_PUBLISH_BATCH, int(options.rate)))

        started = self._publish_started_at = time.monotonic()
        sent = 0
        while sent < options.events:
            if options.rate:
                delay_s = started + sent / options.rate - time.monotonic()
                if delay_s > 0:
                    await asyncio.sleep(delay_s)

            batch = list(simulator.events(min(batch_size, options.events - sent)))
            try:
                result = await publisher.publish(batch)
            except ClientError as error:
                raise DemoFailed(f"publishing failed: {error}") from None
            self._count_published(batch, result)
            sent += len(batch)
        self._publish_finished_at = time.monotonic()

    def _count_published(self, batch: list[dict[str, Any]], result: PublishResult) -> None:
        for item in result.items:
            if item.status == "rejected":
                self.rejected += 1
                if self.rejected <= 5:
                    error = item.error or {}
                    self._print(
                        f"Rejected event {batch[item.index]['type']}: "
                        f"{error.get('field')}: {error.get('message')}"
                    )
                continue

            self.published += 1
            event_type = batch[item.index]["type"]
            for stream in self.streams:
                if stream.selects(event_type):
                    stream.expected += 1

    def _count_received(self, request: ReceivedRequest) -> None:
        if 200 <= request.status < 300:
            for stream in self.streams:
                if request.path == stream.path:
                    stream.received += len(request.event_lines())
        # The receiver keeps every request, but the demo needs only these counts, so
        # dropping the requests keeps a long run from holding every body in memory.
        if self._receiver is not None:
            self._receiver.requests.clear()

    async def _watch(self, admin: httpx.AsyncClient, publishing: asyncio.Task[None]) -> int:
        options = self.options
        deadline = self._started_at + options.timeout_s
        announced_idle = False
        next_progress_at = time.monotonic() + PROGRESS_INTERVAL_S

        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), STATUS_INTERVAL_S)
            publish_error = publishing.exception() if publishing.done() else None
            if publish_error is not None:
                raise publish_error

            await asyncio.gather(*(read_status(admin, DISTRICT_ID, s) for s in self.streams))
            finished = publishing.done() and all(s.is_complete() for s in self.streams)
            now = time.monotonic()
            if finished and self._delivered_at is None:
                self._delivered_at = now
            if finished or self._stop.is_set() or now >= next_progress_at:
                self._print_progress()
                next_progress_at = now + PROGRESS_INTERVAL_S

            if self._stop.is_set():
                self._print("Stop requested; shutting down.")
                self._print_summary()
                if options.exit_when_done and not finished:
                    return EXIT_INTERRUPTED
                return EXIT_OK

            if options.exit_when_done:
                if finished and not self.rejected:
                    self._print_summary()
                    return EXIT_OK
                failure = self._failure(publishing, deadline, finished)
                if failure is not None:
                    self._print_summary()
                    print(f"Demo failed: {failure}", file=sys.stderr, flush=True)
                    return EXIT_FAILED
            elif finished and not announced_idle:
                announced_idle = True
                self._print(
                    "Every event was delivered. The service keeps running for you to "
                    "explore; press Ctrl+C to stop."
                )

    def _failure(
        self, publishing: asyncio.Task[None], deadline: float, finished: bool
    ) -> str | None:
        """Return why waiting for delivery should stop, or ``None`` to keep waiting."""
        if finished and self.rejected:
            return f"the service rejected {self.rejected} of the simulated events"

        # With nothing queued, events that are missing were dead-lettered and no
        # amount of waiting brings them.
        statuses = [stream.status for stream in self.streams]
        drained = all(status is not None and status.queue_depth == 0 for status in statuses)
        if publishing.done() and drained:
            dead = [
                f"stream {stream.label} dead-lettered {stream.status.dead_letters} events "
                f"(last error: {stream.status.last_error})"
                for stream in self.streams
                if stream.status is not None
                and stream.status.dead_letters
                and not stream.is_complete()
            ]
            if dead:
                return "; ".join(dead)

        if time.monotonic() < deadline:
            return None
        reasons = [self._shortfall(stream) for stream in self.streams if not stream.is_complete()]
        if not publishing.done():
            reasons.insert(0, f"published only {self.published} of {self.options.events} events")
        return f"timed out after {self.options.timeout_s:g} s: " + "; ".join(reasons)

    @staticmethod
    def _shortfall(stream: DemoStream) -> str:
        if stream.status is None:
            return f"stream {stream.label}: no status ({stream.status_error})"
        status = stream.status
        text = (
            f"stream {stream.label} delivered {status.delivered} of at least {stream.expected} "
            f"events, {status.queue_depth} queued, state {status.state}"
        )
        if status.last_error:
            text += f", last error: {status.last_error}"
        return text

    # Output -------------------------------------------------------------------------

    def _print(self, line: str) -> None:
        print(line, file=self.output, flush=True)

    def _print_progress(self) -> None:
        line = format_progress(self.published, self.options.events, self.streams)
        # A line is printed only when something changed, so an idle demo stays quiet.
        if line == self._last_progress:
            return
        self._last_progress = line
        elapsed_s = time.monotonic() - self._started_at
        self._print(f"[{elapsed_s:6.1f} s] {line}")

    def _print_summary(self) -> None:
        started = self._publish_started_at or time.monotonic()
        published_at = self._publish_finished_at or time.monotonic()
        for line in format_summary(
            published=self.published,
            rejected=self.rejected,
            publish_s=published_at - started,
            delivered_s=self._delivered_at - started if self._delivered_at else None,
            streams=self.streams,
        ):
            self._print(line)

    @contextlib.contextmanager
    def _stop_on_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()

        def request_stop() -> None:
            self._stop.set()
            # A second Ctrl+C then interrupts a shutdown that takes too long.
            for number in STOP_SIGNALS:
                loop.remove_signal_handler(number)

        for number in STOP_SIGNALS:
            loop.add_signal_handler(number, request_stop)
        try:
            yield
        finally:
            for number in STOP_SIGNALS:
                loop.remove_signal_handler(number)


class EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves SIGINT and SIGTERM to the demo, which stops it itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _serve(server: uvicorn.Server, listening: socket.socket) -> None:
    try:
        await server.serve(sockets=[listening])
    except SystemExit:
        # Uvicorn exits this way when the application's startup fails. The cause is
        # already logged, and the demo detects that the server never started.
        logger.error("The service failed to start", extra={"action": "demo_service_failed"})


async def _stop_server(server: uvicorn.Server, serving: asyncio.Task[None]) -> None:
    server.should_exit = True
    await serving


async def _create_domains(runtime: Runtime, school_names: dict[str, str]) -> None:
    """Create the district and its schools; reuse those a run before left in the database."""
    bodies = [{"id": DISTRICT_ID, "name": DISTRICT_NAME, "parentId": None}]
    bodies.extend(
        {"id": school_id, "name": name, "parentId": DISTRICT_ID}
        for school_id, name in school_names.items()
    )
    for body in bodies:
        with contextlib.suppress(Conflict):
            await runtime.domains.create(body)
    runtime.notify_config_change()


def _client_url(api_url: str) -> str:
    """Return the URL the demo's own clients use: loopback when the service listens on all."""
    scheme_host, _, port = api_url.rpartition(":")
    host = scheme_host.removeprefix("http://").strip("[]")
    try:
        is_unspecified = ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return api_url
    if not is_unspecified:
        return api_url
    loopback = "[::1]" if ":" in host else "127.0.0.1"
    return f"http://{loopback}:{port}"


def _raise_for_status(response: httpx.Response, doing: str) -> None:
    if response.is_success:
        return
    raise DemoFailed(f"{doing} failed: HTTP {response.status_code}: {response.text[:500]}")
