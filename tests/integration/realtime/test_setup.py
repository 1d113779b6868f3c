"""deploy/aws deployed in moto: a call in a monitored account reaches the collector."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from secmonkey.collector.settings import Settings
from secmonkey.collector.simulate import EXTERNAL_ID, role_arn
from secmonkey.common.storage import Database
from tests.integration.collector.conftest import SnapshotSink, running
from tests.integration.realtime.conftest import REGION, Estate, eventually

pytestmark = pytest.mark.integration

AWS = Path(__file__).resolve().parents[3] / "deploy" / "aws"
OTHER_REGION = "eu-west-1"


def deploy(cfn: Any, name: str, template: str, **parameters: str) -> dict[str, str]:
    cfn.create_stack(
        StackName=name,
        TemplateBody=(AWS / template).read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    )
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def member_session(moto_url: str, account_id: str) -> boto3.session.Session:
    sts = boto3.client("sts", endpoint_url=moto_url, region_name=REGION)
    creds = sts.assume_role(
        RoleArn=role_arn(account_id), RoleSessionName="stackset", ExternalId=EXTERNAL_ID
    )["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def deliver(events: Any, envelope: dict[str, Any]) -> None:
    """What AWS does with a recorded call: put it on the account's default bus."""
    answer = events.put_events(
        Entries=[
            {
                "Source": envelope["source"],
                "DetailType": envelope["detail-type"],
                "Detail": json.dumps(envelope["detail"]),
                "EventBusName": "default",
            }
        ]
    )
    assert answer["FailedEntryCount"] == 0


@pytest.mark.filterwarnings("ignore:Tried to parse AWS::")
async def test_stacks_forward_calls_from_every_region_to_the_collector(
    settings: Settings, estate: Estate, sink: SnapshotSink, db: Database, unique: str
) -> None:
    hub_cfn = boto3.client("cloudformation", endpoint_url=estate.moto_url, region_name=REGION)
    central = deploy(
        hub_cfn,
        f"secmonkey-events-{unique}",
        "central.yaml",
        SourceAccountIds=estate.account_id,
        EventBusName=f"secmonkey-{unique}",
        QueueName=f"secmonkey-{unique}",
        VisibilityTimeoutSeconds="30",
    )
    session = member_session(estate.moto_url, estate.account_id)
    for region in (REGION, OTHER_REGION):
        cfn = session.client("cloudformation", endpoint_url=estate.moto_url, region_name=region)
        deploy(
            cfn,
            "secmonkey-events-forwarding",
            "member-account.yaml",
            CentralEventBusArn=central["EventBusArn"],
            HomeRegion=REGION,
        )
    await db.accounts.update_one(
        {"_id": estate.account_id}, {"$set": {"regions": [REGION, OTHER_REGION]}}
    )
    settings = settings.model_copy(update={"events_queue_url": central["QueueUrl"]})

    group_id = estate.create_group("forwarded")
    other_ec2 = session.client("ec2", endpoint_url=estate.moto_url, region_name=OTHER_REGION)
    other_vpc = other_ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    other_id = other_ec2.create_security_group(
        GroupName="forwarded", Description="eu", VpcId=other_vpc
    )["GroupId"]
    async with running(settings):
        home_events = session.client("events", endpoint_url=estate.moto_url, region_name=REGION)
        estate.ec2.create_tags(Resources=[group_id], Tags=[{"Key": "Owner", "Value": "ops"}])
        failed = estate.event("AuthorizeSecurityGroupIngress.error", group_id)
        deliver(home_events, failed)
        created = estate.event("CreateSecurityGroup", group_id)
        deliver(home_events, created)
        other_events = session.client(
            "events", endpoint_url=estate.moto_url, region_name=OTHER_REGION
        )
        other = estate.event("CreateSecurityGroup", other_id)
        other["detail"]["awsRegion"] = OTHER_REGION
        deliver(other_events, other)

        await eventually(lambda: len(sink.batches) >= 2, what="both regions' snapshots")
    by_region = {b.region: b for b in sink.batches}
    assert set(by_region) == {REGION, OTHER_REGION}
    assert by_region[REGION].groups[0].config.group_id == group_id
    assert by_region[REGION].groups[0].config.tags == {"Owner": "ops"}
    assert [c.event_id for c in by_region[REGION].callers] == [created["detail"]["eventID"]]
    assert by_region[OTHER_REGION].groups[0].config.group_id == other_id
    # The failed call never reached the queue: the rules drop calls with an errorCode.
    all_callers = {c.event_id for b in sink.batches for c in b.callers}
    assert failed["detail"]["eventID"] not in all_callers
