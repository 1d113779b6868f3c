"""deploy/iam: writing (Security Hub findings, chain anchors) is a separate opt-in role;
the monitoring role and the hub's monitoring policy stay read-only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from secmonkey.collector.securityhub.asff import product_arn

IAM = Path(__file__).resolve().parents[3] / "deploy" / "iam"


def template(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((IAM / name).read_text()))


def actions(policy: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for statement in policy["Statement"]:
        action = statement["Action"]
        found.update([action] if isinstance(action, str) else action)
    return found


def test_the_monitoring_role_and_hub_policy_grant_no_write() -> None:
    monitor = template("monitored-role.yaml")["Resources"]["MonitorRole"]["Properties"]
    for inline in monitor["Policies"]:
        granted = actions(inline["PolicyDocument"])
        assert granted and all(
            a.split(":")[1].startswith(("Describe", "List", "Get")) for a in granted
        ), granted
    hub = json.loads((IAM / "secmonkey-hub-policy.json").read_text())
    assert actions(hub) == {"sts:AssumeRole"}
    assert "writer" not in json.dumps(hub)


def test_the_writer_role_may_only_import_its_own_findings_and_write_anchors() -> None:
    writer = template("writer-role.yaml")
    resources = writer["Resources"]
    role = resources["WriterRole"]["Properties"]
    assert "Policies" not in role and "ManagedPolicyArns" not in role
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"] == {"StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}}}
    hub = resources["SecurityHubPolicy"]
    assert hub["Condition"] == "WriteSecurityHub"
    (statement,) = hub["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "securityhub:BatchImportFindings"
    assert statement["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:securityhub:*:${AWS::AccountId}:product/"
        "${AWS::AccountId}/default"
    }
    anchors = resources["AnchorPolicy"]
    assert anchors["Condition"] == "WriteAnchors"  # no bucket named: no S3 access at all
    (statement,) = anchors["Properties"]["PolicyDocument"]["Statement"]
    assert set(statement["Action"]) == {"s3:PutObject", "s3:PutObjectRetention"}
    assert statement["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::${AnchorBucketName}/*"}
    assert writer["Parameters"]["ExternalId"]["NoEcho"] is True
    assert set(resources) == {"WriterRole", "SecurityHubPolicy", "AnchorPolicy"}


def test_the_standalone_policies_match_the_template_and_the_exporters_calls() -> None:
    policy = json.loads((IAM / "secmonkey-writer-policy.json").read_text())
    assert actions(policy) == {
        "securityhub:BatchImportFindings",
        "s3:PutObject",
        "s3:PutObjectRetention",
    }
    hub_statement, s3_statement = policy["Statement"]
    # The exporter imports into exactly the product ARN the policy allows.
    pattern = hub_statement["Resource"].replace("*", "")
    arn = product_arn("eu-west-1", "111111111111")
    assert arn.startswith("arn:aws:securityhub:") and arn.endswith(pattern.split("product/")[1])
    assert s3_statement["Resource"].endswith("/*") and "*" not in s3_statement["Resource"][:-2]
    hub = json.loads((IAM / "secmonkey-hub-writer-policy.json").read_text())
    (statement,) = hub["Statement"]
    assert statement == {
        "Sid": "SecmonkeyAssumeWriterRoles",
        "Effect": "Allow",
        "Action": "sts:AssumeRole",
        "Resource": "arn:aws:iam::*:role/secmonkey-writer",
    }
    assert template("writer-role.yaml")["Parameters"]["RoleName"]["Default"] == "secmonkey-writer"


def test_cfn_lint_finds_no_error_or_warning_in_the_writer_template() -> None:
    from cfnlint.api import lint_all  # type: ignore[import-untyped]

    matches = lint_all((IAM / "writer-role.yaml").read_text())
    serious = [m for m in matches if m.rule.id[0] in "EW"]
    assert serious == [], "\n".join(str(m) for m in serious)
