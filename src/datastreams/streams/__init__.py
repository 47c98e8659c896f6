"""Data streams: the configuration model and the service that manages it."""

from datastreams.streams.model import (
    AWS_STREAM_TYPES,
    STREAM_TYPES,
    StreamDraft,
    check_endpoint_url,
    merge_patch,
    parse_stream_body,
    stream_to_api,
)
from datastreams.streams.service import StreamService, new_stream_id

__all__ = [
    "AWS_STREAM_TYPES",
    "STREAM_TYPES",
    "StreamDraft",
    "StreamService",
    "check_endpoint_url",
    "merge_patch",
    "new_stream_id",
    "parse_stream_body",
    "stream_to_api",
]
