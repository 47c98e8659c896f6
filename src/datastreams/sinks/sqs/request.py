"""Request building for the SQS sink: message bodies, group ids and deduplication ids.

SQS accepts only the characters #x9, #xA, #xD, #x20 to #xD7FF, #xE000 to #xFFFD and
#x10000 to #x10FFFF in a body, and rejects a message with any other one
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html).
A body is the event's canonical line, which escapes control characters already, but
it may still hold U+FFFE or U+FFFF. Such a character can only be inside a JSON
string, so the sink writes it as a ``\\uXXXX`` escape, which keeps the same JSON
value. A line cannot hold a lone surrogate: ingest rejects ``\\uD800``-style escapes
and a UTF-8 decoder rejects encoded surrogates, so a line that does not decode is
rejected as a record.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

import orjson

from datastreams.sinks.base import OutboundRecord

# Characters that SQS rejects in a message body, as a character class.
_REJECTED_CHARACTERS = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# MessageGroupId and MessageDeduplicationId are 1 to 128 characters of a-z, A-Z, 0-9
# and punctuation
# (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatchRequestEntry.html).
MAX_ID_CHARS = 128
_ID = re.compile(r"[!-~]{1,128}", re.ASCII)

# Container members that ``aws.messageGroupKey`` may name, other than those that
# every record carries.
_EVENT_MEMBERS = frozenset({"userId", "type"})


def message_body(record: OutboundRecord) -> str:
    """Return the record's body with the characters SQS rejects written as JSON escapes.

    Raises ``UnicodeDecodeError`` for a payload that is not UTF-8.
    """
    # NOTE: an escape takes 6 bytes where the character took 3, and the dispatcher
    # chose the overflow form by the line's own size. A record that only the escapes
    # push over the queue's MaximumMessageSize becomes a dead letter.
    text = record.payload.decode("utf-8")
    return _REJECTED_CHARACTERS.sub(_json_escape, text)


def message_group_id(record: OutboundRecord, key: str) -> str:
    """Return the FIFO message group: the container member ``key`` names, else the domain."""
    if key == "guid":
        value = record.guid
    elif key in _EVENT_MEMBERS:
        member = orjson.loads(record.payload).get(key)
        value = member if isinstance(member, str) and member else record.domain_id
    else:
        value = record.domain_id
    return _valid_id(value)


def deduplication_id(record: OutboundRecord) -> str:
    """Return the FIFO deduplication id: the guid plus the time the delivery was queued.

    A retry of a queued delivery has the same id, so SQS drops a second copy sent
    within its five-minute deduplication interval. A replay or redrive queues the
    delivery anew, so it gets a new id and arrives again.
    """
    if not record.queued_at:
        return _valid_id(record.guid)
    return _valid_id(f"{record.guid}:{record.queued_at}")


def build_request(
    queue_url: str,
    records: Sequence[OutboundRecord],
    *,
    fifo: bool,
    message_group_key: str,
) -> dict[str, Any]:
    """Return the arguments of one SendMessageBatch call; entry ids are positions in the call."""
    entries: list[dict[str, Any]] = []
    for index, record in enumerate(records):
        entry: dict[str, Any] = {"Id": str(index), "MessageBody": message_body(record)}
        if fifo:
            entry["MessageGroupId"] = message_group_id(record, message_group_key)
            entry["MessageDeduplicationId"] = deduplication_id(record)
        entries.append(entry)
    return {"QueueUrl": queue_url, "Entries": entries}


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _valid_id(value: str) -> str:
    # A value SQS would reject as an id (too long, or with spaces or other letters)
    # becomes its SHA-256, which stays the same for the same value.
    if _ID.fullmatch(value):
        return value
    return hashlib.sha256(value.encode("utf-8")).hexdigest()
