"""Paged lists: ``?limit=`` and ``?cursor=`` in, ``{"items": [...], "nextCursor": ...}`` out.

A cursor is the URL-safe base64 of the last id of the previous page. Clients must treat
it as opaque; it is not a secret, and a cursor edited by hand only moves the page start.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Query

from datastreams.errors import FieldError, ValidationError

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_CURSOR_CHARS = 512

ItemT = TypeVar("ItemT")


@dataclass(frozen=True, slots=True)
class PageRequest:
    """The requested page: at most ``limit`` items after the id ``after``.

    ``cursor`` is the cursor as received, for services that decode their own.
    """

    limit: int
    after: str | None
    cursor: str | None


def encode_cursor(last_id: str) -> str:
    """Return the cursor of the page that starts after ``last_id``."""
    return base64.urlsafe_b64encode(last_id.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> str:
    """Return the id a cursor stands for, or raise ``ValidationError`` naming ``cursor``."""
    invalid = ValidationError(fields=[FieldError("cursor", cursor, "is not a valid cursor")])
    if len(cursor) > MAX_CURSOR_CHARS:
        raise invalid

    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        decoded = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        raise invalid from None
    if not decoded:
        raise invalid
    return decoded


def page_request(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"Maximum items per page (1 to {MAX_LIMIT}).")
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(description="The `nextCursor` of the previous page.")
    ] = None,
) -> PageRequest:
    """Read ``limit`` and ``cursor`` from the query string (a FastAPI dependency)."""
    after = decode_cursor(cursor) if cursor is not None else None
    return PageRequest(limit=limit, after=after, cursor=cursor)


def page_body(
    items: Sequence[ItemT],
    page: PageRequest,
    *,
    id_of: Callable[[ItemT], str],
    to_api: Callable[[ItemT], dict[str, Any]],
) -> dict[str, Any]:
    """Return the list body for ``items``, fetched with a limit of ``page.limit + 1``.

    The one extra item only shows that another page exists; it is not returned.
    """
    shown = items[: page.limit]
    has_more = len(items) > page.limit
    next_cursor = encode_cursor(id_of(shown[-1])) if has_more and shown else None
    return list_body([to_api(item) for item in shown], next_cursor)


def list_body(items: list[Any], next_cursor: str | None) -> dict[str, Any]:
    """Return ``{"items": items, "nextCursor": next_cursor}``."""
    return {"items": items, "nextCursor": next_cursor}
