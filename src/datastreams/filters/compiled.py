"""Compiled filters: which events a stream takes and which members of ``data`` it keeps.

Compiling turns a stream's filters into one projection tree per event type, once per
stream version, so matching an event is one dict lookup and projecting it walks only
the members that the tree names.

Projection rules:

- ``data`` is reduced to the union of the paths of every filter naming the type. An
  empty ``properties`` list in any of them keeps all of ``data``.
- A member that is missing, or that is not an object or array while the path goes on,
  is skipped. An object left empty by the projection is skipped too.
- A path that reaches an array applies the rest of the path to each element. Object
  elements keep only the rest of the path and stay in place, even when that leaves
  them empty, and elements that are neither objects nor arrays are dropped.
- Members keep the order they have in the original ``data``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from datastreams.filters.spec import FilterSpec

# A member name maps to ``None`` to keep its whole value, or to the tree of its members.
ProjectionTree = dict[str, "ProjectionTree | None"]

_SKIP = object()


class CompiledFilters:
    """The filters of one stream version, ready to match and project events."""

    __slots__ = ("_trees",)

    def __init__(self, trees: dict[str, ProjectionTree | None] | None) -> None:
        # ``None`` stands for a stream without filters: every event passes whole.
        # ``trees[type] is None`` keeps all of ``data`` for that type.
        self._trees = trees

    @property
    def selects_all(self) -> bool:
        """Whether the stream has no filters, so every event passes unchanged."""
        return self._trees is None

    @property
    def event_types(self) -> frozenset[str]:
        """The event types the filters name (empty when the stream has no filters)."""
        return frozenset(self._trees or ())

    def matches(self, event_type: str) -> bool:
        """Return whether an event of this type passes the filters."""
        return self._trees is None or event_type in self._trees

    def projects(self, event_type: str) -> bool:
        """Return whether ``project`` may remove members of ``data`` for this type.

        False when the stream has no filters or the type's filter lists no properties,
        so the stored line can be sent without being parsed.
        """
        return self._trees is not None and self._trees.get(event_type, {}) is not None

    def project(self, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
        """Return ``data`` reduced to the paths the filters list for ``event_type``.

        Returns ``data`` itself when nothing is removed by rule (no filters, or a
        matching filter with no properties). Call ``matches`` first: for a type that
        no filter names the result is an empty object.
        """
        if self._trees is None:
            return data

        tree = self._trees.get(event_type, {})
        if tree is None:
            return data
        return _project_object(data, tree)


def compile_filters(specs: Sequence[FilterSpec]) -> CompiledFilters:
    """Build the projection tree of every event type named by ``specs``."""
    if not specs:
        return CompiledFilters(None)

    trees: dict[str, ProjectionTree | None] = {}
    for spec in specs:
        if spec.event_type in trees and trees[spec.event_type] is None:
            continue

        if not spec.properties:
            trees[spec.event_type] = None
            continue

        tree = trees.setdefault(spec.event_type, {})
        assert tree is not None
        for path in spec.properties:
            _add_path(tree, path.split("."))

    return CompiledFilters(trees)


def _add_path(tree: ProjectionTree, segments: list[str]) -> None:
    node = tree
    for segment in segments[:-1]:
        if segment in node and node[segment] is None:
            # A shorter path already keeps this whole member.
            return
        child = node.setdefault(segment, {})
        assert child is not None
        node = child

    # The full member is kept, which covers any longer paths added before.
    node[segments[-1]] = None


def _project_object(data: dict[str, Any], tree: ProjectionTree) -> dict[str, Any]:
    projected: dict[str, Any] = {}
    for name, value in data.items():
        if name not in tree:
            continue

        subtree = tree[name]
        if subtree is None:
            projected[name] = value
            continue

        reduced = _project_nested(value, subtree)
        if reduced is not _SKIP:
            projected[name] = reduced
    return projected


def _project_nested(value: Any, tree: ProjectionTree) -> Any:
    if isinstance(value, dict):
        reduced = _project_object(value, tree)
        return reduced if reduced else _SKIP

    if isinstance(value, list):
        elements: list[Any] = []
        for element in value:
            if isinstance(element, dict):
                elements.append(_project_object(element, tree))
            elif isinstance(element, list):
                elements.append(_project_nested(element, tree))
        return elements

    return _SKIP
