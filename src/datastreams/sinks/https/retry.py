"""Retry logic of the HTTPS sink: what each response status and error means.

- 2xx: delivered.
- 408, 429, 5xx, timeouts and connection errors: retryable; the stream backs off.
- 400, 413, 415, 422: the records sent are rejected for good. A batch so answered is
  resent one event per request, so only the bad events become dead letters.
- 401, 403, 404, 405, 410, any redirect (never followed), other 4xx, TLS errors and
  forbidden addresses: the configuration is wrong; the stream is ``failing``.
"""

from __future__ import annotations

import asyncio
import email.utils
import ssl
import time

import aiohttp

from datastreams.security.endpoints import ForbiddenEndpointAddress
from datastreams.sinks.errors import (
    ConfigurationDeliveryError,
    DeliveryError,
    PermanentDeliveryError,
    RetryableDeliveryError,
)

RETRYABLE_STATUSES = frozenset({408, 429})
PERMANENT_STATUSES = frozenset({400, 413, 415, 422})


def error_for_status(
    status: int, endpoint: str, retry_after: str | None = None
) -> DeliveryError | None:
    """Return the error that an HTTP status means, or ``None`` for success."""
    if 200 <= status < 300:
        return None

    if status in RETRYABLE_STATUSES or status >= 500:
        return RetryableDeliveryError(
            f"HTTP {status} from the endpoint",
            status=status,
            error_code=f"http_{status}",
            endpoint=endpoint,
            retry_after_s=parse_retry_after(retry_after),
        )

    if status in PERMANENT_STATUSES:
        return PermanentDeliveryError(
            f"HTTP {status}: the endpoint rejected the event",
            status=status,
            error_code=f"http_{status}",
            endpoint=endpoint,
        )

    if 300 <= status < 400:
        message = f"HTTP {status}: the endpoint redirects, and redirects are not followed"
    else:
        message = f"HTTP {status}: check the endpoint URL, method and headers"
    return ConfigurationDeliveryError(
        message, status=status, error_code=f"http_{status}", endpoint=endpoint
    )


def error_for_exception(exc: BaseException, endpoint: str, timeout_s: float) -> DeliveryError:
    """Translate an aiohttp or socket error into the sink's error classes."""
    if isinstance(exc, ForbiddenEndpointAddress):
        return ConfigurationDeliveryError(
            exc.message, error_code="forbidden_address", endpoint=endpoint
        )

    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        return ConfigurationDeliveryError(
            f"TLS failed: {exc}", error_code="tls_error", endpoint=endpoint
        )
    if isinstance(exc, ssl.SSLError):
        return ConfigurationDeliveryError(
            f"TLS failed: {exc}", error_code="tls_error", endpoint=endpoint
        )

    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return RetryableDeliveryError(
            f"timed out after {timeout_s:g} s", error_code="timeout", endpoint=endpoint
        )

    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return RetryableDeliveryError(
            f"the endpoint's host name did not resolve: {exc}",
            error_code="dns_error",
            endpoint=endpoint,
        )

    if isinstance(exc, aiohttp.ClientError | OSError):
        return RetryableDeliveryError(
            f"connection failed: {exc.__class__.__name__}: {exc}",
            error_code="connection_error",
            endpoint=endpoint,
        )

    return RetryableDeliveryError(
        f"request failed: {exc.__class__.__name__}: {exc}",
        error_code="request_error",
        endpoint=endpoint,
    )


def parse_retry_after(value: str | None, now_s: float | None = None) -> float | None:
    """Parse ``Retry-After`` (seconds or an HTTP date) into seconds from now."""
    if not value:
        return None

    text = value.strip()
    if text.isdigit():
        return float(text)

    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    current = time.time() if now_s is None else now_s
    return max(0.0, when.timestamp() - current)
