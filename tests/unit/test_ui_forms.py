"""The stream form of the admin pages: reading posted fields, building bodies, placing errors."""

from __future__ import annotations

from typing import Any

import pytest

from datastreams.errors import FieldError
from datastreams.ui.forms import (
    FORM_ERRORS,
    FilterRow,
    StreamForm,
    apply_field_errors,
    body_from_form,
    form_from_post,
    form_from_stream,
    parse_decimal,
    parse_headers,
)

STREAM: dict[str, Any] = {
    "id": "01a242fa-3343-7293-924d-72e512b77cff",
    "domainId": "1176022",
    "version": 3,
    "description": "Enrollments",
    "type": "https",
    "name": "warehouse",
    "enabled": True,
    "filters": [{"eventType": "DomainEntityCreated", "properties": ["domainId", "newDomain.name"]}],
    "retryWindowSeconds": 3600,
    "backoffMaxSeconds": 60,
    "aws": None,
    "https": {
        "endpoints": ["https://a.example.org/", "https://b.example.org/"],
        "method": "PUT",
        "timeoutSeconds": 2.5,
        "retries": 1,
        "batchSize": 10,
        "maxInFlight": 2,
        "maxRecordBytes": 2048,
        "headers": {"X-Token": None},
        "signingSecretSet": True,
    },
}


def posted(**fields: str) -> dict[str, str]:
    base = {
        "description": "Grades",
        "type": "https",
        "name": "warehouse",
        "enabled": "on",
        "https.endpoints": "https://a.example.org/; https://b.example.org/",
        "https.method": "POST",
    }
    base.update(fields)
    return base


def test_form_from_stream_fills_fields() -> None:
    form = form_from_stream(STREAM)

    assert form.stream_id == STREAM["id"]
    assert form.version == 3
    assert form.value("https.endpoints") == "https://a.example.org/; https://b.example.org/"
    assert form.value("https.timeoutSeconds") == "2.5"
    assert form.value("https.headers") == "X-Token:"
    assert form.filters == [FilterRow("DomainEntityCreated", "domainId, newDomain.name")]
    assert form.signing_secret_set is True


def test_form_round_trip_keeps_stream() -> None:
    body, _ = body_from_form(form_from_stream(STREAM))

    assert body["id"] == STREAM["id"]
    assert body["version"] == 3
    assert body["filters"] == [
        {"eventType": "DomainEntityCreated", "properties": "domainId, newDomain.name"}
    ]
    assert body["https"]["timeoutSeconds"] == 2.5
    assert body["https"]["headers"] == {"X-Token": None}
    assert "signingSecret" not in body["https"]
    assert body["retryWindowSeconds"] == 3600


def test_body_numbers_and_blanks() -> None:
    form = form_from_post(
        posted(**{"https.retries": "3", "https.batchSize": "", "https.timeoutSeconds": "abc"})
    )

    body, _ = body_from_form(form)

    assert body["https"]["retries"] == 3
    assert "batchSize" not in body["https"]
    assert body["https"]["timeoutSeconds"] == "abc"


def test_body_unchecked_enabled() -> None:
    form = form_from_post({key: value for key, value in posted().items() if key != "enabled"})

    body, _ = body_from_form(form)

    assert body["enabled"] is False


def test_body_aws_type_sends_aws_only() -> None:
    form = form_from_post(
        posted(type="firehose", **{"aws.roleArn": " arn:aws:iam::1:role/x ", "aws.region": "eu"})
    )

    body, _ = body_from_form(form)

    assert "https" not in body
    assert body["aws"]["roleArn"] == "arn:aws:iam::1:role/x"
    assert body["aws"]["appendNewline"] is False


def test_filter_rows_keep_order_across_gaps() -> None:
    form = form_from_post(
        posted(
            **{
                "filters.7.eventType": "GradeChanged",
                "filters.0.eventType": "UserEntityCreated",
                "filters.0.properties": "userId",
                "filters.3.eventType": "",
                "filters.3.properties": "",
            }
        )
    )

    body, filter_rows = body_from_form(form)

    assert [row.event_type for row in form.filters] == ["UserEntityCreated", "", "GradeChanged"]
    assert [item["eventType"] for item in body["filters"]] == ["UserEntityCreated", "GradeChanged"]
    assert filter_rows == [0, 2]


def test_signing_secret_typed_removed_or_kept() -> None:
    typed = form_from_post(posted(**{"https.signingSecret": "whsec_abc"}))
    removed = form_from_post(posted(**{"https.removeSigningSecret": "on"}))
    kept = form_from_post(posted())

    assert body_from_form(typed)[0]["https"]["signingSecret"] == "whsec_abc"
    assert body_from_form(removed)[0]["https"]["signingSecret"] == ""
    assert "signingSecret" not in body_from_form(kept)[0]["https"]


def test_edit_form_takes_type_from_stream() -> None:
    form = form_from_post(posted(type="sqs", version="3"), stream=STREAM)

    assert form.stream_type == "https"
    assert form.version == 3
    assert form.signing_secret_set is True


def test_parse_headers_lines() -> None:
    headers = parse_headers("X-Token: s3cr3t\n\nX-Kept:\nX-Bare\nX-Colon: a:b\n")

    assert headers == {"X-Token": "s3cr3t", "X-Kept": None, "X-Bare": None, "X-Colon": "a:b"}


def test_errors_placed_on_fields() -> None:
    form = StreamForm()
    errors = [
        FieldError("name", "", "is required"),
        FieldError("https.endpoints[1]", "http://x", "must be an https:// URL"),
        FieldError("https.headers.Host", "Host", "is set by the service"),
        FieldError("filters[1].properties", "a..b", "must not contain an empty member"),
        FieldError("filters[0]", 5, "must be an object"),
        FieldError("https.signingSecret", None, "must be 24 to 256 characters long"),
        FieldError("version", None, "is required"),
    ]

    apply_field_errors(form, errors, filter_rows=[0, 4])

    assert form.errors["name"] == ["is required"]
    assert form.errors["https.endpoints"] == ["Endpoint 2 (http://x): must be an https:// URL"]
    assert form.errors["https.headers"] == ["Host: is set by the service"]
    assert form.errors["filters.4.properties"] == ["must not contain an empty member"]
    assert form.errors["filters.0.eventType"] == ["must be an object"]
    assert form.errors["https.signingSecret"] == ["must be 24 to 256 characters long"]
    assert form.errors[FORM_ERRORS] == ["version: is required"]


def test_sends_every_event_warning() -> None:
    enabled = form_from_post(posted())
    filtered = form_from_post(posted(**{"filters.0.eventType": "GradeChanged"}))
    disabled = form_from_post({key: value for key, value in posted().items() if key != "enabled"})

    assert enabled.sends_every_event is True
    assert filtered.sends_every_event is False
    assert disabled.sends_every_event is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("42", 42), ("", None), ("-1", None), ("²", None), ("1" * 19, None)],
)
def test_parse_decimal(text: str, expected: int | None) -> None:
    assert parse_decimal(text) == expected
