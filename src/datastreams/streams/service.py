"""The stream service: create, read, change and delete a domain's data streams.

The service validates bodies (see ``datastreams.streams.model``), encrypts secrets,
and passes each change to the store together with the configuration change event
(``DataStreamConfigurationCreated``, ``...Changed``, ``...Deleted``) so that both are
written in one transaction. The API, the command line and the web pages all use it.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import logging
import os
import secrets as secrets_module
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from datastreams.errors import Conflict, FieldError, ValidationError
from datastreams.events.container import Event
from datastreams.events.timefmt import now_time
from datastreams.security.secrets import SecretBox
from datastreams.store.base import Store
from datastreams.store.records import Domain, StreamRecord
from datastreams.streams.model import (
    StreamDraft,
    merge_patch,
    parse_stream_body,
    read_version,
    stream_summary,
    stream_to_api,
)

logger = logging.getLogger(__name__)

STREAM_CREATED = "DataStreamConfigurationCreated"
STREAM_CHANGED = "DataStreamConfigurationChanged"
STREAM_DELETED = "DataStreamConfigurationDeleted"

# After a signing secret changes, requests carry a signature with the previous secret
# too for this long, so receivers can switch secrets without rejecting requests.
PREVIOUS_SECRET_VALIDITY_S = 86_400
# Checks one endpoint URL when a stream is saved and returns ``(error, warning)``.
EndpointChecker = Callable[[str], Awaitable[tuple[str | None, str | None]]]

ROTATION_MEMBERS = ("previousSigningSecret", "previousSigningSecretExpiresAtS")

# The representation of a changed stream and the warnings about its filters. Defined
# here because the ``list`` method hides the builtin inside the class body.
StreamChange = tuple[dict[str, Any], list[str]]

DEFAULT_LIST_LIMIT = 100
MAX_LIST_LIMIT = 1000


class _StreamIdGenerator:
    """Makes UUIDs version 7 (RFC 9562) that increase within this process.

    The first 48 bits are the Unix time in milliseconds and the other 74 free bits
    are random. Within one millisecond, or when the clock steps back, the random part
    of the previous id is incremented instead, so ids made by one process always sort
    in the order they were made. Ids of different processes sort by millisecond only.
    """

    _RANDOM_BITS = 74

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = 0
        self._last_random = 0

    def new_id(self) -> str:
        unix_ms = time.time_ns() // 1_000_000
        random_part = int.from_bytes(os.urandom(10), "big") >> (80 - self._RANDOM_BITS)

        with self._lock:
            if unix_ms <= self._last_ms:
                unix_ms = self._last_ms
                random_part = self._last_random + 1
                if random_part >> self._RANDOM_BITS:
                    unix_ms += 1
                    random_part = 0
            self._last_ms = unix_ms
            self._last_random = random_part

        # Layout: 48 bits time, 4 bits version (7), 12 random bits, 2 bits variant
        # (0b10), 62 random bits.
        value = (unix_ms & ((1 << 48) - 1)) << 80
        value |= 0x7 << 76
        value |= (random_part >> 62) << 64
        value |= 0x2 << 62
        value |= random_part & ((1 << 62) - 1)
        return str(uuid.UUID(int=value))


_stream_ids = _StreamIdGenerator()


def new_stream_id() -> str:
    """Return a new stream id: a UUID version 7, so lists ordered by id follow creation."""
    return _stream_ids.new_id()


class StreamService:
    """Operations on the streams of a domain, for one caller.

    ``actor`` is the user id written as ``userId`` into the configuration change
    events, when the caller is known. ``aws_principal_arn`` is the service's AWS
    identity, named in the trust policy of AWS streams.
    """

    def __init__(
        self,
        store: Store,
        secret_box: SecretBox,
        *,
        is_known_type: Callable[[str], bool],
        strict_event_types: bool,
        actor: str | None = None,
        endpoint_checker: EndpointChecker | None = None,
        aws_principal_arn: str | None = None,
    ) -> None:
        self._store = store
        self._aws_principal_arn = aws_principal_arn
        self._endpoint_checker = endpoint_checker
        self._secret_box = secret_box
        self._is_known_type = is_known_type
        self._strict_event_types = strict_event_types
        self._actor = actor

    async def create(self, domain_id: str, body: Any) -> StreamChange:
        """Validate ``body``, store a new stream and return its representation and warnings.

        ``version`` in the body is ignored. Raises ``NotFound`` for an unknown domain,
        ``ValidationError`` for an invalid body, ``Conflict`` for a duplicate name.
        """
        domain = await self._store.get_domain(domain_id)
        draft = self._parse(body, domain, current=None)
        await self.check_endpoints(draft)

        now = now_time()
        record = StreamRecord(
            id=new_stream_id(),
            domain_id=domain.id,
            type=draft.type,
            name=draft.name,
            description=draft.description,
            enabled=draft.enabled,
            version=1,
            config=draft.config,
            secrets=self._seal(draft.secrets),
            created_at=now,
            updated_at=now,
        )
        event = self._change_event(STREAM_CREATED, record, new=record, old=None, time=now)
        created = await self._store.create_stream(record, event)

        self._log_change("stream_created", created)
        return self.to_api(created, domain), draft.warnings

    async def get(self, domain_id: str, stream_id: str) -> dict[str, Any]:
        """Return the representation of one stream, or raise ``NotFound``."""
        domain = await self._store.get_domain(domain_id)
        record = await self._store.get_stream(domain_id, stream_id)
        return self.to_api(record, domain)

    async def list(
        self, domain_id: str, *, limit: int = DEFAULT_LIST_LIMIT, cursor: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Return up to ``limit`` streams of a domain after ``cursor``, and the next cursor.

        The next cursor is ``None`` on the last page.
        """
        if isinstance(limit, bool) or not 1 <= limit <= MAX_LIST_LIMIT:
            error = FieldError("limit", limit, f"must be an integer from 1 to {MAX_LIST_LIMIT}")
            raise ValidationError(fields=[error])

        domain = await self._store.get_domain(domain_id)

        # Reading one stream more than the page size shows whether another page follows.
        records = await self._store.list_streams(domain_id, limit=limit + 1, after=cursor)
        page = records[:limit]
        next_cursor = page[-1].id if len(records) > limit else None
        return [self.to_api(record, domain) for record in page], next_cursor

    async def replace(self, domain_id: str, stream_id: str, body: Any) -> StreamChange:
        """Replace a stream with ``body`` (a full representation with ``version``).

        Raises ``ValidationError`` for an invalid body or a missing ``version``, and
        ``Conflict`` when ``version`` is not the stored one.
        """
        domain = await self._store.get_domain(domain_id)
        current = await self._store.get_stream(domain_id, stream_id)
        _check_version(current, read_version(body))

        draft = self._parse(body, domain, current=current)
        await self.check_endpoints(draft)
        updated = await self._update(current, draft)
        return self.to_api(updated, domain), draft.warnings

    async def patch(self, domain_id: str, stream_id: str, patch: Any) -> StreamChange:
        """Apply a JSON Merge Patch to a stream's representation and store the result.

        The patch must carry ``version``; the patched representation is validated as
        a full body, so the errors are those of ``replace``.
        """
        if not isinstance(patch, dict):
            kind = "a list" if isinstance(patch, list) else type(patch).__name__
            error = FieldError("body", None, f"must be a JSON merge patch object, not {kind}")
            raise ValidationError(fields=[error])

        domain = await self._store.get_domain(domain_id)
        current = await self._store.get_stream(domain_id, stream_id)
        _check_version(current, read_version(patch))

        # The representation carries the stored version, so the patch's own version
        # (or its absence) decides what is validated.
        body = merge_patch(self.to_api(current, domain), patch)
        body.pop("version", None)
        if "version" in patch:
            body["version"] = patch["version"]

        draft = self._parse(body, domain, current=current)
        await self.check_endpoints(draft)
        updated = await self._update(current, draft)
        return self.to_api(updated, domain), draft.warnings

    async def set_enabled(self, domain_id: str, stream_id: str, enabled: bool) -> dict[str, Any]:
        """Turn a stream on or off and return its representation.

        A stream already in that state is returned unchanged, without a new version.
        """
        domain = await self._store.get_domain(domain_id)
        current = await self._store.get_stream(domain_id, stream_id)
        if current.enabled == enabled:
            return self.to_api(current, domain)

        now = now_time()
        changed = dataclasses.replace(
            current, enabled=enabled, version=current.version + 1, updated_at=now
        )
        event = self._change_event(STREAM_CHANGED, changed, new=changed, old=current, time=now)
        updated = await self._store.update_stream(changed, current.version, event)

        self._log_change("stream_enabled" if enabled else "stream_disabled", updated)
        return self.to_api(updated, domain)

    async def delete(self, domain_id: str, stream_id: str) -> None:
        """Delete a stream and its queued deliveries. Raises ``NotFound`` for an unknown id."""
        current = await self._store.get_stream(domain_id, stream_id)

        # Deleting is a change too, so the event carries the next version. A receiver
        # that orders events by version then applies the deletion after the last change.
        deleted = dataclasses.replace(current, version=current.version + 1)
        event = self._change_event(STREAM_DELETED, deleted, new=None, old=current, time=now_time())
        await self._store.delete_stream(domain_id, stream_id, event)

        self._log_change("stream_deleted", current)

    def to_api(self, record: StreamRecord, domain: Domain) -> dict[str, Any]:
        """Return the API representation of a stored stream, without secret values."""
        return stream_to_api(record, domain, principal_arn=self._aws_principal_arn)

    def read_secrets(self, record: StreamRecord) -> dict[str, Any]:
        """Return the decrypted secrets of a stream: ``{"headers": {...}, "signingSecret": ...}``.

        A stream without secrets gives no headers and a ``None`` signing secret.
        During a rotation, ``previousSigningSecret`` and
        ``previousSigningSecretExpiresAtS`` (Unix seconds) are present too.
        """
        if record.secrets is None:
            return {"headers": {}, "signingSecret": None}

        secrets = self._secret_box.decrypt_json(record.secrets)
        result = {
            "headers": dict(secrets.get("headers") or {}),
            "signingSecret": secrets.get("signingSecret"),
        }
        for member in ROTATION_MEMBERS:
            if secrets.get(member) is not None:
                result[member] = secrets[member]
        return result

    async def rotate_signing_secret(
        self, domain_id: str, stream_id: str
    ) -> tuple[dict[str, Any], str]:
        """Generate a new signing secret for an HTTPS stream; return the stream and the secret.

        The previous secret stays valid for ``PREVIOUS_SECRET_VALIDITY_S``, during which
        requests carry both signatures. The new secret is returned only here.
        """
        domain = await self._store.get_domain(domain_id)
        current = await self._store.get_stream(domain_id, stream_id)
        if current.type != "https":
            raise ValidationError(
                fields=[FieldError("type", current.type, "only https streams are signed")]
            )

        new_secret = generate_signing_secret()
        secrets = self.read_secrets(current)
        secrets["signingSecret"] = new_secret
        config = copy.deepcopy(current.config)
        config["https"]["signingSecretSet"] = True
        draft = StreamDraft(
            type=current.type,
            name=current.name,
            description=current.description,
            enabled=current.enabled,
            config=config,
            secrets=secrets,
        )
        updated = await self._update(current, draft)
        return self.to_api(updated, domain), new_secret

    # Helpers ----------------------------------------------------------------------

    def _parse(self, body: Any, domain: Domain, *, current: StreamRecord | None) -> StreamDraft:
        current_secrets = self.read_secrets(current) if current is not None else None
        return parse_stream_body(
            body,
            domain=domain,
            current=current,
            current_secrets=current_secrets,
            is_known_type=self._is_known_type,
            strict_event_types=self._strict_event_types,
        )

    async def check_endpoints(self, draft: StreamDraft) -> None:
        """Reject endpoints that resolve to forbidden addresses; warn about unresolved names."""
        https = draft.config.get("https")
        if self._endpoint_checker is None or not https:
            return

        errors: list[FieldError] = []
        for index, url in enumerate(https["endpoints"]):
            error, warning = await self._endpoint_checker(url)
            if error is not None:
                errors.append(FieldError(f"https.endpoints[{index}]", url, error))
            if warning is not None:
                draft.warnings.append(f"https.endpoints[{index}]: {warning}")

        if errors:
            raise ValidationError(fields=errors)

    async def _update(self, current: StreamRecord, draft: StreamDraft) -> StreamRecord:
        now = now_time()
        if draft.secrets is not None:
            _carry_rotation(self.read_secrets(current), draft.secrets)
        changed = StreamRecord(
            id=current.id,
            domain_id=current.domain_id,
            type=draft.type,
            name=draft.name,
            description=draft.description,
            enabled=draft.enabled,
            version=current.version + 1,
            config=draft.config,
            secrets=self._seal(draft.secrets),
            created_at=current.created_at,
            updated_at=now,
        )
        event = self._change_event(STREAM_CHANGED, changed, new=changed, old=current, time=now)
        updated = await self._store.update_stream(changed, current.version, event)

        self._log_change("stream_changed", updated)
        return updated

    def _seal(self, secrets: dict[str, Any] | None) -> bytes | None:
        if secrets is None:
            return None
        return self._secret_box.encrypt_json(secrets)

    def _change_event(
        self,
        event_type: str,
        record: StreamRecord,
        *,
        new: StreamRecord | None,
        old: StreamRecord | None,
        time: str,
    ) -> Event:
        data: dict[str, Any] = {"streamId": record.id, "version": record.version}
        if new is not None:
            data["newStream"] = stream_summary(new)
        if old is not None:
            data["oldStream"] = stream_summary(old)

        return Event(
            time=time,
            guid=str(uuid.uuid4()),
            domain_id=record.domain_id,
            type=event_type,
            data=data,
            user_id=self._actor,
        )

    def _log_change(self, action: str, record: StreamRecord) -> None:
        logger.info(
            "Stream %s of domain %s: %s (version %d)",
            record.id,
            record.domain_id,
            action.replace("_", " "),
            record.version,
            extra={
                "action": action,
                "stream_id": record.id,
                "domain_id": record.domain_id,
                "stream_type": record.type,
                "version": record.version,
            },
        )


def generate_signing_secret() -> str:
    """Return a new Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets_module.token_bytes(32)).decode("ascii")


def _carry_rotation(stored: dict[str, Any], new: dict[str, Any]) -> None:
    """Keep an old signing secret valid for a while after the secret changes.

    A changed secret makes the stored one the previous secret; an unchanged secret
    keeps a rotation in progress; a removed secret ends signing altogether.
    """
    stored_secret = stored.get("signingSecret")
    new_secret = new.get("signingSecret")

    if new_secret is None:
        return
    if new_secret == stored_secret:
        for member in ROTATION_MEMBERS:
            if member in stored:
                new[member] = stored[member]
        return
    if stored_secret is not None:
        new["previousSigningSecret"] = stored_secret
        new["previousSigningSecretExpiresAtS"] = time.time() + PREVIOUS_SECRET_VALIDITY_S


def _check_version(current: StreamRecord, version: int | None) -> None:
    # A missing or invalid version is reported with the body's other errors; only a
    # valid but stale one stops here.
    if version is not None and version != current.version:
        raise Conflict(
            f"stream {current.id} is at version {current.version}, not {version}; "
            "read it again and reapply the change"
        )
