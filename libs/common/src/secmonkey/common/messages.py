"""Every message that crosses RabbitMQ, validated on receipt.

Versions. `SCHEMA_VERSION` is the newest version this build knows; it reads the one
before and the one after as well (`READABLE_VERSIONS`), so during a rolling upgrade old
and new replicas read each other and nothing is dead-lettered for its version:

- a producer stamps each message with the oldest version that can say it
  (`Message.needed_version`): whatever version 1 could say still goes out as version 1,
  byte for byte, so consumers of the previous build keep reading it;
- version 2 adds the `system.*` events (secmonkey's own health: a `system` payload, no
  group) and reserves the `admin.*` and `change.*` families: any type in them is valid
  from version 2 on, before its own payload is defined; the `change.*` types and their
  `change` payload (issue 17) go out as version 3 (`VERSION_3_TYPES`), which a version-2
  build reads as the next version (the payload ignored, routed by type);
- in a message of the next version, fields this build does not know are ignored and an
  event type it does not know is accepted (consumers route it by its type). The next
  version may add optional fields and types, never remove or retype a field or add a
  message kind: that takes two steps, readers first.
- version 3 (written already): a `SnapshotBatch` may carry the account-region's network
  `topology`; a reader of version 2 ignores the field (and keeps its old severities).

Any other version is refused (the message is dead-lettered with the reason, never
silently misread).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from secmonkey.common.canonical import GroupSnapshot
from secmonkey.common.dates import aware
from secmonkey.common.errors import InvalidInput
from secmonkey.common.severity import Severity
from secmonkey.common.topology import Topology

SCHEMA_VERSION = 2
FIRST_VERSION = 1
TOPOLOGY_VERSION = 3  # a SnapshotBatch carrying `topology` (readers of 2 ignore the field)
READABLE_VERSIONS = frozenset({SCHEMA_VERSION - 1, SCHEMA_VERSION, SCHEMA_VERSION + 1})
M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
ACCOUNT_ID_PATTERN = r"^\d{12}$"
REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-\d$"

# Exchanges, queues and routing keys (DESIGN §4).
SWEEPS_QUEUE = "secmonkey.sweeps"
SNAPSHOTS_EXCHANGE = "secmonkey.snapshots"
EVENTS_EXCHANGE = "secmonkey.events"
DEAD_LETTER_EXCHANGE = "secmonkey.dlx"

AccountId = Annotated[str, Field(pattern=ACCOUNT_ID_PATTERN)]
Region = Annotated[str, Field(pattern=REGION_PATTERN)]

GROUP_EVENT_TYPES = ("group.created", "group.changed", "group.deleted", "group.restored")
ISSUE_EVENT_TYPES = (
    "issue.opened",
    "issue.fixed",
    "issue.reopened",
    "issue.escalated",
    "issue.justified",
)
# Version 2: secmonkey watching itself (raised once per episode, then `_resolved`).
SYSTEM_CONDITIONS = (
    "system.sweep_overdue",  # no complete sweep of an account within three of its intervals
    "system.dead_letters_growing",  # a consumer queue's dead-letter queue grew
    "system.undelivered_growing",  # alerts that finally failed are piling up
    "system.consumer_not_ready",  # a consumer has waited out a fault, or been absent, for minutes
)
# One-off notices (no episode, no `_resolved`).
SYSTEM_NOTICES = (
    "system.deletion_held",  # a complete sweep would delete too many groups: held (auditor)
    "system.account_enrolled",  # an organization's active account is monitored (collector)
    "system.account_disabled",  # a suspended, closed or departed account is no longer swept
)
SYSTEM_EVENT_TYPES = (
    SYSTEM_CONDITIONS + tuple(f"{t}_resolved" for t in SYSTEM_CONDITIONS) + SYSTEM_NOTICES
)
# Types a version-2 reader would refuse (an unknown `system.*`): stamped version 3, which
# a version-2 build reads as "the next version" and routes by type, so a rolling upgrade
# dead-letters nothing. This wave's schema step adds its other new types here.
# Change control (issue 17): a review pending, decided or overdue; the chain anchored.
# Their `change` payload is a field a version-2 reader does not know: version 3 as well.
CHANGE_EVENT_TYPES = (
    "change.pending",
    "change.approved",
    "change.rejected",
    "change.overdue",
    "change.anchored",
)
VERSION_3_TYPES = frozenset(SYSTEM_NOTICES + CHANGE_EVENT_TYPES)
# Version 2 reserves these families for this wave's admin audit log and change control.
RESERVED_FAMILIES = ("admin", "change")
EVENT_FAMILIES = ("group", "issue", "system", *RESERVED_FAMILIES)
EVENT_TYPE_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$"

EventType = Literal[
    "group.created",
    "group.changed",
    "group.deleted",
    "group.restored",
    "issue.opened",
    "issue.fixed",
    "issue.reopened",
    "issue.escalated",  # the severity of an open (or justified) issue rose
    "issue.justified",
    "system.sweep_overdue",
    "system.dead_letters_growing",
    "system.undelivered_growing",
    "system.consumer_not_ready",
    "system.sweep_overdue_resolved",
    "system.dead_letters_growing_resolved",
    "system.undelivered_growing_resolved",
    "system.consumer_not_ready_resolved",
    "system.deletion_held",
    "system.account_enrolled",
    "system.account_disabled",
    "change.pending",
    "change.approved",
    "change.rejected",
    "change.overdue",
    "change.anchored",
]
KNOWN_EVENT_TYPES = frozenset(
    GROUP_EVENT_TYPES + ISSUE_EVENT_TYPES + SYSTEM_EVENT_TYPES + CHANGE_EVENT_TYPES
)


def event_family(event_type: str) -> str:
    """`group`, `issue`, `system`, `admin`, `change`: the first word of an event type."""
    return event_type.split(".", 1)[0]


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int = Field(
        default=FIRST_VERSION, description="the oldest version that can say this message"
    )

    @model_validator(mode="before")
    @classmethod
    def _ignore_newer_fields(cls, data: Any) -> Any:
        """A message of the next version may carry fields this build does not know."""
        if isinstance(data, dict) and data.get("schema_version") == SCHEMA_VERSION + 1:
            return {k: v for k, v in data.items() if k in cls.model_fields}
        return data

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value not in READABLE_VERSIONS:
            readable = ", ".join(str(v) for v in sorted(READABLE_VERSIONS))
            raise ValueError(f"unsupported schema_version {value}; this build reads {readable}")
        return value

    @model_validator(mode="after")
    def _stamp_version(self) -> Message:
        if "schema_version" not in self.model_fields_set:
            self.schema_version = self.needed_version()
        return self

    def needed_version(self) -> int:
        """The oldest schema version whose readers understand this message."""
        return FIRST_VERSION


class SweepRequest(Message):
    """Ask the collectors to sweep one account (all its regions when `regions` is None)."""

    kind: Literal["sweep_request"] = "sweep_request"
    sweep_id: str = Field(default_factory=new_id)
    account_id: AccountId
    regions: list[Region] | None = None
    requested_at: datetime = Field(default_factory=utcnow)
    reason: str = "scheduled"


class Caller(BaseModel):
    """Who made a change, from CloudTrail."""

    event_id: str
    event_name: str
    arn: str | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    at: datetime | None = None
    group_ids: list[str] = Field(
        default_factory=list,
        description="in a SnapshotBatch: the groups this call named (empty: every group of it)",
    )

    def names(self, group_id: str) -> bool:
        """Whether this call is about `group_id`."""
        return not self.group_ids or group_id in self.group_ids


class VpcSummary(BaseModel):
    """The VPC a batch's groups live in: whether it is the region's default VPC, its CIDRs."""

    vpc_id: str
    is_default: bool = False
    cidrs: list[str] = Field(default_factory=list)


class SnapshotBatch(Message):
    """Up to a few hundred groups of one account and region, as observed at one instant."""

    kind: Literal["snapshot_batch"] = "snapshot_batch"
    sweep_id: str
    account_id: AccountId
    region: Region
    observed_at: datetime
    groups: list[GroupSnapshot]
    source: Literal["sweep", "event"] = "sweep"
    callers: list[Caller] = Field(default_factory=list)
    missing_group_ids: list[str] = Field(
        default_factory=list, description="groups an event said to look at that no longer exist"
    )
    vpcs: list[VpcSummary] = Field(
        default_factory=list, description="the VPCs of this batch's groups (DescribeVpcs)"
    )
    # Version 3: the account-region's network (first batch of a sweep, or of an event
    # window that changed routes, ACLs or addresses). Readers of version 2 ignore it.
    topology: Topology | None = Field(default=None, exclude_if=lambda v: v is None)

    _aware_observed = field_validator("observed_at")(aware)

    def needed_version(self) -> int:
        return TOPOLOGY_VERSION if self.topology is not None else FIRST_VERSION


class SweepCompleted(Message):
    """The end of one account-region sweep: `complete` only when every page was read."""

    kind: Literal["sweep_completed"] = "sweep_completed"
    sweep_id: str
    account_id: AccountId
    region: Region
    observed_at: datetime
    started_at: datetime | None = None
    group_ids: list[str]
    complete: bool
    error: str | None = None

    _aware_observed = field_validator("observed_at")(aware)


SnapshotMessage = Annotated[SnapshotBatch | SweepCompleted, Field(discriminator="kind")]
_snapshot_adapter: TypeAdapter[SnapshotBatch | SweepCompleted] = TypeAdapter(SnapshotMessage)


class IssueRef(BaseModel):
    """The issue an `issue.*` event is about."""

    issue_id: str
    rule_id: str
    severity: Severity
    message: str
    rule_text: str = ""
    compliance: list[str] = Field(default_factory=list)
    status: str
    previous_severity: Severity | None = Field(
        default=None, description="on `issue.escalated`: the severity before it rose"
    )


class SystemRef(BaseModel):
    """What a `system.*` event is about: secmonkey's own health, not a group."""

    subject: str = Field(description="what is unwell: `account prod (111111111111)`, a queue…")
    detail: str = Field(description="what was seen, in a sentence")
    severity: Severity
    since: datetime | None = Field(default=None, description="when the condition began")

    @field_validator("since")
    @classmethod
    def _aware_since(cls, value: datetime | None) -> datetime | None:
        return None if value is None else aware(value)


class ChangeRef(BaseModel):
    """What a `change.*` event is about: a change review (or, `change.anchored`, the chain
    heads hashed into an anchor)."""

    review_id: str | None = None
    status: str | None = Field(default=None, description="pending, approved, rejected")
    scopes: list[str] = Field(default_factory=list)
    ticket: str | None = None
    reviewer: str | None = None
    comment: str | None = None
    changed_by: str | None = Field(default=None, description="the caller's ARN, if known")
    deadline: datetime | None = None
    auto: bool = False
    anchor_root: str | None = None
    anchor_heads: int | None = None


class Event(Message):
    """One entry of the change and issue feed, published on `secmonkey.events`.

    Group and issue events name their group (account, region, group ID, name). A
    `system.*` event carries `system` instead, and names an account only when it is about
    one (`system.sweep_overdue`); its `key` is `system:<what>`.
    """

    event_id: str
    type: str = Field(
        pattern=EVENT_TYPE_PATTERN,
        description="group.*, issue.*, system.* (admin.* and change.* are reserved)",
    )
    key: str
    account_id: AccountId | None = None
    account_name: str | None = None
    region: Region | None = None
    vpc_id: str | None = None
    group_id: str | None = None
    name: str | None = None
    at: datetime
    seq: int | None = None
    changes: list[str] = Field(default_factory=list)
    issue: IssueRef | None = None
    callers: list[Caller] = Field(default_factory=list)
    # Left out of the JSON when absent, so every group and issue event reads as in version 1.
    system: SystemRef | None = Field(default=None, exclude_if=lambda value: value is None)
    change: ChangeRef | None = Field(default=None, exclude_if=lambda value: value is None)

    _aware_at = field_validator("at")(aware)

    @model_validator(mode="after")
    def _fields_of_its_type(self) -> Event:
        family = event_family(self.type)
        if self.type not in KNOWN_EVENT_TYPES:
            if family not in RESERVED_FAMILIES and self.schema_version <= SCHEMA_VERSION:
                raise ValueError(f"unknown event type {self.type!r}")
        elif family in ("group", "issue"):
            missing = [
                name
                for name in ("account_id", "region", "group_id", "name")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(f"a {self.type} event needs {', '.join(missing)}")
        elif family == "system" and self.system is None:
            raise ValueError(f"a {self.type} event needs its `system` payload")
        elif family == "change" and self.change is None:
            raise ValueError(f"a {self.type} event needs its `change` payload")
        return self

    def needed_version(self) -> int:
        if self.type in VERSION_3_TYPES:
            return 3
        if self.system is not None or event_family(self.type) not in ("group", "issue"):
            return 2
        return FIRST_VERSION

    @property
    def severity(self) -> Severity | None:
        if self.issue is not None:
            return self.issue.severity
        if self.type == "change.rejected":
            return Severity.HIGH
        return self.system.severity if self.system is not None else None


def parse_snapshot_message(body: bytes) -> SnapshotBatch | SweepCompleted:
    """Parse what arrives on `secmonkey.snapshots`; `InvalidInput` says why it is refused."""
    return _parse(_snapshot_adapter, body)


def parse_message(model: type[M], body: bytes) -> M:
    return _parse(TypeAdapter(model), body)


def _parse(adapter: TypeAdapter[T], body: bytes) -> T:
    try:
        return adapter.validate_json(body)
    except ValueError as exc:
        raise InvalidInput(f"malformed message: {_short(exc)}") from None


def _short(exc: Exception) -> str:
    text = str(exc).replace("\n", "; ")
    return text if len(text) <= 500 else text[:497] + "..."
