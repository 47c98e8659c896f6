"""Data Streams: delivers a platform's system events to each tenant's own data systems."""

__version__ = "0.1.0"
