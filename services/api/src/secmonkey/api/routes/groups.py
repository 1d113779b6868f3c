"""`/groups`: list and filter, resolve IDs, one group now, its revisions, at an instant, diffs."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from secmonkey.api.changes import change_list, json_diff
from secmonkey.api.deps import Db, Viewer
from secmonkey.api.history import (
    Revisions,
    aware,
    find_item,
    load_item,
    parse_point,
    resolve_point,
)
from secmonkey.api.pagination import decode_cursor, encode_cursor
from secmonkey.api.problems import problem_responses
from secmonkey.api.routes._params import (
    GROUP_ID_PATTERN,
    AccountFilter,
    Cursor,
    GroupId,
    Limit,
    RegionFilter,
)
from secmonkey.api.schemas.groups import (
    DiffEnd,
    GroupAt,
    GroupDetail,
    GroupDiff,
    GroupPage,
    GroupSummary,
    Resolution,
    ResolvedGroup,
    ResolveResponse,
    RevisionDetail,
    RevisionPage,
    RevisionSummary,
    RuleView,
)
from secmonkey.api.schemas.issues import IssueView
from secmonkey.common.documents import Issue, Item, Revision
from secmonkey.common.errors import InvalidInput, NotFound
from secmonkey.common.severity import SEVERITY_RANK, Severity

router = APIRouter(prefix="/groups", tags=["groups"], responses=problem_responses(401, 403, 422))
MAX_RESOLVE = 100
_GROUP_ID = re.compile(GROUP_ID_PATTERN)
_SUMMARY_PROJECTION = {"ranges": 0}


class _KeyCursor(BaseModel):
    k: str


class _SeqCursor(BaseModel):
    s: int


@router.get("", response_model=GroupPage, summary="List groups")
async def list_groups(
    db: Db,
    _: Viewer,
    account_id: AccountFilter = None,
    region: RegionFilter = None,
    vpc_id: Annotated[str | None, Query(pattern=r"^vpc-[0-9a-zA-Z]{1,64}$")] = None,
    name: Annotated[
        str | None, Query(min_length=1, max_length=255, description="name prefix, any case")
    ] = None,
    state: Literal["active", "deleted", "all"] = "active",
    min_severity: Severity | None = None,
    has_issues: bool | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> GroupPage:
    query: dict[str, Any] = {}
    if account_id:
        query["account_id"] = account_id
    if region:
        query["region"] = region
    if vpc_id:
        query["vpc_id"] = vpc_id
    if name:
        prefix = name.lower()
        query["name_lower"] = {"$gte": prefix, "$lt": prefix + "\U0010ffff"}
    if state != "all":
        query["state"] = state
    if min_severity is not None:
        query["max_severity_rank"] = {"$gte": SEVERITY_RANK[min_severity.value]}
    if has_issues is not None:
        query["open_issues"] = {"$gt": 0} if has_issues else 0
    position = decode_cursor(cursor, _KeyCursor)
    if position is not None:
        query["_id"] = {"$gt": position.k}
    docs = await db.items.find(query, _SUMMARY_PROJECTION).sort("_id", 1).limit(limit).to_list()
    items = [GroupSummary.of(Item.model_validate(d)) for d in docs]
    more = len(items) == limit
    return GroupPage(
        items=items, next_cursor=encode_cursor(_KeyCursor(k=items[-1].key)) if more else None
    )


@router.get("/resolve", response_model=ResolveResponse, summary="Which group is sg-…?")
async def resolve(
    db: Db,
    _: Viewer,
    ids: Annotated[
        str, Query(min_length=1, max_length=MAX_RESOLVE * 70, description="comma-separated IDs")
    ],
) -> ResolveResponse:
    wanted = list(dict.fromkeys(i.strip() for i in ids.split(",") if i.strip()))
    if not wanted:
        raise InvalidInput("ids: give at least one group ID, e.g. ids=sg-0abc1234")
    bad = [i for i in wanted if not _GROUP_ID.match(i)]
    if bad:
        raise InvalidInput(f"ids: not security group IDs: {', '.join(bad[:5])}")
    if len(wanted) > MAX_RESOLVE:
        raise InvalidInput(f"ids: at most {MAX_RESOLVE} IDs at once, got {len(wanted)}")
    projection = dict.fromkeys(
        ("group_id", "name", "account_id", "account_name", "region", "vpc_id", "state"), 1
    ) | {"deleted_at": 1}
    found: dict[str, list[ResolvedGroup]] = {}
    async for doc in db.items.find({"group_id": {"$in": wanted}}, projection):
        found.setdefault(doc["group_id"], []).append(
            ResolvedGroup(key=doc["_id"], **{k: v for k, v in doc.items() if k != "_id"})
        )
    return ResolveResponse(
        results=[
            Resolution(
                group_id=i,
                found=i in found,
                matches=sorted(found.get(i, []), key=lambda g: (g.state != "active", g.key)),
            )
            for i in wanted
        ]
    )


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
    item = await load_item(db, group_id, account_id, region)
    issues = [
        IssueView.of(Issue.model_validate(d))
        async for d in db.issues.find({"key": item.id, "status": {"$in": ["open", "justified"]}})
    ]
    issues.sort(key=lambda i: (-i.severity.rank, i.rule_id, i.rule_text))
    return GroupDetail(
        **GroupSummary.fields_of(item),
        config=item.config,
        rules=[RuleView.of(n, r) for n, r in enumerate(item.config.rules)],
        attachments=item.attachments,
        issues=issues,
    )


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
    item = await find_item(db, group_id, account_id, region, {"seq": 1, "group_id": 1})
    position = decode_cursor(cursor, _SeqCursor)
    query: dict[str, Any] = {"key": item["_id"]}
    if position is not None:
        query["seq"] = {"$lt": position.s}
    projection = {"config": 0, "attachments": 0, "diff": 0}
    docs = await db.revisions.find(query, projection).sort("seq", -1).limit(limit).to_list()
    items = [RevisionSummary.model_validate(d) for d in docs]
    more = len(items) == limit and items[-1].seq > 1
    return RevisionPage(
        key=item["_id"],
        group_id=group_id,
        items=items,
        next_cursor=encode_cursor(_SeqCursor(s=items[-1].seq)) if more else None,
    )


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
    item = await find_item(db, group_id, account_id, region, {"seq": 1})
    revision = await Revisions(db, item["_id"], item["seq"]).get(seq)
    return RevisionDetail(
        **RevisionSummary.fields_of(revision),
        key=revision.key,
        group_id=revision.group_id,
        config=revision.config,
        rules=[RuleView.of(n, r) for n, r in enumerate(revision.config.rules)],
        attachments=revision.attachments,
        diff=json.loads(revision.diff) if revision.diff else None,
    )


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
    instant = aware(time)
    item = await find_item(db, group_id, account_id, region, {"seq": 1})
    revisions = Revisions(db, item["_id"], item["seq"])
    revision = await revisions.at(instant)
    if revision is None:
        first = await revisions.get(1) if item["seq"] >= 1 else None
        since = f"; first seen {first.observed_at.isoformat()}" if first else ""
        raise NotFound(f"{group_id} did not exist yet at {instant.isoformat()}{since}")
    if revision.change_type == "deleted":
        raise NotFound(
            f"{group_id} did not exist at {instant.isoformat()}: "
            f"deleted at {revision.observed_at.isoformat()} (revision {revision.seq})"
        )
    following = await revisions.after(revision)
    return GroupAt(
        key=revision.key,
        group_id=revision.group_id,
        at=instant,
        seq=revision.seq,
        change_type=revision.change_type,
        observed_at=revision.observed_at,
        valid_until=following.observed_at if following else None,
        config=revision.config,
        rules=[RuleView.of(n, r) for n, r in enumerate(revision.config.rules)],
        attachments=revision.attachments,
    )


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
    start = parse_point(from_, "from")
    end = parse_point(to, "to") if to is not None else datetime.now(UTC)
    if isinstance(start, datetime) and isinstance(end, datetime) and start > end:
        raise InvalidInput(f"from ({start.isoformat()}) is after to ({end.isoformat()})")
    if isinstance(start, int) and isinstance(end, int) and start > end:
        raise InvalidInput(f"from (revision {start}) is after to (revision {end})")
    item = await find_item(db, group_id, account_id, region, {"seq": 1})
    revisions = Revisions(db, item["_id"], item["seq"])
    old = await resolve_point(revisions, start, "from", group_id)
    new = await resolve_point(revisions, end, "to", group_id)
    if old.seq > new.seq:
        raise InvalidInput(
            f"from (revision {old.seq}, {old.observed_at.isoformat()}) is after "
            f"to (revision {new.seq}, {new.observed_at.isoformat()})"
        )
    changes = change_list(old.config, new.config)
    if new.seq > old.seq and new.change_type in ("deleted", "restored"):
        changes.append(f"group {new.change_type} at {new.observed_at.isoformat()}")
    return GroupDiff(
        key=item["_id"],
        group_id=group_id,
        **{"from": _end(old)},
        to=_end(new),
        changes=changes,
        diff=json_diff(old.config, new.config),
    )


def _end(revision: Revision) -> DiffEnd:
    return DiffEnd(
        seq=revision.seq,
        change_type=revision.change_type,
        observed_at=revision.observed_at,
        fingerprint=revision.fingerprint,
    )
