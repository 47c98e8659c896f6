"""The event container: one record of the wire format and its canonical encoding.

The canonical line is one JSON object with no insignificant whitespace, members in
the order ``time, guid, domainId, type, data, userId, agentUserId, sessionId``, and
optional members omitted rather than written as ``null``. Non-ASCII characters are
written as they are; only ``"``, ``\\`` and control characters are escaped, which is
what orjson does. Numbers inside ``data`` keep the text the producer sent because the
parser stores them as ``orjson.Fragment`` values (see ``datastreams.events.parsing``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

# Order of the members in the canonical line, as (attribute, JSON member) pairs.
CONTAINER_MEMBERS: tuple[tuple[str, str], ...] = (
    ("time", "time"),
    ("guid", "guid"),
    ("domain_id", "domainId"),
    ("type", "type"),
    ("data", "data"),
    ("user_id", "userId"),
    ("agent_user_id", "agentUserId"),
    ("session_id", "sessionId"),
)
REQUIRED_MEMBERS = frozenset({"time", "guid", "domainId", "type", "data"})
OPTIONAL_MEMBERS = ("userId", "agentUserId", "sessionId")


@dataclass(slots=True)
class Event:
    """One validated event.

    ``time`` is already canonical (UTC, seven fractional digits, ``Z``) and ``guid``
    is lower case; ``data`` may hold ``orjson.Fragment`` values for numbers.
    """

    time: str
    guid: str
    domain_id: str
    type: str
    data: dict[str, Any]
    user_id: str | None = None
    agent_user_id: str | None = None
    session_id: str | None = None
    # The canonical line when the parser already produced it, so the store does not
    # encode the event a second time. ``with_data`` returns a copy without it.
    line: bytes | None = field(default=None, compare=False, repr=False)

    def to_json_object(self) -> dict[str, Any]:
        """Return the container as a dict in canonical member order."""
        container: dict[str, Any] = {
            "time": self.time,
            "guid": self.guid,
            "domainId": self.domain_id,
            "type": self.type,
            "data": self.data,
        }
        if self.user_id is not None:
            container["userId"] = self.user_id
        if self.agent_user_id is not None:
            container["agentUserId"] = self.agent_user_id
        if self.session_id is not None:
            container["sessionId"] = self.session_id
        return container

    def encode(self) -> bytes:
        """Return the canonical line, without a trailing newline."""
        if self.line is not None:
            return self.line
        return orjson.dumps(self.to_json_object())

    def with_data(self, data: dict[str, Any]) -> Event:
        """Return a copy with ``data`` replaced, as a filter projection produces."""
        return Event(
            self.time,
            self.guid,
            self.domain_id,
            self.type,
            data,
            self.user_id,
            self.agent_user_id,
            self.session_id,
        )
