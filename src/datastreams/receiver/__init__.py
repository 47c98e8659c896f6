"""An HTTPS receiver for trying out streams, and for the tests and benchmarks."""

from datastreams.receiver.responses import ResponseScript, parse_response_script
from datastreams.receiver.server import ReceivedRequest, Receiver, ReceiverConfig

__all__ = [
    "ReceivedRequest",
    "Receiver",
    "ReceiverConfig",
    "ResponseScript",
    "parse_response_script",
]
