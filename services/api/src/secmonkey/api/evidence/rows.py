"""What an evidence package holds, read from the database a page at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from secmonkey.common.canonical import CanonicalGroup
from secmonkey.common.compliance_scopes import Scope, scopes_of_config
from secmonkey.common.storage import Database, Store

PAGE = 500
STATE_BATCH = 100


@dataclass(frozen=True)
class Period:
    scope: Scope
    start: datetime
    end: datetime


@dataclass(frozen=True)
class ChangeRow:
    """One change in scope: when, who made it, the diff, the ticket, the reviewer."""

    review_id: str
    observed_at: datetime
    account_id: str
    region: str
    group_id: str
    name: str
    seq: int
    change_type: str
    changes: list[str]
    changed_by: str
    status: str
    ticket: str
    reviewer: str
    comment: str
    auto: bool
    decided_at: datetime | None
    hours_to_review: float | None
    diff: str


@dataclass(frozen=True)
class StateRow:
    """A group as it stood at the end of the period."""

    key: str
    account_id: str
    region: str
    group_id: str
    name: str
    seq: int
    state: str
    as_of: datetime
    rules: list[str]


@dataclass(frozen=True)
class FindingRow:
    """An issue open at the end of the period, or justified then (with who, why, until)."""

    issue_id: str
    key: str
    group_id: str
    group_name: str
    rule_id: str
    severity: str
    message: str
    compliance: list[str]
    opened_at: datetime
    justified_by: str = ""
    reason: str = ""
    until: datetime | None = None


def _hours(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else round((end - start).total_seconds() / 3600, 2)


def _change(review: dict[str, Any], revision: dict[str, Any] | None) -> ChangeRow:
    decided = review.get("decided_at")
    diff = (revision or {}).get("diff")
    return ChangeRow(
        review_id=str(review["_id"]),
        observed_at=review["observed_at"],
        account_id=str(review["account_id"]),
        region=str(review["region"]),
        group_id=str(review["group_id"]),
        name=str(review.get("name") or ""),
        seq=int(review["seq"]),
        change_type=str(review["change_type"]),
        changes=list(review.get("changes") or []),
        changed_by=str(review.get("changed_by") or ""),
        status=str(review["status"]),
        ticket=str(review.get("ticket") or ""),
        reviewer=str(review.get("reviewer") or ""),
        comment=str(review.get("comment") or ""),
        auto=bool(review.get("auto")),
        decided_at=decided,
        hours_to_review=_hours(review["observed_at"], decided),
        diff=diff if isinstance(diff, str) else "",
    )


async def changes(db: Database, period: Period, page: int = PAGE) -> AsyncIterator[ChangeRow]:
    """Every review of a change in the scope during the period, oldest first, with the
    revision's diff; read by (observed_at, _id) pages."""
    base: dict[str, Any] = {
        "scopes": period.scope.name,
        "observed_at": {"$gte": period.start, "$lte": period.end},
    }
    after: tuple[datetime, str] | None = None
    while True:
        query = dict(base)
        if after is not None:
            query["$or"] = [
                {"observed_at": {"$gt": after[0], "$lte": period.end}},
                {"observed_at": after[0], "_id": {"$gt": after[1]}},
            ]
        found = db.change_reviews.find(query).sort([("observed_at", 1), ("_id", 1)])
        docs = await found.limit(page).to_list(None)
        if not docs:
            return
        ids = [str(d["_id"]) for d in docs]
        # By id through `Store.read`: an `$in` on `_id` parses every revision on FerretDB.
        revisions = await Store(db).read("revisions", ids, {"diff": 1})
        for doc in docs:
            yield _change(doc, revisions.get(str(doc["_id"])))
        if len(docs) < page:
            return
        after = (docs[-1]["observed_at"], str(docs[-1]["_id"]))


async def _labels(db: Database) -> dict[str, list[str]]:
    return {
        str(d["_id"]): list(d.get("labels") or [])
        async for d in db.accounts.find({}, {"labels": 1})
    }


async def scope_keys(db: Database, period: Period) -> list[str]:
    """The groups that may be in the scope at the end of the period: those with a review
    in it up to then, and those in it now (sorted item keys)."""
    keys: set[str] = set()
    reviewed = {"scopes": period.scope.name, "observed_at": {"$lte": period.end}}
    async for doc in db.change_reviews.find(reviewed, {"key": 1}):
        keys.add(str(doc["key"]))
    labels = await _labels(db)
    async for item in db.items.find({}, {"config": 1, "account_id": 1}):
        config = item.get("config") or {}
        names = scopes_of_config([period.scope], labels.get(str(item["account_id"]), []), config)
        if names:
            keys.add(str(item["_id"]))
    return sorted(keys)


def _rule_texts(config: dict[str, Any]) -> list[str]:
    group = CanonicalGroup.model_validate(config)
    return [rule.text() for rule in group.rules]


async def _newest_revisions(
    db: Database, keys: Sequence[str], end: datetime
) -> dict[str, dict[str, Any]]:
    """Each group's last revision observed by `end`: their positions first (small), then
    those revisions by id (a revision's `_id` is `<key>:<seq>`)."""
    newest: dict[str, int] = {}
    query = {"key": {"$in": list(keys)}, "observed_at": {"$lte": end}}
    async for rev in db.revisions.find(query, {"key": 1, "seq": 1}):
        key = str(rev["key"])
        newest[key] = max(newest.get(key, 0), int(rev["seq"]))
    ids = [f"{key}:{seq}" for key, seq in newest.items()]
    found = await Store(db).read("revisions", ids)
    return {str(r["key"]): r for r in found.values()}


async def states(db: Database, period: Period, keys: Sequence[str]) -> AsyncIterator[StateRow]:
    """Each group's last revision at the end of the period, when it was in the scope then
    (a group deleted by then is listed as deleted). Read `STATE_BATCH` groups at a time."""
    labels = await _labels(db)
    for start in range(0, len(keys), STATE_BATCH):
        batch = keys[start : start + STATE_BATCH]
        found = await _newest_revisions(db, batch, period.end)
        for key in batch:
            rev = found.get(key)
            if rev is None:
                continue
            config = rev.get("config") or {}
            deleted = rev.get("change_type") == "deleted"
            account = str(rev["account_id"])
            scoped = scopes_of_config([period.scope], labels.get(account, []), config)
            if not deleted and not scoped:
                continue
            yield StateRow(
                key=key,
                account_id=account,
                region=str(rev["region"]),
                group_id=str(rev["group_id"]),
                name=str(config.get("name") or ""),
                seq=int(rev["seq"]),
                state="deleted" if deleted else "active",
                as_of=rev["observed_at"],
                rules=[] if deleted else _rule_texts(config),
            )


def _finding(doc: dict[str, Any]) -> FindingRow:
    justification = doc.get("justification") or {}
    return FindingRow(
        issue_id=str(doc["_id"]),
        key=str(doc["key"]),
        group_id=str(doc["group_id"]),
        group_name=str(doc.get("group_name") or ""),
        rule_id=str(doc["rule_id"]),
        severity=str(doc["severity"]),
        message=str(doc.get("message") or ""),
        compliance=list(doc.get("compliance") or []),
        opened_at=doc["opened_at"],
        justified_by=str(justification.get("by") or ""),
        reason=str(justification.get("reason") or ""),
        until=justification.get("until"),
    )


async def _issues(
    db: Database, keys: Sequence[str], query: dict[str, Any]
) -> AsyncIterator[FindingRow]:
    for start in range(0, len(keys), PAGE):
        batch = list(keys[start : start + PAGE])
        found = db.issues.find({**query, "key": {"$in": batch}}).sort("_id", 1)
        async for doc in found:
            yield _finding(doc)


def findings(db: Database, period: Period, keys: Sequence[str]) -> AsyncIterator[FindingRow]:
    """Issues of the groups open at the end of the period (opened by then, not fixed or
    fixed only later)."""
    query = {
        "opened_at": {"$lte": period.end},
        "$or": [{"status": "open"}, {"status": "fixed", "fixed_at": {"$gt": period.end}}],
    }
    return _issues(db, keys, query)


def justifications(db: Database, period: Period, keys: Sequence[str]) -> AsyncIterator[FindingRow]:
    """Justified issues whose justification was in force at the end of the period."""
    query = {
        "status": "justified",
        "justification.at": {"$lte": period.end},
        "$or": [
            {"justification.until": None},
            {"justification.until": {"$gt": period.end}},
        ],
    }
    return _issues(db, keys, query)
