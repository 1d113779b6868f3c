"""`/issues`: list and filter findings; justify one (auditor role) or withdraw its justification."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from secmonkey.api.audit import actions
from secmonkey.api.audit.deps import AuditorTrail
from secmonkey.api.deps import Db, Viewer
from secmonkey.api.problems import problem_responses
from secmonkey.api.queries import issues
from secmonkey.api.queries.issues import IssueStatusFilter
from secmonkey.api.routes._params import AccountFilter, Cursor, GroupFilter, Limit, RegionFilter
from secmonkey.api.schemas.issues import (
    ISSUE_ID_PATTERN,
    RULE_ID_PATTERN,
    IssuePage,
    IssueView,
    JustificationIn,
)
from secmonkey.common.severity import Severity

router = APIRouter(prefix="/issues", tags=["issues"], responses=problem_responses(401, 403, 422))
IssueId = Annotated[str, Path(pattern=ISSUE_ID_PATTERN, description="the issue's ID")]


@router.get("", response_model=IssuePage, summary="List issues, most severe first")
async def list_issues(
    db: Db,
    _: Viewer,
    status: IssueStatusFilter = "open",
    severity: Severity | None = None,
    min_severity: Severity | None = None,
    rule_id: Annotated[str | None, Query(pattern=RULE_ID_PATTERN)] = None,
    account_id: AccountFilter = None,
    region: RegionFilter = None,
    group_id: GroupFilter = None,
    compliance: Annotated[
        str | None,
        Query(min_length=1, max_length=64, description="a compliance framework, e.g. cis"),
    ] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> IssuePage:
    return await issues.find_issues(
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
    return await issues.get_issue(db, issue_id)


@router.put(
    "/{issue_id}/justification",
    response_model=IssueView,
    summary="Accept a finding (auditor)",
    responses=problem_responses(404, 409),
)
async def justify(trail: AuditorTrail, issue_id: IssueId, body: JustificationIn) -> IssueView:
    assert trail.principal is not None
    return await actions.justify(trail, trail.principal, issue_id, body)


@router.delete(
    "/{issue_id}/justification",
    status_code=204,
    summary="Withdraw a justification (auditor): the issue is open again",
    responses=problem_responses(404),
)
async def unjustify(trail: AuditorTrail, issue_id: IssueId) -> Response:
    await actions.withdraw(trail, issue_id)
    return Response(status_code=204)
