"""deploy/iam/flowlogs-reader-role.yaml: the flow-log role reads only the configured places.

If this drifts, secmonkey either cannot read the flow logs it is configured for, or its
role can read a whole log-archive bucket."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

IAM = Path(__file__).resolve().parents[3] / "deploy" / "iam"


def _cfn_loader() -> type[yaml.SafeLoader]:
    class Loader(yaml.SafeLoader):
        pass

    return Loader


def statements() -> dict[str, dict[str, Any]]:
    """Every statement of the role's policies, by Sid, with the condition it exists under."""
    template = yaml.load((IAM / "flowlogs-reader-role.yaml").read_text(), Loader=_cfn_loader())  # noqa: S506
    role = template["Resources"]["FlowLogsRole"]["Properties"]
    assert "Policies" not in role  # nothing granted unconditionally
    found = {}
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        assert resource["Properties"]["Roles"] == [{"Ref": "FlowLogsRole"}]
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            found[statement["Sid"]] = {"when": resource["Condition"], **statement}
    return found


def test_the_role_grants_list_get_decrypt_and_filter_on_the_configured_places_only() -> None:
    grants = statements()
    assert {sid: (s["when"], s["Action"]) for sid, s in grants.items()} == {
        "ListFlowLogObjects": ("HasBucket", "s3:ListBucket"),
        "ReadFlowLogObjects": ("HasBucket", "s3:GetObject"),
        "DecryptFlowLogObjects": ("HasKmsKey", "kms:Decrypt"),
        "ReadFlowLogEvents": ("HasLogGroup", "logs:FilterLogEvents"),
    }
    listing = grants["ListFlowLogObjects"]
    assert listing["Condition"]["StringLike"]["s3:prefix"] == {"Fn::Sub": "${KeyPrefix}*"}
    assert grants["ReadFlowLogObjects"]["Resource"]["Fn::Sub"].endswith(
        ":s3:::${BucketName}/${KeyPrefix}*"
    )
    decrypt = grants["DecryptFlowLogObjects"]
    assert decrypt["Resource"] == {"Ref": "KmsKeyArn"} and "kms:ViaService" in str(decrypt)
    assert "*" not in str(grants["ReadFlowLogEvents"]["Resource"]).split("log-group:")[0]
