"""Groups now: the filtered list, IDs resolved across accounts, finding one group, its detail.

A group is found by its item key (`_id`), or by its ID alone through `group_ids`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel

from secmonkey.api.pagination import decode_cursor, encode_cursor
from secmonkey.api.problems import Problem
from secmonkey.api.schemas.groups import (
    GROUP_ID_PATTERN,
    GroupDetail,
    GroupPage,
    GroupSummary,
    Resolution,
    ResolvedGroup,
    ResolveResponse,
    RuleView,
)
from secmonkey.api.schemas.issues import IssueView
from secmonkey.common.canonical import Rule
from secmonkey.common.documents import Issue, Item
from secmonkey.common.errors import InvalidInput, NotFound
from secmonkey.common.item_keys import item_key
from secmonkey.common.search_index.reader import seen_as, seen_as_each
from secmonkey.common.severity import SEVERITY_RANK, Severity
from secmonkey.common.storage import Database, Store, filters

MAX_RESOLVE = 100
MAX_CANDIDATES = 10
_GROUP_ID = re.compile(GROUP_ID_PATTERN)
_SUMMARY_PROJECTION = {"ranges": 0}


class _KeyCursor(BaseModel):
    k: str


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
    # `group_ids` holds what the answer needs: one read of every ID by primary key.
    seen = await seen_as_each(db, wanted)
    found = {
        group_id: [
            ResolvedGroup(key=key, group_id=group_id, **_resolved(about))
            for key, about in keys.items()
        ]
        for group_id, keys in seen.items()
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


async def referenced_names(
    db: Database, rules: Iterable[Rule | RuleView]
) -> dict[tuple[str, str | None], str]:
    """The names of the groups that rules reference, keyed by (group ID, account)."""
    wanted = sorted({r.source for r in rules if r.source_kind == "group"})
    wanted = [g for g in wanted if _GROUP_ID.match(g)][:MAX_RESOLVE]
    if not wanted:
        return {}
    names: dict[tuple[str, str | None], str] = {}
    for resolution in (await resolve_groups(db, ",".join(wanted))).results:
        for match in resolution.matches:
            names.setdefault((match.group_id, match.account_id), match.name)
            names.setdefault((match.group_id, None), match.name)
    return names


def _where(account_id: str | None, region: str | None) -> str:
    parts = [f"account {account_id}" if account_id else "", f"region {region}" if region else ""]
    text = " and ".join(p for p in parts if p)
    return f" in {text}" if text else ""


async def find_item(
    db: Database,
    group_id: str,
    account_id: str | None = None,
    region: str | None = None,
    projection: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The one item of `group_id` (narrowed by account and region); 404 or 409 otherwise."""
    if account_id and region:
        keys = [item_key(account_id, region, group_id)]
    else:
        keys = [
            k
            for k in sorted(await seen_as(db, group_id))
            if k.split(":")[1] == (account_id or k.split(":")[1])
            and k.split(":")[2] == (region or k.split(":")[2])
        ][:MAX_CANDIDATES]
    found = await Store(db).read("items", keys, projection)
    docs = [found[k] for k in keys if k in found]
    if not docs:
        raise NotFound(f"no security group {group_id} is known{_where(account_id, region)}")
    if len(docs) > 1:
        places = ", ".join(f"{d['account_id']}/{d['region']}" for d in docs)
        raise Problem(
            409,
            f"{group_id} was seen in several places ({places}); "
            "pass account_id and region to choose one",
            kind="ambiguous-group",
            extra={"candidates": [d["_id"] for d in docs]},
        )
    return docs[0]


async def group_detail(
    db: Database, group_id: str, account_id: str | None = None, region: str | None = None
) -> GroupDetail:
    """A group now: its configuration, rules, attachments and open or justified issues."""
    item = Item.model_validate(await find_item(db, group_id, account_id, region))
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
