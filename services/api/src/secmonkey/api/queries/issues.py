"""Issues: the filtered list, one issue, justifying one (who, why, until) and withdrawing that."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel

from secmonkey.api.auth import Principal
from secmonkey.api.pagination import decode_cursor, encode_cursor
from secmonkey.api.problems import Problem
from secmonkey.api.queries.events import announce, event_message, store_event
from secmonkey.api.schemas.issues import IssuePage, IssueView, JustificationIn
from secmonkey.common import justifications
from secmonkey.common.dates import aware
from secmonkey.common.documents import Issue, Justification
from secmonkey.common.errors import InvalidInput, NotFound
from secmonkey.common.messages import Event, IssueRef, new_id
from secmonkey.common.outbox import Outbox, Requirement
from secmonkey.common.severity import SEVERITY_RANK, Severity
from secmonkey.common.storage import Database, Store, filters

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
    query |= filters.equals(
        rule_id=rule_id or None,
        account_id=account_id or None,
        region=region or None,
        group_id=group_id or None,
    )
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


async def get_issue(db: Database, issue_id: str) -> IssueView:
    doc = await db.issues.find_one({"_id": issue_id})
    if doc is None:
        raise NotFound(f"no issue {issue_id}")
    return IssueView.of(Issue.model_validate(doc))


async def justify_issue(
    db: Database,
    outbox: Outbox,
    who: Principal,
    issue_id: str,
    body: JustificationIn,
) -> IssueView:
    """Accept a finding (who, why, until) and record the `issue.justified` event (in the
    feed, and published through the outbox: at once, or once RabbitMQ is reachable)."""
    now = datetime.now(UTC)
    until = aware(body.until) if body.until else None
    if until is not None and until <= now:
        raise InvalidInput(f"until ({until.isoformat()}) must be in the future")
    found = await db.issues.find_one({"_id": issue_id})
    if found is None:
        raise NotFound(f"no issue {issue_id}")
    # The event is stored before the justification it announces, naming it: whichever
    # step a crash interrupts, the outbox sends it exactly when the justification exists.
    event = justified_event(Issue.model_validate(found), now)
    message = event_message(
        event, Requirement("issues", {"_id": issue_id, "justification.event_id": event.event_id})
    )
    await store_event(outbox, message)
    justification = Justification(
        by=who.name, reason=body.reason, until=until, at=now, event_id=event.event_id
    )
    try:
        issue = await justifications.justify(Store(db), issue_id, justification)
    except NotFound:
        await outbox.discard([message])
        raise
    except justifications.NotJustifiable as refused:
        await outbox.discard([message])
        raise Problem(
            409,
            f"issue {issue_id} is {refused.issue.status}; only open or justified issues "
            "can be justified",
            kind="conflict",
        ) from None
    await announce(db, outbox, event, message)
    return IssueView.of(issue)


def justified_event(issue: Issue, at: datetime) -> Event:
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
            status="justified",
        ),
    )


async def withdraw_justification(db: Database, issue_id: str) -> None:
    """Open a justified issue again; `NotFound` if it has no justification."""
    await justifications.withdraw(Store(db), issue_id)
