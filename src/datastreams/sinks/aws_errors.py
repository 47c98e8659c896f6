"""How the AWS sinks classify botocore errors and AWS error codes.

- Throttling, server errors, timeouts and connection errors: retryable, the stream
  backs off.
- Access denied, expired or invalid credentials, a missing delivery stream, stream
  or queue, KMS keys that cannot be used, and a role that cannot be assumed mean
  that the configuration is wrong. The stream is ``failing`` and shows AWS's code
  and message.
- An invalid argument: the request's content was rejected. The sink splits the call
  until the record that causes it is alone, and only that record becomes a dead
  letter.

Other 4xx codes count as configuration errors and other 5xx codes as retryable.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from datastreams.sinks.errors import (
    ConfigurationDeliveryError,
    DeliveryError,
    PermanentDeliveryError,
    RetryableDeliveryError,
)

# The operation whose failure means the role could not be assumed.
ASSUME_ROLE_OPERATION = "AssumeRole"

THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ServiceUnavailableException",
        "ServiceUnavailable",
        "ThrottlingException",
        "Throttling",
        "RequestThrottled",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "KMSThrottlingException",
        "KmsThrottled",
        "KMS.ThrottlingException",
        "SlowDown",
    }
)

SERVER_ERROR_CODES = frozenset(
    {
        "InternalFailure",
        "InternalFailureException",
        "InternalError",
        "InternalServerError",
        "RequestTimeout",
        "RequestTimeoutException",
        # A Kinesis stream that is being created or updated accepts records again soon.
        "ResourceInUseException",
    }
)

# Codes that mean the credentials themselves are no longer accepted, so the cached
# ones must be dropped before the next attempt.
REJECTED_CREDENTIAL_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "InvalidAccessKeyId",
    }
)

CONFIGURATION_CODES = REJECTED_CREDENTIAL_CODES | frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AuthorizationError",
        "UnauthorizedOperation",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "InvalidSecurity",
        "RegionDisabledException",
        "OptInRequired",
        "ResourceNotFoundException",
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDeletedRecently",
        "AWS.SimpleQueueService.QueueDeletedRecently",
        "InvalidAddress",
        "UnsupportedOperation",
        "AWS.SimpleQueueService.UnsupportedOperation",
        # Firehose: the delivery stream reads from a Kinesis stream, not from PutRecordBatch.
        "InvalidSourceException",
        "InvalidKMSResourceException",
        "KMSAccessDeniedException",
        "KMSDisabledException",
        "KMSInvalidStateException",
        "KMSNotFoundException",
        "KMSOptInRequired",
        "KmsAccessDenied",
        "KmsDisabled",
        "KmsInvalidKeyUsage",
        "KmsInvalidState",
        "KmsNotFound",
        "KmsOptInRequired",
    }
)

INVALID_REQUEST_CODES = frozenset(
    {
        "InvalidArgumentException",
        "InvalidParameterException",
        "InvalidParameterValue",
        "InvalidParameterCombination",
        "InvalidMessageContents",
        "ValidationException",
        "ValidationError",
        "SerializationException",
        "BatchRequestTooLong",
        "AWS.SimpleQueueService.BatchRequestTooLong",
        "MessageTooLong",
    }
)


def error_for_code(
    code: str, message: str, *, status: int | None = None, endpoint: str | None = None
) -> DeliveryError:
    """Return the error class that an AWS error code means, with the code and message."""
    text = f"{code}: {message}" if message else code

    if code in THROTTLING_CODES or code in SERVER_ERROR_CODES:
        return RetryableDeliveryError(text, status=status, error_code=code, endpoint=endpoint)
    if code in CONFIGURATION_CODES:
        return ConfigurationDeliveryError(text, status=status, error_code=code, endpoint=endpoint)
    if code in INVALID_REQUEST_CODES:
        return PermanentDeliveryError(text, status=status, error_code=code, endpoint=endpoint)

    if status is not None and 400 <= status < 500 and status != 429:
        return ConfigurationDeliveryError(text, status=status, error_code=code, endpoint=endpoint)
    return RetryableDeliveryError(text, status=status, error_code=code, endpoint=endpoint)


def error_for_exception(exc: BaseException, *, endpoint: str | None = None) -> DeliveryError:
    """Translate an exception of a botocore call into the sinks' error classes."""
    if isinstance(exc, ClientError):
        return _error_for_client_error(exc, endpoint)

    if isinstance(exc, NoCredentialsError | PartialCredentialsError | CredentialRetrievalError):
        return ConfigurationDeliveryError(
            f"the service's own AWS credentials are missing or incomplete: {exc}",
            error_code="no_credentials",
            endpoint=endpoint,
        )
    if isinstance(exc, NoRegionError):
        return ConfigurationDeliveryError(str(exc), error_code="no_region", endpoint=endpoint)

    if isinstance(exc, ParamValidationError):
        # botocore checked the request against the service model before sending it.
        return PermanentDeliveryError(
            f"invalid request: {exc}", error_code="invalid_request", endpoint=endpoint
        )

    if isinstance(exc, ConnectTimeoutError | ReadTimeoutError):
        return RetryableDeliveryError(f"timed out: {exc}", error_code="timeout", endpoint=endpoint)

    if isinstance(exc, BotoCoreError | OSError):
        return RetryableDeliveryError(
            f"connection failed: {exc.__class__.__name__}: {exc}",
            error_code="connection_error",
            endpoint=endpoint,
        )

    return RetryableDeliveryError(
        f"request failed: {exc.__class__.__name__}: {exc}",
        error_code="request_error",
        endpoint=endpoint,
    )


def rejects_credentials(error: DeliveryError) -> bool:
    """Return whether AWS rejected the credentials themselves (expired or unknown)."""
    return error.error_code in REJECTED_CREDENTIAL_CODES


def _error_for_client_error(exc: ClientError, endpoint: str | None) -> DeliveryError:
    response: dict[str, Any] = exc.response or {}
    details = response.get("Error") or {}
    metadata = response.get("ResponseMetadata") or {}

    # With SQS's JSON protocol, botocore puts the former query-protocol code (such as
    # AWS.SimpleQueueService.NonExistentQueue) in Code and the modeled name (such as
    # QueueDoesNotExist) in QueryErrorCode. The modeled name is classified and shown.
    code = str(details.get("QueryErrorCode") or details.get("Code") or "Unknown")
    message = str(details.get("Message") or "")
    status = metadata.get("HTTPStatusCode")

    if exc.operation_name != ASSUME_ROLE_OPERATION:
        return error_for_code(code, message, status=status, endpoint=endpoint)

    # A refusal of AssumeRole itself means the role's configuration is wrong (its
    # trust policy, the external id, the principal), unless STS is throttled or failing.
    error = error_for_code(code, message, status=status, endpoint=endpoint)
    text = f"assuming the role failed: {error.message}"
    if isinstance(error, RetryableDeliveryError):
        return RetryableDeliveryError(text, status=status, error_code=code, endpoint=endpoint)
    return ConfigurationDeliveryError(text, status=status, error_code=code, endpoint=endpoint)
