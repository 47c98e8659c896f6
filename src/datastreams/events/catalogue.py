"""The event catalogue: every known event type, its group and the JSON Schema of its ``data``.

The catalogue is package data, one JSON file per group in ``events/catalogue/``. The files
are read in file name order, which is also the order of the groups. Each file contains::

    {"group": "Entity changes", "description": "...", "$defs": {...}, "types": [...]}

and each entry of ``types`` contains ``name``, ``friendlyName``, ``description``, ``idMembers``,
``versionMembers``, ``schema`` (the schema of ``data``, without ``$schema``) and ``example`` (a
realistic ``data`` object). A type's schema may refer to the group's shared definitions with
``{"$ref": "#/$defs/Name"}``. The loader copies the referenced definitions into the type's
schema and adds the draft 2020-12 ``$schema``, so every schema stands alone. Property paths
are derived from the schema, so they cannot drift from it.

Schemas use ``format`` (such as ``date-time``) as an annotation only: ``validate_data`` does
not check formats, which would otherwise depend on which optional packages are installed.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaValidationError

from datastreams.errors import FieldError

logger = logging.getLogger(__name__)

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
CATALOGUE_DIRECTORY = "catalogue"

_GROUP_KEYS = frozenset({"group", "description", "$defs", "types"})
_TYPE_KEYS = frozenset(
    {"name", "friendlyName", "description", "idMembers", "versionMembers", "schema", "example"}
)
_DEFS_PREFIX = "#/$defs/"


@dataclass(frozen=True, slots=True)
class EventType:
    """One event type of the catalogue.

    ``schema`` is shared by every caller of the cached catalogue, so treat it as read-only.
    ``to_api`` returns a copy.
    """

    name: str
    friendly_name: str
    group: str
    description: str
    schema: dict[str, Any]
    id_members: tuple[str, ...]
    version_members: tuple[str, ...]
    property_paths: tuple[str, ...]
    example: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_api(self) -> dict[str, Any]:
        """Return the type as the HTTP API shows it, with camelCase member names."""
        return {
            "name": self.name,
            "friendlyName": self.friendly_name,
            "group": self.group,
            "description": self.description,
            "idMembers": list(self.id_members),
            "versionMembers": list(self.version_members),
            "propertyPaths": list(self.property_paths),
            "schema": copy.deepcopy(self.schema),
        }


@dataclass(frozen=True, slots=True)
class EventGroup:
    """A named group of event types, as the UI and the reference list them."""

    name: str
    description: str


@dataclass(frozen=True, slots=True)
class SchemaProperty:
    """One property inside ``data``: its dotted path, its schema and whether its parent requires it.

    ``schema`` has ``$ref`` resolved. ``required`` is relative to the enclosing object, so a
    required member of an optional object is reported as required.
    """

    path: str
    schema: dict[str, Any]
    required: bool


class Catalogue:
    """The known event types, iterated in group order and then by name."""

    def __init__(self, groups: Sequence[EventGroup], event_types: Iterable[EventType]) -> None:
        self._groups = list(groups)
        group_positions = {group.name: position for position, group in enumerate(self._groups)}
        if len(group_positions) != len(self._groups):
            names = [group.name for group in self._groups]
            repeated = sorted({name for name in names if names.count(name) > 1})
            raise ValueError(f"event catalogue: group {', '.join(repeated)} is listed twice")

        self._types: dict[str, EventType] = {}
        for event_type in event_types:
            if event_type.group not in group_positions:
                raise ValueError(
                    f"event catalogue: type {event_type.name!r} names unknown group "
                    f"{event_type.group!r}"
                )
            if event_type.name in self._types:
                raise ValueError(f"event catalogue: type {event_type.name!r} is listed twice")
            self._types[event_type.name] = event_type

        self._ordered = sorted(
            self._types.values(), key=lambda t: (group_positions[t.group], t.name)
        )
        self._names = frozenset(self._types)
        # Built on first use: most processes validate only a few of the types.
        self._validators: dict[str, Draft202012Validator] = {}

    def get(self, name: str) -> EventType | None:
        return self._types.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def __iter__(self) -> Iterator[EventType]:
        return iter(self._ordered)

    def __len__(self) -> int:
        return len(self._types)

    def names(self) -> frozenset[str]:
        return self._names

    def groups(self) -> list[str]:
        """Return the group names in their documented order."""
        return [group.name for group in self._groups]

    def group_description(self, group: str) -> str:
        """Return the one-line description of a group. Raise ``KeyError`` for an unknown group."""
        for candidate in self._groups:
            if candidate.name == group:
                return candidate.description
        raise KeyError(group)

    def validate_data(self, name: str, data: Any) -> list[FieldError]:
        """Check ``data`` against the schema of type ``name`` and return one error per broken rule.

        Field paths start at ``data`` (``data.newDomain.name``, ``data.addedEnrollmentIds[0]``).
        An unknown type returns no errors: filters and producers may use types outside the
        catalogue. ``orjson.Fragment`` numbers are parsed before validation.
        """
        event_type = self._types.get(name)
        if event_type is None:
            return []

        validator = self._validators.get(name)
        if validator is None:
            validator = Draft202012Validator(event_type.schema)
            self._validators[name] = validator

        instance = _parse_fragments(data)
        errors = sorted(validator.iter_errors(instance), key=_error_sort_key)

        field_errors: list[FieldError] = []
        reported_required: set[tuple[str, tuple[str, ...]]] = set()
        for error in errors:
            path = _field_path(error.absolute_path)
            if error.validator != "required":
                field_errors.append(FieldError(path, error.instance, _describe(error)))
                continue

            # jsonschema reports each missing member as a separate error on the parent object
            # and names the member only inside its message, so report the absent members of
            # each required list once, from the instance.
            required_names = tuple(error.validator_value)
            if (path, required_names) in reported_required:
                continue
            reported_required.add((path, required_names))
            for name in required_names:
                if name not in error.instance:
                    field_errors.append(FieldError(f"{path}.{name}", None, "is required"))
        return field_errors


@functools.cache
def load_catalogue() -> Catalogue:
    """Read the catalogue from the package data once per process."""
    directory = resources.files("datastreams.events").joinpath(CATALOGUE_DIRECTORY)
    files = sorted(
        (entry for entry in directory.iterdir() if entry.name.endswith(".json")),
        key=lambda entry: entry.name,
    )

    groups: list[EventGroup] = []
    event_types: list[EventType] = []
    for entry in files:
        document = json.loads(entry.read_text(encoding="utf-8"))
        group, types = parse_group(document, source=entry.name)
        groups.append(group)
        event_types.extend(types)

    catalogue = Catalogue(groups, event_types)
    logger.debug(
        "Loaded the event catalogue",
        extra={"action": "load_catalogue", "groups": len(groups), "event_types": len(catalogue)},
    )
    return catalogue


def parse_group(document: Any, *, source: str) -> tuple[EventGroup, list[EventType]]:
    """Build one group and its event types from a parsed catalogue file.

    Raise ``ValueError`` naming ``source`` and the type when the file breaks the format.
    """
    if not isinstance(document, dict):
        raise ValueError(f"{source}: expected a JSON object at the top level")
    _check_keys(document, required=_GROUP_KEYS - {"$defs"}, allowed=_GROUP_KEYS, where=source)

    group = EventGroup(name=document["group"], description=document["description"])
    shared_defs: dict[str, Any] = document.get("$defs", {})

    event_types = []
    for entry in document["types"]:
        where = f"{source}: type {entry.get('name')!r}"
        _check_keys(entry, required=_TYPE_KEYS, allowed=_TYPE_KEYS, where=where)
        schema = _standalone_schema(entry["schema"], shared_defs, where=where)
        event_types.append(
            EventType(
                name=entry["name"],
                friendly_name=entry["friendlyName"],
                group=group.name,
                description=entry["description"],
                schema=schema,
                id_members=tuple(entry["idMembers"]),
                version_members=tuple(entry["versionMembers"]),
                property_paths=tuple(prop.path for prop in walk_properties(schema)),
                example=entry["example"],
            )
        )
    return group, event_types


def walk_properties(schema: dict[str, Any]) -> list[SchemaProperty]:
    """List every property that ``schema`` describes, depth first, in schema order.

    Paths are dotted (``newDomain.name``). A path that reaches an array continues into the
    items without an index, because filters apply such a path to each element. Branches of
    ``allOf``, ``anyOf`` and ``oneOf`` contribute their properties too. Local ``$ref`` values
    are followed; a reference back into a definition being expanded stops there.
    """
    found: dict[str, SchemaProperty] = {}

    def visit(node: dict[str, Any], prefix: str, expanding: frozenset[str]) -> None:
        resolved, expanding = _resolve(schema, node, expanding)
        if resolved is None:
            return

        required = set(resolved.get("required", ()))
        for name, child in resolved.get("properties", {}).items():
            path = f"{prefix}.{name}" if prefix else name
            child_resolved, _ = _resolve(schema, child, expanding)
            if path not in found:
                found[path] = SchemaProperty(path, child_resolved or child, name in required)
            visit(child, path, expanding)

        items = resolved.get("items")
        if isinstance(items, dict):
            visit(items, prefix, expanding)
        for keyword in ("allOf", "anyOf", "oneOf"):
            for branch in resolved.get(keyword, ()):
                visit(branch, prefix, expanding)

    visit(schema, "", frozenset())
    return list(found.values())


def _resolve(
    root: dict[str, Any], node: dict[str, Any], expanding: frozenset[str]
) -> tuple[dict[str, Any] | None, frozenset[str]]:
    """Follow ``node``'s ``$ref`` chain, or return ``None`` for a reference already being expanded.

    Keywords beside ``$ref`` (such as ``description``) win over the target's, as they do in
    draft 2020-12 where both apply.
    """
    while "$ref" in node:
        reference = node["$ref"]
        if reference in expanding:
            return None, expanding
        expanding = expanding | {reference}
        target = _resolve_pointer(root, reference)
        node = {**target, **{key: value for key, value in node.items() if key != "$ref"}}
    return node, expanding


def _resolve_pointer(root: dict[str, Any], reference: str) -> dict[str, Any]:
    if not reference.startswith("#/"):
        raise ValueError(f"only local references are supported, got $ref {reference!r}")

    node: Any = root
    for token in reference[2:].split("/"):
        key = token.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or key not in node:
            raise ValueError(f"$ref {reference!r} does not resolve")
        node = node[key]
    if not isinstance(node, dict):
        raise ValueError(f"$ref {reference!r} does not point to a schema object")
    return node


def _standalone_schema(
    schema: dict[str, Any], shared_defs: dict[str, Any], *, where: str
) -> dict[str, Any]:
    """Return ``schema`` with ``$schema`` and every shared definition that it reaches."""
    if "$defs" in schema:
        raise ValueError(f"{where}: put definitions in the group's $defs, not in the type's schema")

    needed: dict[str, Any] = {}
    pending = list(_local_def_names(schema))
    while pending:
        name = pending.pop()
        if name in needed:
            continue
        if name not in shared_defs:
            raise ValueError(
                f"{where}: $ref to {_DEFS_PREFIX}{name}, which the group does not define"
            )
        needed[name] = shared_defs[name]
        pending.extend(_local_def_names(shared_defs[name]))

    standalone = {"$schema": SCHEMA_DIALECT, **copy.deepcopy(schema)}
    if needed:
        standalone["$defs"] = {name: copy.deepcopy(needed[name]) for name in sorted(needed)}
    return standalone


def _local_def_names(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        reference = node.get("$ref")
        if isinstance(reference, str) and reference.startswith(_DEFS_PREFIX):
            yield reference.removeprefix(_DEFS_PREFIX)
        for value in node.values():
            yield from _local_def_names(value)
    elif isinstance(node, list):
        for value in node:
            yield from _local_def_names(value)


def _check_keys(
    entry: Any, *, required: frozenset[str], allowed: frozenset[str], where: str
) -> None:
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: expected a JSON object")
    missing = sorted(required - entry.keys())
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)}")
    unknown = sorted(entry.keys() - allowed)
    if unknown:
        raise ValueError(f"{where}: unknown member {', '.join(unknown)}")


def _parse_fragments(value: Any) -> Any:
    """Replace ``orjson.Fragment`` numbers with Python numbers, copying the containers."""
    if isinstance(value, orjson.Fragment):
        # A fragment exposes its text only through serialization.
        return json.loads(orjson.dumps(value))
    if isinstance(value, dict):
        return {key: _parse_fragments(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_parse_fragments(item) for item in value]
    return value


def _error_sort_key(error: SchemaValidationError) -> tuple[list[str], str]:
    return [str(part) for part in error.absolute_path], str(error.validator)


def _field_path(parts: Iterable[str | int]) -> str:
    path = "data"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _describe(error: SchemaValidationError) -> str:
    """Return a short rule for the common keywords and jsonschema's own message otherwise."""
    rule = error.validator_value
    match error.validator:
        case "type":
            expected = " or ".join(rule) if isinstance(rule, list) else rule
            return f"must be of type {expected}"
        case "enum":
            return "must be one of " + ", ".join(json.dumps(value) for value in rule)
        case "const":
            return f"must be {json.dumps(rule)}"
        case "minimum":
            return f"must be at least {rule}"
        case "minLength":
            return f"must have at least {rule} characters"
        case "minItems":
            return f"must have at least {rule} items"
        case "pattern":
            return f"must match the pattern {rule}"
    return error.message
