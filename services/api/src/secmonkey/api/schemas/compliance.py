"""The per-framework posture: each control, the rules behind it, pass/fail per account."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from secmonkey.common.severity import Severity

ControlStatus = Literal["pass", "fail", "not_evaluated"]
FRAMEWORK_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$"


class FrameworkView(BaseModel):
    id: str = Field(description="the id used in /compliance/{framework}, e.g. pci")
    name: str
    tag_prefix: str = Field(description="how the rules' compliance tags name it")
    controls: int = Field(description="controls some rule tests")


class RuleRef(BaseModel):
    id: str
    title: str
    default_severity: Severity
    enabled: bool = Field(description="enabled by the rules file (per-account switches aside)")


class ControlAccount(BaseModel):
    account_id: str
    account_name: str | None = None
    status: ControlStatus
    audited: int = Field(description="active groups of the account, all audited")
    passed: int = Field(description="groups with no open or justified issue of these rules")
    failed: int = Field(description="groups with an open issue of these rules")
    justified: int = Field(description="groups whose only issues of these rules are justified")
    open_issues: int


class ControlPosture(BaseModel):
    control: str
    title: str
    status: ControlStatus
    rules: list[RuleRef]
    passed: int
    failed: int
    justified: int
    accounts: list[ControlAccount]


class CompliancePosture(BaseModel):
    framework: str
    name: str
    generated_at: datetime
    catalog_published_at: datetime | None = Field(
        description="when an auditor last published its rules (null: never; no controls)"
    )
    controls: list[ControlPosture]
