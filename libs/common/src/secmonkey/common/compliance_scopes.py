"""Compliance scopes (`pci`, `sox`, `hipaa`…): which groups fall under change control.

A scope names groups by account labels, group tags (`compliance=pci`), VPC IDs or group
IDs: a group is in the scope when any one of them matches, and may be in several scopes.
`scopes_of` is the one matching rule; the auditor applies it to every revision, the API
to its previews. Each scope sets how long a review may stay pending (`review_hours`,
default 24) and the principals whose changes are approved automatically.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator

from secmonkey.common.documents import Doc

SCOPE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"
DEFAULT_TICKET_PATTERN = r"[A-Z][A-Z0-9]+-\d+"


class AutoApproval(BaseModel):
    """A change made by `principal` (an ARN, `*` wildcards allowed) is approved without a
    person when a ticket reference is found: in the group tag `ticket_tag`, else in the
    role session name (the last part of an assumed-role ARN)."""

    principal: str = Field(min_length=1, max_length=512)
    ticket_tag: str | None = Field(default="change-ticket", max_length=128)
    ticket_from_session: bool = True
    ticket_pattern: str = Field(default=DEFAULT_TICKET_PATTERN, max_length=200)

    @field_validator("ticket_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"ticket_pattern is not a regular expression: {exc}") from None
        return value

    def ticket_for(self, arn: str | None, tags: Mapping[str, str]) -> str | None:
        """The ticket this rule finds for a change by `arn` of a group with `tags`."""
        if not arn or not fnmatch.fnmatchcase(arn, self.principal):
            return None
        pattern = re.compile(self.ticket_pattern)
        if self.ticket_tag and (found := pattern.search(tags.get(self.ticket_tag, ""))):
            return found.group(0)
        if self.ticket_from_session and ":assumed-role/" in arn:
            session = arn.rsplit("/", 1)[-1]
            if found := pattern.search(session):
                return found.group(0)
        return None


class Scope(Doc):
    """`scopes`: one compliance scope. `_id` is its name."""

    name: str = Field(alias="_id", pattern=SCOPE_NAME_PATTERN)
    description: str = Field(default="", max_length=500)
    account_labels: list[str] = Field(default_factory=list, max_length=50)
    tags: dict[str, str] = Field(
        default_factory=dict, description="group tags, e.g. {compliance: pci}; any matches"
    )
    vpc_ids: list[str] = Field(default_factory=list, max_length=500)
    group_ids: list[str] = Field(default_factory=list, max_length=5000)
    review_hours: float = Field(default=24.0, gt=0, le=24 * 90)
    auto_approvals: list[AutoApproval] = Field(default_factory=list, max_length=50)
    updated_at: datetime | None = None

    @field_validator("tags", mode="before")
    @classmethod
    def _tags_from_pairs(cls, value: Any) -> Any:
        # Stored as {key, value} pairs: tag keys (`kubernetes.io/x`) are no field names.
        if isinstance(value, list):
            return {str(p["key"]): str(p.get("value", "")) for p in value}
        return value

    def to_mongo(self) -> dict[str, Any]:
        doc = super().to_mongo()
        doc["tags"] = [{"key": k, "value": v} for k, v in sorted(self.tags.items())]
        return doc


def in_scope(
    scope: Scope,
    *,
    account_labels: Iterable[str],
    tags: Mapping[str, str],
    vpc_id: str | None,
    group_id: str,
) -> bool:
    """Whether a group (its account's labels, its tags, VPC and ID) is in `scope`."""
    if set(scope.account_labels).intersection(account_labels):
        return True
    if any(tags.get(k) == v for k, v in scope.tags.items()):
        return True
    if vpc_id is not None and vpc_id in scope.vpc_ids:
        return True
    return group_id in scope.group_ids


def scopes_of(
    scopes: Iterable[Scope],
    *,
    account_labels: Iterable[str],
    tags: Mapping[str, str],
    vpc_id: str | None,
    group_id: str,
) -> list[str]:
    """The names of the scopes a group is in, sorted."""
    labels = list(account_labels)
    return sorted(
        s.name
        for s in scopes
        if in_scope(s, account_labels=labels, tags=tags, vpc_id=vpc_id, group_id=group_id)
    )


def scopes_of_config(
    scopes: Iterable[Scope], account_labels: Iterable[str], config: Mapping[str, Any] | Any
) -> list[str]:
    """`scopes_of` for a canonical group (a `CanonicalGroup` or its stored document)."""
    if isinstance(config, Mapping):
        raw = config.get("tags") or {}
        tags = {t["key"]: t["value"] for t in raw} if isinstance(raw, list) else dict(raw)
        vpc_id, group_id = config.get("vpc_id"), str(config.get("group_id"))
    else:
        tags, vpc_id, group_id = dict(config.tags), config.vpc_id, config.group_id
    return scopes_of(
        scopes, account_labels=account_labels, tags=tags, vpc_id=vpc_id, group_id=group_id
    )


async def load_scopes(db: Any) -> list[Scope]:
    """Every scope (a handful: read whole)."""
    return [Scope.model_validate(d) for d in await db.scopes.find({}).to_list(None)]
