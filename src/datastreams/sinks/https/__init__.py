"""The HTTPS sink: POST or PUT of events to one to five failover endpoints."""

from datastreams.sinks.https.config import HttpsSinkConfig
from datastreams.sinks.https.sink import HttpsSink

__all__ = ["HttpsSink", "HttpsSinkConfig"]
