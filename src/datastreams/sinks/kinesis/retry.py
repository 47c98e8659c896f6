"""Retry logic of the Kinesis sink: which records of a PutRecords response failed.

``FailedRecordCount`` above 0 means some entries of ``Records`` (in request order)
carry an ``ErrorCode``: ``ProvisionedThroughputExceededException`` when a shard is
over its write limit, ``InternalFailure``, or a KMS error for an encrypted stream.
Those records are retried; KMS errors that need the customer's action also make the
stream ``failing``.
"""

from __future__ import annotations

from typing import Any

from datastreams.sinks.aws_errors import error_for_code
from datastreams.sinks.aws_sink import CallOutcome
from datastreams.sinks.errors import PermanentDeliveryError


def read_response(response: dict[str, Any], endpoint: str) -> CallOutcome:
    """Sort the records of one PutRecords call into failed and rejected ones."""
    outcome = CallOutcome()
    if not response.get("FailedRecordCount"):
        return outcome

    for index, entry in enumerate(response.get("Records") or []):
        code = entry.get("ErrorCode")
        if not code:
            continue

        error = error_for_code(str(code), str(entry.get("ErrorMessage") or ""), endpoint=endpoint)
        if isinstance(error, PermanentDeliveryError):
            outcome.rejected[index] = error
        else:
            outcome.failed[index] = error
    return outcome
