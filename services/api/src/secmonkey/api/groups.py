"""Reading groups: the queries behind `/groups`, shared by the REST routes and the web console.

Each function takes plain, already-validated values and returns the API's response model;
errors are the shared ones (`NotFound`, `InvalidInput`, `Problem`), which the REST API
turns into problem details and the console into a page.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel

from secmonkey.api.history import (
    Revisions,
    find_item,
    load_item,
    parse_point,
    resolve_point,
)
from secmonkey.api.pagination import decode_cursor, encode_cursor
from secmonkey.api.routes._params import GROUP_ID_PATTERN
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
from secmonkey.common.changes import change_list, json_diff
from secmonkey.common.dates import aware
from secmonkey.common.documents import Issue, Item, Revision
from secmonkey.common.errors import InvalidInput, NotFound
from secmonkey.common.search_index.reader import seen_as
from secmonkey.common.severity import SEVERITY_RANK, Severity
from secmonkey.common.storage import Database, filters

MAX_RESOLVE = 100
_GROUP_ID = re.compile(GROUP_ID_PATTERN)
_SUMMARY_PROJECTION = {"ranges": 0}


class _KeyCursor(BaseModel):
    k: str


class _SeqCursor(BaseModel):
    s: int


async def find_groups(
    db: Database,
    *,
    account_id: str | None = None,
    region: str | None = None,
    vpc_id: str | None = None,
    name: str | None = None,
    state: Literal["active", "deleted", "all"] = "active",
    min_severity: Severity | None = None,
    has_issues: bool | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> GroupPage:
    """Groups matching every given filter, in key order; `name` is a case-insensitive prefix."""
    query: dict[str, Any] = filters.equals(
        account_id=account_id or None, region=region or None, vpc_id=vpc_id or None
    )
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


async def resolve_groups(db: Database, ids: str) -> ResolveResponse:
    """Name, account, region and state of each comma-separated group ID, deleted ones too."""
    wanted = list(dict.fromkeys(i.strip() for i in ids.split(",") if i.strip()))
    if not wanted:
        raise InvalidInput("ids: give at least one group ID, e.g. ids=sg-0abc1234")
    bad = [i for i in wanted if not _GROUP_ID.match(i)]
    if bad:
        raise InvalidInput(f"ids: not security group IDs: {', '.join(bad[:5])}")
    if len(wanted) > MAX_RESOLVE:
        raise InvalidInput(f"ids: at most {MAX_RESOLVE} IDs at once, got {len(wanted)}")
    # One primary-key lookup per ID: `group_ids` holds what the answer needs.
    seen = await asyncio.gather(*(seen_as(db, i) for i in wanted))
    found = {
        group_id: [
            ResolvedGroup(key=key, group_id=group_id, **_resolved(about))
            for key, about in keys.items()
        ]
        for group_id, keys in zip(wanted, seen, strict=True)
        if keys
    }
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


def _resolved(about: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in about.items() if k != "seq"}  # (which revision wrote it)


async def group_detail(
    db: Database, group_id: str, account_id: str | None = None, region: str | None = None
) -> GroupDetail:
    """A group now: its configuration, rules, attachments and open or justified issues."""
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


async def revision_page(
    db: Database,
    group_id: str,
    account_id: str | None = None,
    region: str | None = None,
    *,
    limit: int = 50,
    cursor: str | None = None,
) -> RevisionPage:
    """A group's revisions, newest first."""
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


async def revision_detail(
    db: Database,
    group_id: str,
    seq: int,
    account_id: str | None = None,
    region: str | None = None,
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


async def state_at(
    db: Database,
    group_id: str,
    time: datetime,
    account_id: str | None = None,
    region: str | None = None,
) -> GroupAt:
    """The configuration in force at `time`; `NotFound` if the group did not exist then."""
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
        fingerprint=revision.fingerprint,
        observed_at=revision.observed_at,
        valid_until=following.observed_at if following else None,
        config=revision.config,
        rules=[RuleView.of(n, r) for n, r in enumerate(revision.config.rules)],
        attachments=revision.attachments,
    )


@dataclass(frozen=True)
class Comparison:
    """Two revisions of a group and what differs between them."""

    old: Revision
    new: Revision
    diff: GroupDiff


async def compare(
    db: Database,
    group_id: str,
    from_: str,
    to: str | None = None,
    account_id: str | None = None,
    region: str | None = None,
) -> Comparison:
    """The revisions at `from_` and `to` (each a revision number or an instant; `to`: now)."""
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
    diff = GroupDiff(
        key=item["_id"],
        group_id=group_id,
        **{"from": _end(old)},
        to=_end(new),
        changes=changes,
        diff=json_diff(old.config, new.config),
    )
    return Comparison(old=old, new=new, diff=diff)


async def diff_between(
    db: Database,
    group_id: str,
    from_: str,
    to: str | None = None,
    account_id: str | None = None,
    region: str | None = None,
) -> GroupDiff:
    """What changed from `from_` to `to`: the change list and the jsondiff."""
    return (await compare(db, group_id, from_, to, account_id, region)).diff


def _end(revision: Revision) -> DiffEnd:
    return DiffEnd(
        seq=revision.seq,
        change_type=revision.change_type,
        observed_at=revision.observed_at,
        fingerprint=revision.fingerprint,
    )
