"""`/groups`: list and filter, resolve IDs, one group now, its revisions, at an instant, diffs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from secmonkey.api.deps import Db, Viewer
from secmonkey.api.problems import problem_responses
from secmonkey.api.queries.groups import MAX_RESOLVE, find_groups, group_detail, resolve_groups
from secmonkey.api.queries.history import diff_between, revision_detail, revision_page, state_at
from secmonkey.api.routes._params import AccountFilter, Cursor, GroupId, Limit, RegionFilter
from secmonkey.api.schemas.groups import (
    VPC_ID_PATTERN,
    GroupAt,
    GroupDetail,
    GroupDiff,
    GroupPage,
    ResolveResponse,
    RevisionDetail,
    RevisionPage,
)
from secmonkey.common.severity import Severity

router = APIRouter(prefix="/groups", tags=["groups"], responses=problem_responses(401, 403, 422))


@router.get("", response_model=GroupPage, summary="List groups")
async def list_groups(
    db: Db,
    _: Viewer,
    account_id: AccountFilter = None,
    region: RegionFilter = None,
    vpc_id: Annotated[str | None, Query(pattern=VPC_ID_PATTERN)] = None,
    name: Annotated[
        str | None, Query(min_length=1, max_length=255, description="name prefix, any case")
    ] = None,
    state: Literal["active", "deleted", "all"] = "active",
    min_severity: Severity | None = None,
    has_issues: bool | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> GroupPage:
    return await find_groups(
        db,
        account_id=account_id,
        region=region,
        vpc_id=vpc_id,
        name=name,
        state=state,
        min_severity=min_severity,
        has_issues=has_issues,
        limit=limit,
        cursor=cursor,
    )


@router.get("/resolve", response_model=ResolveResponse, summary="Which group is sg-…?")
async def resolve(
    db: Db,
    _: Viewer,
    ids: Annotated[
        str, Query(min_length=1, max_length=MAX_RESOLVE * 70, description="comma-separated IDs")
    ],
) -> ResolveResponse:
    return await resolve_groups(db, ids)


@router.get(
    "/{group_id}",
    response_model=GroupDetail,
    summary="One group now",
    responses=problem_responses(404, 409),
)
async def get_group(
    db: Db,
    _: Viewer,
    group_id: GroupId,
    account_id: AccountFilter = None,
    region: RegionFilter = None,
) -> GroupDetail:
    return await group_detail(db, group_id, account_id, region)


@router.get(
    "/{group_id}/revisions",
    response_model=RevisionPage,
    summary="A group's history, newest first",
    responses=problem_responses(404, 409),
)
async def list_revisions(
    db: Db,
    _: Viewer,
    group_id: GroupId,
    account_id: AccountFilter = None,
    region: RegionFilter = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> RevisionPage:
    return await revision_page(db, group_id, account_id, region, limit=limit, cursor=cursor)


@router.get(
    "/{group_id}/revisions/{seq}",
    response_model=RevisionDetail,
    summary="One revision",
    responses=problem_responses(404, 409),
)
async def get_revision(
    db: Db,
    _: Viewer,
    group_id: GroupId,
    seq: Annotated[int, Path(ge=1, le=2**31, description="revision number, from 1")],
    account_id: AccountFilter = None,
    region: RegionFilter = None,
) -> RevisionDetail:
    return await revision_detail(db, group_id, seq, account_id, region)


@router.get(
    "/{group_id}/at",
    response_model=GroupAt,
    summary="A group as it was at an instant",
    responses=problem_responses(404, 409),
)
async def group_at(
    db: Db,
    _: Viewer,
    group_id: GroupId,
    time: Annotated[datetime, Query(description="ISO 8601 instant; UTC when no offset")],
    account_id: AccountFilter = None,
    region: RegionFilter = None,
) -> GroupAt:
    return await state_at(db, group_id, time, account_id, region)


@router.get(
    "/{group_id}/diff",
    response_model=GroupDiff,
    summary="What changed between two revisions or instants",
    responses=problem_responses(404, 409),
)
async def group_diff(
    db: Db,
    _: Viewer,
    group_id: GroupId,
    from_: Annotated[
        str,
        Query(
            alias="from",
            min_length=1,
            max_length=64,
            description="a revision number (`3`) or an ISO 8601 instant",
        ),
    ],
    to: Annotated[
        str | None,
        Query(min_length=1, max_length=64, description="as `from`; default: now"),
    ] = None,
    account_id: AccountFilter = None,
    region: RegionFilter = None,
) -> GroupDiff:
    return await diff_between(db, group_id, from_, to, account_id, region)
