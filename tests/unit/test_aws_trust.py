"""Role session names, role ARNs, the trust policy and the principal setting."""

from __future__ import annotations

import re

import pytest

from datastreams.aws.roles import AwsRole, role_session_name
from datastreams.aws.trust import PLACEHOLDER_PRINCIPAL_ARN, parse_principal_arn, trust_policy
from datastreams.errors import SettingsError
from datastreams.settings import load_settings
from datastreams.store.records import Domain, StreamRecord
from datastreams.streams.model import parse_stream_body, stream_to_api

SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)
DOMAIN = Domain(id="1176022", name="North", external_id="ext-1176022")
ROLE_ARN = "arn:aws:iam::210987654321:role/path/datastreams"


def test_session_name_short_domain() -> None:
    assert role_session_name("1176022") == "datastreams-1176022"


def test_session_name_long_domain() -> None:
    domain_id = "d" * 64

    name = role_session_name(domain_id)

    assert len(name) == 64
    assert name.startswith("datastreams-ddd")
    assert SESSION_NAME.fullmatch(name)


def test_session_name_long_domains_differ() -> None:
    assert role_session_name("a" * 60 + "1") != role_session_name("a" * 60 + "2")


@pytest.mark.parametrize("domain_id", ["school a", "école", "a/b", "x:y", "a" * 200])
def test_session_name_allowed_characters(domain_id: str) -> None:
    assert SESSION_NAME.fullmatch(role_session_name(domain_id))


def test_role_account_and_partition() -> None:
    role = AwsRole(ROLE_ARN, "ext", "cn-north-1", "d1")
    china = AwsRole("arn:aws-cn:iam::210987654321:role/x", "ext", "cn-north-1", "d1")

    assert role.account_id == "210987654321"
    assert role.partition == "aws"
    assert china.partition == "aws-cn"


def test_role_invalid_arn() -> None:
    with pytest.raises(ValueError, match="not an IAM role ARN"):
        _ = AwsRole("arn:aws:iam::123:user/x", "ext", "us-east-1", "d1").account_id


def test_trust_policy_document() -> None:
    policy = trust_policy("ext-1176022", "arn:aws:iam::123456789012:role/datastreams")

    assert policy == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:role/datastreams"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "ext-1176022"}},
            }
        ],
    }


def test_trust_policy_placeholder() -> None:
    [statement] = trust_policy("ext-1", None)["Statement"]

    assert statement["Principal"] == {"AWS": PLACEHOLDER_PRINCIPAL_ARN}


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::123456789012:root",
        "arn:aws:iam::123456789012:user/datastreams",
        "arn:aws:iam::123456789012:role/service/datastreams",
        "arn:aws-us-gov:iam::123456789012:role/datastreams",
    ],
)
def test_principal_arn_accepted(arn: str) -> None:
    assert parse_principal_arn(f" {arn} ") == arn


def test_principal_arn_empty_unset() -> None:
    assert parse_principal_arn("") is None


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:sts::123456789012:assumed-role/datastreams/session",
        "arn:aws:iam::1234:role/datastreams",
        "123456789012",
        "arn:aws:iam::123456789012:group/admins",
    ],
)
def test_principal_arn_rejected(arn: str) -> None:
    with pytest.raises(ValueError, match="must be the ARN of an IAM role"):
        parse_principal_arn(arn)


def test_principal_setting_from_environment() -> None:
    arn = "arn:aws:iam::123456789012:role/datastreams"

    settings = load_settings(environ={"DATASTREAMS_AWS_PRINCIPAL_ARN": arn})

    assert settings.aws_principal_arn == arn


def test_principal_setting_invalid() -> None:
    with pytest.raises(SettingsError, match="DATASTREAMS_AWS_PRINCIPAL_ARN: invalid value"):
        load_settings(environ={"DATASTREAMS_AWS_PRINCIPAL_ARN": "datastreams"})


def aws_stream_record() -> StreamRecord:
    draft = parse_stream_body(
        {"type": "sqs", "name": "events", "aws": {"roleArn": ROLE_ARN, "region": "eu-west-1"}},
        domain=DOMAIN,
        current=None,
        current_secrets=None,
        is_known_type=lambda _name: True,
        strict_event_types=False,
    )
    return StreamRecord(
        id="s1",
        domain_id=DOMAIN.id,
        type=draft.type,
        name=draft.name,
        description=draft.description,
        enabled=True,
        version=1,
        config=draft.config,
    )


def test_representation_trust_policy() -> None:
    arn = "arn:aws:iam::123456789012:role/datastreams"

    shown = stream_to_api(aws_stream_record(), DOMAIN, principal_arn=arn)

    assert shown["aws"]["trustPolicy"] == trust_policy("ext-1176022", arn)


def test_representation_read_back_accepted() -> None:
    record = aws_stream_record()
    shown = stream_to_api(record, DOMAIN)

    draft = parse_stream_body(
        shown,
        domain=DOMAIN,
        current=record,
        current_secrets=None,
        is_known_type=lambda _name: True,
        strict_event_types=False,
    )

    assert "trustPolicy" not in draft.config["aws"]
    assert draft.config["aws"] == record.config["aws"]
