"""Exceptions raised by Data Streams.

Every exception derives from ``DataStreamsError``, and each class states in
``retriable`` whether repeating the same operation later may succeed::

    DataStreamsError
    ├── ValidationError          input that breaks a documented rule (names field and value)
    │   └── BodyError            a request body that cannot be parsed at all
    ├── LimitExceeded            a body, batch or record over a configured limit
    ├── UnsupportedMediaType     a request body in a content type the route does not take
    ├── Unauthorized             a missing, unknown or revoked API key
    ├── Forbidden                a key whose role may not use the route
    ├── NotFound                 an unknown id, or one outside the caller's subtree
    ├── Conflict                 a stale version or a duplicate name
    ├── StoreError               the database failed (retriable)
    └── SettingsError            a setting with an invalid value (names the variable)

The HTTP layer maps each class to one status code (see ``datastreams.api.errors``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid input value: the field's path, the value as received, and the rule it broke.

    ``value`` is ``None`` for secrets, which are never echoed.
    """

    field: str
    value: Any
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "value": self.value, "message": self.message}


class DataStreamsError(Exception):
    """Data Streams failed."""

    code = "error"
    retriable = False

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.__doc__ or self.code)

    @property
    def message(self) -> str:
        return str(self.args[0])


class ValidationError(DataStreamsError):
    """The input is invalid."""

    code = "validation_failed"

    def __init__(self, message: str | None = None, fields: list[FieldError] | None = None) -> None:
        self.fields = list(fields or [])
        if message is None and self.fields:
            first = self.fields[0]
            message = f"{first.field}: {first.message}"
        super().__init__(message)


class BodyError(ValidationError):
    """The request body could not be parsed."""

    code = "invalid_body"


class LimitExceeded(DataStreamsError):
    """The input is larger than a configured limit."""

    code = "limit_exceeded"


class UnsupportedMediaType(DataStreamsError):
    """The content type of the request body is not supported."""

    code = "unsupported_media_type"


class Unauthorized(DataStreamsError):
    """A valid API key is required."""

    code = "unauthorized"


class Forbidden(DataStreamsError):
    """The API key's role does not allow this operation."""

    code = "forbidden"


class NotFound(DataStreamsError):
    """The requested object does not exist or is outside the caller's domains."""

    code = "not_found"


class Conflict(DataStreamsError):
    """The change conflicts with the stored state."""

    code = "conflict"


class StoreError(DataStreamsError):
    """The database operation failed."""

    code = "store_failed"
    retriable = True


class SettingsError(DataStreamsError):
    """A setting has an invalid value."""

    code = "invalid_setting"
