"""The customer's IAM role that a stream assumes, and the session name AWS records for it."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

# The service names itself in every role session, so the customer's CloudTrail shows
# which service and which domain acted.
SERVICE_NAME = "datastreams"

# AssumeRole accepts a RoleSessionName of 2 to 64 characters from [\w+=,.@-]
# (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html).
MAX_SESSION_NAME_CHARS = 64
_SESSION_NAME_DISALLOWED = re.compile(r"[^\w+=,.@-]", re.ASCII)
# A shortened session name ends in this many hex digits of the domain id's SHA-256, so
# two long domain ids with the same beginning still get different names.
_SESSION_NAME_DIGEST_CHARS = 8

# Role sessions last one hour: the longest that role chaining allows, and the lowest
# maximum session duration a role can have, so every role accepts it.
SESSION_DURATION_S = 3600

_ROLE_ARN = re.compile(r"arn:(?P<partition>aws[a-zA-Z-]*):iam::(?P<account>\d{12}):role/.+")


@dataclass(frozen=True, slots=True)
class AwsRole:
    """The customer's role that one domain's stream assumes, in the stream's region.

    Credentials and clients are cached per ``AwsRole``. The domain is part of the key
    although the external id is already unique to it, so two domains never share
    credentials, even with the same role.
    """

    role_arn: str
    external_id: str
    region: str
    domain_id: str

    @property
    def account_id(self) -> str:
        """The 12-digit id of the account that owns the role and the stream's target."""
        return _parse_role_arn(self.role_arn).group("account")

    @property
    def partition(self) -> str:
        """The AWS partition of the role, such as ``aws`` or ``aws-cn``."""
        return _parse_role_arn(self.role_arn).group("partition")

    @property
    def session_name(self) -> str:
        return role_session_name(self.domain_id)


def role_session_name(domain_id: str) -> str:
    """Return the ``RoleSessionName`` for a domain: ``datastreams-<domain id>``.

    Characters that AWS does not allow become ``_``. A name over 64 characters keeps
    the beginning of the domain id and ends in a digest of the whole id.
    """
    cleaned = _SESSION_NAME_DISALLOWED.sub("_", domain_id)
    name = f"{SERVICE_NAME}-{cleaned}"
    if len(name) <= MAX_SESSION_NAME_CHARS:
        return name

    digest = hashlib.sha256(domain_id.encode("utf-8")).hexdigest()[:_SESSION_NAME_DIGEST_CHARS]
    kept = MAX_SESSION_NAME_CHARS - len(digest) - 1
    return f"{name[:kept]}-{digest}"


def _parse_role_arn(role_arn: str) -> re.Match[str]:
    match = _ROLE_ARN.fullmatch(role_arn)
    if match is None:
        raise ValueError(f"not an IAM role ARN: {role_arn!r}")
    return match
