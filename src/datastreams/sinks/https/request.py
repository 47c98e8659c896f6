"""Request building for the HTTPS sink: body, content type, and Standard Webhooks headers.

One event is sent as exactly its canonical line with ``application/json``. A batch
(``batchSize`` 2 to 500) is NDJSON: each line followed by ``\\n``, with
``application/x-ndjson``. Signed requests carry ``webhook-id``, ``webhook-timestamp``
and ``webhook-signature`` as the Standard Webhooks specification defines them.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

from datastreams import __version__
from datastreams.sinks.base import OutboundRecord
from datastreams.sinks.https.config import SigningKeys

USER_AGENT = f"datastreams/{__version__}"


@dataclass(frozen=True, slots=True)
class HttpsRequest:
    """A request body with its headers, ready to send to any endpoint."""

    body: bytes
    headers: dict[str, str]
    webhook_id: str


def batch_webhook_id(records: Sequence[OutboundRecord]) -> str:
    """Return the ``webhook-id`` of a request: the event's guid, or a digest of the batch.

    The digest depends only on the guids, so a retried batch keeps its id and the
    receiver can deduplicate it.
    """
    if len(records) == 1:
        return records[0].guid

    digest = hashlib.sha256()
    for record in records:
        digest.update(record.guid.encode("ascii"))
    return "batch_" + digest.hexdigest()[:32]


def build_request(
    records: Sequence[OutboundRecord],
    custom_headers: dict[str, str],
    signing: SigningKeys,
    now_s: float | None = None,
) -> HttpsRequest:
    """Encode the records and compute the headers, signatures included."""
    if len(records) == 1:
        body = records[0].payload
        content_type = "application/json"
    else:
        body = b"".join(record.payload + b"\n" for record in records)
        content_type = "application/x-ndjson"

    # A stream's own headers may replace the User-Agent but never the content type or
    # the signature headers, because the stream model rejects those names when it is saved.
    headers = {"User-Agent": USER_AGENT}
    headers.update(custom_headers)
    headers["Content-Type"] = content_type

    webhook_id = batch_webhook_id(records)
    signatures = _signatures(webhook_id, body, signing, time.time() if now_s is None else now_s)
    if signatures is not None:
        timestamp, signature = signatures
        headers["webhook-id"] = webhook_id
        headers["webhook-timestamp"] = timestamp
        headers["webhook-signature"] = signature

    return HttpsRequest(body=body, headers=headers, webhook_id=webhook_id)


def _signatures(
    webhook_id: str, body: bytes, signing: SigningKeys, now_s: float
) -> tuple[str, str] | None:
    secrets = [signing.current] if signing.current else []
    if signing.previous and (signing.previous_expires_at_s or 0) > now_s:
        secrets.append(signing.previous)
    if not secrets:
        return None

    # Standard Webhooks signs whole seconds; every signature covers the same timestamp.
    timestamp = datetime.fromtimestamp(int(now_s), UTC)
    signature = " ".join(signer_for(secret).sign(webhook_id, timestamp, body) for secret in secrets)
    return str(int(now_s)), signature


def signer_for(secret: str) -> Webhook:
    """Return the signer of a secret.

    A ``whsec_`` secret is base64 after the prefix, as Standard Webhooks defines it;
    any other secret is used as its UTF-8 bytes, so a receiver can verify with the
    text it was given and a plain HMAC-SHA256.
    """
    if secret.startswith("whsec_"):
        return Webhook(secret)
    return Webhook(secret.encode("utf-8"))
