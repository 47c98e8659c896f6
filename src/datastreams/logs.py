"""Logging setup: one line per record, as ``key=value`` pairs or as a JSON object.

Every record carries ``time``, ``level``, ``logger`` and ``message``, then the
``action`` extra (a stable snake_case name of what happened, such as
``api_key_revoked``) and any other extras the call passed. Tracebacks are folded into
the same line, so a log collector never splits one record into several.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

import orjson

LogFormat = Literal["text", "json"]

# Attributes every LogRecord has; anything else on a record came from ``extra``.
# Uvicorn adds ``color_message``, a copy of the message with terminal colours.
_RECORD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "color_message"}
)


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """Return the members of one log line: the fixed ones, then ``action`` and other extras."""
    fields: dict[str, Any] = {
        "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname,
        "logger": record.name,
        "message": record.getMessage(),
    }

    action = getattr(record, "action", None)
    if action is not None:
        fields["action"] = action

    for name, value in vars(record).items():
        if name not in _RECORD_ATTRIBUTES and name != "action" and not name.startswith("_"):
            fields[name] = value

    if record.exc_info:
        fields["error"] = logging.Formatter().formatException(record.exc_info)
    return fields


class KeyValueFormatter(logging.Formatter):
    """Formats a record as ``key=value`` pairs, quoting values that contain spaces or quotes."""

    def format(self, record: logging.LogRecord) -> str:
        return " ".join(
            f"{name}={_format_value(value)}" for name, value in record_fields(record).items()
        )


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        return orjson.dumps(record_fields(record), default=str).decode("utf-8")


def configure_logging(
    level: str = "INFO", *, log_format: LogFormat = "text", stream: TextIO | None = None
) -> None:
    """Send every record at ``level`` or above to ``stream`` (standard error by default).

    Uvicorn's loggers are routed through the same handler, so the whole process writes
    one format.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else KeyValueFormatter())

    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)

    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True


def _format_value(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    if text and not any(char in text for char in ' "=\n\r\t\\'):
        return text
    escaped = (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'"{escaped}"'
