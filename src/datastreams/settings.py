"""Service settings from command-line flags, ``DATASTREAMS_*`` environment variables and defaults.

Every setting has a flag and a variable: ``--max-event-bytes`` is
``DATASTREAMS_MAX_EVENT_BYTES``. A flag wins over the variable, the variable over the
default. Units are part of the name (``_S`` for seconds, ``_MS``, ``_BYTES``). An invalid
value raises ``SettingsError`` naming the variable (or flag) and the value, so a
misconfigured service does not start.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

from datastreams.aws.trust import parse_principal_arn
from datastreams.errors import SettingsError
from datastreams.security.endpoints import IPNetwork, parse_networks

ENV_PREFIX = "DATASTREAMS_"

# Every AWS stream of a process makes its calls on one pool of 32 threads
# (datastreams.aws.clients), so one stream takes at most half of them.
MAX_AWS_CALLS_IN_FLIGHT = 16


class Secret(str):
    """A string that hides its value in ``repr`` and logs."""

    def __repr__(self) -> str:
        return "Secret('**********')"


def _parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("must be true or false")


def _parse_positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _parse_non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("must be 0 or a positive integer")
    return value


def _parse_port(raw: str) -> int:
    value = int(raw)
    if not 0 <= value <= 65535:
        raise ValueError("must be a port number from 0 to 65535")
    return value


def _parse_aws_calls_in_flight(raw: str) -> int:
    value = int(raw)
    if not 1 <= value <= MAX_AWS_CALLS_IN_FLIGHT:
        raise ValueError(f"must be an integer from 1 to {MAX_AWS_CALLS_IN_FLIGHT}")
    return value


def _parse_positive_float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("must be a number") from None
    if not value > 0:
        raise ValueError("must be a positive number")
    return value


def _parse_networks(raw: str) -> tuple[IPNetwork, ...]:
    return parse_networks(raw)


def _parse_ca_file(raw: str) -> str | None:
    if not raw:
        return None
    if not os.path.isfile(raw):
        raise ValueError("file not found")
    try:
        ssl.create_default_context(cafile=raw)
    except ssl.SSLError as exc:
        raise ValueError(f"not a PEM file of CA certificates ({exc.reason})") from None
    return raw


def _parse_log_format(raw: str) -> str:
    value = raw.strip().lower()
    if value not in {"text", "json"}:
        raise ValueError("must be text or json")
    return value


def _parse_log_level(raw: str) -> str:
    level = raw.strip().upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
    return level


@dataclass(frozen=True, slots=True)
class SettingSpec:
    """The name, parser and help text of one setting."""

    name: str
    default: Any
    parse: Callable[[str], Any]
    help: str
    secret: bool = False

    @property
    def env_var(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec("host", "127.0.0.1", str, "Address the HTTP server listens on."),
    SettingSpec("port", 8000, _parse_port, "TCP port of the HTTP server (0 picks a free one)."),
    SettingSpec(
        "db",
        "./datastreams.db",
        str,
        "Database: a path to an SQLite file.",
    ),
    SettingSpec(
        "max_event_bytes",
        1_048_576,
        _parse_positive_int,
        "Largest accepted event, in bytes of its canonical encoding.",
    ),
    SettingSpec(
        "max_body_bytes",
        16_777_216,
        _parse_positive_int,
        "Largest accepted request body on the ingest route, in bytes.",
    ),
    SettingSpec(
        "max_batch_items",
        1000,
        _parse_positive_int,
        "Most events accepted in one ingest request.",
    ),
    SettingSpec(
        "ingest_workers",
        1,
        _parse_non_negative_int,
        "Worker processes that parse ingest requests; 0 parses in the serving process. "
        "One worker already keeps parsing off the event loop (docs/architecture.md); on "
        "2 cores, 2 workers measured no faster than 1. More help only with spare cores.",
    ),
    SettingSpec(
        "event_retention_s",
        604_800,
        _parse_positive_int,
        "How long stored events are kept, in seconds (events still queued are kept longer).",
    ),
    SettingSpec(
        "dead_letter_retention_s",
        1_209_600,
        _parse_positive_int,
        "How long dead letters are kept before they are removed, in seconds.",
    ),
    SettingSpec(
        "retention_interval_s",
        300,
        _parse_positive_int,
        "How often expired events are removed, in seconds.",
    ),
    SettingSpec(
        "strict_event_types",
        False,
        _parse_bool,
        "Reject events and filters whose type is not in the catalogue.",
    ),
    SettingSpec(
        "encryption_key",
        None,
        Secret,
        "Fernet key that encrypts stored secrets; without it a key file beside the "
        "SQLite database is used (created with mode 0600).",
        secret=True,
    ),
    SettingSpec(
        "allowed_endpoint_networks",
        (),
        _parse_networks,
        "Comma-separated CIDR networks that HTTPS endpoints may resolve to although they "
        "are not public, such as 127.0.0.0/8 for development.",
    ),
    SettingSpec(
        "tls_ca_file",
        None,
        _parse_ca_file,
        "PEM file of extra certificate authorities trusted for HTTPS endpoints.",
    ),
    SettingSpec(
        "aws_principal_arn",
        None,
        parse_principal_arn,
        "ARN of the service's own AWS identity (an IAM role or user), which the trust "
        "policy shown for AWS streams names as the principal allowed to assume the "
        "customer's role. Without it the policy shows a placeholder.",
    ),
    SettingSpec(
        "aws_calls_in_flight",
        4,
        _parse_aws_calls_in_flight,
        "Calls each Kinesis, Firehose or SQS stream may have in flight at once, 1 to 16. "
        "More hide the round trips to AWS; on a small machine they cost CPU time that "
        "ingest needs (see docs/aws.md). Kinesis and FIFO SQS streams ordered by a key "
        "that spans domains (userId, type) always make one call at a time.",
    ),
    SettingSpec(
        "shutdown_grace_s",
        5.0,
        _parse_positive_float,
        "On SIGTERM, how long in-flight deliveries may take to finish, in seconds.",
    ),
    SettingSpec(
        "ui_session_idle_s",
        1800,
        _parse_positive_int,
        "Admin web page sessions end after this many seconds without activity.",
    ),
    SettingSpec("log_level", "INFO", _parse_log_level, "Lowest level of log records written."),
    SettingSpec(
        "log_format",
        "text",
        _parse_log_format,
        "Log line format: text, or json for one JSON object a line.",
    ),
)

SETTINGS_BY_NAME = {spec.name: spec for spec in SETTINGS}


@dataclass(frozen=True, slots=True)
class Settings:
    """Resolved settings of one process. See ``SETTINGS`` for the meaning of each."""

    host: str = "127.0.0.1"
    port: int = 8000
    db: str = "./datastreams.db"
    max_event_bytes: int = 1_048_576
    max_body_bytes: int = 16_777_216
    max_batch_items: int = 1000
    ingest_workers: int = 1
    event_retention_s: int = 604_800
    dead_letter_retention_s: int = 1_209_600
    retention_interval_s: int = 300
    strict_event_types: bool = False
    encryption_key: Secret | None = None
    allowed_endpoint_networks: tuple[IPNetwork, ...] = ()
    tls_ca_file: str | None = None
    aws_principal_arn: str | None = None
    aws_calls_in_flight: int = 4
    shutdown_grace_s: float = 5.0
    ui_session_idle_s: int = 1800
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"

    def __repr__(self) -> str:
        shown = ", ".join(f"{item.name}={getattr(self, item.name)!r}" for item in fields(self))
        return f"Settings({shown})"


def load_settings(
    flags: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Resolve every setting from ``flags`` (already parsed), then ``environ``, then defaults.

    ``flags`` maps setting names to values given on the command line; ``None`` values
    count as not given. Raises ``SettingsError`` naming the variable for a bad value.
    """
    flags = flags or {}
    environ = os.environ if environ is None else environ
    resolved: dict[str, Any] = {}

    for spec in SETTINGS:
        flag_value = flags.get(spec.name)
        if flag_value is not None:
            resolved[spec.name] = _parse_value(spec, str(flag_value), spec.flag)
            continue

        raw = environ.get(spec.env_var)
        if raw is not None:
            resolved[spec.name] = _parse_value(spec, raw, spec.env_var)
            continue

        resolved[spec.name] = spec.default

    return Settings(**resolved)


def _parse_value(spec: SettingSpec, raw: str, source: str) -> Any:
    try:
        return spec.parse(raw)
    except ValueError as exc:
        shown = "(hidden)" if spec.secret else repr(raw)
        reason = str(exc) if "invalid literal" not in str(exc) else "must be an integer"
        raise SettingsError(f"{source}: invalid value {shown}: {reason}") from exc
