"""Sessions of the admin pages, kept in the memory of the process.

A browser gets a random session id in an HttpOnly, SameSite cookie and nothing else.
The session record stays on the server. It contains the principal of the admin key that
signed in, the CSRF token of the session's forms, and the flash messages for the next
page. It also contains the key itself, so every request can check the key again through
the ``Authenticator``, which notices a revoked key within a second. A session ends when
it is idle for longer than the idle time, or at sign-out.

NOTE: sessions live in one process. Several ``serve`` processes behind one address
would each need the browser to sign in again, so such a setup needs sticky routing.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from datastreams.api.auth import Principal
from datastreams.settings import Secret

DEFAULT_IDLE_S = 1800.0
# Past this many live sessions the least recently used one is dropped, so repeated
# sign-ins cannot grow memory without bound.
MAX_SESSIONS = 10_000
SESSION_ID_BYTES = 32
CSRF_TOKEN_BYTES = 32

FlashKind = Literal["success", "info", "warning", "error"]


@dataclass(frozen=True, slots=True)
class Flash:
    """A message shown once, on the next page the session renders."""

    kind: FlashKind
    text: str


@dataclass(slots=True)
class Session:
    """One signed-in browser: the key's principal, the key and the CSRF token of its forms."""

    id: str
    principal: Principal
    key: Secret
    csrf_token: str
    last_active: float
    flashes: list[Flash] = field(default_factory=list)
    # A signing secret generated for a stream, shown once on the next page of that stream.
    new_secrets: dict[str, Secret] = field(default_factory=dict)

    def flash(self, kind: FlashKind, text: str) -> None:
        """Queue a message for the next page."""
        self.flashes.append(Flash(kind, text))

    def pop_flashes(self) -> list[Flash]:
        """Return the queued messages and forget them."""
        flashes, self.flashes = self.flashes, []
        return flashes


class SessionStore:
    """The sessions of this process, each ending after ``idle_s`` seconds without activity."""

    def __init__(
        self,
        idle_s: float = DEFAULT_IDLE_S,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_sessions: int = MAX_SESSIONS,
    ) -> None:
        if idle_s <= 0:
            raise ValueError(f"the session idle time must be positive, not {idle_s!r}")
        self.idle_s = idle_s
        self._clock = clock
        self._max_sessions = max_sessions
        self._sessions: dict[str, Session] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def create(self, principal: Principal, key: str) -> Session:
        """Start a session for a key that was just authenticated, with a new id and token."""
        self._drop_expired()
        if len(self._sessions) >= self._max_sessions:
            oldest = min(self._sessions.values(), key=lambda session: session.last_active)
            del self._sessions[oldest.id]

        session = Session(
            id=secrets.token_urlsafe(SESSION_ID_BYTES),
            principal=principal,
            key=Secret(key),
            csrf_token=secrets.token_urlsafe(CSRF_TOKEN_BYTES),
            last_active=self._clock(),
        )
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None, *, touch: bool = True) -> Session | None:
        """Return the live session with this id, or ``None`` when it is unknown or idle too long.

        ``touch`` counts the request as activity. The pages' periodic refreshes pass
        ``False``, so a page left open in a tab does not keep its session alive.
        """
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None

        now = self._clock()
        if now - session.last_active > self.idle_s:
            del self._sessions[session_id]
            return None

        if touch:
            session.last_active = now
        return session

    def delete(self, session_id: str) -> None:
        """End a session; an unknown id is ignored."""
        self._sessions.pop(session_id, None)

    def _drop_expired(self) -> None:
        now = self._clock()
        expired = [
            session_id
            for session_id, session in self._sessions.items()
            if now - session.last_active > self.idle_s
        ]
        for session_id in expired:
            del self._sessions[session_id]
