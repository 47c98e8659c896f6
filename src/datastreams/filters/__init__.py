"""Stream filters: parse them from requests, compile them, match and project events."""

from datastreams.filters.compiled import CompiledFilters, compile_filters
from datastreams.filters.spec import (
    FilterSpec,
    filters_from_config,
    filters_to_config,
    parse_filters,
)

__all__ = [
    "CompiledFilters",
    "FilterSpec",
    "compile_filters",
    "filters_from_config",
    "filters_to_config",
    "parse_filters",
]
