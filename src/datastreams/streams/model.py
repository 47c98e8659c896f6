"""The stream configuration: validating request bodies and building the API representation.

The API representation is a camelCase object with the common members (``id``,
``domainId``, ``version``, ``description``, ``type``, ``name``, ``enabled``,
``filters``, ``retryWindowSeconds``, ``backoffMaxSeconds``, ``createdAt``,
``updatedAt``) and exactly one of ``aws`` and ``https``, the other being ``null``.

``StreamRecord.config`` stores ``filters``, ``retryWindowSeconds``,
``backoffMaxSeconds``, ``aws`` and ``https`` in the same form, with each header value
replaced by ``null``. Header values and the signing secret are kept apart, encrypted,
as ``{"headers": {name: value}, "signingSecret": str | None}``.

Validation collects every invalid field of a body into one ``ValidationError``. Secret
values are never echoed in an error (``FieldError.value`` is ``None``).
"""

from __future__ import annotations

import base64
import binascii
import copy
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from datastreams.aws.trust import trust_policy
from datastreams.errors import FieldError, ValidationError
from datastreams.filters.spec import FilterSpec, filters_to_config, parse_filters
from datastreams.store.records import Domain, StreamRecord

STREAM_TYPES = ("firehose", "kinesis", "sqs", "https")
AWS_STREAM_TYPES = frozenset({"firehose", "kinesis", "sqs"})

# Container members that can key records: the Kinesis partition key and the SQS FIFO
# message group id.
RECORD_KEYS = ("domainId", "userId", "guid", "type")

MAX_NAME_CHARS = 256
MAX_DESCRIPTION_CHARS = 1024

DEFAULT_RETRY_WINDOW_S = 86_400
RETRY_WINDOW_RANGE_S = (60, 1_209_600)
DEFAULT_BACKOFF_MAX_S = 300
BACKOFF_MAX_RANGE_S = (1, 3600)

MAX_ENDPOINTS = 5
MAX_ENDPOINT_CHARS = 2048
HTTPS_METHODS = ("POST", "PUT")
DEFAULT_TIMEOUT_S = 2
TIMEOUT_RANGE_S = (1, 30)
DEFAULT_RETRIES = 2
RETRIES_RANGE = (0, 10)
DEFAULT_BATCH_SIZE = 1
BATCH_SIZE_RANGE = (1, 500)
DEFAULT_MAX_IN_FLIGHT = 1
MAX_IN_FLIGHT_RANGE = (1, 64)
DEFAULT_MAX_RECORD_BYTES = 1_048_576
MAX_RECORD_BYTES_RANGE = (1024, 10_485_760)

MAX_HEADERS = 20
MAX_HEADER_NAME_CHARS = 256
MAX_HEADER_VALUE_CHARS = 4096
# Headers that the HTTP client or the webhook signature sets itself.
RESERVED_HEADERS = frozenset(
    {"host", "content-type", "content-length", "connection", "transfer-encoding"}
)
RESERVED_HEADER_PREFIX = "webhook-"

SIGNING_SECRET_CHARS = (24, 256)
# A ``whsec_`` key follows the Standard Webhooks format: base64 of 24 to 64 random bytes.
SIGNING_KEY_PREFIX = "whsec_"
SIGNING_KEY_BYTES = (24, 64)

READ_ONLY_MEMBERS = ("id", "domainId", "createdAt", "updatedAt")
STREAM_MEMBERS = frozenset(
    {
        *READ_ONLY_MEMBERS,
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
    }
)
AWS_MEMBERS = frozenset(
    {
        "roleArn",
        "region",
        "externalId",
        "partitionKey",
        "messageGroupKey",
        "appendNewline",
        "trustPolicy",
    }
)
HTTPS_MEMBERS = frozenset(
    {
        "endpoints",
        "method",
        "timeoutSeconds",
        "retries",
        "batchSize",
        "maxInFlight",
        "maxRecordBytes",
        "headers",
        "signingSecret",
        "signingSecretSet",
    }
)

_ROLE_ARN = re.compile(r"arn:aws[a-zA-Z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}", re.ASCII)
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d", re.ASCII)
_FIREHOSE_NAME = re.compile(r"[a-zA-Z0-9_.-]{1,64}", re.ASCII)
_KINESIS_NAME = re.compile(r"[a-zA-Z0-9_.-]{1,128}", re.ASCII)
# At most 80 characters, the ``.fifo`` suffix of a FIFO queue included.
_SQS_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}|[A-Za-z0-9_-]{1,75}\.fifo", re.ASCII)
_SQS_QUEUE_HOST = re.compile(r"([a-z0-9-]+\.)+amazonaws\.com(\.cn)?", re.ASCII)
_AWS_ACCOUNT_ID = re.compile(r"\d{12}", re.ASCII)
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", re.ASCII)
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(slots=True)
class StreamDraft:
    """A validated request body, ready to be stored as a ``StreamRecord``.

    ``secrets`` contains the header values and signing secret in plain text, or is
    ``None`` when the stream has neither.
    """

    type: str
    name: str
    description: str
    enabled: bool
    config: dict[str, Any]
    secrets: dict[str, Any] | None
    version: int | None = None
    warnings: list[str] = field(default_factory=list)


def check_endpoint_url(url: str) -> str | None:
    """Return why the service must not send to ``url``, or ``None`` when it may.

    Called at save time for every endpoint that is a well-formed ``https://`` URL.
    The address check needs DNS and the allowed networks setting, so it runs in
    ``StreamService.check_endpoints`` instead; this hook checks only the URL's shape.
    """
    return None


def parse_stream_body(
    body: Any,
    *,
    domain: Domain,
    current: StreamRecord | None,
    current_secrets: dict[str, Any] | None,
    is_known_type: Callable[[str], bool],
    strict_event_types: bool,
) -> StreamDraft:
    """Validate a create (``current`` is ``None``) or update body and return the draft.

    For an update, ``version`` is required, ``type`` must not change, read-only
    members must equal the stored values, and secrets that the body leaves out or
    sets to ``null`` are taken from ``current_secrets``. Raises ``ValidationError``
    listing every invalid field.
    """
    if not isinstance(body, dict):
        kind = "a list" if isinstance(body, list) else type(body).__name__
        raise ValidationError(
            fields=[FieldError("body", None, f"must be a JSON object, not {kind}")]
        )

    errors: list[FieldError] = []

    for member in body:
        if member not in STREAM_MEMBERS:
            errors.append(FieldError(member, body[member], "is not a known member"))

    _check_read_only_members(body, domain, current, errors)
    version = _parse_version(body, errors) if current is not None else None

    stream_type = _parse_type(body.get("type"), current, errors)
    name = _parse_name(body.get("name"), stream_type, errors)
    description = _parse_description(body.get("description"), errors)
    enabled = _parse_bool(body, "enabled", "enabled", True, errors)
    retry_window_s = _parse_int(
        body,
        "retryWindowSeconds",
        "retryWindowSeconds",
        DEFAULT_RETRY_WINDOW_S,
        RETRY_WINDOW_RANGE_S,
        errors,
    )
    backoff_max_s = _parse_int(
        body,
        "backoffMaxSeconds",
        "backoffMaxSeconds",
        DEFAULT_BACKOFF_MAX_S,
        BACKOFF_MAX_RANGE_S,
        errors,
    )

    filters: list[FilterSpec] = []
    warnings: list[str] = []
    try:
        filters, warnings = parse_filters(
            body.get("filters"), is_known_type=is_known_type, strict=strict_event_types
        )
    except ValidationError as exc:
        errors.extend(exc.fields)

    aws_config: dict[str, Any] | None = None
    https_config: dict[str, Any] | None = None
    secrets: dict[str, Any] | None = None
    if stream_type in AWS_STREAM_TYPES:
        _require_null(body, "https", stream_type, errors)
        aws_config = _parse_aws(body.get("aws"), stream_type, domain, errors)
    elif stream_type == "https":
        _require_null(body, "aws", stream_type, errors)
        stored_https = current.config.get("https") if current is not None else None
        https_config, secrets = _parse_https(
            body.get("https"), stored_https, current_secrets, errors
        )

    if errors:
        raise ValidationError(fields=errors)

    assert stream_type is not None
    assert name is not None
    assert description is not None
    config = {
        "filters": filters_to_config(filters),
        "retryWindowSeconds": retry_window_s,
        "backoffMaxSeconds": backoff_max_s,
        "aws": aws_config,
        "https": https_config,
    }
    return StreamDraft(
        type=stream_type,
        name=name,
        description=description,
        enabled=enabled,
        config=config,
        secrets=secrets,
        version=version,
        warnings=warnings,
    )


def read_version(body: Any) -> int | None:
    """Return the ``version`` of a body when it is a valid version number, else ``None``."""
    if not isinstance(body, dict):
        return None
    version = body.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version >= 1:
        return version
    return None


def stream_to_api(
    record: StreamRecord, domain: Domain, *, principal_arn: str | None = None
) -> dict[str, Any]:
    """Return the API representation of a stored stream (no secret values).

    ``principal_arn`` is the service's AWS identity, which the ``aws.trustPolicy``
    of an AWS stream names (a placeholder when ``None``).
    """
    config = record.config
    aws = config.get("aws")
    https = config.get("https")
    return {
        "id": record.id,
        "domainId": record.domain_id,
        "version": record.version,
        "description": record.description,
        "type": record.type,
        "name": record.name,
        "enabled": record.enabled,
        "filters": copy.deepcopy(config.get("filters") or []),
        "retryWindowSeconds": config.get("retryWindowSeconds", DEFAULT_RETRY_WINDOW_S),
        "backoffMaxSeconds": config.get("backoffMaxSeconds", DEFAULT_BACKOFF_MAX_S),
        "aws": _aws_to_api(aws, domain, principal_arn) if aws is not None else None,
        "https": _https_to_api(https) if https is not None else None,
        "createdAt": record.created_at,
        "updatedAt": record.updated_at,
    }


def stream_summary(record: StreamRecord) -> dict[str, Any]:
    """Return the members that configuration change events carry: no target, no secrets."""
    return {
        "description": record.description,
        "type": record.type,
        "name": record.name,
        "enabled": record.enabled,
        "filters": copy.deepcopy(record.config.get("filters") or []),
    }


def merge_patch(target: Any, patch: Any) -> Any:
    """Return ``target`` with a JSON Merge Patch (RFC 7396) applied; ``target`` is not changed.

    A ``null`` in the patch removes the member, an object is merged member by member,
    and any other value replaces the target's.
    """
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)

    merged = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = merge_patch(merged.get(name), value)
    return merged


# Common members -----------------------------------------------------------------


def _check_read_only_members(
    body: dict[str, Any], domain: Domain, current: StreamRecord | None, errors: list[FieldError]
) -> None:
    # A client may send back what it read, so a read-only member is ignored when it
    # equals the stored value. ``null`` counts as absent.
    stored: dict[str, str | None] = {
        "id": current.id if current is not None else None,
        "domainId": domain.id,
        "createdAt": current.created_at if current is not None else None,
        "updatedAt": current.updated_at if current is not None else None,
    }
    for member in READ_ONLY_MEMBERS:
        value = body.get(member)
        if value is None or value == stored[member]:
            continue
        errors.append(FieldError(member, value, _read_only_message(stored[member])))


def _read_only_message(stored: Any) -> str:
    if stored is None:
        return "is read-only; the service assigns it, so omit it"
    return f"is read-only and differs from the stored value {stored!r}; omit it"


def _parse_version(body: dict[str, Any], errors: list[FieldError]) -> int | None:
    if "version" not in body or body["version"] is None:
        errors.append(
            FieldError("version", None, "is required: send the version of the stream you read")
        )
        return None

    version = read_version(body)
    if version is None:
        errors.append(FieldError("version", body["version"], "must be a positive integer"))
    return version


def _parse_type(raw: Any, current: StreamRecord | None, errors: list[FieldError]) -> str | None:
    if raw is None and current is not None:
        return current.type

    if raw not in STREAM_TYPES:
        errors.append(FieldError("type", raw, f"must be one of {', '.join(STREAM_TYPES)}"))
        return None

    if current is not None and raw != current.type:
        errors.append(
            FieldError(
                "type",
                raw,
                f"cannot change from {current.type!r}; create a new stream for another type",
            )
        )
        return None
    return str(raw)


def _parse_name(raw: Any, stream_type: str | None, errors: list[FieldError]) -> str | None:
    if not isinstance(raw, str) or not raw.strip():
        errors.append(FieldError("name", raw, "is required and must be a non-empty string"))
        return None
    if len(raw) > MAX_NAME_CHARS:
        errors.append(FieldError("name", raw, f"must be at most {MAX_NAME_CHARS} characters"))
        return None

    problem = _name_problem(raw, stream_type)
    if problem is not None:
        errors.append(FieldError("name", raw, problem))
        return None
    return raw


def _name_problem(name: str, stream_type: str | None) -> str | None:
    if stream_type == "firehose" and not _FIREHOSE_NAME.fullmatch(name):
        return "must be a Firehose delivery stream name: 1 to 64 of a-z, A-Z, 0-9, _ . -"
    if stream_type == "kinesis" and not _KINESIS_NAME.fullmatch(name):
        return "must be a Kinesis stream name: 1 to 128 of a-z, A-Z, 0-9, _ . -"
    if stream_type == "sqs":
        if name.lower().startswith("https://"):
            return _sqs_queue_url_problem(name)
        if not _SQS_QUEUE_NAME.fullmatch(name):
            return (
                "must be an SQS queue name (1 to 80 of a-z, A-Z, 0-9, _ -, with an optional "
                ".fifo suffix) or an https:// queue URL"
            )
    if _CONTROL_CHARACTERS.search(name):
        return "must not contain control characters"
    return None


def _sqs_queue_url_problem(url: str) -> str | None:
    # The queue URL names the account and the queue; the host must be an AWS endpoint
    # because the SQS client sends signed requests to it.
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for an invalid port)
    except ValueError:
        return "is not a valid URL"

    segments = parts.path.strip("/").split("/")
    valid = (
        parts.hostname is not None
        and _SQS_QUEUE_HOST.fullmatch(parts.hostname) is not None
        and "@" not in parts.netloc
        and not parts.query
        and not parts.fragment
        and len(segments) == 2
        and _AWS_ACCOUNT_ID.fullmatch(segments[0]) is not None
        and _SQS_QUEUE_NAME.fullmatch(segments[1]) is not None
    )
    if not valid:
        return (
            "must be an SQS queue URL of an amazonaws.com host, such as "
            "https://sqs.us-east-1.amazonaws.com/123456789012/my-queue"
        )
    return None


def _parse_description(raw: Any, errors: list[FieldError]) -> str | None:
    if raw is None:
        return ""
    if not isinstance(raw, str):
        errors.append(FieldError("description", raw, "must be a string"))
        return None
    if len(raw) > MAX_DESCRIPTION_CHARS:
        errors.append(
            FieldError("description", raw, f"must be at most {MAX_DESCRIPTION_CHARS} characters")
        )
        return None
    return raw


def _require_null(
    body: dict[str, Any], member: str, stream_type: str, errors: list[FieldError]
) -> None:
    if body.get(member) is not None:
        errors.append(FieldError(member, body[member], f"must be null for type {stream_type}"))


# Scalars --------------------------------------------------------------------------


def _parse_bool(
    source: dict[str, Any], member: str, path: str, default: bool, errors: list[FieldError]
) -> bool:
    value = source.get(member)
    if value is None:
        return default
    if not isinstance(value, bool):
        errors.append(FieldError(path, value, "must be true or false"))
        return default
    return value


def _parse_int(
    source: dict[str, Any],
    member: str,
    path: str,
    default: int,
    bounds: tuple[int, int],
    errors: list[FieldError],
) -> int:
    value = source.get(member)
    if value is None:
        return default

    low, high = bounds
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        errors.append(FieldError(path, value, f"must be an integer from {low} to {high}"))
        return default
    return value


def _parse_choice(
    source: dict[str, Any],
    member: str,
    path: str,
    default: str,
    choices: tuple[str, ...],
    errors: list[FieldError],
) -> str:
    value = source.get(member)
    if value is None:
        return default
    if value not in choices:
        errors.append(FieldError(path, value, f"must be one of {', '.join(choices)}"))
        return default
    return str(value)


def _check_members(
    source: dict[str, Any], allowed: frozenset[str], prefix: str, errors: list[FieldError]
) -> None:
    for member in source:
        if member not in allowed:
            errors.append(FieldError(f"{prefix}.{member}", source[member], "is not a known member"))


# AWS targets ----------------------------------------------------------------------


def _parse_aws(
    raw: Any, stream_type: str, domain: Domain, errors: list[FieldError]
) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        errors.append(
            FieldError(
                "aws", raw, f"must be an object with roleArn and region for type {stream_type}"
            )
        )
        return None

    errors_before = len(errors)
    _check_members(raw, AWS_MEMBERS, "aws", errors)

    role_arn = raw.get("roleArn")
    if not isinstance(role_arn, str) or not _ROLE_ARN.fullmatch(role_arn):
        errors.append(
            FieldError(
                "aws.roleArn",
                role_arn,
                "must be an IAM role ARN such as arn:aws:iam::123456789012:role/datastreams",
            )
        )

    region = raw.get("region")
    if not isinstance(region, str) or not _REGION.fullmatch(region):
        errors.append(FieldError("aws.region", region, "must be an AWS region such as us-east-1"))

    external_id = raw.get("externalId")
    if external_id is not None and external_id != domain.external_id:
        errors.append(
            FieldError("aws.externalId", external_id, _read_only_message(domain.external_id))
        )

    partition_key = _parse_choice(
        raw, "partitionKey", "aws.partitionKey", "domainId", RECORD_KEYS, errors
    )
    message_group_key = _parse_choice(
        raw, "messageGroupKey", "aws.messageGroupKey", "domainId", RECORD_KEYS, errors
    )
    append_newline = _parse_bool(raw, "appendNewline", "aws.appendNewline", True, errors)

    if len(errors) > errors_before:
        return None

    # The external id is stored too, so a sink can assume the role from the record alone.
    return {
        "roleArn": role_arn,
        "region": region,
        "externalId": domain.external_id,
        "partitionKey": partition_key,
        "messageGroupKey": message_group_key,
        "appendNewline": append_newline,
    }


def _aws_to_api(aws: dict[str, Any], domain: Domain, principal_arn: str | None) -> dict[str, Any]:
    return {
        "roleArn": aws.get("roleArn"),
        "region": aws.get("region"),
        "externalId": domain.external_id,
        "partitionKey": aws.get("partitionKey", "domainId"),
        "messageGroupKey": aws.get("messageGroupKey", "domainId"),
        "appendNewline": aws.get("appendNewline", True),
        # Read-only: the policy the customer puts on the role; ignored in request bodies.
        "trustPolicy": trust_policy(domain.external_id, principal_arn),
    }


# HTTPS targets --------------------------------------------------------------------


def _parse_https(
    raw: Any,
    stored: dict[str, Any] | None,
    stored_secrets: dict[str, Any] | None,
    errors: list[FieldError],
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    if not isinstance(raw, dict):
        errors.append(FieldError("https", raw, "must be an object with endpoints for type https"))
        return None, None

    errors_before = len(errors)
    _check_members(raw, HTTPS_MEMBERS, "https", errors)
    stored_secrets = stored_secrets or {}

    endpoints = _parse_endpoints(raw.get("endpoints"), errors)
    method = _parse_method(raw.get("method"), errors)
    timeout_s = _parse_timeout(raw.get("timeoutSeconds"), errors)
    retries = _parse_int(raw, "retries", "https.retries", DEFAULT_RETRIES, RETRIES_RANGE, errors)
    batch_size = _parse_int(
        raw, "batchSize", "https.batchSize", DEFAULT_BATCH_SIZE, BATCH_SIZE_RANGE, errors
    )
    max_in_flight = _parse_int(
        raw, "maxInFlight", "https.maxInFlight", DEFAULT_MAX_IN_FLIGHT, MAX_IN_FLIGHT_RANGE, errors
    )
    max_record_bytes = _parse_int(
        raw,
        "maxRecordBytes",
        "https.maxRecordBytes",
        DEFAULT_MAX_RECORD_BYTES,
        MAX_RECORD_BYTES_RANGE,
        errors,
    )
    headers = _parse_headers(raw.get("headers"), stored_secrets.get("headers") or {}, errors)

    stored_signing_secret = stored_secrets.get("signingSecret")
    _check_signing_secret_set(raw.get("signingSecretSet"), stored_signing_secret, errors)
    signing_secret = _parse_signing_secret(raw.get("signingSecret"), stored_signing_secret, errors)

    if len(errors) > errors_before:
        return None, None

    config = {
        "endpoints": endpoints,
        "method": method,
        "timeoutSeconds": timeout_s,
        "retries": retries,
        "batchSize": batch_size,
        "maxInFlight": max_in_flight,
        "maxRecordBytes": max_record_bytes,
        "headers": {name: None for name in headers},
        "signingSecretSet": signing_secret is not None,
    }
    secrets = None
    if headers or signing_secret is not None:
        secrets = {"headers": headers, "signingSecret": signing_secret}
    return config, secrets


def _https_to_api(https: dict[str, Any]) -> dict[str, Any]:
    return {
        "endpoints": list(https.get("endpoints") or []),
        "method": https.get("method", "POST"),
        "timeoutSeconds": https.get("timeoutSeconds", DEFAULT_TIMEOUT_S),
        "retries": https.get("retries", DEFAULT_RETRIES),
        "batchSize": https.get("batchSize", DEFAULT_BATCH_SIZE),
        "maxInFlight": https.get("maxInFlight", DEFAULT_MAX_IN_FLIGHT),
        "maxRecordBytes": https.get("maxRecordBytes", DEFAULT_MAX_RECORD_BYTES),
        "headers": {name: None for name in https.get("headers") or {}},
        "signingSecretSet": bool(https.get("signingSecretSet")),
    }


def _parse_endpoints(raw: Any, errors: list[FieldError]) -> list[str]:
    # The string form comes from a one-line text box, so blank items (a trailing
    # semicolon) are dropped. In the list form every item must be a URL.
    if isinstance(raw, str):
        candidates: list[Any] = [piece.strip() for piece in raw.split(";") if piece.strip()]
    elif isinstance(raw, list):
        candidates = list(raw)
    else:
        errors.append(
            FieldError(
                "https.endpoints",
                raw,
                "must be a list of https:// URLs or a semicolon-separated string",
            )
        )
        return []

    if not 1 <= len(candidates) <= MAX_ENDPOINTS:
        errors.append(
            FieldError("https.endpoints", raw, f"must list 1 to {MAX_ENDPOINTS} https:// URLs")
        )
        return []

    endpoints: list[str] = []
    for index, url in enumerate(candidates):
        problem = _endpoint_problem(url)
        if problem is not None:
            errors.append(FieldError(f"https.endpoints[{index}]", url, problem))
        else:
            endpoints.append(url)
    return endpoints


def _endpoint_problem(url: Any) -> str | None:
    if not isinstance(url, str):
        return "must be an https:// URL string"
    if len(url) > MAX_ENDPOINT_CHARS:
        return f"must be at most {MAX_ENDPOINT_CHARS} characters"
    if any(character.isspace() for character in url) or _CONTROL_CHARACTERS.search(url):
        return "must not contain whitespace or control characters"

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for an invalid port)
    except ValueError:
        return "is not a valid URL"

    if parts.scheme.lower() != "https":
        return "must be an https:// URL"
    if "@" in parts.netloc:
        return "must not contain user information (user:password@); use headers for credentials"
    if not parts.hostname:
        return "must name a host"
    if "#" in url:
        return "must not contain a fragment (#...)"
    return check_endpoint_url(url)


def _parse_method(raw: Any, errors: list[FieldError]) -> str:
    if raw is None:
        return "POST"
    if not isinstance(raw, str) or raw.upper() not in HTTPS_METHODS:
        errors.append(FieldError("https.method", raw, "must be POST or PUT"))
        return "POST"
    return raw.upper()


def _parse_timeout(raw: Any, errors: list[FieldError]) -> int | float:
    if raw is None:
        return DEFAULT_TIMEOUT_S

    low, high = TIMEOUT_RANGE_S
    is_number = isinstance(raw, int | float) and not isinstance(raw, bool)
    if not is_number or not math.isfinite(raw) or not low <= raw <= high:
        errors.append(
            FieldError(
                "https.timeoutSeconds", raw, f"must be a number of seconds from {low} to {high}"
            )
        )
        return DEFAULT_TIMEOUT_S
    return raw


def _parse_headers(
    raw: Any, stored_values: dict[str, str], errors: list[FieldError]
) -> dict[str, str]:
    # Header values are write-only, so omitting ``headers`` keeps the stored ones.
    # Inside the object, a ``null`` value keeps the stored value and "" removes the
    # header. A header left out of the object is removed.
    if raw is None:
        return dict(stored_values)
    if not isinstance(raw, dict):
        errors.append(
            FieldError("https.headers", None, "must be an object of header names to values")
        )
        return {}

    stored_by_lower = {name.lower(): value for name, value in stored_values.items()}
    seen: set[str] = set()
    headers: dict[str, str] = {}

    for name, value in raw.items():
        path = f"https.headers.{name}"
        name_problem = _header_name_problem(name, seen)
        seen.add(name.lower())
        if name_problem is not None:
            errors.append(FieldError(path, name, name_problem))
            continue

        if value is None:
            if name.lower() not in stored_by_lower:
                errors.append(
                    FieldError(path, None, "has no stored value; give the header's value")
                )
                continue
            headers[name] = stored_by_lower[name.lower()]
        elif value == "":
            continue
        elif not isinstance(value, str):
            errors.append(FieldError(path, None, 'must be a string, null to keep, or "" to remove'))
        elif len(value) > MAX_HEADER_VALUE_CHARS:
            errors.append(
                FieldError(path, None, f"must be at most {MAX_HEADER_VALUE_CHARS} characters")
            )
        elif "\r" in value or "\n" in value or "\x00" in value:
            errors.append(FieldError(path, None, "must not contain CR, LF or NUL characters"))
        else:
            headers[name] = value

    if len(headers) > MAX_HEADERS:
        errors.append(
            FieldError("https.headers", list(headers), f"must have at most {MAX_HEADERS} headers")
        )
    return headers


def _header_name_problem(name: str, seen: set[str]) -> str | None:
    lowered = name.lower()
    if len(name) > MAX_HEADER_NAME_CHARS or not _HEADER_NAME.fullmatch(name):
        return (
            f"must be an HTTP header name (a token of at most {MAX_HEADER_NAME_CHARS} characters)"
        )
    if lowered in RESERVED_HEADERS or lowered.startswith(RESERVED_HEADER_PREFIX):
        return "is set by the service and cannot be configured"
    if lowered in seen:
        return "is listed twice (header names are case-insensitive)"
    return None


def _check_signing_secret_set(
    raw: Any, stored_signing_secret: str | None, errors: list[FieldError]
) -> None:
    stored = stored_signing_secret is not None
    if raw is None or (isinstance(raw, bool) and raw == stored):
        return
    errors.append(FieldError("https.signingSecretSet", raw, _read_only_message(stored)))


def _parse_signing_secret(
    raw: Any, stored_signing_secret: str | None, errors: list[FieldError]
) -> str | None:
    if raw is None:
        return stored_signing_secret
    if raw == "":
        return None

    problem = _signing_secret_problem(raw)
    if problem is not None:
        errors.append(FieldError("https.signingSecret", None, problem))
        return None
    assert isinstance(raw, str)
    return raw


def _signing_secret_problem(secret: Any) -> str | None:
    if not isinstance(secret, str):
        return 'must be a string, null to keep the stored secret, or "" to remove it'

    if secret.startswith(SIGNING_KEY_PREFIX):
        low, high = SIGNING_KEY_BYTES
        try:
            key = base64.b64decode(secret[len(SIGNING_KEY_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            return f"must be {SIGNING_KEY_PREFIX} followed by base64"
        if not low <= len(key) <= high:
            return f"must be {SIGNING_KEY_PREFIX} followed by base64 of {low} to {high} bytes"
        return None

    low, high = SIGNING_SECRET_CHARS
    if not low <= len(secret) <= high:
        return f"must be {low} to {high} characters long"
    if _CONTROL_CHARACTERS.search(secret):
        return "must not contain control characters"
    return None
