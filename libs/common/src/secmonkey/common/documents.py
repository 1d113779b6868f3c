"""The shapes of the MongoDB documents that more than one service reads or writes.

The auditor writes `items`, `revisions`, `issues` and `events`; the api reads them and
writes `accounts`, `subscriptions`, `allowlist`, `api_keys` and issue justifications;
the collector reads `accounts`; the notifier reads `subscriptions` and writes
`deliveries`. Datetimes are stored as BSON dates (UTC). Documents are designed so that
every read is one indexed find (denormalised on write).
"""

from __future__ import annotations

import functools
import hashlib
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from secmonkey.common.canonical import Attachments, CanonicalGroup
from secmonkey.common.messages import AccountId, Caller, Region
from secmonkey.common.rule_usage import FlowLogPlace
from secmonkey.common.severity import Severity

ItemState = Literal["active", "deleted"]
ChangeType = Literal["created", "changed", "deleted", "restored"]
IssueStatus = Literal["open", "fixed", "justified", "deleted"]
Role = Literal["viewer", "auditor", "admin", "reviewer"]
ROLE_RANK: dict[str, int] = {"viewer": 0, "auditor": 1, "admin": 2}
# `reviewer` stands outside the ranking: a key of a ticketing system that may review
# changes (`POST /change-reviews/{id}/review`) and do nothing else, not even read.
REVIEWER = "reviewer"


def role_allows(have: str, need: str) -> bool:
    """Whether a key of role `have` may do what needs `need`: the ranked roles include the
    ones below them; reviewing is open to `reviewer`, `auditor` and `admin`; a
    `reviewer` key may only review."""
    if need == REVIEWER:
        return have == REVIEWER or ROLE_RANK.get(have, -1) >= ROLE_RANK["auditor"]
    if have == REVIEWER:
        return False
    return ROLE_RANK[have] >= ROLE_RANK[need]


class Doc(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    def to_mongo(self) -> dict[str, Any]:
        """The whole document as stored (what inserts write)."""
        return self.model_dump(mode="python", by_alias=True)

    @classmethod
    def fields(cls, **values: Any) -> dict[str, Any]:
        """`values` for a partial update (`$set`, `$max`, …) of this collection's documents,
        refused if a name is not a field of the model: no free-hand field strings."""
        unknown = values.keys() - _field_names(cls)
        if unknown:
            raise KeyError(f"{cls.__name__} has no field {sorted(unknown)}")
        return values


@functools.cache
def _field_names(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(model.model_fields) | {
        f.alias for f in model.model_fields.values() if f.alias is not None
    }


def _stored_config(config: CanonicalGroup) -> dict[str, Any]:
    return config.storage_doc()


class Account(Doc):
    """`accounts`: one monitored (or trusted) AWS account. `_id` is the account ID."""

    id: AccountId = Field(alias="_id")
    name: str
    role_arn: str | None = None
    external_id: str | None = None
    regions: list[Region] | None = Field(default=None, description="None: every enabled region")
    labels: list[str] = Field(default_factory=list)
    trusted: bool = False
    enabled: bool = True
    interval_minutes: int | None = Field(default=None, ge=1)
    flow_logs: list[FlowLogPlace] = Field(default_factory=list)


class RangeEntry(BaseModel):
    """One numeric range of a CIDR rule, stored in `items.ranges` for IP/CIDR search."""

    v: int
    lo: str
    hi: str
    rule: int = Field(description="index of the rule in config.rules")
    direction: Literal["ingress", "egress"]


class Item(Doc):
    """`items`: the current state of one group. `_id` is the item key."""

    id: str = Field(alias="_id")
    account_id: AccountId
    account_name: str | None = None
    region: Region
    vpc_id: str | None = None
    group_id: str
    name: str
    name_lower: str
    state: ItemState = "active"
    config: CanonicalGroup
    fingerprint: str
    attachments: Attachments = Field(default_factory=Attachments)
    first_seen: datetime
    last_seen: datetime
    last_changed: datetime
    deleted_at: datetime | None = None
    seq: int = Field(description="number of the latest revision (revision count)")
    ranges: list[RangeEntry] = Field(default_factory=list)
    open_issues: int = 0
    max_severity: Severity | None = None
    max_severity_rank: int = -1
    issue_ids: list[str] = Field(default_factory=list, description="the group's issues")
    audit_key: str | None = Field(
        default=None, description="what the findings depend on; equal keys, equal findings"
    )
    findings_digest: str | None = None
    sweep_id: str | None = None

    @field_serializer("config")
    def _config(self, config: CanonicalGroup) -> dict[str, Any]:
        return _stored_config(config)


class Revision(Doc):
    """`revisions`: one version of a group. Unique on (key, seq) and (key, fingerprint, observed_at)."""

    id: str = Field(alias="_id", description="<key>:<seq>")
    key: str
    seq: int
    account_id: AccountId
    region: Region
    group_id: str
    change_type: ChangeType
    fingerprint: str
    config: CanonicalGroup
    attachments: Attachments = Field(default_factory=Attachments)
    diff: str | None = Field(
        default=None, description="jsondiff (explicit syntax) from seq-1, as JSON text"
    )
    changes: list[str] = Field(default_factory=list, description="human-readable change list")
    observed_at: datetime
    sweep_id: str | None = None
    callers: list[Caller] = Field(default_factory=list)
    prev_hash: str | None = Field(
        default=None, description="SHA-256 of the previous revision (secmonkey.common.chain)"
    )
    attached_callers: list[Caller] = Field(
        default_factory=list,
        description="CloudTrail callers whose event arrived after a sweep recorded this "
        "revision (outside the hash: the review record that chains them carries them)",
    )

    @field_serializer("config")
    def _config(self, config: CanonicalGroup) -> dict[str, Any]:
        return _stored_config(config)


class Justification(BaseModel):
    by: str
    reason: str
    until: datetime | None = None
    at: datetime
    # The `issue.justified` event announcing it (stored in the outbox before this write).
    event_id: str | None = None


class Issue(Doc):
    """`issues`: one finding on one group. `_id` is `issue_id(key, rule_id, rule_text)`."""

    id: str = Field(alias="_id")
    key: str
    account_id: AccountId
    region: Region
    group_id: str
    group_name: str
    vpc_id: str | None = None
    rule_id: str
    rule_text: str = Field(
        description="the offending rule's canonical text, or '' for group-level findings"
    )
    severity: Severity
    severity_rank: int
    message: str
    compliance: list[str] = Field(default_factory=list)
    status: IssueStatus = "open"
    opened_at: datetime
    fixed_at: datetime | None = None
    last_seen: datetime
    reopened: int = 0
    justification: Justification | None = None
    lapsed_justification: Justification | None = None
    transition: dict[str, Any] | None = Field(
        default=None, description="the marker of the work that last wrote it, and its event"
    )


def issue_id(key: str, rule_id: str, rule_text: str) -> str:
    """The stable identity of a finding: the same group, rule and offending rule text."""
    return hashlib.sha256(f"{key}\x1f{rule_id}\x1f{rule_text}".encode()).hexdigest()[:32]


class AllowlistEntry(Doc):
    """`allowlist`: a named network whose findings are silenced. `_id` is the name."""

    name: str = Field(alias="_id")
    cidr: str
    description: str = ""


class SubscriptionFilters(BaseModel):
    event_types: list[str] = Field(default_factory=list, description="empty: every type")
    account_ids: list[str] = Field(default_factory=list)
    account_labels: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    min_severity: Severity | None = None
    rule_ids: list[str] = Field(default_factory=list)


class Channel(BaseModel):
    type: Literal["email", "generic", "slack", "teams"]
    to: list[str] = Field(default_factory=list, description="email recipients")
    url: str | None = Field(default=None, description="webhook URL")
    secret: str | None = Field(default=None, description="HMAC secret of a generic webhook")


class Subscription(Doc):
    """`subscriptions`: who hears of which events, how."""

    id: str = Field(alias="_id")
    name: str
    enabled: bool = True
    filters: SubscriptionFilters = Field(default_factory=SubscriptionFilters)
    channel: Channel
    mode: Literal["immediate", "digest"] = "immediate"
    digest_minutes: int = Field(default=5, ge=1, le=1440)


class ApiKey(Doc):
    """`api_keys`: only the SHA-256 of the key is stored."""

    id: str = Field(alias="_id")
    name: str
    role: Role
    hash: str
    prefix: str = Field(description="first characters of the key, to tell keys apart")
    created_at: datetime
    last_used_at: datetime | None = None
    enabled: bool = True
    expires_at: datetime | None = Field(default=None, description="refused from then on")

    @field_validator("expires_at")
    @classmethod
    def _aware_expiry(cls, value: datetime | None) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)  # BSON dates come back naive, in UTC


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
