"""The HTTPS sink: sends requests with failover across endpoints and classifies outcomes.

Each call starts at the first endpoint. Each endpoint is tried ``retries + 1`` times
in a row before the next one. A configuration error moves on to the next endpoint at
once, because the same request to the same endpoint would fail again, and so does a
response with ``Retry-After``, because the endpoint asked not to be called sooner.
Connections are kept alive in one aiohttp session per sink.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

import aiohttp

from datastreams.security.endpoints import (
    GuardedResolver,
    IPNetwork,
    forbidden_reason,
    literal_address,
)
from datastreams.sinks.base import OutboundRecord, ProbeStep, SendResult, SinkLimits
from datastreams.sinks.errors import (
    ConfigurationDeliveryError,
    DeliveryError,
    PermanentDeliveryError,
    RetryableDeliveryError,
)
from datastreams.sinks.https.config import MAX_BATCH_BYTES, HttpsSinkConfig
from datastreams.sinks.https.request import HttpsRequest, build_request
from datastreams.sinks.https.retry import error_for_exception, error_for_status

logger = logging.getLogger(__name__)

# Idle keep-alive connections are closed after this long. A receiver that closes idle
# connections sooner (Apache httpd's default KeepAliveTimeout is 5 s) can fail a request
# sent on a stale connection, and the endpoint's retries cover that case.
KEEPALIVE_TIMEOUT_S = 30.0


class HttpsSink:
    """Delivers events to a stream's HTTPS endpoints."""

    def __init__(
        self,
        config: HttpsSinkConfig,
        *,
        allowed_networks: Sequence[IPNetwork] = (),
        ca_file: str | None = None,
    ) -> None:
        self.config = config
        self.limits = SinkLimits(
            max_records_per_call=config.batch_size,
            max_bytes_per_call=MAX_BATCH_BYTES,
            max_record_bytes=config.max_record_bytes,
        )
        self._allowed_networks = tuple(allowed_networks)
        self._ca_file = ca_file
        self._session: aiohttp.ClientSession | None = None
        # The endpoints are fixed for the sink's life, so their IP literals are checked
        # once rather than parsed again for every request.
        self._literal_errors = {
            endpoint: self._literal_address_error(endpoint) for endpoint in config.endpoints
        }

    def _client_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            context = ssl.create_default_context()
            if self._ca_file:
                context.load_verify_locations(cafile=self._ca_file)
            connector = aiohttp.TCPConnector(
                resolver=GuardedResolver(self._allowed_networks),
                ssl=context,
                limit=max(4, self.config.max_in_flight * 2),
                keepalive_timeout=KEEPALIVE_TIMEOUT_S,
            )
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=False, skip_auto_headers=("User-Agent",)
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, records: Sequence[OutboundRecord]) -> SendResult:
        request = build_request(records, dict(self.config.headers), self.config.signing)
        started = time.perf_counter()
        error, endpoint, status = await self._deliver(request)
        latency_ms = (time.perf_counter() - started) * 1000

        result = SendResult(endpoint=endpoint, status=status, latency_ms=latency_ms)
        seqs = [record.seq for record in records]

        if error is None:
            result.delivered = seqs
            return result

        if isinstance(error, PermanentDeliveryError):
            if len(records) > 1:
                # One bad event must not cost the batch: resend each on its own so
                # only the events the endpoint rejects become dead letters.
                return await self._send_one_by_one(records, result)
            result.dead = {seqs[0]: error.summary()}
            # Only explains the dead record (its attempt shows the code); nothing is retried.
            result.error = error
            return result

        result.retry = seqs
        result.error = error
        return result

    async def _send_one_by_one(
        self, records: Sequence[OutboundRecord], result: SendResult
    ) -> SendResult:
        for index, record in enumerate(records):
            single = await self.send([record])
            result.delivered.extend(single.delivered)
            result.dead.update(single.dead)

            if single.retry:
                # The endpoint stopped accepting: keep the rest for the stream's back-off.
                result.retry.extend(r.seq for r in records[index:])
                result.error = single.error
                break

        return result

    async def _deliver(
        self, request: HttpsRequest
    ) -> tuple[DeliveryError | None, str | None, int | None]:
        retryable: DeliveryError | None = None
        retry_later: DeliveryError | None = None
        configuration: DeliveryError | None = None

        for endpoint in self.config.endpoints:
            for _attempt in range(self.config.retries + 1):
                error, status = await self._attempt(endpoint, request)

                if error is None:
                    return None, endpoint, status
                if isinstance(error, PermanentDeliveryError):
                    return error, endpoint, status
                if isinstance(error, ConfigurationDeliveryError):
                    configuration = configuration or error
                    break

                retryable = error
                logger.debug(
                    "attempt failed: %s",
                    error.summary(),
                    extra={"action": "https_attempt_failed", "endpoint": endpoint},
                )
                if error.retry_after_s is not None:
                    # Retry-After forbids calling this endpoint again sooner, so the
                    # next endpoint gets the request now.
                    retry_later = retry_later or error
                    break

        # A retryable failure anywhere means the destination may recover by itself,
        # so the stream backs off instead of reporting a broken configuration. The
        # next call starts at the first endpoint again, so its Retry-After wins.
        final = retry_later or retryable or configuration
        assert final is not None
        return final, final.endpoint, final.status

    async def _attempt(
        self, endpoint: str, request: HttpsRequest
    ) -> tuple[DeliveryError | None, int | None]:
        literal_error = self._literal_errors.get(endpoint)
        if literal_error is not None:
            return literal_error, None

        timeout = aiohttp.ClientTimeout(total=self.config.timeout_s)
        try:
            async with self._client_session().request(
                self.config.method,
                endpoint,
                data=request.body,
                headers=request.headers,
                allow_redirects=False,
                timeout=timeout,
            ) as response:
                await response.read()
                status = response.status
                retry_after = response.headers.get("Retry-After")
        except Exception as exc:
            return error_for_exception(exc, endpoint, self.config.timeout_s), None

        return error_for_status(status, endpoint, retry_after), status

    def _literal_address_error(self, endpoint: str) -> DeliveryError | None:
        # aiohttp skips the resolver for IP literals, so they are checked here.
        host = urlsplit(endpoint).hostname or ""
        address = literal_address(host)
        if address is None:
            return None
        reason = forbidden_reason(address, self._allowed_networks)
        if reason is None:
            return None
        return ConfigurationDeliveryError(
            f"{address} {reason}", error_code="forbidden_address", endpoint=endpoint
        )

    async def probe(self, record: OutboundRecord) -> tuple[bool, list[ProbeStep]]:
        """Send the probe to every endpoint once; it passes when any endpoint accepts it."""
        request = build_request([record], dict(self.config.headers), self.config.signing)
        steps: list[ProbeStep] = []

        for endpoint in self.config.endpoints:
            started = time.perf_counter()
            error, status = await self._attempt(endpoint, request)
            latency_ms = (time.perf_counter() - started) * 1000
            steps.append(_probe_step(endpoint, error, status, latency_ms))

        return any(step.passed for step in steps), steps


def _probe_step(
    endpoint: str, error: DeliveryError | None, status: int | None, latency_ms: float
) -> ProbeStep:
    if error is None:
        return ProbeStep("send", endpoint, status, None, None, latency_ms)

    if error.error_code in {"forbidden_address", "dns_error"}:
        step = "resolve"
    elif status is None and isinstance(error, RetryableDeliveryError | ConfigurationDeliveryError):
        step = "connect"
    else:
        step = "send"
    return ProbeStep(step, endpoint, status, error.error_code, error.message, latency_ms)
