"""Groups, their revisions, their state at an instant and the difference between two versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from secmonkey.api.schemas.issues import IssueView
from secmonkey.common.canonical import Attachments, CanonicalGroup, Rule
from secmonkey.common.documents import ChangeType, Item, ItemState, Revision
from secmonkey.common.messages import Caller
from secmonkey.common.severity import Severity

GROUP_ID_PATTERN = r"^sg-[0-9a-zA-Z]{1,64}$"
VPC_ID_PATTERN = r"^vpc-[0-9a-zA-Z]{1,64}$"


class RuleView(BaseModel):
    """One permission, with its one-line text (`ingress tcp/22 from 0.0.0.0/0`)."""

    index: int = Field(description="position in the group's canonical rule list")
    direction: str
    protocol: str
    from_port: int | None = None
    to_port: int | None = None
    source_kind: str
    source: str
    source_account: str | None = None
    description: str = ""
    text: str

    @classmethod
    def of(cls, index: int, rule: Rule) -> RuleView:
        return cls(index=index, text=rule.text(), **rule.model_dump())


class GroupSummary(BaseModel):
    key: str
    group_id: str
    name: str
    account_id: str
    account_name: str | None = None
    region: str
    vpc_id: str | None = None
    state: ItemState
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
    revisions: int = Field(description="number of the latest revision")

    @classmethod
    def fields_of(cls, item: Item) -> dict[str, Any]:
        return {
            "key": item.id,
            "group_id": item.group_id,
            "name": item.name,
            "account_id": item.account_id,
            "account_name": item.account_name,
            "region": item.region,
            "vpc_id": item.vpc_id,
            "state": item.state,
            "description": item.config.description,
            "rule_count": len(item.config.rules),
            "open_issues": item.open_issues,
            "max_severity": item.max_severity,
            "attached": item.attachments.attached,
            "public_ip": item.attachments.public_ip,
            "first_seen": item.first_seen,
            "last_seen": item.last_seen,
            "last_changed": item.last_changed,
            "deleted_at": item.deleted_at,
            "revisions": item.seq,
        }

    @classmethod
    def of(cls, item: Item) -> GroupSummary:
        return cls(**cls.fields_of(item))


class GroupPage(BaseModel):
    items: list[GroupSummary]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null: last")


class GroupDetail(GroupSummary):
    """A group as it is now: configuration, rules, attachments and its open issues."""

    config: CanonicalGroup
    rules: list[RuleView]
    attachments: Attachments
    issues: list[IssueView]


class ResolvedGroup(BaseModel):
    key: str
    group_id: str
    name: str
    account_id: str
    account_name: str | None = None
    region: str
    vpc_id: str | None = None
    state: ItemState
    deleted_at: datetime | None = None


class Resolution(BaseModel):
    group_id: str
    found: bool
    matches: list[ResolvedGroup] = Field(
        description="usually one; several when the same ID was seen in several places"
    )


class ResolveResponse(BaseModel):
    results: list[Resolution]


class RevisionSummary(BaseModel):
    seq: int
    change_type: ChangeType
    fingerprint: str
    observed_at: datetime
    sweep_id: str | None = None
    changes: list[str]
    callers: list[Caller] = Field(default_factory=list)

    @classmethod
    def fields_of(cls, revision: Revision) -> dict[str, Any]:
        return {
            "seq": revision.seq,
            "change_type": revision.change_type,
            "fingerprint": revision.fingerprint,
            "observed_at": revision.observed_at,
            "sweep_id": revision.sweep_id,
            "changes": revision.changes,
            "callers": revision.callers,
        }


class RevisionPage(BaseModel):
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
    diff: Any = Field(default=None, description="jsondiff (explicit syntax) from the previous")


class GroupAt(BaseModel):
    """The configuration in force at `at`: revision `seq`, valid from `observed_at` to `valid_until`."""

    model_config = ConfigDict(populate_by_name=True)

    key: str
    group_id: str
    at: datetime
    seq: int
    change_type: ChangeType
    fingerprint: str
    observed_at: datetime
    valid_until: datetime | None = Field(description="when the next revision replaced it")
    config: CanonicalGroup
    rules: list[RuleView]
    attachments: Attachments


class DiffEnd(BaseModel):
    seq: int
    change_type: ChangeType
    observed_at: datetime
    fingerprint: str


class GroupDiff(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    key: str
    group_id: str
    from_: DiffEnd = Field(alias="from")
    to: DiffEnd
    changes: list[str] = Field(description="one line per rule or property that differs")
    diff: Any = Field(description="jsondiff (explicit syntax) from `from` to `to`")
