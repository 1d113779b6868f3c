"""`/issues`: list and filter findings; justify one (auditor role) or withdraw its justification."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel

from secmonkey.api.deps import Auditor, Db, MaybePublisher, Viewer
from secmonkey.api.events import record_event
from secmonkey.api.history import aware
from secmonkey.api.pagination import decode_cursor, encode_cursor
from secmonkey.api.problems import Problem, problem_responses
from secmonkey.api.routes._params import (
    GROUP_ID_PATTERN,
    AccountFilter,
    Cursor,
    Limit,
    RegionFilter,
)
from secmonkey.api.schemas.issues import IssuePage, IssueView, JustificationIn
from secmonkey.common.documents import Issue, Justification
from secmonkey.common.errors import InvalidInput, NotFound
from secmonkey.common.messages import Event, IssueRef, new_id
from secmonkey.common.severity import SEVERITY_RANK, Severity

router = APIRouter(prefix="/issues", tags=["issues"], responses=problem_responses(401, 403, 422))
IssueId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="the issue's ID")]


class _IssueCursor(BaseModel):
    r: int
    i: str


def compliance_filter(framework: str) -> dict[str, Any]:
    """Tags naming `framework`, alone or followed by a section (`cis`, `CIS-1.4 5.2`, `pci:1.3`)."""
    return {"$regex": f"^{re.escape(framework)}($|[ :/_.-])", "$options": "i"}


@router.get("", response_model=IssuePage, summary="List issues, most severe first")
async def list_issues(
    db: Db,
    _: Viewer,
    status: Literal["open", "justified", "fixed", "deleted", "all"] = "open",
    severity: Severity | None = None,
    min_severity: Severity | None = None,
    rule_id: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")] = None,
    account_id: AccountFilter = None,
    region: RegionFilter = None,
    group_id: Annotated[str | None, Query(pattern=GROUP_ID_PATTERN)] = None,
    compliance: Annotated[
        str | None,
        Query(min_length=1, max_length=64, description="a compliance framework, e.g. cis"),
    ] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> IssuePage:
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


@router.get(
    "/{issue_id}", response_model=IssueView, summary="One issue", responses=problem_responses(404)
)
async def get_issue(db: Db, _: Viewer, issue_id: IssueId) -> IssueView:
    doc = await db.issues.find_one({"_id": issue_id})
    if doc is None:
        raise NotFound(f"no issue {issue_id}")
    return IssueView.of(Issue.model_validate(doc))


@router.put(
    "/{issue_id}/justification",
    response_model=IssueView,
    summary="Accept a finding (auditor)",
    responses=problem_responses(404, 409),
)
async def justify(
    db: Db, publisher: MaybePublisher, who: Auditor, issue_id: IssueId, body: JustificationIn
) -> IssueView:
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


@router.delete(
    "/{issue_id}/justification",
    status_code=204,
    summary="Withdraw a justification (auditor): the issue is open again",
    responses=problem_responses(404),
)
async def unjustify(db: Db, _: Auditor, issue_id: IssueId) -> Response:
    result = await db.issues.update_one(
        {"_id": issue_id, "status": "justified"},
        {"$set": {"status": "open"}, "$unset": {"justification": ""}},
    )
    if result.matched_count == 0:
        exists = await db.issues.find_one({"_id": issue_id}, {"_id": 1})
        raise NotFound(
            f"issue {issue_id} has no justification" if exists else f"no issue {issue_id}"
        )
    return Response(status_code=204)
