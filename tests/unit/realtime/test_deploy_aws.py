"""deploy/aws: both rules use the documented pattern, and it names exactly the handled calls."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from secmonkey.collector.cloudtrail.api_calls import GROUP_EVENTS, TAG_EVENTS, TOPOLOGY_EVENTS
from secmonkey.collector.settings import Settings

AWS = Path(__file__).resolve().parents[3] / "deploy" / "aws"


def template(name: str) -> dict[str, Any]:
    loaded = yaml.safe_load((AWS / name).read_text())
    assert isinstance(loaded, dict)
    return loaded


def pattern() -> dict[str, Any]:
    loaded = json.loads((AWS / "event-pattern.json").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_both_rules_and_the_readme_use_the_one_pattern() -> None:
    member = template("member-account.yaml")["Resources"]["SecurityGroupCallsRule"]
    central = template("central.yaml")["Resources"]["ToQueueRule"]
    assert member["Properties"]["EventPattern"] == pattern()
    assert central["Properties"]["EventPattern"] == pattern()
    readme = (AWS / "README.md").read_text()
    block = readme.split("## The event pattern", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    assert json.loads(block) == pattern()


def test_the_pattern_names_exactly_the_calls_the_collector_handles() -> None:
    branches = pattern()["detail"]["$or"]
    assert set(branches[0]["eventName"]) == GROUP_EVENTS
    assert set(branches[1]["eventName"]) == TAG_EVENTS
    resource = branches[1]["requestParameters"]["resourcesSet"]["items"]["resourceId"]
    assert resource == [{"prefix": "sg-"}]
    assert set(branches[2]["eventName"]) == TOPOLOGY_EVENTS  # exposure: routes, ACLs, addresses
    assert pattern()["detail"]["errorCode"] == [{"exists": False}]


def test_the_queue_dead_letters_and_outlasts_a_window_and_a_describe() -> None:
    central = template("central.yaml")
    queue = central["Resources"]["EventsQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["DeadLetterQueue", "Arn"]
    }
    visibility = central["Parameters"]["VisibilityTimeoutSeconds"]["Default"]
    assert visibility >= Settings().events_visibility_timeout > Settings().events_window_seconds
    policy = central["Resources"]["QueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    sends = next(s for s in policy if s["Sid"] == "CentralRuleSends")
    assert sends["Principal"] == {"Service": "events.amazonaws.com"}
    assert sends["Condition"]["ArnEquals"]["aws:SourceArn"] == {
        "Fn::GetAtt": ["ToQueueRule", "Arn"]
    }
    consume = central["Resources"]["CollectorConsumePolicy"]["Properties"]["PolicyDocument"]
    assert set(consume["Statement"][0]["Action"]) == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
    }


def test_the_member_role_exists_once_per_account() -> None:
    member = template("member-account.yaml")
    assert member["Resources"]["ForwardingRole"]["Condition"] == "IsHomeRegion"
    target = member["Resources"]["SecurityGroupCallsRule"]["Properties"]["Targets"][0]
    assert target["Arn"] == {"Ref": "CentralEventBusArn"}
    assert "${ForwardingRoleName}" in target["RoleArn"]["Fn::Sub"]


def test_events_make_sweeps_rarer_unless_the_interval_is_set() -> None:
    assert Settings().sweep_interval_seconds == 900
    on = Settings(events_queue_url="https://sqs.eu-west-1.amazonaws.com/123456789012/q")
    assert on.sweep_interval_seconds == 21600
    explicit = Settings(
        events_queue_url="https://sqs.eu-west-1.amazonaws.com/123456789012/q",
        sweep_interval_seconds=600,
    )
    assert explicit.sweep_interval_seconds == 600


def test_the_queue_region_comes_from_the_url() -> None:
    from secmonkey.collector.cloudtrail.sqs import queue_region

    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/q"
    assert queue_region(Settings(events_queue_url=url)) == "eu-west-1"
    assert queue_region(Settings(events_queue_url=url, events_queue_region="us-east-2")) == (
        "us-east-2"
    )
    assert queue_region(Settings(events_queue_url="http://127.0.0.1:5000/1/q")) == "us-east-1"
