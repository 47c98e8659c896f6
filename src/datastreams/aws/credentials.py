"""Temporary credentials of the customer's role, from STS AssumeRole.

botocore's ``DeferredRefreshableCredentials`` keeps them: the first request that is
signed calls AssumeRole, and each later one checks the expiry. From 15 minutes
before it, one request's thread calls AssumeRole again while requests on other
threads keep signing with the current credentials. Only in the last 10 minutes do
they wait for the new ones. Every call runs in a worker thread, so a refresh never
blocks the event loop.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from typing import Any

from botocore.credentials import (
    CredentialProvider,
    Credentials,
    DeferredRefreshableCredentials,
)

from datastreams.aws.roles import SESSION_DURATION_S, AwsRole

logger = logging.getLogger(__name__)

# The name botocore records as the credentials' source (``Credentials.method``).
CREDENTIALS_METHOD = "datastreams-assume-role"

Clock = Callable[[], datetime.datetime]


def assume_role(sts_client: Any, role: AwsRole) -> dict[str, str]:
    """Call AssumeRole with the domain's external id; return botocore's credential metadata.

    Raises botocore's ``ClientError`` when STS refuses, such as ``AccessDenied`` when
    the role's trust policy does not name the service or requires another external id.
    """
    response = sts_client.assume_role(
        RoleArn=role.role_arn,
        RoleSessionName=role.session_name,
        ExternalId=role.external_id,
        DurationSeconds=SESSION_DURATION_S,
    )
    credentials = response["Credentials"]
    expiration: datetime.datetime = credentials["Expiration"]

    logger.info(
        "assumed role %s for domain %s until %s",
        role.role_arn,
        role.domain_id,
        expiration.isoformat(),
        extra={
            "action": "aws_role_assumed",
            "role_arn": role.role_arn,
            "domain_id": role.domain_id,
            "region": role.region,
        },
    )
    return {
        "access_key": credentials["AccessKeyId"],
        "secret_key": credentials["SecretAccessKey"],
        "token": credentials["SessionToken"],
        "expiry_time": expiration.isoformat(),
    }


def refreshable_credentials(
    fetch: Callable[[], dict[str, str]], clock: Clock | None = None
) -> DeferredRefreshableCredentials:
    """Return credentials that call ``fetch`` on first use and again before they expire."""
    if clock is None:
        return DeferredRefreshableCredentials(refresh_using=fetch, method=CREDENTIALS_METHOD)
    return DeferredRefreshableCredentials(
        refresh_using=fetch, method=CREDENTIALS_METHOD, time_fetcher=clock
    )


class FixedCredentialProvider(CredentialProvider):
    """Gives a botocore session one credentials object instead of the default chain."""

    METHOD = CREDENTIALS_METHOD

    def __init__(self, credentials: Credentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Credentials:
        return self._credentials
