"""Settings and limits of the Firehose sink, built from a stream's ``name`` and ``aws`` members."""

from __future__ import annotations

from dataclasses import dataclass

from datastreams.aws.roles import AwsRole
from datastreams.sinks.aws_sink import role_for_stream
from datastreams.sinks.base import SinkLimits
from datastreams.store.records import StreamRecord

# PutRecordBatch takes at most 500 records and 4 MiB per call, each record at most
# 1,000 KiB before base64 encoding, and AWS does not raise these limits
# (https://docs.aws.amazon.com/firehose/latest/APIReference/API_PutRecordBatch.html).
MAX_RECORDS_PER_CALL = 500
MAX_BYTES_PER_CALL = 4 * 1024 * 1024
MAX_RECORD_BYTES = 1000 * 1024


@dataclass(frozen=True, slots=True)
class FirehoseSinkConfig:
    """The delivery stream, the role that writes to it, and whether records end in ``\\n``."""

    delivery_stream_name: str
    role: AwsRole
    append_newline: bool = True

    @classmethod
    def from_stream(cls, stream: StreamRecord) -> FirehoseSinkConfig:
        return cls(
            delivery_stream_name=stream.name,
            role=role_for_stream(stream),
            append_newline=bool(stream.config["aws"].get("appendNewline", True)),
        )

    @property
    def limits(self) -> SinkLimits:
        """The batch limits, with room for the newline in each record."""
        newline_bytes = 1 if self.append_newline else 0
        return SinkLimits(
            max_records_per_call=MAX_RECORDS_PER_CALL,
            max_bytes_per_call=MAX_BYTES_PER_CALL,
            max_record_bytes=MAX_RECORD_BYTES - newline_bytes,
        )
