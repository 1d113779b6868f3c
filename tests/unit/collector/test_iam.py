"""deploy/iam: the monitored role grants exactly the calls the collector makes, no more."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from secmonkey.collector.reader import OPERATIONS
from secmonkey.collector.simulate import ROLE_NAME, read_only_policy
from secmonkey.collector.topology import OPERATIONS as TOPOLOGY_OPERATIONS

IAM = Path(__file__).resolve().parents[3] / "deploy" / "iam"


def template() -> dict[str, Any]:
    return dict(yaml.safe_load((IAM / "monitored-role.yaml").read_text()))


def test_the_read_only_policy_is_exactly_the_describe_calls_the_collector_makes() -> None:
    policy = json.loads((IAM / "secmonkey-readonly-policy.json").read_text())
    assert policy == read_only_policy()
    statement, exposure = policy["Statement"]
    assert statement["Effect"] == exposure["Effect"] == "Allow"
    assert set(statement["Action"]) == {f"ec2:{op}" for op in OPERATIONS}
    assert all(action.startswith("ec2:Describe") for action in statement["Action"])
    assert set(exposure["Action"]) == {
        f"{service}:{op}" for service, ops in TOPOLOGY_OPERATIONS.items() for op in ops
    }
    reads = ("Describe", "List", "Get")
    assert all(action.split(":")[1].startswith(reads) for action in exposure["Action"])


def test_the_template_grants_the_same_policy_and_demands_the_external_id() -> None:
    role = template()["Resources"]["MonitorRole"]["Properties"]
    (inline,) = role["Policies"]
    policy = json.loads((IAM / "secmonkey-readonly-policy.json").read_text())
    assert inline["PolicyDocument"] == policy
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}}}
    parameters = template()["Parameters"]
    assert parameters["ExternalId"]["NoEcho"] is True
    assert parameters["ExternalId"]["MinLength"] >= 16
    assert parameters["RoleName"]["Default"] == ROLE_NAME


def test_the_hub_may_assume_only_the_monitor_roles() -> None:
    hub = json.loads((IAM / "secmonkey-hub-policy.json").read_text())
    (statement,) = hub["Statement"]
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Resource"] == [
        f"arn:aws:iam::*:role/{ROLE_NAME}",
        "arn:aws:iam::*:role/secmonkey-flowlogs",  # deploy/iam/flowlogs-reader-role.yaml
    ]


def test_cfn_lint_finds_no_error_or_warning_in_the_template() -> None:
    from cfnlint.api import lint_all  # type: ignore[import-untyped]

    matches = lint_all((IAM / "monitored-role.yaml").read_text())
    serious = [m for m in matches if m.rule.id[0] in "EW"]
    assert serious == [], "\n".join(str(m) for m in serious)
