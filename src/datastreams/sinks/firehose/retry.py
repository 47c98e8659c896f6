"""Retry logic of the Firehose sink: which records of a PutRecordBatch response failed.

``FailedPutCount`` above 0 means some entries of ``RequestResponses`` (in request
order) carry an ``ErrorCode``, such as ``ServiceUnavailableException`` when the
delivery stream is throttled. Those records are retried, unless the code marks the
record itself as invalid.
"""

from __future__ import annotations

from typing import Any

from datastreams.sinks.aws_errors import error_for_code
from datastreams.sinks.aws_sink import CallOutcome
from datastreams.sinks.errors import PermanentDeliveryError


def read_response(response: dict[str, Any], endpoint: str) -> CallOutcome:
    """Sort the records of one PutRecordBatch call into failed and rejected ones."""
    outcome = CallOutcome()
    if not response.get("FailedPutCount"):
        return outcome

    for index, entry in enumerate(response.get("RequestResponses") or []):
        code = entry.get("ErrorCode")
        if not code:
            continue

        error = error_for_code(str(code), str(entry.get("ErrorMessage") or ""), endpoint=endpoint)
        if isinstance(error, PermanentDeliveryError):
            outcome.rejected[index] = error
        else:
            outcome.failed[index] = error
    return outcome
