"""What the API returns, as typed models (the shapes of `secmonkey.api.schemas`).

Unknown fields are ignored, so an older client keeps working against a newer server.
tests/unit/client/test_models_match_api.py holds these to the API's OpenAPI document:
the same fields, required where the API always sends them, of the same types.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from secmonkey.common.canonical import Attachments, CanonicalGroup
from secmonkey.common.documents import Justification
from secmonkey.common.messages import Caller, Event
from secmonkey.common.rule_usage import RuleUsageDetail
from secmonkey.common.severity import Severity


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class RuleView(Model):
    index: int
    direction: str
    protocol: str
    from_port: int | None = None
    to_port: int | None = None
    source_kind: str
    source: str
    source_account: str | None = None
    description: str = ""
    text: str


class GroupSummary(Model):
    key: str
    group_id: str
    name: str
    account_id: str
    account_name: str | None = None
    region: str
    vpc_id: str | None = None
    state: str
    description: str = ""
    rule_count: int
    open_issues: int
    max_severity: Severity | None = None
    attached: bool
    public_ip: bool
    first_seen: datetime
    last_seen: datetime
    last_changed: datetime
    deleted_at: datetime | None = None
    revisions: int


class GroupPage(Model):
    items: list[GroupSummary]
    next_cursor: str | None


class IssueView(Model):
    id: str
    key: str
    group_id: str
    group_name: str
    account_id: str
    region: str
    vpc_id: str | None = None
    rule_id: str
    rule_text: str
    severity: Severity
    message: str
    compliance: list[str]
    status: str
    opened_at: datetime
    fixed_at: datetime | None = None
    last_seen: datetime
    reopened: int = 0
    justification: Justification | None = None


class GroupDetail(GroupSummary):
    config: CanonicalGroup
    rules: list[RuleView]
    attachments: Attachments
    issues: list[IssueView]


class GroupUsage(Model):
    key: str
    group_id: str
    account_id: str
    region: str
    read: bool
    as_of: datetime | None = None
    interfaces: int = 0
    uncovered: list[str] = Field(default_factory=list)
    covered_since: datetime | None = None
    rules: list[RuleUsageDetail] = Field(default_factory=list)


class ResolvedGroup(Model):
    key: str
    group_id: str
    name: str
    account_id: str
    account_name: str | None = None
    region: str
    vpc_id: str | None = None
    state: str
    deleted_at: datetime | None = None


class Resolution(Model):
    group_id: str
    found: bool
    matches: list[ResolvedGroup]


class ResolveResponse(Model):
    results: list[Resolution]


class RevisionSummary(Model):
    seq: int
    change_type: str
    fingerprint: str
    observed_at: datetime
    sweep_id: str | None = None
    changes: list[str]
    callers: list[Caller] = Field(default_factory=list)


class RevisionPage(Model):
    key: str
    group_id: str
    items: list[RevisionSummary]
    next_cursor: str | None = None


class RevisionDetail(RevisionSummary):
    key: str
    group_id: str
    config: CanonicalGroup
    rules: list[RuleView]
    attachments: Attachments
    diff: Any = None


class GroupAt(Model):
    key: str
    group_id: str
    at: datetime
    seq: int
    change_type: str
    fingerprint: str
    observed_at: datetime
    valid_until: datetime | None
    config: CanonicalGroup
    rules: list[RuleView]
    attachments: Attachments


class DiffEnd(Model):
    seq: int
    change_type: str
    observed_at: datetime
    fingerprint: str


class GroupDiff(Model):
    key: str
    group_id: str
    from_: DiffEnd = Field(alias="from")
    to: DiffEnd
    changes: list[str]
    diff: Any


class RuleMatch(Model):
    key: str
    group_id: str
    group_name: str
    account_id: str
    account_name: str | None = None
    region: str
    vpc_id: str | None = None
    rule: RuleView


class SearchResult(Model):
    query: str
    match: str
    results: list[RuleMatch]
    next_cursor: str | None = None
    partial: bool = False
    scanned: int | None = None


class IssuePage(Model):
    items: list[IssueView]
    next_cursor: str | None = None


class CountRow(Model):
    name: str
    critical: int = 0
    high: int = 0
    medium: int = 0
    low: int = 0
    info: int = 0
    total: int = 0


class ExposedEndpoint(Model):
    account_id: str
    region: str
    group_id: str
    group_name: str = ""
    vpc_id: str | None = None
    resource_type: str
    resource_id: str
    interface_id: str | None = None
    address: str
    ip_version: int
    protocol: str
    from_port: int
    to_port: int
    ports: str
    rule_text: str
    route: str
    nacl: str | None = None
    text: str
    observed_at: datetime


class ExposurePage(Model):
    items: list[ExposedEndpoint]
    next_cursor: str | None


class Report(Model):
    generated_at: datetime
    open_issues: int
    by_severity: dict[str, int]
    by_account: list[CountRow]
    by_rule: list[CountRow]
    issues: list[IssueView]
    truncated: bool
    exposed_endpoints: int = 0
    exposure: list[ExposedEndpoint] = Field(default_factory=list)


class FrameworkView(Model):
    id: str
    name: str
    tag_prefix: str
    controls: int


class RuleRef(Model):
    id: str
    title: str
    default_severity: Severity
    enabled: bool


class ControlAccount(Model):
    account_id: str
    account_name: str | None = None
    status: str
    audited: int
    passed: int
    failed: int
    justified: int
    open_issues: int


class ControlPosture(Model):
    control: str
    title: str
    status: str
    rules: list[RuleRef]
    passed: int
    failed: int
    justified: int
    accounts: list[ControlAccount]


class CompliancePosture(Model):
    framework: str
    name: str
    generated_at: datetime
    catalog_published_at: datetime | None
    controls: list[ControlPosture]


class EventPage(Model):
    items: list[Event]
    next_cursor: str | None = None


# The administration answers live in `admin` (imported last: they build on `Model`).
from secmonkey.client.models.admin import *  # noqa: E402, F403
