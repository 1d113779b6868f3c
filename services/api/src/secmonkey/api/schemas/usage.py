"""A group's rule usage from VPC flow logs."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from secmonkey.common.rule_usage import RuleUsageDetail


class GroupUsage(BaseModel):
    key: str
    group_id: str
    account_id: str
    region: str
    read: bool = Field(description="false: no flow log was read for this group yet")
    as_of: datetime | None = None
    interfaces: int = 0
    uncovered: list[str] = Field(
        default_factory=list, description="interfaces without flow logs: usage is unknown"
    )
    covered_since: datetime | None = None
    rules: list[RuleUsageDetail] = Field(default_factory=list)
