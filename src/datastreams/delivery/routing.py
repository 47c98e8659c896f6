"""Fan-out routing: which streams receive an event of a given domain and type.

A stream receives the events of its own domain and of every descendant domain, when
it is enabled and its filters name the event's type (or it has no filters). The
table is built from a snapshot of domains and streams and is rebuilt as a whole
when the configuration changes, so it never needs locking or invalidation.
"""

from __future__ import annotations

from collections.abc import Iterable

from datastreams.filters import CompiledFilters, compile_filters, filters_from_config
from datastreams.store.records import Domain, StreamRecord


class RoutingTable:
    """The streams of each domain and their compiled filters, from one configuration snapshot."""

    __slots__ = ("_filters", "_parents", "_routes", "_streams_by_domain")

    def __init__(
        self,
        parents: dict[str, str | None],
        streams_by_domain: dict[str, list[str]],
        filters: dict[str, CompiledFilters],
    ) -> None:
        self._parents = parents
        self._streams_by_domain = streams_by_domain
        self._filters = filters
        # NOTE: one entry per (domain, event type) seen since the last rebuild; the
        # number of domains times the number of event types bounds it.
        self._routes: dict[tuple[str, str], tuple[str, ...]] = {}

    @classmethod
    def build(cls, domains: Iterable[Domain], streams: Iterable[StreamRecord]) -> RoutingTable:
        """Build the table; only enabled streams receive events.

        Filters are compiled for disabled streams too, so ``stream_filters`` can still
        project the entries queued before a stream was disabled.
        """
        parents = {domain.id: domain.parent_id for domain in domains}
        streams_by_domain: dict[str, list[str]] = {}
        filters: dict[str, CompiledFilters] = {}

        for stream in streams:
            config_filters = stream.config.get("filters") or []
            filters[stream.id] = compile_filters(filters_from_config(config_filters))
            if stream.enabled:
                streams_by_domain.setdefault(stream.domain_id, []).append(stream.id)

        return cls(parents, streams_by_domain, filters)

    def streams_for(self, domain_id: str, event_type: str) -> list[str]:
        """Return the ids of the enabled streams that receive an event of this domain and type.

        The streams of the domain itself come first, then those of its parent, and so
        on up to the root.
        """
        key = (domain_id, event_type)
        route = self._routes.get(key)
        if route is None:
            route = self._find_route(domain_id, event_type)
            self._routes[key] = route
        return list(route)

    def stream_filters(self, stream_id: str) -> CompiledFilters:
        """Return the compiled filters of a stream. ``KeyError`` for a stream not in the table."""
        return self._filters[stream_id]

    def _find_route(self, domain_id: str, event_type: str) -> tuple[str, ...]:
        return tuple(
            stream_id
            for lineage_id in self._lineage(domain_id)
            for stream_id in self._streams_by_domain.get(lineage_id, ())
            if self._filters[stream_id].matches(event_type)
        )

    def _lineage(self, domain_id: str) -> list[str]:
        # The domain and its ancestors. The store rejects cycles; the seen set only
        # keeps a corrupted parent map from looping forever.
        lineage: list[str] = []
        seen: set[str] = set()
        current: str | None = domain_id

        while current is not None and current not in seen:
            lineage.append(current)
            seen.add(current)
            current = self._parents.get(current)

        return lineage
