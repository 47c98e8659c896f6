"""Tests of the event catalogue data, its loader and the generated reference."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator

from datastreams.errors import FieldError
from datastreams.events import catalogue_doc
from datastreams.events.catalogue import (
    SCHEMA_DIALECT,
    Catalogue,
    EventGroup,
    EventType,
    load_catalogue,
    parse_group,
    walk_properties,
)

REFERENCE_DOC = Path(__file__).resolve().parents[2] / "docs" / "event-types.md"

EXPECTED_TYPES = frozenset(
    {
        "DomainEntityCreated",
        "DomainEntityChanged",
        "DomainEntityDeleted",
        "DomainEntityRestored",
        "CourseEntityCreated",
        "CourseEntityChanged",
        "CourseEntityDeleted",
        "CourseEntityRestored",
        "EnrollmentEntityCreated",
        "EnrollmentEntityChanged",
        "EnrollmentEntityDeleted",
        "EnrollmentEntityRestored",
        "UserEntityCreated",
        "UserEntityChanged",
        "UserEntityDeleted",
        "UserEntityRestored",
        "CourseAncestorChanged",
        "GroupEntityCreated",
        "GroupEntityChanged",
        "GroupEntityDeleted",
        "GroupEntityMembersChanged",
        "CourseItemCreated",
        "CourseItemChanged",
        "CourseItemDeleted",
        "CourseItemRestored",
        "EnrollmentItemCreated",
        "EnrollmentItemChanged",
        "EnrollmentItemDeleted",
        "EnrollmentItemRestored",
        "GroupItemCreated",
        "GroupItemChanged",
        "GroupItemDeleted",
        "GroupItemRestored",
        "CourseResourceCreated",
        "CourseResourceChanged",
        "CourseResourceDeleted",
        "CourseResourceRestored",
        "GradeCreated",
        "GradeChanged",
        "EnrollmentMetricsCreated",
        "EnrollmentMetricsChanged",
        "ItemActivity",
        "UserSessionStarted",
        "UserSessionEnded",
        "DomainEntityActivity",
        "CourseEntityActivity",
        "UserEntityActivity",
        "EnrollmentEntityActivity",
        "InboxMessageCreated",
        "InboxMessageChanged",
        "InboxMessageDeleted",
        "InboxMessageRestored",
        "DomainPermissionsCreated",
        "DomainPermissionsChanged",
        "DomainPermissionsDeleted",
        "AuthAdminAuthenticated",
        "AuthAdminPasswordChanged",
        "AuthAdminContactInfoChanged",
        "OAuthClientKeyAdded",
        "OAuthClientKeyRemoved",
        "AuthProxyLoginStarted",
        "AuthProxyLoginFailed",
        "AuthLoginFailed",
        "AuthAccountLocked",
        "AuthAccountUnlocked",
        "AuthMFAFailed",
        "AuthPasswordRisk",
        "DataStreamConfigurationCreated",
        "DataStreamConfigurationChanged",
        "DataStreamConfigurationDeleted",
        "ValidateDataStreamConfiguration",
        "DataStreamEmailDropped",
    }
)

EXPECTED_GROUPS = [
    "Entity changes",
    "Items",
    "Resources",
    "Grades",
    "Enrollment metrics",
    "Activity and sessions",
    "Inbox and email",
    "Security audit",
    "Configuration",
]

CATALOGUE = load_catalogue()
ALL_TYPES = sorted(CATALOGUE, key=lambda event_type: event_type.name)
CREATED_TYPES = [t for t in ALL_TYPES if t.name.endswith("Created")]
# Changed types with a Created counterpart carry entity snapshots. Others, such as
# AuthAdminPasswordChanged or GroupEntityMembersChanged, describe the change itself.
SNAPSHOT_CHANGED_TYPES = [
    t
    for t in ALL_TYPES
    if t.name.endswith("Changed") and t.name.removesuffix("Changed") + "Created" in CATALOGUE
]
SECURITY_AUDIT_TYPES = [
    t
    for t in ALL_TYPES
    if t.group == "Security audit" and not t.name.startswith("DomainPermissions")
]

NEW_MEMBER = re.compile(r"^new[A-Z]\w*$")


def by_name(event_types: list[EventType]) -> dict[str, Any]:
    return {"argvalues": event_types, "ids": [t.name for t in event_types]}


def domain_created_data(**new_domain: Any) -> dict[str, Any]:
    return {
        "domainId": "1176031",
        "version": 1,
        "newDomain": {
            "name": "Lincoln High School",
            "userspace": "lincoln-hs",
            "parentId": "1176022",
            **new_domain,
        },
    }


# ---------------------------------------------------------------- the list of types


def test_catalogue_has_no_missing_types() -> None:
    assert EXPECTED_TYPES - CATALOGUE.names() == set()


def test_catalogue_has_no_extra_types() -> None:
    assert CATALOGUE.names() - EXPECTED_TYPES == set()


def test_catalogue_length() -> None:
    assert len(CATALOGUE) == len(EXPECTED_TYPES)


def test_catalogue_groups_order() -> None:
    assert CATALOGUE.groups() == EXPECTED_GROUPS


def test_catalogue_iterates_by_group_then_name() -> None:
    positions = {group: index for index, group in enumerate(EXPECTED_GROUPS)}
    listed = [(positions[t.group], t.name) for t in CATALOGUE]

    assert listed == sorted(listed)


def test_catalogue_every_group_used() -> None:
    assert {t.group for t in CATALOGUE} == set(EXPECTED_GROUPS)


def test_catalogue_contains_known_name() -> None:
    assert "DomainEntityCreated" in CATALOGUE


def test_catalogue_contains_unknown() -> None:
    assert "DomainEntityExploded" not in CATALOGUE
    assert 42 not in CATALOGUE


def test_catalogue_get_unknown() -> None:
    assert CATALOGUE.get("DomainEntityExploded") is None


def test_friendly_names_unique() -> None:
    friendly_names = [t.friendly_name for t in CATALOGUE]

    assert len(set(friendly_names)) == len(friendly_names)


def test_group_description_unknown_group() -> None:
    with pytest.raises(KeyError):
        CATALOGUE.group_description("Weather")


def test_load_catalogue_cached() -> None:
    assert load_catalogue() is CATALOGUE


# ---------------------------------------------------------------- each type


@pytest.mark.parametrize("event_type", **by_name(ALL_TYPES))
def test_schema_valid_2020_12(event_type: EventType) -> None:
    assert event_type.schema["$schema"] == SCHEMA_DIALECT
    Draft202012Validator.check_schema(event_type.schema)


@pytest.mark.parametrize("event_type", **by_name(ALL_TYPES))
def test_schema_top_level_open(event_type: EventType) -> None:
    assert event_type.schema["type"] == "object"
    assert event_type.schema["additionalProperties"] is True


@pytest.mark.parametrize("event_type", **by_name(ALL_TYPES))
def test_example_matches_schema(event_type: EventType) -> None:
    assert event_type.example != {}
    assert CATALOGUE.validate_data(event_type.name, event_type.example) == []


@pytest.mark.parametrize("event_type", **by_name(ALL_TYPES))
def test_example_accepts_extra_top_level_member(event_type: EventType) -> None:
    data = {**event_type.example, "platformExtension": {"any": "value"}}

    assert CATALOGUE.validate_data(event_type.name, data) == []


@pytest.mark.parametrize("event_type", **by_name(ALL_TYPES))
def test_id_members_required(event_type: EventType) -> None:
    properties = event_type.schema["properties"]
    required = event_type.schema["required"]

    assert event_type.id_members != ()
    for member in event_type.id_members:
        assert member in properties
        assert member in required


@pytest.mark.parametrize("event_type", **by_name(ALL_TYPES))
def test_version_members_required_integers(event_type: EventType) -> None:
    properties = event_type.schema["properties"]
    required = event_type.schema["required"]

    for member in event_type.version_members:
        assert member in required
        assert properties[member]["type"] == "integer"


@pytest.mark.parametrize("event_type", **by_name(ALL_TYPES))
def test_friendly_name_and_description_set(event_type: EventType) -> None:
    assert event_type.friendly_name.strip() != ""
    assert event_type.description.endswith(".")
    assert "\n" not in event_type.description


@pytest.mark.parametrize("event_type", **by_name(ALL_TYPES))
def test_top_level_properties_in_paths(event_type: EventType) -> None:
    for member in event_type.schema["properties"]:
        assert member in event_type.property_paths


@pytest.mark.parametrize("event_type", **by_name(CREATED_TYPES))
def test_created_carries_new_entity(event_type: EventType) -> None:
    new_members = [m for m in event_type.schema["required"] if NEW_MEMBER.match(m)]

    assert len(new_members) == 1
    assert isinstance(event_type.example[new_members[0]], dict)


@pytest.mark.parametrize("event_type", **by_name(CREATED_TYPES))
def test_created_has_version(event_type: EventType) -> None:
    assert event_type.version_members == ("version",)


@pytest.mark.parametrize("event_type", **by_name(SNAPSHOT_CHANGED_TYPES))
def test_changed_carries_old_and_new(event_type: EventType) -> None:
    required = event_type.schema["required"]
    new_members = [m for m in required if NEW_MEMBER.match(m)]

    assert len(new_members) == 1
    assert "old" + new_members[0].removeprefix("new") in required


@pytest.mark.parametrize("event_type", **by_name(SNAPSHOT_CHANGED_TYPES))
def test_changed_old_and_new_share_schema(event_type: EventType) -> None:
    properties = event_type.schema["properties"]
    new_member = next(m for m in properties if NEW_MEMBER.match(m))
    old_member = "old" + new_member.removeprefix("new")

    assert properties[old_member]["$ref"] == properties[new_member]["$ref"]


@pytest.mark.parametrize("event_type", **by_name(SECURITY_AUDIT_TYPES))
def test_security_audit_carries_actor_and_outcome(event_type: EventType) -> None:
    required = event_type.schema["required"]

    assert "actorUserId" in required
    assert "outcome" in required


def test_snapshot_changed_types_found() -> None:
    # Guards the derivation above: an empty list would make the parametrized tests vacuous.
    assert len(SNAPSHOT_CHANGED_TYPES) == 14


def test_security_audit_types_found() -> None:
    assert len(SECURITY_AUDIT_TYPES) == 12


# ---------------------------------------------------------------- particular types


def test_domain_entity_created_ids() -> None:
    event_type = CATALOGUE.get("DomainEntityCreated")

    assert event_type is not None
    assert event_type.id_members == ("domainId",)
    assert event_type.version_members == ("version",)


def test_enrollment_entity_carries_user_and_course() -> None:
    event_type = CATALOGUE.get("EnrollmentEntityDeleted")

    assert event_type is not None
    assert event_type.id_members == ("enrollmentId",)
    assert {"userId", "courseId"} <= set(event_type.schema["required"])


def test_property_paths_include_nested() -> None:
    event_type = CATALOGUE.get("DomainEntityCreated")

    assert event_type is not None
    assert "newDomain" in event_type.property_paths
    assert "newDomain.name" in event_type.property_paths
    assert "newDomain.parentId" in event_type.property_paths


def test_property_paths_continue_through_arrays() -> None:
    event_type = CATALOGUE.get("DataStreamConfigurationChanged")

    assert event_type is not None
    assert "newStream.filters.eventType" in event_type.property_paths
    assert "oldStream.filters.properties" in event_type.property_paths


def test_stream_configuration_has_no_secrets() -> None:
    forbidden = ("secret", "header", "arn", "endpoint", "externalid", "password", "key")
    names = [n for n in CATALOGUE.names() if n.startswith("DataStreamConfiguration")]

    assert len(names) == 3
    for name in names:
        event_type = CATALOGUE.get(name)
        assert event_type is not None
        for path in event_type.property_paths:
            assert not any(word in path.lower() for word in forbidden), path


def test_probe_stream_id_nullable() -> None:
    data = {"streamId": None, "streamType": "https", "message": "Test event."}

    assert CATALOGUE.validate_data("ValidateDataStreamConfiguration", data) == []


def test_sessions_carry_no_network_details() -> None:
    forbidden = {"ip", "ipaddress", "address", "useragent", "location"}

    for name in ("UserSessionStarted", "UserSessionEnded"):
        event_type = CATALOGUE.get(name)
        assert event_type is not None
        last_segments = {path.rsplit(".", 1)[-1].lower() for path in event_type.property_paths}
        assert last_segments & forbidden == set(), name


def test_password_changed_omits_password() -> None:
    event_type = CATALOGUE.get("AuthAdminPasswordChanged")

    assert event_type is not None
    assert [p for p in event_type.property_paths if "password" in p.lower()] == []


# ---------------------------------------------------------------- to_api


def test_to_api_members() -> None:
    event_type = CATALOGUE.get("DomainEntityCreated")
    assert event_type is not None

    api = event_type.to_api()

    assert list(api) == [
        "name",
        "friendlyName",
        "group",
        "description",
        "idMembers",
        "versionMembers",
        "propertyPaths",
        "schema",
    ]
    assert api["friendlyName"] == "Domain created"
    assert api["idMembers"] == ["domainId"]
    assert "newDomain.name" in api["propertyPaths"]


def test_to_api_schema_is_copy() -> None:
    event_type = CATALOGUE.get("DomainEntityCreated")
    assert event_type is not None

    api = event_type.to_api()
    api["schema"]["properties"].clear()

    assert "newDomain" in event_type.schema["properties"]


def test_to_api_serializable() -> None:
    for event_type in CATALOGUE:
        assert orjson.loads(orjson.dumps(event_type.to_api()))["name"] == event_type.name


# ---------------------------------------------------------------- validate_data


def test_validate_data_wrong_type_nested() -> None:
    errors = CATALOGUE.validate_data("DomainEntityCreated", domain_created_data(name=42))

    assert errors == [FieldError("data.newDomain.name", 42, "must be of type string")]


def test_validate_data_wrong_type_top_level() -> None:
    data = {**domain_created_data(), "domainId": 1176031}

    errors = CATALOGUE.validate_data("DomainEntityCreated", data)

    assert errors == [FieldError("data.domainId", 1176031, "must be of type string")]


def test_validate_data_missing_members() -> None:
    data = domain_created_data()
    del data["newDomain"]["userspace"]
    del data["newDomain"]["parentId"]

    errors = CATALOGUE.validate_data("DomainEntityCreated", data)

    assert errors == [
        FieldError("data.newDomain.userspace", None, "is required"),
        FieldError("data.newDomain.parentId", None, "is required"),
    ]


def test_validate_data_array_index_in_path() -> None:
    data = {
        "groupId": "5520418",
        "courseId": "2251430",
        "version": 5,
        "addedEnrollmentIds": ["4410932", 4410977],
        "removedEnrollmentIds": [],
    }

    errors = CATALOGUE.validate_data("GroupEntityMembersChanged", data)

    assert errors == [FieldError("data.addedEnrollmentIds[1]", 4410977, "must be of type string")]


def test_validate_data_enum_message() -> None:
    data = {
        "streamId": None,
        "streamType": "ftp",
        "message": "Test event.",
    }

    errors = CATALOGUE.validate_data("ValidateDataStreamConfiguration", data)

    assert errors == [
        FieldError("data.streamType", "ftp", 'must be one of "firehose", "kinesis", "sqs", "https"')
    ]


def test_validate_data_not_an_object() -> None:
    errors = CATALOGUE.validate_data("DomainEntityDeleted", ["1176031"])

    assert errors == [FieldError("data", ["1176031"], "must be of type object")]


def test_validate_data_errors_sorted() -> None:
    data = {**domain_created_data(name=42), "domainId": 7}

    fields = [error.field for error in CATALOGUE.validate_data("DomainEntityCreated", data)]

    assert fields == ["data.domainId", "data.newDomain.name"]


def test_validate_data_integer_fragment_accepted() -> None:
    data = {**domain_created_data(), "version": orjson.Fragment(b"3")}

    assert CATALOGUE.validate_data("DomainEntityCreated", data) == []


def test_validate_data_fractional_fragment_rejected() -> None:
    data = {**domain_created_data(), "version": orjson.Fragment(b"2.5")}

    errors = CATALOGUE.validate_data("DomainEntityCreated", data)

    assert errors == [FieldError("data.version", 2.5, "must be of type integer")]


def test_validate_data_nested_fragment() -> None:
    example = CATALOGUE.get("GradeChanged")
    assert example is not None
    data = {**example.example, "newGrade": {**example.example["newGrade"]}}
    data["newGrade"]["score"] = orjson.Fragment(b"-1")

    errors = CATALOGUE.validate_data("GradeChanged", data)

    assert errors == [FieldError("data.newGrade.score", -1, "must be at least 0")]


def test_validate_data_leaves_input_unchanged() -> None:
    fragment = orjson.Fragment(b"3")
    data = {**domain_created_data(), "version": fragment}

    CATALOGUE.validate_data("DomainEntityCreated", data)

    assert data["version"] is fragment


def test_validate_data_unknown_type() -> None:
    assert CATALOGUE.validate_data("DomainEntityExploded", {"anything": 1}) == []


# ---------------------------------------------------------------- walk_properties and parsing


def test_walk_properties_follows_refs_and_branches() -> None:
    schema = {
        "type": "object",
        "required": ["a"],
        "properties": {
            "a": {"$ref": "#/$defs/Pair"},
            "b": {"anyOf": [{"properties": {"x": {"type": "string"}}}, {"type": "null"}]},
        },
        "$defs": {"Pair": {"required": ["left"], "properties": {"left": {}, "right": {}}}},
    }

    found = [(p.path, p.required) for p in walk_properties(schema)]

    assert found == [
        ("a", True),
        ("a.left", True),
        ("a.right", False),
        ("b", False),
        ("b.x", False),
    ]


def test_walk_properties_stops_at_recursive_ref() -> None:
    schema = {
        "properties": {"root": {"$ref": "#/$defs/Node"}},
        "$defs": {"Node": {"properties": {"child": {"$ref": "#/$defs/Node"}}}},
    }

    paths = [p.path for p in walk_properties(schema)]

    assert paths == ["root", "root.child"]


def test_walk_properties_rejects_remote_ref() -> None:
    schema = {"properties": {"a": {"$ref": "https://example.org/schema.json"}}}

    with pytest.raises(ValueError, match="only local references"):
        walk_properties(schema)


def minimal_group(**type_changes: Any) -> dict[str, Any]:
    event_type = {
        "name": "ThingCreated",
        "friendlyName": "Thing created",
        "description": "A thing was created.",
        "idMembers": ["thingId"],
        "versionMembers": [],
        "schema": {
            "type": "object",
            "properties": {"thingId": {"type": "string"}, "newThing": {"$ref": "#/$defs/Thing"}},
        },
        "example": {"thingId": "1"},
        **type_changes,
    }
    return {
        "group": "Things",
        "description": "Things.",
        "$defs": {
            "Thing": {"properties": {"part": {"$ref": "#/$defs/Part"}}},
            "Part": {"properties": {"size": {"type": "integer"}}},
            "Unused": {"type": "string"},
        },
        "types": [event_type],
    }


def test_parse_group_copies_reached_defs() -> None:
    _, [event_type] = parse_group(minimal_group(), source="things.json")

    assert sorted(event_type.schema["$defs"]) == ["Part", "Thing"]
    assert event_type.property_paths == (
        "thingId",
        "newThing",
        "newThing.part",
        "newThing.part.size",
    )


def test_parse_group_missing_member() -> None:
    document = minimal_group()
    del document["types"][0]["friendlyName"]

    with pytest.raises(
        ValueError, match=r"things\.json: type 'ThingCreated': missing friendlyName"
    ):
        parse_group(document, source="things.json")


def test_parse_group_unknown_member() -> None:
    document = minimal_group(friendly_name="typo")

    with pytest.raises(ValueError, match="unknown member friendly_name"):
        parse_group(document, source="things.json")


def test_parse_group_undefined_ref() -> None:
    document = minimal_group()
    del document["$defs"]["Part"]

    with pytest.raises(ValueError, match=r"\$ref to #/\$defs/Part"):
        parse_group(document, source="things.json")


def test_catalogue_rejects_duplicate_name() -> None:
    group, [event_type] = parse_group(minimal_group(), source="things.json")

    with pytest.raises(ValueError, match="listed twice"):
        Catalogue([group], [event_type, event_type])


def test_catalogue_rejects_unknown_group() -> None:
    _, [event_type] = parse_group(minimal_group(), source="things.json")

    with pytest.raises(ValueError, match="unknown group"):
        Catalogue([EventGroup("Other", "Other things.")], [event_type])


# ---------------------------------------------------------------- generated reference


def test_reference_doc_current() -> None:
    # On failure, run: python -m datastreams.events.catalogue_doc
    assert REFERENCE_DOC.read_text(encoding="utf-8") == catalogue_doc.render()


def test_reference_doc_lists_every_type() -> None:
    rendered = catalogue_doc.render()

    for event_type in CATALOGUE:
        assert f"\n### {event_type.name}\n" in rendered


def test_doc_main_writes_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "docs" / "event-types.md"

    status = catalogue_doc.main([str(output)])

    assert status == 0
    assert output.read_text(encoding="utf-8") == catalogue_doc.render()
    assert str(output) in capsys.readouterr().out


def test_doc_main_check_current(tmp_path: Path) -> None:
    output = tmp_path / "event-types.md"
    output.write_text(catalogue_doc.render(), encoding="utf-8")

    assert catalogue_doc.main(["--check", str(output)]) == 0


def test_doc_main_check_stale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "event-types.md"
    output.write_text("# Event types\n", encoding="utf-8")

    status = catalogue_doc.main(["--check", str(output)])

    assert status == 1
    assert "out of date" in capsys.readouterr().err
    assert output.read_text(encoding="utf-8") == "# Event types\n"


def test_doc_main_check_missing(tmp_path: Path) -> None:
    assert catalogue_doc.main(["--check", str(tmp_path / "absent.md")]) == 1
