"""Reading and justifying issues: the queries behind `/issues`, shared with the web console."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel

from secmonkey.api.auth import Principal
from secmonkey.api.events import record_event
from secmonkey.api.pagination import decode_cursor, encode_cursor
from secmonkey.api.problems import Problem
from secmonkey.api.schemas.issues import IssuePage, IssueView, JustificationIn
from secmonkey.common.amqp import Publisher
from secmonkey.common.dates import aware
from secmonkey.common.documents import Issue, Justification
from secmonkey.common.errors import InvalidInput, NotFound
from secmonkey.common.messages import Event, IssueRef, new_id
from secmonkey.common.severity import SEVERITY_RANK, Severity
from secmonkey.common.storage import Database

IssueStatusFilter = Literal["open", "justified", "fixed", "deleted", "all"]


class _IssueCursor(BaseModel):
    r: int
    i: str


def compliance_filter(framework: str) -> dict[str, Any]:
    """Tags naming `framework` as whole words, any case: `cis` finds `CIS AWS Foundations 5.2`,
    `fsbp` finds `AWS FSBP EC2.18`, `pci dss` finds `PCI DSS 4.0 1.3.1`. The text is escaped:
    user input never becomes a regular expression."""
    return {"$regex": f"(^|[ (]){re.escape(framework)}($|[ :/_.)-])", "$options": "i"}


async def find_issues(
    db: Database,
    *,
    status: IssueStatusFilter = "open",
    severity: Severity | None = None,
    min_severity: Severity | None = None,
    rule_id: str | None = None,
    account_id: str | None = None,
    region: str | None = None,
    group_id: str | None = None,
    compliance: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> IssuePage:
    """Issues matching every given filter, most severe first."""
    query: dict[str, Any] = {}
    if status != "all":
        query["status"] = status
    if severity is not None:
        query["severity"] = severity.value
    elif min_severity is not None:
        query["severity_rank"] = {"$gte": SEVERITY_RANK[min_severity.value]}
    for field, value in (
        ("rule_id", rule_id),
        ("account_id", account_id),
        ("region", region),
        ("group_id", group_id),
    ):
        if value:
            query[field] = value
    if compliance:
        query["compliance"] = compliance_filter(compliance)
    position = decode_cursor(cursor, _IssueCursor)
    if position is not None:
        query["$or"] = [
            {"severity_rank": {"$lt": position.r}},
            {"severity_rank": position.r, "_id": {"$gt": position.i}},
        ]
    docs = (
        await db.issues.find(query).sort([("severity_rank", -1), ("_id", 1)]).limit(limit).to_list()
    )
    items = [IssueView.of(Issue.model_validate(d)) for d in docs]
    next_cursor = None
    if len(docs) == limit:
        last = docs[-1]
        next_cursor = encode_cursor(_IssueCursor(r=int(last["severity_rank"]), i=last["_id"]))
    return IssuePage(items=items, next_cursor=next_cursor)


async def justify_issue(
    db: Database,
    publisher: Publisher | None,
    who: Principal,
    issue_id: str,
    body: JustificationIn,
) -> IssueView:
    """Accept a finding (who, why, until) and record the `issue.justified` event."""
    now = datetime.now(UTC)
    until = aware(body.until) if body.until else None
    if until is not None and until <= now:
        raise InvalidInput(f"until ({until.isoformat()}) must be in the future")
    justification = Justification(by=who.name, reason=body.reason, until=until, at=now)
    result = await db.issues.update_one(
        {"_id": issue_id, "status": {"$in": ["open", "justified"]}},
        {"$set": {"status": "justified", "justification": justification.model_dump()}},
    )
    doc = await db.issues.find_one({"_id": issue_id})
    if doc is None:
        raise NotFound(f"no issue {issue_id}")
    issue = Issue.model_validate(doc)
    if result.matched_count == 0:
        raise Problem(
            409,
            f"issue {issue_id} is {issue.status}; only open or justified issues can be justified",
            kind="conflict",
        )
    await refresh_item_counters(db, issue.key)
    await record_event(db, publisher, _justified_event(issue, now))
    return IssueView.of(issue)


def _justified_event(issue: Issue, at: datetime) -> Event:
    return Event(
        event_id=new_id(),
        type="issue.justified",
        key=issue.key,
        account_id=issue.account_id,
        region=issue.region,
        vpc_id=issue.vpc_id,
        group_id=issue.group_id,
        name=issue.group_name,
        at=at,
        issue=IssueRef(
            issue_id=issue.id,
            rule_id=issue.rule_id,
            severity=issue.severity,
            message=issue.message,
            rule_text=issue.rule_text,
            compliance=issue.compliance,
            status=issue.status,
        ),
    )


async def withdraw_justification(db: Database, issue_id: str) -> None:
    """Open a justified issue again; `NotFound` if it has no justification."""
    withdrawn = await db.issues.find_one_and_update(
        {"_id": issue_id, "status": "justified"},
        {"$set": {"status": "open"}, "$unset": {"justification": ""}},
    )  # no projection: FerretDB 1.24 does not implement `fields` on findAndModify
    if withdrawn is None:
        exists = await db.issues.find_one({"_id": issue_id}, {"_id": 1})
        raise NotFound(
            f"issue {issue_id} has no justification" if exists else f"no issue {issue_id}"
        )
    await refresh_item_counters(db, withdrawn["key"])


async def refresh_item_counters(db: Database, key: str) -> None:
    """Recount the item's `open_issues`, `max_severity` and `max_severity_rank` (what group
    lists filter and sort on) from its issues, read by `_id` from the item's `issue_ids`, as
    the auditor counts them: justified issues are not open."""
    item = await db.items.find_one({"_id": key}, {"issue_ids": 1, "state": 1})
    if item is None or item.get("state") == "deleted":
        return  # a deleted group has no open issue (the auditor keeps its counters at zero)
    ids = list(item.get("issue_ids") or [])
    projection = {"status": 1, "severity": 1}
    docs = await db.issues.find({"_id": {"$in": ids}}, projection).to_list(None) if ids else []
    severities = [str(d["severity"]) for d in docs if d.get("status") == "open"]
    top = max(severities, key=SEVERITY_RANK.__getitem__, default=None)
    counters = {
        "open_issues": len(severities),
        "max_severity": top,
        "max_severity_rank": SEVERITY_RANK[top] if top is not None else -1,
    }
    await db.items.update_one({"_id": key}, {"$set": counters})
