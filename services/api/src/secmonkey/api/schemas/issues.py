"""Issues, justifications, the audit report and the event feed."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from secmonkey.api.schemas.exposure import ExposedEndpoint
from secmonkey.common.issue_views import (
    IssueView as IssueView,  # shown by the API, written by the auditor
)
from secmonkey.common.messages import Event

ISSUE_ID_PATTERN = r"^[0-9a-f]{32}$"
RULE_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"


class IssuePage(BaseModel):
    items: list[IssueView]
    next_cursor: str | None = None


class JustificationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=2000, description="why the finding is accepted")
    until: datetime | None = Field(
        default=None, description="when the justification expires (ISO 8601); null: never"
    )

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if len(value.strip()) < 3:
            raise ValueError("a reason of at least 3 characters is required")
        return value.strip()


class CountRow(BaseModel):
    name: str
    critical: int = 0
    high: int = 0
    medium: int = 0
    low: int = 0
    info: int = 0
    total: int = 0


class Report(BaseModel):
    generated_at: datetime
    open_issues: int
    by_severity: dict[str, int]
    by_account: list[CountRow]
    by_rule: list[CountRow]
    issues: list[IssueView] = Field(description="most severe first")
    truncated: bool = Field(description="more open issues exist than `issues` lists")
    exposed_endpoints: int = Field(
        default=0, description="endpoints reachable from the internet (per rule and port range)"
    )
    exposure: list[ExposedEndpoint] = Field(
        default_factory=list, description="the first of them (GET /api/v1/exposure lists all)"
    )


class EventPage(BaseModel):
    items: list[Event]
    next_cursor: str | None = None
