"""Request and response models of change control: scopes, change reviews, the chain."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from secmonkey.common.change_reviews import TICKET_PATTERN, ChangeReview
from secmonkey.common.compliance_scopes import AutoApproval, Scope
from secmonkey.common.messages import Caller

REVIEW_ID_PATTERN = r"^aws:\d{12}:[a-z0-9-]+:[A-Za-z0-9_-]+:\d+$"


class ScopeIn(BaseModel):
    """A compliance scope: a group is in it when any one of its criteria matches."""

    description: str = Field(default="", max_length=500)
    account_labels: list[str] = Field(default_factory=list, max_length=50)
    tags: dict[str, str] = Field(default_factory=dict, description="e.g. {compliance: pci}")
    vpc_ids: list[str] = Field(default_factory=list, max_length=500)
    group_ids: list[str] = Field(default_factory=list, max_length=5000)
    review_hours: float = Field(default=24.0, gt=0, le=24 * 90)
    auto_approvals: list[AutoApproval] = Field(default_factory=list, max_length=50)


class ScopeView(ScopeIn):
    name: str
    updated_at: datetime | None = None

    @classmethod
    def of(cls, scope: Scope) -> ScopeView:
        return cls.model_validate(scope.model_dump())


class ReviewIn(BaseModel):
    """A decision: approve with the change ticket, or reject as unauthorized."""

    decision: Literal["approve", "reject"]
    ticket: str | None = Field(default=None, pattern=TICKET_PATTERN, description="e.g. CHG-1234")
    comment: str | None = Field(default=None, max_length=2000)


class BulkReviewIn(ReviewIn):
    ids: list[str] = Field(min_length=1, max_length=200)


class ReviewView(BaseModel):
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

    @classmethod
    def of(cls, review: ChangeReview, now: datetime) -> ReviewView:
        data = review.model_dump(exclude={"created_at", "overdue_at"})
        overdue = review.status == "pending" and review.deadline <= now
        return cls(**data, overdue=overdue)


class ReviewDetail(ReviewView):
    """A review with the two configurations side by side and the diff."""

    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    diff: str | None = None


class ReviewPage(BaseModel):
    items: list[ReviewView]


class BulkResult(BaseModel):
    id: str
    ok: bool
    status: str | None = None
    error: str | None = None


class ChainBreak(BaseModel):
    chain: str
    key: str
    record: str
    reason: str


class VerificationView(BaseModel):
    ok: bool
    groups: int
    revisions: int
    reviews: int
    anchors: int
    breaks: list[ChainBreak]


class AnchorView(BaseModel):
    id: str
    at: datetime
    root: str
    count: int
    s3: dict[str, Any] | None = None
