"""The add and edit form of a stream: its fields, and the conversion to and from API bodies.

Form fields are named after the API paths they fill (``name``, ``https.endpoints``,
``aws.roleArn``, ``filters.0.properties``), so the field errors of a rejected body can
be shown next to the fields they name. Values stay text until they are sent: a number
that does not parse is sent as typed, and the stream service rejects it naming the
field and the value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from datastreams.errors import FieldError
from datastreams.streams.model import (
    AWS_STREAM_TYPES,
    DEFAULT_BACKOFF_MAX_S,
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_MAX_RECORD_BYTES,
    DEFAULT_RETRIES,
    DEFAULT_RETRY_WINDOW_S,
    DEFAULT_TIMEOUT_S,
)

# Errors that name no field of the form are shown at the top of the form.
FORM_ERRORS = "form"

CHECKBOXES = ("enabled", "aws.appendNewline")
TEXT_FIELDS = (
    "description",
    "type",
    "name",
    "retryWindowSeconds",
    "backoffMaxSeconds",
    "https.endpoints",
    "https.method",
    "https.timeoutSeconds",
    "https.retries",
    "https.batchSize",
    "https.maxInFlight",
    "https.maxRecordBytes",
    "https.headers",
    "aws.roleArn",
    "aws.region",
    "aws.partitionKey",
    "aws.messageGroupKey",
)
SECRET_FIELD = "https.signingSecret"
REMOVE_SECRET_FIELD = "https.removeSigningSecret"

INTEGER_FIELDS = (
    "retryWindowSeconds",
    "backoffMaxSeconds",
    "https.retries",
    "https.batchSize",
    "https.maxInFlight",
    "https.maxRecordBytes",
)

DEFAULT_VALUES: dict[str, str] = {
    "type": "https",
    "enabled": "on",
    "retryWindowSeconds": str(DEFAULT_RETRY_WINDOW_S),
    "backoffMaxSeconds": str(DEFAULT_BACKOFF_MAX_S),
    "https.method": "POST",
    "https.timeoutSeconds": str(DEFAULT_TIMEOUT_S),
    "https.retries": str(DEFAULT_RETRIES),
    "https.batchSize": str(DEFAULT_BATCH_SIZE),
    "https.maxInFlight": str(DEFAULT_MAX_IN_FLIGHT),
    "https.maxRecordBytes": str(DEFAULT_MAX_RECORD_BYTES),
    "aws.partitionKey": "domainId",
    "aws.messageGroupKey": "domainId",
    "aws.appendNewline": "on",
}

_DECIMAL = re.compile(r"[0-9]{1,18}", re.ASCII)
_FILTER_FIELD = re.compile(r"filters\.(\d{1,4})\.(eventType|properties)")
_FILTER_ERROR = re.compile(r"filters\[(\d+)\](?:\.(eventType|properties))?")
_INDEXED_ERROR = re.compile(r"(https\.endpoints)\[(\d+)\]")
MAX_FILTER_ROWS = 500


@dataclass(slots=True)
class FilterRow:
    """One "Add filter" row: an event type and its comma-separated property paths."""

    event_type: str = ""
    properties: str = ""

    @property
    def is_blank(self) -> bool:
        return not self.event_type.strip() and not self.properties.strip()


@dataclass(slots=True)
class StreamForm:
    """The state of the add or edit form: values, filter rows and errors keyed by field name.

    ``stream_id`` and ``version`` are set when the form edits a saved stream.
    ``signing_secret`` is what was typed and is never rendered back into the page.
    """

    values: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_VALUES))
    filters: list[FilterRow] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)
    stream_id: str | None = None
    version: int | None = None
    signing_secret: str = ""
    remove_signing_secret: bool = False
    signing_secret_set: bool = False
    external_id: str = ""

    @property
    def stream_type(self) -> str:
        return self.values.get("type", "https")

    @property
    def is_edit(self) -> bool:
        return self.stream_id is not None

    @property
    def enabled(self) -> bool:
        return self.values.get("enabled") == "on"

    @property
    def sends_every_event(self) -> bool:
        """Whether saving would send every event: enabled, and no filter names a type."""
        return self.enabled and not any(row.event_type.strip() for row in self.filters)

    def value(self, name: str) -> str:
        return self.values.get(name, "")

    def add_error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)


def form_from_stream(stream: Mapping[str, Any]) -> StreamForm:
    """Fill the form from a stream's API representation, for editing it."""
    form = StreamForm(stream_id=str(stream["id"]), version=int(stream["version"]))
    values = form.values
    values["description"] = stream.get("description") or ""
    values["type"] = stream["type"]
    values["name"] = stream.get("name") or ""
    values["enabled"] = "on" if stream.get("enabled") else ""
    values["retryWindowSeconds"] = str(stream.get("retryWindowSeconds", DEFAULT_RETRY_WINDOW_S))
    values["backoffMaxSeconds"] = str(stream.get("backoffMaxSeconds", DEFAULT_BACKOFF_MAX_S))

    form.filters = [
        FilterRow(item["eventType"], ", ".join(item.get("properties") or []))
        for item in stream.get("filters") or []
    ]

    https = stream.get("https")
    if https:
        values["https.endpoints"] = "; ".join(https.get("endpoints") or [])
        values["https.method"] = https.get("method") or "POST"
        values["https.timeoutSeconds"] = _number_text(https.get("timeoutSeconds"))
        for member in ("retries", "batchSize", "maxInFlight", "maxRecordBytes"):
            values[f"https.{member}"] = _number_text(https.get(member))
        # Header values are write-only, so each stored header shows as its name alone.
        values["https.headers"] = "\n".join(f"{name}:" for name in https.get("headers") or {})
        form.signing_secret_set = bool(https.get("signingSecretSet"))

    aws = stream.get("aws")
    if aws:
        values["aws.roleArn"] = aws.get("roleArn") or ""
        values["aws.region"] = aws.get("region") or ""
        values["aws.partitionKey"] = aws.get("partitionKey") or "domainId"
        values["aws.messageGroupKey"] = aws.get("messageGroupKey") or "domainId"
        values["aws.appendNewline"] = "on" if aws.get("appendNewline", True) else ""
        form.external_id = aws.get("externalId") or ""
    return form


def form_from_post(
    posted: Mapping[str, str],
    *,
    stream: Mapping[str, Any] | None = None,
) -> StreamForm:
    """Read a submitted form; ``stream`` is the saved stream when the form edits one.

    The saved stream supplies the id, the type (which cannot change) and whether a
    signing secret is stored. The version comes from the form, so a stream changed
    since the form was opened is reported as a conflict instead of being overwritten.
    """
    form = StreamForm(values={})
    for name in TEXT_FIELDS:
        form.values[name] = posted.get(name, "")
    for name in CHECKBOXES:
        form.values[name] = "on" if posted.get(name) else ""

    form.filters = _filter_rows(posted.items())
    form.signing_secret = posted.get(SECRET_FIELD, "")
    form.remove_signing_secret = bool(posted.get(REMOVE_SECRET_FIELD))

    if stream is not None:
        form.stream_id = str(stream["id"])
        form.values["type"] = stream["type"]
        form.signing_secret_set = bool((stream.get("https") or {}).get("signingSecretSet"))
        form.external_id = (stream.get("aws") or {}).get("externalId") or ""
        version = parse_decimal(posted.get("version", ""))
        form.version = version if version is not None else int(stream["version"])
    return form


def parse_decimal(text: str) -> int | None:
    """Return the integer that ``text`` writes in 1 to 18 ASCII digits, else ``None``."""
    return int(text) if _DECIMAL.fullmatch(text) else None


def _filter_rows(items: Iterable[tuple[str, str]]) -> list[FilterRow]:
    # Rows may be numbered with gaps after the script removed some; they keep their order.
    rows: dict[int, FilterRow] = {}
    for name, value in items:
        match = _FILTER_FIELD.fullmatch(name)
        if match is None:
            continue
        index = int(match[1])
        if index not in rows and len(rows) >= MAX_FILTER_ROWS:
            continue
        row = rows.setdefault(index, FilterRow())
        if match[2] == "eventType":
            row.event_type = value
        else:
            row.properties = value
    return [rows[index] for index in sorted(rows)]


def body_from_form(form: StreamForm) -> tuple[dict[str, Any], list[int]]:
    """Build the API body of a form and the form row of each filter the body lists.

    Blank filter rows are left out, so the second value maps the index of a filter
    in the body (as field errors name it) back to its row in the form.
    """
    values = form.values
    body: dict[str, Any] = {
        "description": values.get("description", ""),
        "type": form.stream_type,
        "name": values.get("name", ""),
        "enabled": form.enabled,
    }
    if form.stream_id is not None:
        body["id"] = form.stream_id
        body["version"] = form.version

    filter_rows: list[int] = []
    filters: list[dict[str, Any]] = []
    for row_index, row in enumerate(form.filters):
        if row.is_blank:
            continue
        filters.append({"eventType": row.event_type.strip(), "properties": row.properties})
        filter_rows.append(row_index)
    body["filters"] = filters

    for name in ("retryWindowSeconds", "backoffMaxSeconds"):
        _put_number(body, name, values.get(name, ""), integer=True)

    if form.stream_type in AWS_STREAM_TYPES:
        body["aws"] = _aws_body(values)
    else:
        body["https"] = _https_body(form)
    return body, filter_rows


def _https_body(form: StreamForm) -> dict[str, Any]:
    values = form.values
    https: dict[str, Any] = {
        "endpoints": values.get("https.endpoints", ""),
        "method": values.get("https.method") or "POST",
        "headers": parse_headers(values.get("https.headers", "")),
    }
    _put_number(https, "timeoutSeconds", values.get("https.timeoutSeconds", ""), integer=False)
    for member in ("retries", "batchSize", "maxInFlight", "maxRecordBytes"):
        _put_number(https, member, values.get(f"https.{member}", ""), integer=True)

    # Left blank, the signing secret keeps the stored one; removing it needs the box.
    if form.remove_signing_secret:
        https["signingSecret"] = ""
    elif form.signing_secret:
        https["signingSecret"] = form.signing_secret
    return https


def _aws_body(values: Mapping[str, str]) -> dict[str, Any]:
    return {
        "roleArn": values.get("aws.roleArn", "").strip(),
        "region": values.get("aws.region", "").strip(),
        "partitionKey": values.get("aws.partitionKey") or "domainId",
        "messageGroupKey": values.get("aws.messageGroupKey") or "domainId",
        "appendNewline": values.get("aws.appendNewline") == "on",
    }


def parse_headers(text: str) -> dict[str, str | None]:
    """Read the headers box: one ``Name: value`` a line.

    A name with an empty value (``X-Token:``) keeps the stored value, as ``null`` does
    in the API, and a header missing from the box is removed. Blank lines are skipped.
    """
    headers: dict[str, str | None] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, _, value = line.partition(":")
        headers[name.strip()] = value.strip() or None
    return headers


def _put_number(target: dict[str, Any], member: str, raw: str, *, integer: bool) -> None:
    # A blank field takes the default; text that is not a number is sent as typed.
    text = raw.strip()
    if not text:
        return
    try:
        target[member] = int(text)
        return
    except ValueError:
        pass
    if not integer:
        try:
            target[member] = float(text)
            return
        except ValueError:
            pass
    target[member] = text


def _number_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def apply_field_errors(
    form: StreamForm, errors: Iterable[FieldError], filter_rows: list[int]
) -> None:
    """Attach the field errors of a rejected body to the form fields they name."""
    for error in errors:
        name, message = _form_field_of(error, filter_rows)
        form.add_error(name, message)


def _form_field_of(error: FieldError, filter_rows: list[int]) -> tuple[str, str]:
    path = error.field

    match = _FILTER_ERROR.match(path)
    if match is not None:
        body_index = int(match[1])
        row = filter_rows[body_index] if body_index < len(filter_rows) else body_index
        member = match[2] or "eventType"
        return f"filters.{row}.{member}", error.message

    match = _INDEXED_ERROR.fullmatch(path)
    if match is not None:
        position = int(match[2]) + 1
        shown = f" ({error.value})" if isinstance(error.value, str) else ""
        return match[1], f"Endpoint {position}{shown}: {error.message}"

    if path.startswith("https.headers."):
        header = path.removeprefix("https.headers.")
        return "https.headers", f"{header or '(empty name)'}: {error.message}"

    if path in TEXT_FIELDS or path in CHECKBOXES or path == "filters":
        return path, error.message
    if path == "https.signingSecret":
        return SECRET_FIELD, error.message
    return FORM_ERRORS, f"{path}: {error.message}" if path else error.message
