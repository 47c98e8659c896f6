"""Rows of the store as plain dataclasses, shared by every store implementation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ApiKeyRole = Literal["admin", "producer"]
AppendStatus = Literal["accepted", "duplicate"]


@dataclass(slots=True)
class Domain:
    """A tenant. ``parent_id`` is ``None`` for a root domain."""

    id: str
    name: str
    parent_id: str | None = None
    created_at: str = ""
    updated_at: str = ""


@dataclass(slots=True)
class ApiKeyRecord:
    """An API key as stored: the SHA-256 hex digest of the key, never the key itself.

    ``prefix`` is the first characters of the key (for example ``dsa_3fK9``), shown in
    lists so an administrator can tell keys apart.
    """

    id: str
    role: ApiKeyRole
    domain_id: str
    key_hash: str
    prefix: str
    name: str = ""
    created_at: str = ""
    revoked_at: str | None = None


@dataclass(slots=True)
class StreamRecord:
    """A data stream as stored.

    ``config`` is the stream's API representation (camelCase members, see
    ``datastreams.streams``) without secret values and without the common members
    that have their own attributes here. ``secrets`` is a Fernet token holding the
    header values and signing secrets, or ``None`` when the stream has none.
    """

    id: str
    domain_id: str
    type: str
    name: str
    description: str
    enabled: bool
    version: int
    config: dict[str, Any] = field(default_factory=dict)
    secrets: bytes | None = None
    created_at: str = ""
    updated_at: str = ""


@dataclass(slots=True)
class AppendOutcome:
    """The result of appending one event: stored now, or already stored under that guid.

    For a duplicate, ``time`` is the time of the copy already stored.
    """

    status: AppendStatus
    guid: str
    time: str
    seq: int | None = None


@dataclass(slots=True)
class StoredEvent:
    """An event of the log: its position ``seq`` and its canonical line."""

    seq: int
    guid: str
    domain_id: str
    type: str
    time: str
    received_at: str
    line: bytes
