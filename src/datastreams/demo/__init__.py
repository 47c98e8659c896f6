"""The demo: simulated school traffic published to a service and delivered to a local receiver.

``LmsSimulator`` generates the events; ``datastreams.demo.runner`` runs the whole demo
behind ``datastreams demo``.
"""

from datastreams.demo.simulator import LmsSimulator

__all__ = ["LmsSimulator"]
