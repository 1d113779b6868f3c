"""Reading CloudTrail calls: which groups, where, and who, from every recorded event shape."""

from __future__ import annotations

import json

import pytest

from secmonkey.collector.cloudtrail.api_calls import (
    ApiCall,
    Ignored,
    MalformedEvent,
    parse_body,
)
from tests.integration.realtime.cloudtrail import EVENT_NAMES, recorded

ACCOUNT = "111122223333"
REGION = "eu-west-1"
GROUP = "sg-0fedcba9876543210"


def parse(name: str, **kwargs: str) -> ApiCall | Ignored:
    event = recorded(name, account=ACCOUNT, region=REGION, group_id=GROUP, **kwargs)
    return parse_body(json.dumps(event))


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_every_handled_call_names_its_group_account_region_and_caller(name: str) -> None:
    call = parse(name, event_id="3b9e0c4e-1111-4e5f-9a3c-000000000001")
    assert isinstance(call, ApiCall)
    assert call.event_name == name
    assert (call.account_id, call.region) == (ACCOUNT, REGION)
    assert call.group_ids == (GROUP,)
    assert call.group_names == ()
    assert call.caller.event_id == "3b9e0c4e-1111-4e5f-9a3c-000000000001"
    assert call.caller.arn and ACCOUNT in call.caller.arn
    assert call.caller.source_ip and call.caller.user_agent
    assert call.caller.at == call.at


def test_callers_say_who_made_the_change() -> None:
    call = parse("AuthorizeSecurityGroupEgress")
    assert isinstance(call, ApiCall)
    assert call.caller.arn == f"arn:aws:iam::{ACCOUNT}:user/terraform-ci"
    assert call.caller.source_ip == "198.51.100.7"
    assert call.caller.user_agent is not None and "Terraform" in call.caller.user_agent
    console = parse("ModifySecurityGroupRules")
    assert isinstance(console, ApiCall)
    assert console.caller.user_agent == "console.ec2.amazonaws.com"


def test_default_vpc_call_by_name_is_resolved_later() -> None:
    call = parse("AuthorizeSecurityGroupIngress.by-name", group_name="legacy-db")
    assert isinstance(call, ApiCall)
    assert call.group_ids == ()
    assert call.group_names == ("legacy-db",)
    assert call.caller.arn == f"arn:aws:iam::{ACCOUNT}:root"
    delete = parse("DeleteSecurityGroup.by-name", group_name="legacy-db")
    assert isinstance(delete, ApiCall) and delete.is_delete
    assert delete.group_names == ("legacy-db",)


def test_a_failed_call_is_ignored() -> None:
    ignored = parse("AuthorizeSecurityGroupIngress.error")
    assert isinstance(ignored, Ignored)
    assert "InvalidPermission.Duplicate" in ignored.reason


def test_tags_on_other_resources_are_ignored() -> None:
    event = recorded("CreateTags", account=ACCOUNT, region=REGION)
    event["detail"]["requestParameters"]["resourcesSet"]["items"] = [{"resourceId": "i-0abc"}]
    assert isinstance(parse_body(json.dumps(event)), Ignored)


def test_tags_on_several_groups_name_each() -> None:
    event = recorded("CreateTags", account=ACCOUNT, region=REGION, group_id=GROUP)
    event["detail"]["requestParameters"]["resourcesSet"]["items"].append(
        {"resourceId": "sg-0aaaaaaaaaaaaaaaa"}
    )
    call = parse_body(json.dumps(event))
    assert isinstance(call, ApiCall)
    assert call.group_ids == (GROUP, "sg-0aaaaaaaaaaaaaaaa")


def test_response_names_the_group_before_the_request() -> None:
    event = recorded("AuthorizeSecurityGroupIngress", account=ACCOUNT, region=REGION)
    event["detail"]["requestParameters"] = {"groupName": "web", "ipPermissions": {}}
    event["detail"]["responseElements"]["securityGroupRuleSet"]["items"][0]["groupId"] = GROUP
    call = parse_body(json.dumps(event))
    assert isinstance(call, ApiCall)
    assert call.group_ids == (GROUP,) and call.group_names == ()


def test_other_detail_types_and_calls_are_ignored() -> None:
    assert isinstance(
        parse_body(
            json.dumps({"detail-type": "EC2 Instance State-change Notification", "detail": {}})
        ),
        Ignored,
    )
    event = recorded("CreateTags", account=ACCOUNT, region=REGION)
    event["detail"]["eventName"] = "RunInstances"
    assert isinstance(parse_body(json.dumps(event)), Ignored)


def test_a_bare_cloudtrail_record_is_read_too() -> None:
    event = recorded("DeleteSecurityGroup", account=ACCOUNT, region=REGION, group_id=GROUP)
    call = parse_body(json.dumps(event["detail"]))
    assert isinstance(call, ApiCall) and call.is_delete and call.group_ids == (GROUP,)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: "{not json",
        lambda e: json.dumps([1, 2]),
        lambda e: json.dumps({"hello": "world"}),
        lambda e: json.dumps({**e, "detail": "oops"}),
        lambda e: json.dumps({**e, "detail": {**e["detail"], "recipientAccountId": "12"}}),
        lambda e: json.dumps({**e, "detail": {**e["detail"], "awsRegion": None}}),
        lambda e: json.dumps({**e, "detail": {**e["detail"], "eventTime": "yesterday"}}),
        lambda e: json.dumps({**e, "detail": {**e["detail"], "eventID": None}}),
        lambda e: json.dumps({**e, "detail": {**e["detail"], "requestParameters": {}}}),
        lambda e: json.dumps(
            {**e, "detail": {**e["detail"], "requestParameters": {"groupId": "sg-XYZ!"}}}
        ),
    ],
    ids=[
        "not-json",
        "not-object",
        "unknown-shape",
        "detail-not-object",
        "bad-account",
        "no-region",
        "bad-time",
        "no-event-id",
        "no-group",
        "bad-group-id",
    ],
)
def test_malformed_events_are_refused_with_a_reason(mutate: object) -> None:
    event = recorded("RevokeSecurityGroupEgress", account=ACCOUNT, region=REGION)
    event["detail"]["responseElements"] = {"_return": True}
    text = mutate(event)  # type: ignore[operator]
    with pytest.raises(MalformedEvent) as refused:
        parse_body(text)
    assert str(refused.value)
