"""An issue as an AWS Security Finding Format (ASFF) finding, with its lifecycle.

The finding's `Id` is the issue's id, so every state of an issue updates one finding:

| issue | Workflow.Status | Compliance.Status | RecordState |
|---|---|---|---|
| open | NEW | FAILED | ACTIVE |
| justified | SUPPRESSED | FAILED | ACTIVE |
| fixed | RESOLVED | PASSED | ACTIVE |
| deleted (its group deleted) | RESOLVED | NOT_AVAILABLE | ARCHIVED |

Every finding of a deleted group is archived, a fixed one included (`group_deleted`).

In AWS, `BatchImportFindings` sets `Workflow` only when it creates a finding; after that
Security Hub itself moves the workflow to RESOLVED when `Compliance.Status` turns PASSED
(and back to NEW when the record is re-activated), which is why both are sent. moto
applies the re-imported `Workflow` directly (it has no `BatchUpdateFindings`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

SCHEMA_VERSION = "2018-10-08"
FINDING_TYPE = "Software and Configuration Checks/AWS Security Best Practices/Network Reachability"
MAX_BATCH = 100  # BatchImportFindings takes at most 100 findings per call
_LABEL = {"info": "INFORMATIONAL", "low": "LOW", "medium": "MEDIUM", "high": "HIGH"}
_WORKFLOW = {"open": "NEW", "justified": "SUPPRESSED", "fixed": "RESOLVED", "deleted": "RESOLVED"}
_COMPLIANCE = {
    "open": "FAILED",
    "justified": "FAILED",
    "fixed": "PASSED",
    "deleted": "NOT_AVAILABLE",
}


def finding_id(issue_id: str) -> str:
    return f"secmonkey/{issue_id}"


def product_arn(region: str, account_id: str) -> str:
    """The account's own default product: findings an account imports about itself."""
    return f"arn:aws:securityhub:{region}:{account_id}:product/{account_id}/default"


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def to_asff(
    issue: dict[str, Any],
    *,
    region: str,
    title: str,
    tags: list[str],
    now: datetime,
    group_deleted: bool = False,
) -> dict[str, Any]:
    """The ASFF finding of one `issues` document, imported in `region` at `now`; `tags` are
    its rule's compliance tags (the catalog's, newer than those stored on an old issue)."""
    account, status = str(issue["account_id"]), str(issue["status"])
    group_region = str(issue["region"])
    severity = str(issue["severity"])
    group: dict[str, str] = {
        "GroupId": str(issue["group_id"]),
        "GroupName": str(issue.get("group_name") or issue["group_id"]),
        "OwnerId": account,
    }
    if issue.get("vpc_id"):
        group["VpcId"] = str(issue["vpc_id"])
    fields = {
        "secmonkey/issue_id": str(issue["_id"]),
        "secmonkey/rule_id": str(issue["rule_id"]),
        "secmonkey/status": status,
    }
    if issue.get("rule_text"):
        fields["secmonkey/rule_text"] = _cut(str(issue["rule_text"]), 2048)
    return {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": finding_id(str(issue["_id"])),
        "ProductArn": product_arn(region, account),
        "GeneratorId": f"secmonkey/{issue['rule_id']}",
        "AwsAccountId": account,
        "Types": [FINDING_TYPE],
        "CreatedAt": _iso(issue["opened_at"]),
        "UpdatedAt": _iso(now),
        "FirstObservedAt": _iso(issue["opened_at"]),
        "LastObservedAt": _iso(issue["last_seen"]),
        "Severity": {"Label": _LABEL.get(severity, "CRITICAL"), "Original": severity},
        "Title": _cut(f"{title}: {group['GroupName']}", 256),
        "Description": _cut(str(issue["message"]), 1024),
        "ProductFields": fields,
        "Resources": [
            {
                "Type": "AwsEc2SecurityGroup",
                "Id": f"arn:aws:ec2:{group_region}:{account}:security-group/{group['GroupId']}",
                "Partition": "aws",
                "Region": group_region,
                "Details": {"AwsEc2SecurityGroup": group},
            }
        ],
        "Compliance": {
            "Status": _COMPLIANCE[status],
            "RelatedRequirements": [_cut(t, 128) for t in tags][:32],
        },
        "Workflow": {"Status": _WORKFLOW[status]},
        "RecordState": "ARCHIVED" if status == "deleted" or group_deleted else "ACTIVE",
    }
