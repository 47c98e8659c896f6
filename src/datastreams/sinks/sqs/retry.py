"""Retry logic of the SQS sink: which entries of a SendMessageBatch response failed.

``Failed`` lists entries by ``Id`` with ``SenderFault``, ``Code`` and ``Message``.
An entry with ``SenderFault`` true was rejected for its content and becomes a dead
letter at once. Any other failed entry is retried.
"""

from __future__ import annotations

from typing import Any

from datastreams.sinks.aws_errors import error_for_code
from datastreams.sinks.aws_sink import CallOutcome
from datastreams.sinks.errors import PermanentDeliveryError, RetryableDeliveryError


def read_response(response: dict[str, Any], entry_count: int, endpoint: str) -> CallOutcome:
    """Sort the entries of one SendMessageBatch call (ids ``"0"``, ``"1"``...) by outcome."""
    outcome = CallOutcome()
    successful = {str(entry.get("Id")) for entry in response.get("Successful") or []}

    for entry in response.get("Failed") or []:
        index = int(entry["Id"])
        code = str(entry.get("Code") or "Unknown")
        message = str(entry.get("Message") or "")
        text = f"{code}: {message}" if message else code

        if entry.get("SenderFault"):
            outcome.rejected[index] = PermanentDeliveryError(
                text, error_code=code, endpoint=endpoint
            )
            continue

        error = error_for_code(code, message, endpoint=endpoint)
        if isinstance(error, PermanentDeliveryError):
            # SQS reports that the entry's content was not at fault, so it may pass later.
            error = RetryableDeliveryError(text, error_code=code, endpoint=endpoint)
        outcome.failed[index] = error

    for index in range(entry_count):
        reported = str(index) in successful or index in outcome.failed
        if not reported and index not in outcome.rejected:
            outcome.failed[index] = RetryableDeliveryError(
                "SQS returned no result for the message", error_code="no_result", endpoint=endpoint
            )
    return outcome
