"""Every message that crosses RabbitMQ, validated on receipt.

A schema change bumps `SCHEMA_VERSION`; a consumer refuses versions it does not know
(the message is dead-lettered with the reason, never silently misread).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from secmonkey.common.canonical import GroupSnapshot
from secmonkey.common.dates import aware
from secmonkey.common.errors import InvalidInput
from secmonkey.common.severity import Severity

SCHEMA_VERSION = 1
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
]


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value != SCHEMA_VERSION:
            raise ValueError(
                f"unsupported schema_version {value}; this build reads {SCHEMA_VERSION}"
            )
        return value


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

    _aware_observed = field_validator("observed_at")(aware)


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


class Event(Message):
    """One entry of the change and issue feed, published on `secmonkey.events`."""

    event_id: str
    type: EventType
    key: str
    account_id: AccountId
    account_name: str | None = None
    region: Region
    vpc_id: str | None = None
    group_id: str
    name: str
    at: datetime
    seq: int | None = None
    changes: list[str] = Field(default_factory=list)
    issue: IssueRef | None = None
    callers: list[Caller] = Field(default_factory=list)

    _aware_at = field_validator("at")(aware)

    @property
    def severity(self) -> Severity | None:
        return self.issue.severity if self.issue else None


def item_key(account_id: str, region: str, group_id: str) -> str:
    return f"aws:{account_id}:{region}:{group_id}"


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
