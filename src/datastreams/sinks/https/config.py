"""Settings of one HTTPS sink, built from a stream's ``https`` member and its secrets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# NDJSON batches hold at most this many events; the stream setting ``batchSize`` is
# checked against it when the stream is saved.
MAX_BATCH_SIZE = 500

# A batch body stays under this many bytes, whatever ``batchSize`` allows, so one
# request does not grow past what common web servers accept by default (nginx's
# client_max_body_size is 1 MiB; receivers raise it when they take batches).
MAX_BATCH_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SigningKeys:
    """The current signing secret and, during a rotation, the previous one until it expires."""

    current: str | None = None
    previous: str | None = None
    previous_expires_at_s: float | None = None


@dataclass(frozen=True, slots=True)
class HttpsSinkConfig:
    """Everything the HTTPS sink needs, with secrets already decrypted."""

    endpoints: tuple[str, ...]
    method: str = "POST"
    timeout_s: float = 2.0
    retries: int = 2
    batch_size: int = 1
    max_in_flight: int = 1
    max_record_bytes: int = 1_048_576
    headers: Mapping[str, str] = field(default_factory=dict)
    signing: SigningKeys = SigningKeys()

    @classmethod
    def from_stream(cls, https: Mapping[str, Any], secrets: Mapping[str, Any]) -> HttpsSinkConfig:
        """Build the config from a stream's API ``https`` member and its decrypted secrets."""
        header_values: Mapping[str, str] = secrets.get("headers") or {}
        previous_expiry = secrets.get("previousSigningSecretExpiresAtS")

        return cls(
            endpoints=tuple(https["endpoints"]),
            method=str(https.get("method", "POST")).upper(),
            timeout_s=float(https.get("timeoutSeconds", 2)),
            retries=int(https.get("retries", 2)),
            batch_size=int(https.get("batchSize", 1)),
            max_in_flight=int(https.get("maxInFlight", 1)),
            max_record_bytes=int(https.get("maxRecordBytes", 1_048_576)),
            headers=dict(header_values),
            signing=SigningKeys(
                current=secrets.get("signingSecret"),
                previous=secrets.get("previousSigningSecret"),
                previous_expires_at_s=float(previous_expiry) if previous_expiry else None,
            ),
        )
