"""Models of the administration answers (accounts, subscriptions, keys, the audit log,
sweeps, discovery, dead letters, change control), as in the package."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from secmonkey.client.models import Model
from secmonkey.common.compliance_scopes import AutoApproval
from secmonkey.common.documents import SubscriptionFilters
from secmonkey.common.messages import Caller
from secmonkey.common.security_hub import SecurityHubExport
from secmonkey.common.severity import Severity

__all__ = [
    "FlowLogPlace",
    "FlowLogPlaceView",
    "Account",
    "AllowlistEntry",
    "ChannelView",
    "Subscription",
    "SubscriptionTestQueued",
    "ApiKey",
    "CreatedKey",
    "Actor",
    "AuditEntry",
    "AuditPage",
    "SweepQueued",
    "SweepsQueued",
    "DiscoveryView",
    "DeadLetterView",
    "DeadLetterDetail",
    "DeadLetterQueueView",
    "DeadLetterList",
    "DeadLetterOutcome",
    "ScopeView",
    "ReviewView",
    "ReviewDetail",
    "ReviewPage",
    "BulkResult",
    "ChainBreak",
    "VerificationView",
    "AnchorView",
]


class FlowLogPlace(Model):
    kind: Literal["s3", "cloudwatch"]
    bucket: str | None = None
    prefix: str = ""
    log_group: str | None = None
    region: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    format: str | None = None


class FlowLogPlaceView(Model):
    kind: Literal["s3", "cloudwatch"]
    bucket: str | None = None
    prefix: str = ""
    log_group: str | None = None
    region: str | None = None
    role_arn: str | None = None
    external_id_set: bool
    format: str | None = None


class Account(Model):
    id: str
    name: str
    role_arn: str | None = None
    external_id_set: bool
    regions: list[str] | None = None
    labels: list[str] = Field(default_factory=list)
    trusted: bool = False
    enabled: bool = True
    interval_minutes: int | None = None
    flow_logs: list[FlowLogPlaceView] = Field(default_factory=list)
    security_hub: SecurityHubExport | None = None


class AllowlistEntry(Model):
    name: str
    cidr: str
    description: str = ""


class ChannelView(Model):
    type: str
    to: list[str]
    url: str | None = None
    has_secret: bool


class Subscription(Model):
    id: str
    name: str
    enabled: bool
    filters: SubscriptionFilters
    channel: ChannelView
    mode: str
    digest_minutes: int


class SubscriptionTestQueued(Model):
    subscription_id: str
    event_id: str
    detail: str


class ApiKey(Model):
    id: str
    name: str
    role: Literal["viewer", "auditor", "admin", "reviewer"]
    prefix: str
    created_at: datetime
    last_used_at: datetime | None = None
    enabled: bool
    expires_at: datetime | None = None


class CreatedKey(ApiKey):
    key: str


class Actor(Model):
    kind: str
    id: str
    name: str
    role: str | None = None


class AuditEntry(Model):
    id: str
    at: datetime
    action: str
    target: str
    actor: Actor
    client: str | None = None
    via: str = "api"
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    severity: Severity = Severity.INFO
    detail: str = ""
    event_id: str | None = None


class AuditPage(Model):
    items: list[AuditEntry]
    next_cursor: str | None = None


class SweepQueued(Model):
    sweep_id: str
    account_id: str
    regions: list[str] | None = None


class SweepsQueued(Model):
    sweeps: list[SweepQueued]
    pending: bool = False


class DiscoveryView(Model):
    request_id: str
    status: Literal["pending", "done", "failed"]
    requested_at: datetime
    requested_by: str
    finished_at: datetime | None = None
    listed: int | None = None
    enrolled: list[str] = Field(default_factory=list)
    disabled: list[str] = Field(default_factory=list)
    error: str | None = None
    status_url: str


class DeadLetterView(Model):
    id: str
    queue: str
    reason: str
    dead_lettered_at: datetime | None
    published_at: datetime | None
    age_seconds: float | None
    published_by: str | None
    message_id: str | None
    routing_key: str | None
    content_type: str | None
    size: int
    preview: str


class DeadLetterDetail(DeadLetterView):
    headers: dict[str, Any]
    body: str


class DeadLetterQueueView(Model):
    queue: str
    dead_letter_queue: str
    depth: int
    exists: bool
    messages: list[DeadLetterView]
    truncated: bool


class DeadLetterList(Model):
    queues: list[DeadLetterQueueView]


class DeadLetterOutcome(Model):
    queue: str
    done: list[str]
    not_found: list[str]
    removed: int
    depth: int


# change control -------------------------------------------------------------------------


class ScopeView(Model):
    name: str
    description: str = ""
    account_labels: list[str] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)
    vpc_ids: list[str] = Field(default_factory=list)
    group_ids: list[str] = Field(default_factory=list)
    review_hours: float = 24.0
    auto_approvals: list[AutoApproval] = Field(default_factory=list)
    updated_at: datetime | None = None


class ReviewView(Model):
    id: str
    key: str
    seq: int
    account_id: str
    account_name: str | None = None
    region: str
    vpc_id: str | None = None
    group_id: str
    name: str
    change_type: str
    changes: list[str]
    scopes: list[str]
    left_scopes: list[str]
    observed_at: datetime
    deadline: datetime
    overdue: bool
    callers: list[Caller]
    changed_by: str | None = None
    status: str
    ticket: str | None = None
    reviewer: str | None = None
    comment: str | None = None
    decided_at: datetime | None = None
    auto: bool = False


class ReviewDetail(ReviewView):
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    diff: str | None = None


class ReviewPage(Model):
    items: list[ReviewView]


class BulkResult(Model):
    id: str
    ok: bool
    status: str | None = None
    error: str | None = None


class ChainBreak(Model):
    chain: str
    key: str
    record: str
    reason: str


class VerificationView(Model):
    ok: bool
    groups: int
    revisions: int
    reviews: int
    anchors: int
    breaks: list[ChainBreak]


class AnchorView(Model):
    id: str
    at: datetime
    root: str
    count: int
    s3: dict[str, Any] | None = None
