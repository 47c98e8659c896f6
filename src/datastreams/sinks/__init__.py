"""Sinks: the code that sends batches of events to one kind of destination."""
