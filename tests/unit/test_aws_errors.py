"""How the AWS sinks classify botocore exceptions and AWS error codes."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)

from datastreams.sinks.aws_errors import error_for_code, error_for_exception, rejects_credentials
from datastreams.sinks.errors import (
    ConfigurationDeliveryError,
    DeliveryError,
    PermanentDeliveryError,
    RetryableDeliveryError,
)

ENDPOINT = "arn:aws:kinesis:us-east-1:111122223333:stream/events"


def client_error(
    code: str, status: int, operation: str = "PutRecords", **extra: Any
) -> ClientError:
    response: dict[str, Any] = {
        "Error": {"Code": code, "Message": f"message of {code}", **extra},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)


@pytest.mark.parametrize(
    "code",
    [
        "ProvisionedThroughputExceededException",
        "ServiceUnavailableException",
        "ThrottlingException",
        "RequestThrottled",
        "KMSThrottlingException",
        "LimitExceededException",
        "InternalFailure",
    ],
)
def test_code_retryable(code: str) -> None:
    assert isinstance(error_for_code(code, "", status=400), RetryableDeliveryError)


@pytest.mark.parametrize(
    "code",
    [
        "AccessDenied",
        "AccessDeniedException",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "ResourceNotFoundException",
        "QueueDoesNotExist",
        "KMSAccessDeniedException",
        "InvalidSourceException",
    ],
)
def test_code_configuration(code: str) -> None:
    assert isinstance(error_for_code(code, "", status=400), ConfigurationDeliveryError)


@pytest.mark.parametrize(
    "code",
    [
        "InvalidArgumentException",
        "ValidationException",
        "InvalidParameterValue",
        "InvalidMessageContents",
    ],
)
def test_code_invalid_request(code: str) -> None:
    assert isinstance(error_for_code(code, "", status=400), PermanentDeliveryError)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, ConfigurationDeliveryError),
        (429, RetryableDeliveryError),
        (503, RetryableDeliveryError),
    ],
)
def test_code_unknown_by_status(status: int, expected: type[DeliveryError]) -> None:
    assert isinstance(error_for_code("SomethingNew", "", status=status), expected)


def test_client_error_shows_code_and_message() -> None:
    error = error_for_exception(client_error("ResourceNotFoundException", 400), endpoint=ENDPOINT)

    assert error.error_code == "ResourceNotFoundException"
    assert error.message == "ResourceNotFoundException: message of ResourceNotFoundException"
    assert error.status == 400
    assert error.endpoint == ENDPOINT


def test_client_error_sqs_query_code() -> None:
    exc = client_error(
        "AWS.SimpleQueueService.NonExistentQueue",
        400,
        "GetQueueUrl",
        QueryErrorCode="QueueDoesNotExist",
    )

    error = error_for_exception(exc)

    assert isinstance(error, ConfigurationDeliveryError)
    assert error.error_code == "QueueDoesNotExist"


def test_assume_role_refusal_configuration() -> None:
    error = error_for_exception(client_error("AccessDenied", 403, "AssumeRole"))

    assert isinstance(error, ConfigurationDeliveryError)
    assert error.message == "assuming the role failed: AccessDenied: message of AccessDenied"


def test_assume_role_invalid_argument_configuration() -> None:
    error = error_for_exception(client_error("ValidationError", 400, "AssumeRole"))

    assert isinstance(error, ConfigurationDeliveryError)


def test_assume_role_throttled_retryable() -> None:
    error = error_for_exception(client_error("Throttling", 400, "AssumeRole"))

    assert isinstance(error, RetryableDeliveryError)
    assert error.message.startswith("assuming the role failed: Throttling")


@pytest.mark.parametrize(
    ("exc", "expected", "code"),
    [
        (ConnectTimeoutError(endpoint_url="http://127.0.0.1:9"), RetryableDeliveryError, "timeout"),
        (ReadTimeoutError(endpoint_url="http://127.0.0.1:9"), RetryableDeliveryError, "timeout"),
        (
            EndpointConnectionError(endpoint_url="http://127.0.0.1:9"),
            RetryableDeliveryError,
            "connection_error",
        ),
        (NoCredentialsError(), ConfigurationDeliveryError, "no_credentials"),
        (ParamValidationError(report="bad key"), PermanentDeliveryError, "invalid_request"),
        (RuntimeError("surprise"), RetryableDeliveryError, "request_error"),
    ],
)
def test_exception_classes(exc: Exception, expected: type[DeliveryError], code: str) -> None:
    error = error_for_exception(exc)

    assert isinstance(error, expected)
    assert error.error_code == code


@pytest.mark.parametrize(
    ("code", "rejected"),
    [("ExpiredTokenException", True), ("InvalidClientTokenId", True), ("AccessDenied", False)],
)
def test_rejects_credentials(code: str, rejected: bool) -> None:
    assert rejects_credentials(error_for_code(code, "")) is rejected
