"""Sessions of the admin pages: ids, idle expiry, the bound on their number, flash messages."""

from __future__ import annotations

import pytest

from datastreams.api.auth import Principal
from datastreams.ui.sessions import SessionStore

PRINCIPAL = Principal(key_id="k1", role="admin", domain_id="1176022")
KEY = "dsa_" + "a" * 43


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_session_found_by_id() -> None:
    store = SessionStore(60)

    session = store.create(PRINCIPAL, KEY)

    assert store.get(session.id) is session
    assert session.principal == PRINCIPAL
    assert len(session.id) >= 40
    assert session.csrf_token != session.id


def test_session_key_hidden_in_repr() -> None:
    session = SessionStore(60).create(PRINCIPAL, KEY)

    assert KEY not in repr(session)


def test_unknown_or_missing_id() -> None:
    store = SessionStore(60)

    assert store.get(None) is None
    assert store.get("") is None
    assert store.get("not-a-session") is None


def test_session_ends_after_idle_time() -> None:
    clock = Clock()
    store = SessionStore(60, clock=clock)
    session = store.create(PRINCIPAL, KEY)

    clock.now += 61

    assert store.get(session.id) is None
    assert len(store) == 0


def test_activity_extends_session() -> None:
    clock = Clock()
    store = SessionStore(60, clock=clock)
    session = store.create(PRINCIPAL, KEY)

    clock.now += 50
    assert store.get(session.id) is session
    clock.now += 50

    assert store.get(session.id) is session


def test_refresh_does_not_extend_session() -> None:
    clock = Clock()
    store = SessionStore(60, clock=clock)
    session = store.create(PRINCIPAL, KEY)

    clock.now += 50
    assert store.get(session.id, touch=False) is session
    clock.now += 50

    assert store.get(session.id) is None


def test_delete_ends_session() -> None:
    store = SessionStore(60)
    session = store.create(PRINCIPAL, KEY)

    store.delete(session.id)
    store.delete(session.id)

    assert store.get(session.id) is None


def test_oldest_session_dropped_at_limit() -> None:
    clock = Clock()
    store = SessionStore(60, clock=clock, max_sessions=2)
    first = store.create(PRINCIPAL, KEY)
    clock.now += 1
    second = store.create(PRINCIPAL, KEY)
    clock.now += 1

    third = store.create(PRINCIPAL, KEY)

    assert store.get(first.id) is None
    assert store.get(second.id) is second
    assert store.get(third.id) is third


def test_flashes_shown_once() -> None:
    session = SessionStore(60).create(PRINCIPAL, KEY)
    session.flash("success", "Saved")

    assert [flash.text for flash in session.pop_flashes()] == ["Saved"]
    assert session.pop_flashes() == []


def test_idle_time_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        SessionStore(0)
