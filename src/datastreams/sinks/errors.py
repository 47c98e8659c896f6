"""How a failed delivery is classified, so the dispatcher knows what to do next.

Every sink translates its library's errors (aiohttp, botocore) at one boundary into
``DeliveryError`` with one of three dispositions::

    DeliveryError
    ├── RetryableDeliveryError       the destination may accept the same records later:
    │                                the stream backs off as a whole (retriable)
    ├── ConfigurationDeliveryError   the stream's settings are wrong (401, 403, 404, 410,
    │                                redirects, TLS, a forbidden address): the stream is
    │                                ``failing`` and retries within its retry window (retriable)
    └── PermanentDeliveryError       the destination rejected these records for good (400,
                                     413, 415, 422): they become dead letters (not retriable)
"""

from __future__ import annotations

from datastreams.errors import DataStreamsError


class DeliveryError(DataStreamsError):
    """The delivery failed."""

    code = "delivery_failed"

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int | None = None,
        error_code: str | None = None,
        endpoint: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.endpoint = endpoint
        self.retry_after_s = retry_after_s

    def summary(self) -> str:
        """Return a one-line description for logs, stream status and dead letters."""
        parts = [self.message]
        if self.endpoint:
            parts.append(f"endpoint {self.endpoint}")
        return "; ".join(parts)


class RetryableDeliveryError(DeliveryError):
    """The destination failed in a way that may pass; the stream backs off."""

    code = "delivery_retryable"
    retriable = True


class ConfigurationDeliveryError(DeliveryError):
    """The stream's configuration does not work; the stream is failing until it is fixed."""

    code = "delivery_misconfigured"
    retriable = True


class PermanentDeliveryError(DeliveryError):
    """The destination rejected the records for good."""

    code = "delivery_rejected"
    retriable = False
