from __future__ import annotations

from typing import Any

import pytest

from datastreams.delivery.routing import RoutingTable
from datastreams.store.records import Domain, StreamRecord

# root
# ├── child
# │   └── grandchild
# └── sibling
DOMAINS = [
    Domain("root", "Root"),
    Domain("child", "Child", parent_id="root"),
    Domain("grandchild", "Grandchild", parent_id="child"),
    Domain("sibling", "Sibling", parent_id="root"),
]


def make_stream(
    stream_id: str,
    domain_id: str,
    *,
    enabled: bool = True,
    filters: list[dict[str, Any]] | None = None,
) -> StreamRecord:
    config: dict[str, Any] = {} if filters is None else {"filters": filters}
    return StreamRecord(
        id=stream_id,
        domain_id=domain_id,
        type="https",
        name=stream_id,
        description="",
        enabled=enabled,
        version=1,
        config=config,
    )


def build(*streams: StreamRecord) -> RoutingTable:
    return RoutingTable.build(DOMAINS, streams)


def test_routes_own_domain() -> None:
    table = build(make_stream("s-child", "child"))
    assert table.streams_for("child", "UserEntityCreated") == ["s-child"]


def test_routes_ancestors_nearest_first() -> None:
    table = build(make_stream("s-root", "root"), make_stream("s-child", "child"))
    assert table.streams_for("grandchild", "UserEntityCreated") == ["s-child", "s-root"]


def test_skips_sibling_domain() -> None:
    table = build(make_stream("s-sibling", "sibling"))
    assert table.streams_for("grandchild", "UserEntityCreated") == []


def test_skips_descendant_domain() -> None:
    table = build(make_stream("s-grandchild", "grandchild"))
    assert table.streams_for("root", "UserEntityCreated") == []


def test_skips_disabled_stream() -> None:
    table = build(make_stream("s-off", "child", enabled=False), make_stream("s-on", "child"))
    assert table.streams_for("child", "UserEntityCreated") == ["s-on"]


def test_filters_by_type() -> None:
    filters = [{"eventType": "DomainEntityCreated", "properties": []}]
    table = build(make_stream("s-filtered", "root", filters=filters))

    assert table.streams_for("child", "DomainEntityCreated") == ["s-filtered"]
    assert table.streams_for("child", "UserEntityCreated") == []


def test_empty_filters_take_every_type() -> None:
    table = build(make_stream("s-all", "root", filters=[]))
    assert table.streams_for("root", "AnyTypeAtAll") == ["s-all"]


def test_unknown_domain_routes_nowhere() -> None:
    table = build(make_stream("s-root", "root"))
    assert table.streams_for("unknown", "UserEntityCreated") == []


def test_cached_route_not_changed_by_caller() -> None:
    table = build(make_stream("s-root", "root"))

    first = table.streams_for("child", "UserEntityCreated")
    first.append("intruder")

    assert table.streams_for("child", "UserEntityCreated") == ["s-root"]


def test_parent_cycle_terminates() -> None:
    looped = [Domain("a", "A", parent_id="b"), Domain("b", "B", parent_id="a")]
    table = RoutingTable.build(looped, [make_stream("s-a", "a"), make_stream("s-b", "b")])
    assert table.streams_for("a", "UserEntityCreated") == ["s-a", "s-b"]


def test_stream_filters_of_disabled_stream() -> None:
    filters = [{"eventType": "DomainEntityCreated", "properties": ["newDomain.name"]}]
    table = build(make_stream("s-off", "root", enabled=False, filters=filters))

    compiled = table.stream_filters("s-off")

    assert compiled.matches("DomainEntityCreated")
    assert not compiled.matches("UserEntityCreated")


def test_stream_filters_unknown_stream() -> None:
    table = build()
    with pytest.raises(KeyError):
        table.stream_filters("missing")
