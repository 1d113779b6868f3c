"""Recorded-shape CloudTrail events (EventBridge "AWS API Call via CloudTrail" envelopes).

`recorded/*.json` keep the shape AWS delivers (field names, `{"items": [...]}` lists,
identities of an assumed role, an IAM user, the root user, the console); `{{...}}`
placeholders are filled in per test with real account, region and group IDs.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

RECORDED = Path(__file__).parent / "recorded"
EVENT_NAMES = (
    "CreateSecurityGroup",
    "DeleteSecurityGroup",
    "AuthorizeSecurityGroupIngress",
    "AuthorizeSecurityGroupEgress",
    "RevokeSecurityGroupIngress",
    "RevokeSecurityGroupEgress",
    "ModifySecurityGroupRules",
    "UpdateSecurityGroupRuleDescriptionsIngress",
    "UpdateSecurityGroupRuleDescriptionsEgress",
    "CreateTags",
    "DeleteTags",
)


def _fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        for key, text in values.items():
            value = value.replace("{{" + key + "}}", text)
        return value
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    return value


def recorded(
    name: str,
    *,
    account: str,
    region: str,
    group_id: str = "sg-0123456789abcdef0",
    group_name: str = "web",
    vpc_id: str = "vpc-0a1b2c3d4e5f60718",
    event_id: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """The recorded event `name` (e.g. `AuthorizeSecurityGroupIngress.by-name`), filled in."""
    at = at or datetime.now(UTC)
    template = json.loads((RECORDED / f"{name}.json").read_text())
    return dict(
        _fill(
            template,
            {
                "account": account,
                "region": region,
                "group_id": group_id,
                "group_name": group_name,
                "vpc_id": vpc_id,
                "event_id": event_id or str(uuid.uuid4()),
                "envelope_id": str(uuid.uuid4()),
                "request_id": str(uuid.uuid4()),
                "rule_id": f"sgr-{uuid.uuid4().hex[:17]}",
                "event_time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "session_start": (at - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        )
    )


def body(event: dict[str, Any]) -> str:
    return json.dumps(event)
