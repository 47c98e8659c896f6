from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from datastreams.aws.trust import trust_policy
from datastreams.errors import ValidationError
from datastreams.store.records import Domain, StreamRecord
from datastreams.streams import model
from datastreams.streams.model import (
    StreamDraft,
    merge_patch,
    parse_stream_body,
    stream_summary,
    stream_to_api,
)

DOMAIN = Domain(id="1176022", name="North", external_id="ext-1176022")
KNOWN_TYPES = {"DomainEntityCreated"}
ROLE_ARN = "arn:aws:iam::123456789012:role/datastreams"
SIGNING_SECRET = "a-signing-secret-of-thirty-two-c"


def firehose_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "description": "AdminDashboard_NewDomains_Firehose",
        "type": "firehose",
        "name": "buzz-events",
        "filters": [{"eventType": "DomainEntityCreated", "properties": "domainId, newDomain.name"}],
        "aws": {"roleArn": ROLE_ARN, "region": "us-east-1"},
    }
    body.update(changes)
    return body


def https_body(**https_changes: Any) -> dict[str, Any]:
    https: dict[str, Any] = {"endpoints": ["https://receiver.example.com/events"]}
    https.update(https_changes)
    return {"type": "https", "name": "receiver", "https": https}


def parse(
    body: Any,
    *,
    current: StreamRecord | None = None,
    current_secrets: dict[str, Any] | None = None,
    strict: bool = False,
) -> StreamDraft:
    return parse_stream_body(
        body,
        domain=DOMAIN,
        current=current,
        current_secrets=current_secrets,
        is_known_type=KNOWN_TYPES.__contains__,
        strict_event_types=strict,
    )


def field_errors(body: Any, **kwargs: Any) -> list[tuple[str, Any]]:
    with pytest.raises(ValidationError) as caught:
        parse(body, **kwargs)
    return [(error.field, error.value) for error in caught.value.fields]


def record_from(draft: StreamDraft, *, version: int = 3) -> StreamRecord:
    return StreamRecord(
        id="stream-1",
        domain_id=DOMAIN.id,
        type=draft.type,
        name=draft.name,
        description=draft.description,
        enabled=draft.enabled,
        version=version,
        config=draft.config,
        secrets=b"token" if draft.secrets else None,
        created_at="2024-01-02T03:04:05.0000000Z",
        updated_at="2024-01-03T03:04:05.0000000Z",
    )


# Common members -----------------------------------------------------------------------


def test_firehose_defaults() -> None:
    draft = parse(firehose_body())
    assert draft.enabled is True
    assert draft.config["retryWindowSeconds"] == 86400
    assert draft.config["backoffMaxSeconds"] == 300
    assert draft.config["https"] is None
    assert draft.secrets is None


def test_firehose_config_stored_form() -> None:
    draft = parse(firehose_body())
    assert draft.config["filters"] == [
        {"eventType": "DomainEntityCreated", "properties": ["domainId", "newDomain.name"]}
    ]
    assert draft.config["aws"] == {
        "roleArn": ROLE_ARN,
        "region": "us-east-1",
        "externalId": "ext-1176022",
        "partitionKey": "domainId",
        "messageGroupKey": "domainId",
        "appendNewline": True,
    }


def test_description_defaults_empty() -> None:
    body = firehose_body()
    del body["description"]
    assert parse(body).description == ""


def test_create_ignores_version() -> None:
    assert parse(firehose_body(version="anything")).version is None


def test_unknown_type_filter_warns() -> None:
    draft = parse(firehose_body(filters=[{"eventType": "Custom"}]))
    assert len(draft.warnings) == 1


def test_unknown_type_filter_strict_rejected() -> None:
    errors = field_errors(firehose_body(filters=[{"eventType": "Custom"}]), strict=True)
    assert errors == [("filters[0].eventType", "Custom")]


def test_body_not_object_rejected() -> None:
    assert field_errors(["not", "an", "object"]) == [("body", None)]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"color": "red"}, [("color", "red")]),
        ({"type": "ftp"}, [("type", "ftp")]),
        ({"name": ""}, [("name", "")]),
        ({"name": "x" * 65}, [("name", "x" * 65)]),
        ({"name": "bad name"}, [("name", "bad name")]),
        ({"description": 5}, [("description", 5)]),
        ({"description": "d" * 1025}, [("description", "d" * 1025)]),
        ({"enabled": "yes"}, [("enabled", "yes")]),
        ({"retryWindowSeconds": 59}, [("retryWindowSeconds", 59)]),
        ({"retryWindowSeconds": 1_209_601}, [("retryWindowSeconds", 1_209_601)]),
        ({"retryWindowSeconds": True}, [("retryWindowSeconds", True)]),
        ({"backoffMaxSeconds": 0}, [("backoffMaxSeconds", 0)]),
        ({"backoffMaxSeconds": 1.5}, [("backoffMaxSeconds", 1.5)]),
        ({"filters": "DomainEntityCreated"}, [("filters", "DomainEntityCreated")]),
        ({"id": "chosen-id"}, [("id", "chosen-id")]),
        ({"domainId": "other"}, [("domainId", "other")]),
        ({"createdAt": "2024-01-01T00:00:00Z"}, [("createdAt", "2024-01-01T00:00:00Z")]),
        ({"https": {"endpoints": []}}, [("https", {"endpoints": []})]),
    ],
)
def test_common_member_rejected(changes: dict[str, Any], expected: list[tuple[str, Any]]) -> None:
    assert field_errors(firehose_body(**changes)) == expected


def test_read_only_members_matching_accepted() -> None:
    draft = parse(firehose_body(domainId=DOMAIN.id, id=None, createdAt=None))
    assert draft.name == "buzz-events"


def test_all_errors_collected() -> None:
    body = firehose_body(name="", enabled=1, extra=True)
    body["aws"] = {"roleArn": "arn:nope", "region": "Mars"}
    errors = field_errors(body)
    assert [field for field, _ in errors] == [
        "extra",
        "name",
        "enabled",
        "aws.roleArn",
        "aws.region",
    ]


def test_limits_at_bounds_accepted() -> None:
    draft = parse(firehose_body(retryWindowSeconds=60, backoffMaxSeconds=3600))
    assert draft.config["retryWindowSeconds"] == 60
    assert draft.config["backoffMaxSeconds"] == 3600


# AWS targets --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "events",
        "events.fifo",
        "a" * 80,
        "a" * 75 + ".fifo",
        "https://sqs.us-east-1.amazonaws.com/123456789012/events",
    ],
)
def test_sqs_name_accepted(name: str) -> None:
    body = firehose_body(type="sqs", name=name)
    assert parse(body).name == name


@pytest.mark.parametrize(
    "name",
    [
        "a" * 81,
        "a" * 76 + ".fifo",
        "queue.name",
        "http://sqs.us-east-1.amazonaws.com/123456789012/events",
        "https://sqs.us-east-1.amazonaws.com/123/events",
        "https://sqs.us-east-1.amazonaws.com/123456789012/bad.name",
        "https://queue.example.com/123456789012/events",
        "https://user@sqs.us-east-1.amazonaws.com/123456789012/events",
        "https://sqs.us-east-1.amazonaws.com/123456789012/events?x=1",
    ],
)
def test_sqs_name_rejected(name: str) -> None:
    assert field_errors(firehose_body(type="sqs", name=name)) == [("name", name)]


def test_kinesis_name_max_length() -> None:
    assert parse(firehose_body(type="kinesis", name="k" * 128)).name == "k" * 128


def test_kinesis_name_too_long_rejected() -> None:
    assert field_errors(firehose_body(type="kinesis", name="k" * 129)) == [("name", "k" * 129)]


@pytest.mark.parametrize(
    "role_arn",
    [
        "arn:aws:iam::123456789012:role/datastreams",
        "arn:aws-us-gov:iam::123456789012:role/path/to/role+x=y,z.w@v-u_t",
    ],
)
def test_role_arn_accepted(role_arn: str) -> None:
    body = firehose_body(aws={"roleArn": role_arn, "region": "us-gov-west-1"})
    assert parse(body).config["aws"]["roleArn"] == role_arn


@pytest.mark.parametrize(
    ("aws", "expected"),
    [
        (None, [("aws", None)]),
        ({"region": "us-east-1"}, [("aws.roleArn", None)]),
        (
            {"roleArn": "arn:aws:iam::12345:role/x", "region": "us-east-1"},
            [("aws.roleArn", "arn:aws:iam::12345:role/x")],
        ),
        ({"roleArn": ROLE_ARN}, [("aws.region", None)]),
        ({"roleArn": ROLE_ARN, "region": "useast1"}, [("aws.region", "useast1")]),
        (
            {"roleArn": ROLE_ARN, "region": "us-east-1", "partitionKey": "sessionId"},
            [("aws.partitionKey", "sessionId")],
        ),
        (
            {"roleArn": ROLE_ARN, "region": "us-east-1", "messageGroupKey": 3},
            [("aws.messageGroupKey", 3)],
        ),
        (
            {"roleArn": ROLE_ARN, "region": "us-east-1", "appendNewline": "no"},
            [("aws.appendNewline", "no")],
        ),
        (
            {"roleArn": ROLE_ARN, "region": "us-east-1", "externalId": "mine"},
            [("aws.externalId", "mine")],
        ),
        ({"roleArn": ROLE_ARN, "region": "us-east-1", "secretKey": "x"}, [("aws.secretKey", "x")]),
    ],
)
def test_aws_rejected(aws: Any, expected: list[tuple[str, Any]]) -> None:
    assert field_errors(firehose_body(aws=aws)) == expected


def test_aws_external_id_matching_accepted() -> None:
    aws = {"roleArn": ROLE_ARN, "region": "us-east-1", "externalId": "ext-1176022"}
    assert parse(firehose_body(aws=aws)).config["aws"]["externalId"] == "ext-1176022"


def test_aws_choices_kept() -> None:
    aws = {
        "roleArn": ROLE_ARN,
        "region": "eu-west-2",
        "partitionKey": "guid",
        "messageGroupKey": "userId",
        "appendNewline": False,
    }
    config = parse(firehose_body(type="kinesis", aws=aws)).config["aws"]
    assert config["partitionKey"] == "guid"
    assert config["messageGroupKey"] == "userId"
    assert config["appendNewline"] is False


# HTTPS targets ------------------------------------------------------------------------


def test_https_defaults() -> None:
    draft = parse(https_body())
    assert draft.config["aws"] is None
    assert draft.config["https"] == {
        "endpoints": ["https://receiver.example.com/events"],
        "method": "POST",
        "timeoutSeconds": 2,
        "retries": 2,
        "batchSize": 1,
        "maxInFlight": 1,
        "maxRecordBytes": 1048576,
        "headers": {},
        "signingSecretSet": False,
    }


def test_https_endpoints_from_string() -> None:
    draft = parse(https_body(endpoints="https://a.example.com/x; https://b.example.com:8443/y;"))
    assert draft.config["https"]["endpoints"] == [
        "https://a.example.com/x",
        "https://b.example.com:8443/y",
    ]


def test_https_method_upper_cased() -> None:
    assert parse(https_body(method="put")).config["https"]["method"] == "PUT"


def test_https_fractional_timeout_kept() -> None:
    assert parse(https_body(timeoutSeconds=1.5)).config["https"]["timeoutSeconds"] == 1.5


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"endpoints": []}, [("https.endpoints", [])]),
        ({"endpoints": ""}, [("https.endpoints", "")]),
        ({"endpoints": 5}, [("https.endpoints", 5)]),
        (
            {"endpoints": [f"https://h{i}.example.com" for i in range(6)]},
            [("https.endpoints", [f"https://h{i}.example.com" for i in range(6)])],
        ),
        (
            {"endpoints": ["https://ok.example.com", "http://x"]},
            [("https.endpoints[1]", "http://x")],
        ),
        (
            {"endpoints": ["https://user:pw@x.example.com"]},
            [("https.endpoints[0]", "https://user:pw@x.example.com")],
        ),
        ({"endpoints": ["https:///path"]}, [("https.endpoints[0]", "https:///path")]),
        (
            {"endpoints": ["https://x.example.com/#top"]},
            [("https.endpoints[0]", "https://x.example.com/#top")],
        ),
        (
            {"endpoints": ["https://x.example.com:99999/"]},
            [("https.endpoints[0]", "https://x.example.com:99999/")],
        ),
        (
            {"endpoints": ["https://x.example.com/a b"]},
            [("https.endpoints[0]", "https://x.example.com/a b")],
        ),
        ({"endpoints": [7]}, [("https.endpoints[0]", 7)]),
        ({"endpoints": "https://a.example.com;ftp://b"}, [("https.endpoints[1]", "ftp://b")]),
        ({"method": "GET"}, [("https.method", "GET")]),
        ({"timeoutSeconds": 0.5}, [("https.timeoutSeconds", 0.5)]),
        ({"timeoutSeconds": 31}, [("https.timeoutSeconds", 31)]),
        ({"timeoutSeconds": "2"}, [("https.timeoutSeconds", "2")]),
        ({"retries": 11}, [("https.retries", 11)]),
        ({"batchSize": 0}, [("https.batchSize", 0)]),
        ({"batchSize": 501}, [("https.batchSize", 501)]),
        ({"maxInFlight": 65}, [("https.maxInFlight", 65)]),
        ({"maxRecordBytes": 1023}, [("https.maxRecordBytes", 1023)]),
        ({"maxRecordBytes": 10_485_761}, [("https.maxRecordBytes", 10_485_761)]),
        ({"compress": True}, [("https.compress", True)]),
        ({"signingSecretSet": True}, [("https.signingSecretSet", True)]),
    ],
)
def test_https_rejected(changes: dict[str, Any], expected: list[tuple[str, Any]]) -> None:
    assert field_errors(https_body(**changes)) == expected


def test_https_endpoint_error_message() -> None:
    with pytest.raises(ValidationError) as caught:
        parse(https_body(endpoints=["http://x"]))
    assert caught.value.fields[0].message == "must be an https:// URL"


def test_https_endpoint_hook_message_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model, "check_endpoint_url", lambda url: "resolves to a private address")
    with pytest.raises(ValidationError) as caught:
        parse(https_body(endpoints=["https://ok.example.com", "https://internal.example.com"]))

    errors = caught.value.fields
    assert [(error.field, error.value) for error in errors] == [
        ("https.endpoints[0]", "https://ok.example.com"),
        ("https.endpoints[1]", "https://internal.example.com"),
    ]
    assert errors[0].message == "resolves to a private address"


def test_https_aws_member_must_be_null() -> None:
    body = https_body()
    body["aws"] = {"roleArn": ROLE_ARN, "region": "us-east-1"}
    assert field_errors(body) == [("aws", body["aws"])]


def test_https_object_required() -> None:
    assert field_errors({"type": "https", "name": "receiver"}) == [("https", None)]


def test_https_name_free_form() -> None:
    body = https_body()
    body["name"] = "Receiver #1 (EU)"
    assert parse(body).name == "Receiver #1 (EU)"


def test_https_name_control_characters_rejected() -> None:
    body = https_body()
    body["name"] = "bad\nname"
    assert field_errors(body) == [("name", "bad\nname")]


# Headers and signing secret --------------------------------------------------------------


def test_headers_stored_apart() -> None:
    draft = parse(https_body(headers={"X-Token": "tok", "Authorization": "Bearer b"}))
    assert draft.config["https"]["headers"] == {"X-Token": None, "Authorization": None}
    assert draft.secrets == {
        "headers": {"X-Token": "tok", "Authorization": "Bearer b"},
        "signingSecret": None,
    }


def test_signing_secret_stored_apart() -> None:
    draft = parse(https_body(signingSecret=SIGNING_SECRET))
    assert draft.config["https"]["signingSecretSet"] is True
    assert draft.secrets == {"headers": {}, "signingSecret": SIGNING_SECRET}


def test_signing_key_whsec_accepted() -> None:
    key = "whsec_" + base64.b64encode(bytes(range(32))).decode()
    assert parse(https_body(signingSecret=key)).secrets == {"headers": {}, "signingSecret": key}


@pytest.mark.parametrize(
    "secret",
    [
        "too-short",
        "x" * 257,
        "whsec_not*base64",
        "whsec_" + base64.b64encode(b"short").decode(),
        "whsec_" + base64.b64encode(bytes(65)).decode(),
        "contains\ncontrol-characters-here",
        42,
    ],
)
def test_signing_secret_rejected_without_echo(secret: Any) -> None:
    assert field_errors(https_body(signingSecret=secret)) == [("https.signingSecret", None)]


@pytest.mark.parametrize(
    ("headers", "field"),
    [
        ({"Bad Name": "v"}, "https.headers.Bad Name"),
        ({"Host": "v"}, "https.headers.Host"),
        ({"content-type": "v"}, "https.headers.content-type"),
        ({"Content-Length": "v"}, "https.headers.Content-Length"),
        ({"Connection": "v"}, "https.headers.Connection"),
        ({"Transfer-Encoding": "v"}, "https.headers.Transfer-Encoding"),
        ({"Webhook-Signature": "v"}, "https.headers.Webhook-Signature"),
        ({"X-A": "v", "x-a": "w"}, "https.headers.x-a"),
    ],
)
def test_header_name_rejected(headers: dict[str, Any], field: str) -> None:
    assert [name for name, _ in field_errors(https_body(headers=headers))] == [field]


@pytest.mark.parametrize(
    "value",
    ["line\r\nbreak", "nul\x00", "v" * 4097, 5],
)
def test_header_value_rejected_without_echo(value: Any) -> None:
    errors = field_errors(https_body(headers={"X-Token": value}))
    assert errors == [("https.headers.X-Token", None)]


def test_header_value_tab_accepted() -> None:
    draft = parse(https_body(headers={"X-Token": "a\tb"}))
    assert draft.secrets is not None
    assert draft.secrets["headers"] == {"X-Token": "a\tb"}


def test_header_count_limit() -> None:
    headers = {f"X-H{i}": "v" for i in range(21)}
    errors = field_errors(https_body(headers=headers))
    assert [field for field, _ in errors] == ["https.headers"]


def test_header_null_without_stored_value_rejected() -> None:
    assert field_errors(https_body(headers={"X-Token": None})) == [("https.headers.X-Token", None)]


def test_headers_not_object_rejected_without_echo() -> None:
    assert field_errors(https_body(headers=["X-Token: secret"])) == [("https.headers", None)]


# Updates ------------------------------------------------------------------------------


def stored_https_stream() -> tuple[StreamRecord, dict[str, Any]]:
    draft = parse(
        https_body(headers={"X-Token": "tok", "X-Other": "o"}, signingSecret=SIGNING_SECRET)
    )
    assert draft.secrets is not None
    return record_from(draft), draft.secrets


def update(body: dict[str, Any]) -> StreamDraft:
    current, secrets = stored_https_stream()
    return parse(body, current=current, current_secrets=secrets)


def api_body() -> dict[str, Any]:
    current, _ = stored_https_stream()
    return stream_to_api(current, DOMAIN)


def test_update_get_body_round_trips() -> None:
    draft = update(api_body())
    current, secrets = stored_https_stream()
    assert draft.config == current.config
    assert draft.secrets == secrets
    assert draft.version == 3


def test_update_requires_version() -> None:
    body = api_body()
    del body["version"]
    current, secrets = stored_https_stream()
    errors = field_errors(body, current=current, current_secrets=secrets)
    assert errors == [("version", None)]


@pytest.mark.parametrize("version", ["3", 0, True, 2.0])
def test_update_invalid_version_rejected(version: Any) -> None:
    body = api_body()
    body["version"] = version
    current, secrets = stored_https_stream()
    assert field_errors(body, current=current, current_secrets=secrets) == [("version", version)]


def test_update_type_change_rejected() -> None:
    body = api_body()
    body["type"] = "sqs"
    current, secrets = stored_https_stream()
    errors = field_errors(body, current=current, current_secrets=secrets)
    assert errors[0] == ("type", "sqs")


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("id", "stream-2"),
        ("domainId", "other"),
        ("createdAt", "2020-01-01T00:00:00.0000000Z"),
        ("updatedAt", "2020-01-01T00:00:00.0000000Z"),
    ],
)
def test_update_read_only_mismatch_rejected(member: str, value: str) -> None:
    body = api_body()
    body[member] = value
    current, secrets = stored_https_stream()
    assert field_errors(body, current=current, current_secrets=secrets) == [(member, value)]


def test_update_signing_secret_set_mismatch_rejected() -> None:
    body = api_body()
    body["https"]["signingSecretSet"] = False
    current, secrets = stored_https_stream()
    errors = field_errors(body, current=current, current_secrets=secrets)
    assert errors == [("https.signingSecretSet", False)]


def test_update_empty_secret_removes_it() -> None:
    body = api_body()
    body["https"]["signingSecret"] = ""
    draft = update(body)
    assert draft.config["https"]["signingSecretSet"] is False
    assert draft.secrets is not None
    assert draft.secrets["signingSecret"] is None


def test_update_new_secret_replaces() -> None:
    body = api_body()
    body["https"]["signingSecret"] = "another-secret-of-enough-length"
    draft = update(body)
    assert draft.secrets is not None
    assert draft.secrets["signingSecret"] == "another-secret-of-enough-length"


def test_update_null_header_keeps_value() -> None:
    body = api_body()
    body["https"]["headers"] = {"x-token": None}
    draft = update(body)
    assert draft.secrets is not None
    assert draft.secrets["headers"] == {"x-token": "tok"}


def test_update_empty_header_removes_it() -> None:
    body = api_body()
    body["https"]["headers"]["X-Token"] = ""
    draft = update(body)
    assert draft.config["https"]["headers"] == {"X-Other": None}
    assert draft.secrets is not None
    assert draft.secrets["headers"] == {"X-Other": "o"}


def test_update_header_left_out_removed() -> None:
    body = api_body()
    body["https"]["headers"] = {"X-Other": None}
    draft = update(body)
    assert draft.secrets is not None
    assert draft.secrets["headers"] == {"X-Other": "o"}


def test_update_headers_omitted_kept() -> None:
    body = api_body()
    del body["https"]["headers"]
    draft = update(body)
    assert draft.config["https"]["headers"] == {"X-Token": None, "X-Other": None}


def test_update_removing_all_secrets_gives_none() -> None:
    body = api_body()
    body["https"]["headers"] = {}
    body["https"]["signingSecret"] = ""
    assert update(body).secrets is None


def test_update_type_may_be_omitted() -> None:
    body = api_body()
    del body["type"]
    assert update(body).type == "https"


# Representation ----------------------------------------------------------------------


def test_api_representation_firehose() -> None:
    record = record_from(parse(firehose_body()))
    assert stream_to_api(record, DOMAIN) == {
        "id": "stream-1",
        "domainId": "1176022",
        "version": 3,
        "description": "AdminDashboard_NewDomains_Firehose",
        "type": "firehose",
        "name": "buzz-events",
        "enabled": True,
        "filters": [
            {"eventType": "DomainEntityCreated", "properties": ["domainId", "newDomain.name"]}
        ],
        "retryWindowSeconds": 86400,
        "backoffMaxSeconds": 300,
        "aws": {
            "roleArn": ROLE_ARN,
            "region": "us-east-1",
            "externalId": "ext-1176022",
            "partitionKey": "domainId",
            "messageGroupKey": "domainId",
            "appendNewline": True,
            "trustPolicy": trust_policy("ext-1176022", None),
        },
        "https": None,
        "createdAt": "2024-01-02T03:04:05.0000000Z",
        "updatedAt": "2024-01-03T03:04:05.0000000Z",
    }


def test_api_representation_hides_secrets() -> None:
    body = api_body()
    assert body["https"]["headers"] == {"X-Token": None, "X-Other": None}
    assert body["https"]["signingSecretSet"] is True
    assert "signingSecret" not in body["https"]


def test_api_representation_member_order() -> None:
    assert list(api_body()) == [
        "id",
        "domainId",
        "version",
        "description",
        "type",
        "name",
        "enabled",
        "filters",
        "retryWindowSeconds",
        "backoffMaxSeconds",
        "aws",
        "https",
        "createdAt",
        "updatedAt",
    ]


def test_api_representation_is_a_copy() -> None:
    record, _ = stored_https_stream()
    body = stream_to_api(record, DOMAIN)
    body["https"]["endpoints"].append("https://other.example.com")
    body["filters"].append({"eventType": "X"})
    assert record.config["https"]["endpoints"] == ["https://receiver.example.com/events"]
    assert record.config["filters"] == []


def test_summary_members() -> None:
    record = record_from(parse(firehose_body()))
    assert stream_summary(record) == {
        "description": "AdminDashboard_NewDomains_Firehose",
        "type": "firehose",
        "name": "buzz-events",
        "enabled": True,
        "filters": [
            {"eventType": "DomainEntityCreated", "properties": ["domainId", "newDomain.name"]}
        ],
    }


# JSON Merge Patch ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"a": "foo"}, None, None),
        ({"a": "foo"}, "bar", "bar"),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_merge_patch_rfc_examples(target: Any, patch: Any, expected: Any) -> None:
    assert merge_patch(target, patch) == expected


def test_merge_patch_leaves_target_unchanged() -> None:
    target = {"a": {"b": 1}, "c": [1]}
    before = copy.deepcopy(target)
    merge_patch(target, {"a": {"b": 2}, "c": None})
    assert target == before
