from __future__ import annotations

from typing import Any

import orjson
import pytest

from datastreams.errors import ValidationError
from datastreams.filters import (
    FilterSpec,
    compile_filters,
    filters_from_config,
    filters_to_config,
    parse_filters,
)
from datastreams.filters.spec import MAX_PATH_CHARS, MAX_PATH_SEGMENTS

KNOWN_TYPES = {"DomainEntityCreated", "EnrollmentEntityChanged", "UserEntityCreated"}


def parse(raw: Any, *, strict: bool = False) -> tuple[list[FilterSpec], list[str]]:
    return parse_filters(raw, is_known_type=KNOWN_TYPES.__contains__, strict=strict)


def field_errors(raw: Any, *, strict: bool = False) -> list[tuple[str, Any]]:
    with pytest.raises(ValidationError) as caught:
        parse(raw, strict=strict)
    return [(error.field, error.value) for error in caught.value.fields]


# Parsing ------------------------------------------------------------------------------


def test_parse_none_gives_no_filters() -> None:
    assert parse(None) == ([], [])


def test_parse_comma_separated_properties() -> None:
    specs, _ = parse(
        [{"eventType": "DomainEntityCreated", "properties": "domainId, newDomain.name"}]
    )
    assert specs == [FilterSpec("DomainEntityCreated", ("domainId", "newDomain.name"))]


def test_parse_list_properties() -> None:
    specs, _ = parse([{"eventType": "DomainEntityCreated", "properties": ["domainId", "a.b"]}])
    assert specs == [FilterSpec("DomainEntityCreated", ("domainId", "a.b"))]


def test_parse_missing_properties_keeps_all() -> None:
    specs, _ = parse([{"eventType": "DomainEntityCreated"}])
    assert specs == [FilterSpec("DomainEntityCreated", ())]


def test_parse_empty_string_keeps_all() -> None:
    specs, _ = parse([{"eventType": "DomainEntityCreated", "properties": "  "}])
    assert specs[0].properties == ()


def test_parse_trailing_comma_dropped() -> None:
    specs, _ = parse([{"eventType": "DomainEntityCreated", "properties": "a, b,"}])
    assert specs[0].properties == ("a", "b")


def test_parse_duplicates_removed_in_order() -> None:
    specs, _ = parse([{"eventType": "DomainEntityCreated", "properties": "b, a, b, a.c"}])
    assert specs[0].properties == ("b", "a", "a.c")


def test_parse_same_type_twice_allowed() -> None:
    specs, _ = parse(
        [
            {"eventType": "DomainEntityCreated", "properties": "a"},
            {"eventType": "DomainEntityCreated", "properties": "b"},
        ]
    )
    assert [spec.properties for spec in specs] == [("a",), ("b",)]


def test_parse_unknown_type_warns() -> None:
    specs, warnings = parse([{"eventType": "SomethingNew", "properties": None}])
    assert specs == [FilterSpec("SomethingNew", ())]
    assert len(warnings) == 1
    assert "filters[0].eventType" in warnings[0]
    assert "SomethingNew" in warnings[0]


def test_parse_unknown_type_strict_rejected() -> None:
    errors = field_errors([{"eventType": "SomethingNew"}], strict=True)
    assert errors == [("filters[0].eventType", "SomethingNew")]


def test_parse_known_type_no_warning() -> None:
    _, warnings = parse([{"eventType": "UserEntityCreated"}], strict=True)
    assert warnings == []


def test_parse_custom_field_prefix() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_filters([{"eventType": ""}], field="stream.filters", is_known_type=bool, strict=False)
    assert caught.value.fields[0].field == "stream.filters[0].eventType"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"eventType": "X"}, [("filters", {"eventType": "X"})]),
        ([42], [("filters[0]", 42)]),
        ([{"eventType": ""}], [("filters[0].eventType", "")]),
        ([{"eventType": 7}], [("filters[0].eventType", 7)]),
        ([{"eventType": "Domain Created"}], [("filters[0].eventType", "Domain Created")]),
        ([{"properties": "a"}], [("filters[0].eventType", None)]),
        (
            [{"eventType": "DomainEntityCreated", "extra": 1}],
            [("filters[0].extra", 1)],
        ),
        (
            [{"eventType": "DomainEntityCreated", "properties": 5}],
            [("filters[0].properties", 5)],
        ),
        (
            [{"eventType": "DomainEntityCreated", "properties": ["a", 3]}],
            [("filters[0].properties[1]", 3)],
        ),
        (
            [{"eventType": "DomainEntityCreated", "properties": ["a", ""]}],
            [("filters[0].properties[1]", "")],
        ),
        (
            [{"eventType": "DomainEntityCreated", "properties": "a..b"}],
            [("filters[0].properties", "a..b")],
        ),
        (
            [{"eventType": "DomainEntityCreated", "properties": ".a"}],
            [("filters[0].properties", ".a")],
        ),
        (
            [{"eventType": "DomainEntityCreated", "properties": "a.b c"}],
            [("filters[0].properties", "a.b c")],
        ),
    ],
)
def test_parse_invalid_rejected(raw: Any, expected: list[tuple[str, Any]]) -> None:
    assert field_errors(raw) == expected


def test_parse_too_many_segments_rejected() -> None:
    path = ".".join(["a"] * (MAX_PATH_SEGMENTS + 1))
    errors = field_errors([{"eventType": "DomainEntityCreated", "properties": [path]}])
    assert errors == [("filters[0].properties[0]", path)]


def test_parse_max_segments_accepted() -> None:
    path = ".".join(["a"] * MAX_PATH_SEGMENTS)
    specs, _ = parse([{"eventType": "DomainEntityCreated", "properties": [path]}])
    assert specs[0].properties == (path,)


def test_parse_too_long_path_rejected() -> None:
    path = "a" * (MAX_PATH_CHARS + 1)
    errors = field_errors([{"eventType": "DomainEntityCreated", "properties": path}])
    assert errors == [("filters[0].properties", path)]


def test_parse_collects_all_errors() -> None:
    errors = field_errors(
        [
            {"eventType": "DomainEntityCreated", "properties": "ok"},
            {"eventType": "", "properties": "a..b", "other": True},
            {"eventType": "Unknown"},
        ],
        strict=True,
    )
    assert errors == [
        ("filters[1].other", True),
        ("filters[1].eventType", ""),
        ("filters[1].properties", "a..b"),
        ("filters[2].eventType", "Unknown"),
    ]


def test_config_round_trip() -> None:
    specs = [FilterSpec("DomainEntityCreated", ("domainId", "newDomain.name"))]
    config = filters_to_config(specs)
    assert config == [
        {"eventType": "DomainEntityCreated", "properties": ["domainId", "newDomain.name"]}
    ]
    assert filters_from_config(config) == specs


# Matching and projection ------------------------------------------------------------------

DOMAIN_CREATED = {
    "domainId": "42",
    "newDomain": {"name": "North", "userspace": "north", "flags": 3},
    "tags": ["a", "b"],
}


def test_no_filters_selects_all() -> None:
    compiled = compile_filters([])
    assert compiled.selects_all
    assert compiled.matches("AnyType")
    assert compiled.project("AnyType", DOMAIN_CREATED) is DOMAIN_CREATED


def test_matches_named_types_only() -> None:
    compiled = compile_filters([FilterSpec("DomainEntityCreated", ("domainId",))])
    assert not compiled.selects_all
    assert compiled.matches("DomainEntityCreated")
    assert not compiled.matches("UserEntityCreated")


def test_event_types_listed() -> None:
    compiled = compile_filters(
        [FilterSpec("DomainEntityCreated", ()), FilterSpec("UserEntityCreated", ("a",))]
    )
    assert compiled.event_types == {"DomainEntityCreated", "UserEntityCreated"}


def test_project_empty_properties_returns_same_object() -> None:
    compiled = compile_filters([FilterSpec("DomainEntityCreated", ())])
    assert compiled.project("DomainEntityCreated", DOMAIN_CREATED) is DOMAIN_CREATED


def test_project_empty_properties_wins_over_paths() -> None:
    compiled = compile_filters(
        [
            FilterSpec("DomainEntityCreated", ("domainId",)),
            FilterSpec("DomainEntityCreated", ()),
        ]
    )
    assert compiled.project("DomainEntityCreated", DOMAIN_CREATED) is DOMAIN_CREATED


def test_project_keeps_listed_paths() -> None:
    compiled = compile_filters([FilterSpec("DomainEntityCreated", ("domainId", "newDomain.name"))])
    projected = compiled.project("DomainEntityCreated", DOMAIN_CREATED)
    assert projected == {"domainId": "42", "newDomain": {"name": "North"}}


def test_project_unites_filters_of_one_type() -> None:
    compiled = compile_filters(
        [
            FilterSpec("DomainEntityCreated", ("newDomain.name",)),
            FilterSpec("DomainEntityCreated", ("newDomain.flags", "tags")),
        ]
    )
    projected = compiled.project("DomainEntityCreated", DOMAIN_CREATED)
    assert projected == {"newDomain": {"name": "North", "flags": 3}, "tags": ["a", "b"]}


def test_project_parent_path_covers_child() -> None:
    compiled = compile_filters([FilterSpec("DomainEntityCreated", ("newDomain.name", "newDomain"))])
    projected = compiled.project("DomainEntityCreated", DOMAIN_CREATED)
    assert projected == {"newDomain": DOMAIN_CREATED["newDomain"]}


def test_project_child_after_parent_ignored() -> None:
    compiled = compile_filters([FilterSpec("DomainEntityCreated", ("newDomain", "newDomain.name"))])
    projected = compiled.project("DomainEntityCreated", DOMAIN_CREATED)
    assert projected == {"newDomain": DOMAIN_CREATED["newDomain"]}


def test_project_follows_data_order() -> None:
    compiled = compile_filters(
        [
            FilterSpec(
                "DomainEntityCreated", ("newDomain.flags", "tags", "domainId", "newDomain.name")
            )
        ]
    )
    projected = compiled.project("DomainEntityCreated", DOMAIN_CREATED)
    assert list(projected) == ["domainId", "newDomain", "tags"]
    assert list(projected["newDomain"]) == ["name", "flags"]


def test_project_missing_member_skipped() -> None:
    compiled = compile_filters([FilterSpec("DomainEntityCreated", ("domainId", "oldDomain.name"))])
    assert compiled.project("DomainEntityCreated", DOMAIN_CREATED) == {"domainId": "42"}


def test_project_path_through_scalar_skipped() -> None:
    compiled = compile_filters([FilterSpec("DomainEntityCreated", ("domainId.length",))])
    assert compiled.project("DomainEntityCreated", DOMAIN_CREATED) == {}


def test_project_object_without_listed_members_skipped() -> None:
    compiled = compile_filters([FilterSpec("DomainEntityCreated", ("newDomain.parentId",))])
    assert compiled.project("DomainEntityCreated", DOMAIN_CREATED) == {}


def test_project_array_applies_to_elements() -> None:
    data = {
        "items": [
            {"id": 1, "title": "a", "score": {"value": 3, "max": 5}},
            {"id": 2, "title": "b"},
            {"title": "c"},
        ]
    }
    compiled = compile_filters([FilterSpec("GradesChanged", ("items.id", "items.score.value"))])
    projected = compiled.project("GradesChanged", data)
    assert projected == {"items": [{"id": 1, "score": {"value": 3}}, {"id": 2}, {}]}


def test_project_array_drops_scalar_elements() -> None:
    data = {"items": [{"id": 1}, "loose", 4, None]}
    compiled = compile_filters([FilterSpec("GradesChanged", ("items.id",))])
    assert compiled.project("GradesChanged", data) == {"items": [{"id": 1}]}


def test_project_nested_arrays() -> None:
    data = {"rows": [[{"id": 1, "x": 0}], [{"id": 2}, {"x": 1}]]}
    compiled = compile_filters([FilterSpec("Matrix", ("rows.id",))])
    assert compiled.project("Matrix", data) == {"rows": [[{"id": 1}], [{"id": 2}, {}]]}


def test_project_whole_array_kept() -> None:
    compiled = compile_filters([FilterSpec("DomainEntityCreated", ("tags",))])
    projected = compiled.project("DomainEntityCreated", DOMAIN_CREATED)
    assert projected["tags"] is DOMAIN_CREATED["tags"]


def test_project_keeps_number_fragments() -> None:
    fragment = orjson.Fragment(b"1.50")
    data = {"score": fragment, "other": 1}
    compiled = compile_filters([FilterSpec("GradeChanged", ("score",))])
    projected = compiled.project("GradeChanged", data)
    assert orjson.dumps(projected) == b'{"score":1.50}'


def test_project_does_not_change_input() -> None:
    data = {"a": {"b": 1, "c": 2}}
    compiled = compile_filters([FilterSpec("T", ("a.b",))])
    compiled.project("T", data)
    assert data == {"a": {"b": 1, "c": 2}}


def test_project_unnamed_type_gives_empty_object() -> None:
    compiled = compile_filters([FilterSpec("DomainEntityCreated", ("domainId",))])
    assert compiled.project("UserEntityCreated", {"userId": "1"}) == {}
