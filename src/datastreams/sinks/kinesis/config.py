"""Settings and limits of the Kinesis sink, built from a stream's ``name`` and ``aws`` members.

PutRecords limits (https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecords.html):
at most 500 records per call, and each record (data plus partition key) within the
stream's maximum record size. ``MaxRecordSizeInKiB`` of DescribeStreamSummary gives
that size (https://docs.aws.amazon.com/kinesis/latest/APIReference/API_StreamDescriptionSummary.html);
without it, the sink keeps to 1 MiB, the default and smallest setting.
"""

from __future__ import annotations

from dataclasses import dataclass

from datastreams.aws.roles import AwsRole
from datastreams.sinks.aws_sink import role_for_stream
from datastreams.sinks.base import SinkLimits
from datastreams.store.records import StreamRecord

MAX_RECORDS_PER_CALL = 500

# NOTE: the PutRecords reference now gives 10 MiB per call, with records of up to
# 10 MiB. The sink keeps the earlier 5 MiB per call, which every stream accepts,
# whatever its maximum record size.
MAX_BYTES_PER_CALL = 5 * 1024 * 1024

DEFAULT_MAX_RECORD_BYTES = 1024 * 1024

# A partition key is 1 to 256 Unicode characters, and its UTF-8 bytes count towards
# the record size. The dispatcher measures only the data, so its limit leaves room
# for the longest key (4 bytes per character at most).
MAX_PARTITION_KEY_CHARS = 256
MAX_PARTITION_KEY_BYTES = 4 * MAX_PARTITION_KEY_CHARS


@dataclass(frozen=True, slots=True)
class KinesisSinkConfig:
    """The data stream and the role that writes to it."""

    stream_name: str
    role: AwsRole

    @classmethod
    def from_stream(cls, stream: StreamRecord) -> KinesisSinkConfig:
        return cls(stream_name=stream.name, role=role_for_stream(stream))


def kinesis_limits(max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> SinkLimits:
    """Return the batch limits for a stream whose records may be ``max_record_bytes`` large.

    ``max_record_bytes`` of the result is the room for the data alone.
    """
    return SinkLimits(
        max_records_per_call=MAX_RECORDS_PER_CALL,
        max_bytes_per_call=MAX_BYTES_PER_CALL,
        max_record_bytes=max_record_bytes - MAX_PARTITION_KEY_BYTES,
    )
