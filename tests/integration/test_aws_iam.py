"""Trust policies enforced by moto's IAM checks: the external id decides who may assume a role.

moto evaluates a role's trust policy, its ``sts:ExternalId`` condition included, only
when the role is in the caller's own account, so here the service's IAM user and the
customer's roles share moto's default account.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import botocore.session
import pytest
from aws_moto import REGION, Moto, aws_stream, client_factory, record, running_moto
from moto import settings as moto_settings

from datastreams.aws.clients import AwsClientFactory
from datastreams.aws.trust import trust_policy
from datastreams.sinks.errors import ConfigurationDeliveryError
from datastreams.sinks.firehose import FirehoseSink, FirehoseSinkConfig

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"
EXTERNAL_ID = "external-district"

ALLOW_ASSUME_ROLE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
}
ALLOW_FIREHOSE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "firehose:*", "Resource": "*"}],
}


@dataclass
class IamSetup:
    """The service's IAM user, two customer roles and a delivery stream, in one account."""

    access_key_id: str
    secret_access_key: str
    trusted_role_arn: str
    other_id_role_arn: str
    delivery_stream: str


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    with running_moto() as server:
        yield server


@pytest.fixture(scope="module")
def iam_setup(moto: Moto) -> IamSetup:
    session = botocore.session.Session()
    iam = session.create_client("iam", region_name=REGION)
    suffix = uuid.uuid4().hex[:8]

    user = iam.create_user(UserName=f"datastreams-{suffix}")["User"]
    iam.put_user_policy(
        UserName=user["UserName"],
        PolicyName="assume-customer-roles",
        PolicyDocument=json.dumps(ALLOW_ASSUME_ROLE),
    )
    key = iam.create_access_key(UserName=user["UserName"])["AccessKey"]

    def create_role(name: str, external_id: str) -> str:
        policy = trust_policy(external_id, user["Arn"])
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(policy))
        iam.put_role_policy(
            RoleName=name, PolicyName="deliver", PolicyDocument=json.dumps(ALLOW_FIREHOSE)
        )
        return str(role["Role"]["Arn"])

    stream_name = f"events-{suffix}"
    bucket = f"events-{suffix}"
    session.create_client("s3", region_name=REGION).create_bucket(Bucket=bucket)
    session.create_client("firehose", region_name=REGION).create_delivery_stream(
        DeliveryStreamName=stream_name,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": f"arn:aws:iam::{ACCOUNT}:role/firehose-to-s3",
            "BucketARN": f"arn:aws:s3:::{bucket}",
        },
    )
    return IamSetup(
        access_key_id=key["AccessKeyId"],
        secret_access_key=key["SecretAccessKey"],
        trusted_role_arn=create_role(f"trusted-{suffix}", EXTERNAL_ID),
        other_id_role_arn=create_role(f"other-id-{suffix}", "external-another-domain"),
        delivery_stream=stream_name,
    )


@pytest.fixture
def clients(iam_setup: IamSetup, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsClientFactory]:
    # From here on moto checks every request's signature and the caller's policies.
    monkeypatch.setattr(moto_settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    source = botocore.session.Session()
    source.set_credentials(iam_setup.access_key_id, iam_setup.secret_access_key)
    with client_factory(source_session=source) as factory:
        yield factory


def sink_for(role_arn: str, setup: IamSetup, clients: AwsClientFactory) -> FirehoseSink:
    stream = aws_stream("firehose", setup.delivery_stream, roleArn=role_arn)
    stream.config["aws"]["externalId"] = EXTERNAL_ID
    return FirehoseSink(FirehoseSinkConfig.from_stream(stream), clients)


async def test_iam_trusted_role_probe_passes(
    iam_setup: IamSetup, clients: AwsClientFactory
) -> None:
    sink = sink_for(iam_setup.trusted_role_arn, iam_setup, clients)

    passed, steps = await sink.probe(record(1))

    assert passed, steps
    assert [step.step for step in steps] == ["assumeRole", "describe", "send"]


async def test_iam_other_external_id_refused(
    iam_setup: IamSetup, clients: AwsClientFactory
) -> None:
    sink = sink_for(iam_setup.other_id_role_arn, iam_setup, clients)

    passed, steps = await sink.probe(record(1))

    assert not passed
    assert [step.step for step in steps] == ["assumeRole"]
    assert steps[0].error_code == "AccessDenied"
    assert steps[0].endpoint == iam_setup.other_id_role_arn


async def test_iam_other_external_id_send_fails(
    iam_setup: IamSetup, clients: AwsClientFactory
) -> None:
    sink = sink_for(iam_setup.other_id_role_arn, iam_setup, clients)

    result = await sink.send([record(1)])

    assert result.retry == [1]
    assert isinstance(result.error, ConfigurationDeliveryError)
    assert result.error.error_code == "AccessDenied"
    assert result.error.message.startswith("assuming the role failed: AccessDenied")
