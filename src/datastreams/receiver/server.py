"""The receiver server: an aiohttp HTTPS endpoint that accepts deliveries.

It makes its own certificate authority and server certificate with trustme, so
clients trust it by loading the CA file it writes. For each request it can respond
with a status code from a script, wait a fixed delay, verify Standard Webhooks
signatures, print the events, and append a JSON line per request to a record file.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
import trustme
from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from datastreams.receiver.responses import ResponseScript, parse_response_script

logger = logging.getLogger(__name__)

# Names the server certificate covers, so clients may use any loopback spelling.
CERTIFICATE_IDENTITIES = ("127.0.0.1", "::1", "localhost")


@dataclass(slots=True)
class ReceivedRequest:
    """One request as the receiver saw it."""

    received_at: float
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    signature_valid: bool | None = None

    def event_lines(self) -> list[bytes]:
        """Return the events of the body: one line for JSON, each non-blank line for NDJSON."""
        return [line for line in self.body.split(b"\n") if line.strip()]


@dataclass(slots=True)
class ReceiverConfig:
    """Behaviour of a receiver. The defaults accept every request with 200."""

    host: str = "127.0.0.1"
    port: int = 0
    respond: str = "200"
    delay_ms: int = 0
    signing_secrets: list[str] = field(default_factory=list)
    quiet: bool = True
    record_path: str | None = None
    ca_out: str | None = None


class Receiver:
    """An HTTPS server on loopback that records what it receives.

    Tests use it in-process (``await receiver.start()``, ``receiver.requests``,
    ``receiver.handler``); ``datastreams receiver`` runs it from the command line.
    """

    def __init__(
        self,
        config: ReceiverConfig | None = None,
        *,
        output: IO[str] | None = None,
        ca: trustme.CA | None = None,
    ) -> None:
        self.config = config or ReceiverConfig()
        self.requests: list[ReceivedRequest] = []
        self.event_count = 0
        self.script: ResponseScript = parse_response_script(self.config.respond)
        self.handler: Callable[[ReceivedRequest], web.StreamResponse | None] | None = None
        # Receivers given one CA can stand for several endpoints that one CA file trusts.
        self.ca = ca or trustme.CA()
        self._certificate = self.ca.issue_cert(*CERTIFICATE_IDENTITIES)
        self._verifiers = [Webhook(secret) for secret in self.config.signing_secrets]
        self._output = output or sys.stdout
        self._record_file: IO[bytes] | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        return f"https://{host}:{self.port}/"

    def ca_pem(self) -> bytes:
        return self.ca.cert_pem.bytes()

    def client_ssl_context(self) -> ssl.SSLContext:
        """Return a client context that trusts this receiver's certificate."""
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

    def set_response_script(self, text: str) -> None:
        self.script = parse_response_script(text)

    def set_signing_secrets(self, secrets: list[str]) -> None:
        self._verifiers = [Webhook(secret) for secret in secrets]

    async def start(self) -> None:
        self._open_files()

        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._certificate.configure_cert(server_context)

        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(
            self._runner, self.config.host, self.config.port, ssl_context=server_context
        )
        await site.start()

        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        logger.info("receiver listening on %s", self.url, extra={"action": "receiver_started"})

    def _open_files(self) -> None:
        # Small local files: writing them on the event loop costs less than a thread hop.
        if self.config.ca_out:
            Path(self.config.ca_out).write_bytes(self.ca_pem())
        if self.config.record_path:
            self._record_file = open(self.config.record_path, "ab")

    async def stop(self) -> None:
        if self._runner is not None:
            # Clients keep TLS connections alive; aborting them skips the TLS close
            # handshake, which could outlive the event loop and leave open transports.
            server = self._runner.server
            for handler in list(server.connections if server is not None else []):
                if handler.transport is not None:
                    handler.transport.abort()
            await self._runner.cleanup()
            self._runner = None
        if self._record_file is not None:
            self._record_file.close()
            self._record_file = None

    async def __aenter__(self) -> Receiver:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def received_lines(self) -> list[bytes]:
        """Return every event line of every request answered with 2xx, in arrival order."""
        return [
            line
            for request in self.requests
            if 200 <= request.status < 300
            for line in request.event_lines()
        ]

    async def _handle(self, http_request: web.Request) -> web.StreamResponse:
        body = await http_request.read()
        received_at = time.time()

        if self.config.delay_ms:
            await asyncio.sleep(self.config.delay_ms / 1000)

        step = self.script.next_step()
        request = ReceivedRequest(
            received_at=received_at,
            method=http_request.method,
            path=http_request.path_qs,
            headers=dict(http_request.headers),
            body=body,
            status=step.status,
        )

        if self._verifiers:
            request.signature_valid = self._verify(request)
            if not request.signature_valid:
                request.status = 401

        response: web.StreamResponse | None = None
        if self.handler is not None:
            response = self.handler(request)
            if response is not None:
                request.status = response.status

        self.requests.append(request)
        self._report(request)

        if response is not None:
            return response
        headers = {}
        if step.retry_after_s is not None:
            headers["Retry-After"] = str(step.retry_after_s)
        return web.Response(status=request.status, headers=headers)

    def _verify(self, request: ReceivedRequest) -> bool:
        for verifier in self._verifiers:
            try:
                verifier.verify(request.body, request.headers, json_parse=False)
            except WebhookVerificationError:
                continue
            return True
        return False

    def _report(self, request: ReceivedRequest) -> None:
        lines = request.event_lines()
        if 200 <= request.status < 300:
            self.event_count += len(lines)

        if self._record_file is not None:
            record: dict[str, Any] = {
                "receivedAt": request.received_at,
                "method": request.method,
                "status": request.status,
                "events": [line.decode("utf-8", "replace") for line in lines],
            }
            if request.signature_valid is not None:
                record["signatureValid"] = request.signature_valid
            self._record_file.write(orjson.dumps(record) + b"\n")
            self._record_file.flush()

        if not self.config.quiet:
            for line in lines:
                print(f"{request.status} {line.decode('utf-8', 'replace')}", file=self._output)
