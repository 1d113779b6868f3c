"""Organization discovery without servers: every page of ListAccounts and of each
account's tags is read (botocore's Stubber on a real client: moto answers one page), tags
become labels as documented, and the decision respects what an admin decided."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.stub import Stubber

from secmonkey.collector.organizations.decide import DISABLED, ENROLLED, OrgState, decide
from secmonkey.collector.organizations.read import (
    OPERATIONS,
    OrgAccount,
    labels_from_tags,
    list_accounts,
)
from secmonkey.collector.settings import Settings
from secmonkey.common.documents import Account

A, B, C = "111111111111", "222222222222", "333333333333"


def settings(**changes: Any) -> Settings:
    return Settings(
        environment="test",
        organization_external_id="org-secret",
        organization_label_tag_keys=["environment"],
        **changes,
    )


def organizations() -> Any:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client("organizations", region_name="us-east-1")


def entry(account_id: str, status: str = "ACTIVE") -> dict[str, Any]:
    return {
        "Id": account_id,
        "Arn": f"arn:aws:organizations::{A}:account/o-abc/{account_id}",
        "Email": f"{account_id}@example.com",
        "Name": f"acct-{account_id[:1]}",
        "Status": status,
    }


def test_every_page_of_accounts_and_of_tags_is_read() -> None:
    client = organizations()
    stub = Stubber(client)
    stub.add_response("describe_organization", {"Organization": {"Id": "o-abc"}}, {})
    stub.add_response("list_accounts", {"Accounts": [entry(A)], "NextToken": "p2"}, {})
    stub.add_response(
        "list_tags_for_resource",
        {"Tags": [{"Key": "secmonkey:labels", "Value": "pci"}], "NextToken": "t2"},
        {"ResourceId": A},
    )
    stub.add_response(
        "list_tags_for_resource",
        {"Tags": [{"Key": "environment", "Value": "Prod"}]},
        {"ResourceId": A, "NextToken": "t2"},
    )
    stub.add_response("list_accounts", {"Accounts": [entry(B, "SUSPENDED")]}, {"NextToken": "p2"})
    stub.add_response("list_tags_for_resource", {"Tags": []}, {"ResourceId": B})
    with stub:
        listed = list_accounts(client)
    stub.assert_no_pending_responses()
    assert listed == [
        OrgAccount(A, "acct-1", "ACTIVE", {"secmonkey:labels": "pci", "environment": "Prod"}),
        OrgAccount(B, "acct-2", "SUSPENDED", {}),
    ]


def test_a_failing_page_fails_the_listing_rather_than_returning_part_of_it() -> None:
    client = organizations()
    stub = Stubber(client)
    stub.add_response("describe_organization", {"Organization": {"Id": "o-abc"}}, {})
    stub.add_response("list_accounts", {"Accounts": [], "NextToken": "p2"}, {})
    stub.add_client_error("list_accounts", "TooManyRequestsException", http_status_code=400)
    with stub, pytest.raises(Exception, match="TooManyRequests"):
        list_accounts(client)


def test_tags_become_labels_as_documented() -> None:
    tags = {
        "secmonkey:labels": "PCI, prod  eu",
        "environment": "Production Line",
        "owner": "alice",  # not listed: ignored
    }
    assert labels_from_tags(tags, settings()) == [
        "environment:production-line",
        "eu",
        "pci",
        "prod",
    ]


def test_active_accounts_are_enrolled_with_the_organization_secret_and_the_role_pattern() -> None:
    org = [OrgAccount(A, "prod", "ACTIVE", {"secmonkey:labels": "pci"})]
    plan = decide(org, {}, {}, settings(organization_regions=["eu-west-1"]))
    [step] = plan.of(ENROLLED)
    assert step.write is not None
    assert step.write.role_arn == f"arn:aws:iam::{A}:role/secmonkey-monitor"
    assert step.write.external_id == "org-secret"  # one secret, not derived from the id
    assert (step.write.labels, step.write.regions, step.write.enabled) == (
        ["pci"],
        ["eu-west-1"],
        True,
    )


def test_an_admins_labels_role_and_disabling_stand() -> None:
    mine = Account.model_validate(
        {
            "_id": A,
            "name": "mine",
            "role_arn": "arn:aws:iam::111111111111:role/x",
            "labels": ["manual", "old-tag"],
            "enabled": False,
        }
    )
    state = OrgState.model_validate({"_id": A, "status": "adopted", "tag_labels": ["old-tag"]})
    org = [OrgAccount(A, "renamed", "ACTIVE", {"secmonkey:labels": "new-tag"})]
    [step] = decide(org, {A: mine}, {A: state}, settings()).steps
    assert step.event is None
    assert step.write is not None
    assert step.write.labels == ["manual", "new-tag"]
    assert step.write.model_fields_set == {"id", "name", "labels"}  # not enabled, not role


def test_suspended_is_disabled_once_departed_too_and_reactivated_is_enabled_again() -> None:
    known = {a: Account.model_validate({"_id": a, "name": a, "enabled": True}) for a in (A, B)}
    states = {
        a: OrgState.model_validate({"_id": a, "status": "enrolled", "generation": 1})
        for a in (A, B)
    }
    plan = decide([OrgAccount(A, "a", "SUSPENDED")], known, states, settings())
    assert sorted(s.state.id for s in plan.of(DISABLED)) == [A, B]  # B left the organization
    assert all(s.write is not None and s.write.enabled is False for s in plan.of(DISABLED))
    assert all(s.state.generation == 2 for s in plan.of(DISABLED))
    after = {s.state.id: s.state for s in plan.steps}
    disabled = {a: known[a].model_copy(update={"enabled": False}) for a in (A, B)}
    again = decide([OrgAccount(A, "a", "SUSPENDED")], disabled, after, settings())
    assert again.of(DISABLED) == []
    back = decide(
        [OrgAccount(A, "a", "ACTIVE"), OrgAccount(C, "c", "PENDING_ACTIVATION")],
        disabled,
        after,
        settings(),
    )
    [step] = back.of(ENROLLED)
    assert (step.state.id, step.state.generation) == (A, 3)
    assert step.write is not None and step.write.enabled is True
    assert C not in {s.state.id for s in back.steps}


@pytest.mark.parametrize(
    "pattern",
    [
        "arn:aws:iam::123456789012:role/secmonkey-monitor",  # one account for all: refused
        "arn:aws:iam::{account_id}:user/secmonkey",
        "arn:aws:iam::{account_id}:role/{name}",
    ],
)
def test_a_member_role_pattern_that_is_not_a_role_per_account_is_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match="organization_member_role"):
        settings(organization_member_role=pattern)


def test_the_organization_role_may_make_exactly_the_calls_discovery_makes() -> None:
    iam = Path(__file__).resolve().parents[3] / "deploy" / "iam"
    policy = json.loads((iam / "secmonkey-organization-policy.json").read_text())
    (statement,) = policy["Statement"]
    assert set(statement["Action"]) == {f"organizations:{op}" for op in OPERATIONS}
    role = yaml.safe_load((iam / "organization-role.yaml").read_text())["Resources"]
    properties = role["OrganizationRole"]["Properties"]
    assert properties["Policies"][0]["PolicyDocument"] == policy
    (trust,) = properties["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"] == {"StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}}}
    hub = json.loads((iam / "secmonkey-hub-organization-policy.json").read_text())
    role_name = yaml.safe_load((iam / "organization-role.yaml").read_text())["Parameters"]
    assert hub["Statement"][0]["Resource"].endswith(f":role/{role_name['RoleName']['Default']}")


def test_an_organization_role_that_is_not_a_role_arn_is_refused() -> None:
    with pytest.raises(ValueError, match="organization_role_arn"):
        settings(organization_role_arn="arn:aws:iam::123456789012:user/someone")
