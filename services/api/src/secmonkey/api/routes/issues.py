"""`/issues`: list and filter findings; justify one (auditor role) or withdraw its justification."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from secmonkey.api.deps import Auditor, Db, MaybePublisher, Viewer
from secmonkey.api.issues import (
    find_issues,
    justify_issue,
    withdraw_justification,
)
from secmonkey.api.problems import problem_responses
from secmonkey.api.routes._params import (
    GROUP_ID_PATTERN,
    AccountFilter,
    Cursor,
    Limit,
    RegionFilter,
)
from secmonkey.api.schemas.issues import IssuePage, IssueView, JustificationIn
from secmonkey.common.documents import Issue
from secmonkey.common.errors import NotFound
from secmonkey.common.severity import Severity

router = APIRouter(prefix="/issues", tags=["issues"], responses=problem_responses(401, 403, 422))
IssueId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="the issue's ID")]


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
    return await find_issues(
        db,
        status=status,
        severity=severity,
        min_severity=min_severity,
        rule_id=rule_id,
        account_id=account_id,
        region=region,
        group_id=group_id,
        compliance=compliance,
        limit=limit,
        cursor=cursor,
    )


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
    return await justify_issue(db, publisher, who, issue_id, body)


@router.delete(
    "/{issue_id}/justification",
    status_code=204,
    summary="Withdraw a justification (auditor): the issue is open again",
    responses=problem_responses(404),
)
async def unjustify(db: Db, _: Auditor, issue_id: IssueId) -> Response:
    await withdraw_justification(db, issue_id)
    return Response(status_code=204)
