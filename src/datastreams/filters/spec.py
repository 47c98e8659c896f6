"""Filter specifications: parsing and validating the ``filters`` member of a stream.

A filter names one event type and the member paths of ``data`` to keep, written
``parent.child``. Clients send ``properties`` as a comma-separated string or a list;
the stored and returned form is always a list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from datastreams.errors import FieldError, ValidationError

# A path longer than these limits cannot point into any event of the catalogue, and
# bounding it keeps the compiled projection tree small.
MAX_PATH_SEGMENTS = 16
MAX_PATH_CHARS = 256

FILTER_MEMBERS = frozenset({"eventType", "properties"})


@dataclass(frozen=True, slots=True)
class FilterSpec:
    """One filter: an event type and the paths of ``data`` to keep (empty keeps all of it)."""

    event_type: str
    properties: tuple[str, ...]


def parse_filters(
    raw: Any,
    *,
    field: str = "filters",
    is_known_type: Callable[[str], bool],
    strict: bool,
) -> tuple[list[FilterSpec], list[str]]:
    """Validate the ``filters`` member of a request and return the specs and warnings.

    ``raw`` is ``None`` or a list of ``{"eventType": ..., "properties": ...}`` objects.
    A type outside the catalogue gives a warning, or an error when ``strict`` is set.
    Raises ``ValidationError`` listing every invalid field, each named by its path
    (for example ``filters[1].properties``).
    """
    if raw is None:
        return [], []

    if not isinstance(raw, list):
        error = FieldError(field, raw, "must be a list of {eventType, properties} objects")
        raise ValidationError(fields=[error])

    specs: list[FilterSpec] = []
    warnings: list[str] = []
    errors: list[FieldError] = []

    for index, item in enumerate(raw):
        item_field = f"{field}[{index}]"
        spec = _parse_filter(item, item_field, errors)
        if spec is None:
            continue

        if not is_known_type(spec.event_type):
            type_field = f"{item_field}.eventType"
            if strict:
                errors.append(FieldError(type_field, spec.event_type, "is not a known event type"))
                continue
            warnings.append(
                f"{type_field}: {spec.event_type!r} is not a known event type; "
                "the filter matches it only if a producer publishes events of that type"
            )

        specs.append(spec)

    if errors:
        raise ValidationError(fields=errors)
    return specs, warnings


def filters_from_config(config_filters: list[dict[str, Any]]) -> list[FilterSpec]:
    """Return the specs of filters in their stored form (already validated)."""
    return [
        FilterSpec(item["eventType"], tuple(item.get("properties") or ()))
        for item in config_filters
    ]


def filters_to_config(specs: Sequence[FilterSpec]) -> list[dict[str, Any]]:
    """Return the stored (and API) form of filters: ``properties`` as a list."""
    return [{"eventType": spec.event_type, "properties": list(spec.properties)} for spec in specs]


def _parse_filter(item: Any, item_field: str, errors: list[FieldError]) -> FilterSpec | None:
    if not isinstance(item, dict):
        errors.append(
            FieldError(item_field, item, "must be an object with eventType and properties")
        )
        return None

    errors_before = len(errors)

    for member in item:
        if member not in FILTER_MEMBERS:
            errors.append(
                FieldError(f"{item_field}.{member}", item[member], "is not a known member")
            )

    event_type = item.get("eventType")
    if not isinstance(event_type, str) or not event_type:
        errors.append(
            FieldError(f"{item_field}.eventType", event_type, "must be a non-empty string")
        )
    elif any(character.isspace() for character in event_type):
        errors.append(
            FieldError(f"{item_field}.eventType", event_type, "must not contain whitespace")
        )

    properties = _parse_properties(item.get("properties"), f"{item_field}.properties", errors)

    if len(errors) > errors_before:
        return None
    assert isinstance(event_type, str)
    return FilterSpec(event_type, properties)


def _parse_properties(raw: Any, field: str, errors: list[FieldError]) -> tuple[str, ...]:
    # The string form comes from a one-line text box, so blank items (a trailing comma)
    # are dropped. In the list form every item must be a path.
    if raw is None:
        return ()

    if isinstance(raw, str):
        candidates = [(field, piece.strip()) for piece in raw.split(",") if piece.strip()]
    elif isinstance(raw, list):
        candidates = []
        for index, piece in enumerate(raw):
            if not isinstance(piece, str):
                errors.append(FieldError(f"{field}[{index}]", piece, "must be a string"))
                continue
            candidates.append((f"{field}[{index}]", piece.strip()))
    else:
        errors.append(
            FieldError(field, raw, "must be a comma-separated string or a list of strings")
        )
        return ()

    paths: list[str] = []
    for path_field, path in candidates:
        problem = check_property_path(path)
        if problem is not None:
            errors.append(FieldError(path_field, path, problem))
        elif path not in paths:
            paths.append(path)
    return tuple(paths)


def check_property_path(path: str) -> str | None:
    """Return why ``path`` is not a valid ``parent.child`` member path, or ``None``."""
    if not path:
        return "must be a non-empty member path"
    if len(path) > MAX_PATH_CHARS:
        return f"must be at most {MAX_PATH_CHARS} characters long"

    segments = path.split(".")
    if len(segments) > MAX_PATH_SEGMENTS:
        return f"must have at most {MAX_PATH_SEGMENTS} dot-separated members"
    if any(not segment for segment in segments):
        return "must not contain an empty member (two dots in a row, or a leading or trailing dot)"
    if any(character.isspace() for character in path):
        return "must not contain whitespace inside a member name"
    return None
