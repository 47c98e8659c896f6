"""The trust policy that a customer puts on the role a stream assumes.

The policy lets the service's own AWS identity (the principal) call
``sts:AssumeRole`` only with the domain's external id, so another tenant of the
service cannot make it act in this customer's account (the "confused deputy"
problem: https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html).
"""

from __future__ import annotations

import re
from typing import Any

# Shown in place of the principal while ``DATASTREAMS_AWS_PRINCIPAL_ARN`` is not set.
# IAM rejects it as a principal, so a policy copied with it fails when it is saved
# instead of trusting the wrong identity.
PLACEHOLDER_PRINCIPAL_ARN = "arn:aws:iam::SERVICE-ACCOUNT-ID:role/SERVICE-ROLE-NAME"

# An account root, IAM user or IAM role. IAM keeps an assumed-role session's ARN
# only as long as the session, so such an ARN is not accepted.
_PRINCIPAL_ARN = re.compile(
    r"arn:aws[a-zA-Z-]*:iam::\d{12}:(root|user/[\w+=,.@/-]{1,512}|role/[\w+=,.@/-]{1,512})",
    re.ASCII,
)


def parse_principal_arn(raw: str) -> str | None:
    """Check the ``DATASTREAMS_AWS_PRINCIPAL_ARN`` setting; an empty value means unset."""
    value = raw.strip()
    if not value:
        return None
    if not _PRINCIPAL_ARN.fullmatch(value):
        raise ValueError(
            "must be the ARN of an IAM role, user or account root, such as "
            "arn:aws:iam::123456789012:role/datastreams"
        )
    return value


def trust_policy(external_id: str, principal_arn: str | None) -> dict[str, Any]:
    """Return the trust policy document for a domain's external id, ready to paste into IAM."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": principal_arn or PLACEHOLDER_PRINCIPAL_ARN},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
            }
        ],
    }
