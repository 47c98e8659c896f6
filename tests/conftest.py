"""Settings for every test: AWS SDK calls can reach nothing but 127.0.0.1.

botocore reads these variables, and the servers and commands that tests start inherit
them. Static dummy credentials stop botocore's credential chain before it sends a request
to an instance or container metadata address, and every endpoint is a closed port on
127.0.0.1 unless a test points ``AWS_ENDPOINT_URL`` at its own emulator.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# Nothing listens on the discard port, so a call fails at once with "connection refused".
UNREACHABLE_ENDPOINT = "http://127.0.0.1:9"

AWS_TEST_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ENDPOINT_URL": UNREACHABLE_ENDPOINT,
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}

# Variables that would send botocore to other credentials or endpoints.
AWS_REMOVED_VARIABLES = (
    "AWS_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
)


@pytest.fixture(scope="session", autouse=True)
def aws_sandbox() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name in AWS_REMOVED_VARIABLES:
            patch.delenv(name, raising=False)
        for name in [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL_")]:
            patch.delenv(name)
        for name, value in AWS_TEST_ENVIRONMENT.items():
            patch.setenv(name, value)
        yield
