"""Events: the container and its canonical encoding, event times, and ingest parsing."""

from datastreams.events.container import Event
from datastreams.events.jsontext import JsonTextError, loads_strict, max_depth_exceeded
from datastreams.events.parsing import (
    MAX_DATA_DEPTH,
    ItemParsed,
    ItemRejected,
    event_from_line,
    parse_event_object,
    parse_ingest_body,
)
from datastreams.events.timefmt import format_time, now_time, parse_time

__all__ = [
    "MAX_DATA_DEPTH",
    "Event",
    "ItemParsed",
    "ItemRejected",
    "JsonTextError",
    "event_from_line",
    "format_time",
    "loads_strict",
    "max_depth_exceeded",
    "now_time",
    "parse_event_object",
    "parse_ingest_body",
    "parse_time",
]
