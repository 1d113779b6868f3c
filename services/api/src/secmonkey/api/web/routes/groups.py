"""Groups: the filtered list, one group now, its history, a diff of two revisions, "as of"."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from secmonkey.api.deps import Db
from secmonkey.api.problems import Problem
from secmonkey.api.queries.accounts import list_accounts
from secmonkey.api.queries.groups import find_groups, group_detail, referenced_names
from secmonkey.api.queries.history import compare, revision_page, state_at
from secmonkey.api.schemas.groups import GROUP_ID_PATTERN, GroupDetail
from secmonkey.api.web.deps import (
    Blank,
    Caller,
    OptAccount,
    OptCursor,
    OptRegion,
    OptSeverity,
    OptText,
    OptVpc,
    Viewer,
    at_most,
)
from secmonkey.api.web.rendering import render
from secmonkey.api.web.usage import usage_section
from secmonkey.api.web.views import property_changes, rule_rows
from secmonkey.common.storage import Database

router = APIRouter(prefix="/groups")
PAGE = 50
GroupId = Annotated[str, Path(pattern=GROUP_ID_PATTERN)]
Point = Annotated[str, Query(min_length=1, max_length=64)]


@router.get("")
async def list_groups(
    request: Request,
    db: Db,
    caller: Viewer,
    account_id: OptAccount = None,
    region: OptRegion = None,
    vpc_id: OptVpc = None,
    name: OptText = None,
    state: Annotated[Literal["active", "deleted", "all"] | None, Blank, Query()] = None,
    min_severity: OptSeverity = None,
    has_issues: Annotated[Literal["yes", "no"] | None, Blank, Query()] = None,
    cursor: OptCursor = None,
) -> Response:
    filters: dict[str, Any] = {
        "account_id": account_id,
        "region": region,
        "vpc_id": vpc_id,
        "name": name,
        "state": state,
        "min_severity": min_severity.value if min_severity else None,
        "has_issues": has_issues,
    }
    page = await find_groups(
        db,
        account_id=account_id,
        region=region,
        vpc_id=vpc_id,
        name=name,
        state=state or "active",
        min_severity=min_severity,
        has_issues=None if has_issues is None else has_issues == "yes",
        limit=PAGE,
        cursor=cursor,
    )
    return render(
        request,
        "groups.html",
        caller.page(
            title="Groups",
            nav="groups",
            filters=filters,
            page=page,
            cursor=cursor,
            accounts=await list_accounts(db),
        ),
    )


def _place(account_id: str | None, region: str | None) -> dict[str, str | None]:
    return {"account_id": account_id, "region": region}


async def _ambiguous(request: Request, caller: Caller, group_id: str, exc: Problem) -> Response:
    """A group ID seen in several places: let the user choose one."""
    candidates = []
    for key in exc.extra.get("candidates", []):
        _, account, region, _ = str(key).split(":", 3)
        candidates.append({"account_id": account, "region": region})
    return render(
        request,
        "choose.html",
        caller.page(
            title=group_id, nav="groups", group_id=group_id, candidates=candidates, suffix=""
        ),
        status_code=409,
    )


async def _located(
    request: Request,
    db: Database,
    caller: Caller,
    group_id: str,
    account_id: str | None,
    region: str | None,
) -> GroupDetail | Response:
    """The group now, or (its ID seen in several places) the page that lets one choose."""
    try:
        return await group_detail(db, group_id, account_id, region)
    except Problem as exc:
        if exc.kind != "ambiguous-group":
            raise
        return await _ambiguous(request, caller, group_id, exc)


@router.get("/{group_id}")
async def group(
    request: Request,
    db: Db,
    caller: Viewer,
    group_id: GroupId,
    account_id: OptAccount = None,
    region: OptRegion = None,
) -> Response:
    detail = await _located(request, db, caller, group_id, account_id, region)
    if isinstance(detail, Response):
        return detail
    history = await revision_page(db, group_id, detail.account_id, detail.region, limit=5)
    return render(
        request,
        "group.html",
        caller.page(
            title=detail.name or group_id,
            nav="groups",
            group=detail,
            place=_place(detail.account_id, detail.region),
            names=await referenced_names(db, detail.rules),
            history=history.items,
            usage=await usage_section(db, detail.account_id, detail.region, group_id),
            tab="now",
        ),
    )


@router.get("/{group_id}/history")
async def history(
    request: Request,
    db: Db,
    caller: Viewer,
    group_id: GroupId,
    account_id: OptAccount = None,
    region: OptRegion = None,
    cursor: OptCursor = None,
) -> Response:
    detail = await _located(request, db, caller, group_id, account_id, region)
    if isinstance(detail, Response):
        return detail
    page = await revision_page(
        db, group_id, detail.account_id, detail.region, limit=PAGE, cursor=cursor
    )
    return render(
        request,
        "history.html",
        caller.page(
            title=f"History of {detail.name or group_id}",
            nav="groups",
            group=detail,
            place=_place(detail.account_id, detail.region),
            page=page,
            cursor=cursor,
            tab="history",
        ),
    )


@router.get("/{group_id}/diff")
async def diff(
    request: Request,
    db: Db,
    caller: Viewer,
    group_id: GroupId,
    from_: Annotated[str, Query(alias="from", min_length=1, max_length=64)],
    to: Annotated[str | None, Blank, at_most(64), Query()] = None,
    account_id: OptAccount = None,
    region: OptRegion = None,
) -> Response:
    detail = await _located(request, db, caller, group_id, account_id, region)
    if isinstance(detail, Response):
        return detail
    comparison = await compare(db, group_id, from_, to, detail.account_id, detail.region)
    rows = rule_rows(comparison.old.config, comparison.new.config)
    names = await referenced_names(
        db, [r for row in rows for r in (row.old, row.new) if r is not None]
    )
    return render(
        request,
        "diff.html",
        caller.page(
            title=f"{detail.name or group_id}: revision {comparison.old.seq} → "
            f"{comparison.new.seq}",
            nav="groups",
            group=detail,
            place=_place(detail.account_id, detail.region),
            old=comparison.old,
            new=comparison.new,
            changes=comparison.diff.changes,
            rows=rows,
            properties=property_changes(comparison.old.config, comparison.new.config),
            names=names,
            tab="diff",
        ),
    )


@router.get("/{group_id}/at")
async def as_of(
    request: Request,
    db: Db,
    caller: Viewer,
    group_id: GroupId,
    time: Annotated[datetime, Query(description="an instant; UTC when no offset is given")],
    account_id: OptAccount = None,
    region: OptRegion = None,
) -> Response:
    detail = await _located(request, db, caller, group_id, account_id, region)
    if isinstance(detail, Response):
        return detail
    then = await state_at(db, group_id, time, detail.account_id, detail.region)
    return render(
        request,
        "at.html",
        caller.page(
            title=f"{detail.name or group_id} as of {time.isoformat()}",
            nav="groups",
            group=detail,
            place=_place(detail.account_id, detail.region),
            then=then,
            names=await referenced_names(db, then.rules),
            tab="at",
        ),
    )
