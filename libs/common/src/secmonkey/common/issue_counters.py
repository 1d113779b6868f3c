"""An item's issue counters: `open_issues`, `max_severity`, `max_severity_rank`.

What group lists filter and sort on, derived from the group's issues (justified ones are
not open). The auditor, which owns `items` and `issues`, writes them with every commit;
the API's justifications change an issue's status outside the auditor and recount through
`recount`, the one place besides the auditor's commit that writes them. Below: the
summaries per account-region that reports sum.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pydantic import ValidationError

from secmonkey.common import place_rosters
from secmonkey.common.documents import Item
from secmonkey.common.errors import TransientError
from secmonkey.common.issue_views import Row, rows_of, rows_text, text_rows
from secmonkey.common.item_keys import key_parts
from secmonkey.common.messages import utcnow
from secmonkey.common.severity import SEVERITY_RANK
from secmonkey.common.storage import (
    Database,
    Document,
    Store,
    Update,
    insert_unique,
    unpack,
)

log = logging.getLogger(__name__)

ROUNDS = 5


def counters(statuses: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """The counters from each issue's (status, severity)."""
    open_severities = [severity for status, severity in statuses if status == "open"]
    top = max(open_severities, key=SEVERITY_RANK.__getitem__, default=None)
    return Item.fields(
        open_issues=len(open_severities),
        max_severity=top,
        max_severity_rank=SEVERITY_RANK[top] if top is not None else -1,
    )


async def recount(store: Store, key: str) -> None:
    """Recount the item's counters from its issues (read by `_id` from `issue_ids`).

    Guarded on the item's `seq` where writes are conditional: if the auditor commits a new
    revision in between, the counters are read and written again.
    """
    for _ in range(ROUNDS):
        found = await store.read("items", [key], {"issue_ids": 1, "state": 1, "seq": 1})
        item = found.get(key)
        if item is None or item.get("state") == "deleted":
            return  # a deleted group has no open issue (the auditor keeps them at zero)
        issues = await store.read(
            "issues", list(item.get("issue_ids") or []), {"status": 1, "severity": 1}
        )
        values = counters((str(d.get("status")), str(d["severity"])) for d in issues.values())
        update = Update(key, {"$set": values}, guard={"seq": item.get("seq")})
        if await store.write("items", [update]) == 1:
            return
    raise TransientError(f"item {key} kept changing while its issues were counted")


# --- summaries: one document per account-region ------------------------------------------
#
# `issue_summaries` holds, per account-region (`_id` = `<account>:<region>`), what a report
# of the whole estate sums: open issues, groups with any, groups per highest open severity,
# open issues per (rule, severity), and the place's TOP most severe open issues (what a
# dashboard lists); beside it, in `issue_rows`, every open issue of the place as report rows
# in report order (what the full report lists). Each is recomputed from its items and open
# issues (never
# incremented, so a replay or a race
# cannot make it drift) and written only by the auditor replica holding the account-
# region's partition, one message at a time. Others (the API's justifications) leave a
# mark by unique insert in `issue_summary_marks`; the holder recomputes marked ones.
# Read with `summary_totals` and `read_summaries`, which the reader sums.

SUMMARIES = "issue_summaries"
SUMMARY_MARKS = "issue_summary_marks"


def place_of(key: str) -> tuple[str, str]:
    """The (account, region) of an item key `aws:<account>:<region>:<group>`."""
    account_id, region, _ = key_parts(key)
    return account_id, region


def summary_of(items: Iterable[Document]) -> dict[str, Any]:
    """The counters of one account-region from its active items' own counters."""
    by_severity: dict[str, int] = {}
    open_issues = groups = 0
    for item in items:
        count = int(item.get("open_issues") or 0)
        if count:
            open_issues += count
            groups += 1
            top = str(item.get("max_severity"))
            by_severity[top] = by_severity.get(top, 0) + 1
    return {
        "open_issues": open_issues,
        "groups_with_open": groups,
        "groups_by_severity": by_severity,
    }


SHAPE = 4  # the summaries' shape (3: written with their `issue_rows`, 4: as report rows; a
# new holder's first sweep end recomputes its places')
TOP = 8  # the most severe open issues each summary keeps: what a dashboard lists
# Beside each summary, in `issue_rows`, every open issue of the place in report order,
# as report rows (`issue_views`: each issue already in the API's JSON shape, one text),
# up to this many (far below MongoDB's 16 MB per document): the full report reads one
# document per account-region instead of every issue (FerretDB 1.24 parses each stored
# document it returns, about 3,300 issues a second on the bench machine) and sends the
# rows' JSON as it is. Not in the summary itself: FerretDB parses a whole document
# whatever the projection, and the counts' reads must stay small. An older release's
# rows (packed issues) are read as issues.
ROWS = "issue_rows"
ROWS_KEPT = 10_000
_NOT_KEPT = ("transition", "lapsed_justification")


def rules_of(issues: Iterable[Document]) -> list[dict[str, Any]]:
    """Open issues counted per (rule, severity): what reports count by rule, account and
    severity, and filter by minimum severity."""
    counts: dict[tuple[str, str], int] = {}
    for issue in issues:
        place = (str(issue["rule_id"]), str(issue["severity"]))
        counts[place] = counts.get(place, 0) + 1
    return [{"rule_id": r, "severity": s, "n": n} for (r, s), n in sorted(counts.items())]


def most_severe(issues: Iterable[Document], limit: int = TOP) -> list[Document]:
    """The first `limit` issues in a report's order (most severe first, then by `_id`)."""
    ordered = sorted(issues, key=lambda d: (-int(d["severity_rank"]), str(d["_id"])))
    return [{k: v for k, v in d.items() if k not in _NOT_KEPT} for d in ordered[:limit]]


async def summarise(db: Database, account_id: str, region: str) -> dict[str, Any]:
    """Recompute and store the summary of one account-region (its partition's holder only),
    from reads by `_id` alone (`place_rosters`): its active items, their issues and the
    issues of the place that no item lists."""
    return (await summarise_all(db, [(account_id, region)]))[0]


async def summarise_all(db: Database, places: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """`summarise` several account-regions: each read and write one command for all."""
    return await store_summaries(db, await places_state(db, places))


async def store_summaries(
    db: Database, states: dict[tuple[str, str], tuple[list[Document], list[Document]]]
) -> list[dict[str, Any]]:
    """Store the summaries (and report rows) of account-regions from their active items
    and open issues (`places_state`, or what the auditor just stored of a new place)."""
    rows = [rows_doc(*place, issues) for place, (_, issues) in states.items()]
    docs = [summary_doc(*place, *state) for place, state in states.items()]
    store = Store(db)
    await store.put(ROWS, {d["_id"]: {k: v for k, v in d.items() if k != "_id"} for d in rows})
    await store.put(SUMMARIES, {d["_id"]: {k: v for k, v in d.items() if k != "_id"} for d in docs})
    return docs


async def place_state(
    db: Database, account_id: str, region: str
) -> tuple[list[Document], list[Document]]:
    """An account-region's active items and open issues, from reads by `_id` alone
    (`place_rosters`): what its summary is made of."""
    return (await places_state(db, [(account_id, region)]))[(account_id, region)]


async def places_state(
    db: Database, places: list[tuple[str, str]]
) -> dict[tuple[str, str], tuple[list[Document], list[Document]]]:
    """`place_state` of several account-regions, in one read of each kind for all."""
    store = Store(db)
    projection = {"open_issues": 1, "max_severity": 1, "issue_ids": 1}
    items = await place_rosters.active_items_of(store, places, projection)
    logged = await place_rosters.logged_issue_ids_of(store, places)
    ids = {
        place: [iid for item in items[place] for iid in item.get("issue_ids") or []] + logged[place]
        for place in places
    }
    found = await store.read("issues", [i for place in places for i in ids[place]])
    return {
        place: (
            items[place],
            [
                found[i]
                for i in dict.fromkeys(ids[place])
                if found.get(i, {}).get("status") == "open"
            ],
        )
        for place in places
    }


def summary_doc(
    account_id: str, region: str, items: list[Document], issues: list[Document]
) -> dict[str, Any]:
    """The summary document of an account-region from its active items and open issues."""
    return {
        "_id": f"{account_id}:{region}",
        "account_id": account_id,
        "region": region,
        **summary_of(items),
        "rules": rules_of(issues),
        "top": most_severe(issues),
        "shape": SHAPE,
        "at": utcnow(),
    }


def rows_doc(account_id: str, region: str, issues: list[Document]) -> dict[str, Any]:
    """An account-region's open issues in report order, as report rows in one text (None
    beyond ROWS_KEPT, or when an issue cannot be shown: the report then reads the issues
    themselves, and the counts are still recomputed)."""
    lines = None
    if len(issues) <= ROWS_KEPT:
        try:
            lines = rows_text(rows_of(most_severe(issues, len(issues))))
        except ValidationError as exc:
            log.warning("issues of %s/%s kept without report rows: %s", account_id, region, exc)
    return {
        "_id": f"{account_id}:{region}",
        "account_id": account_id,
        "region": region,
        # `lines`, not `rows` (an older release's packed issues, which its API replicas
        # still read during an upgrade: a document without them sends those replicas to
        # the issues themselves)
        "lines": lines,
        "at": utcnow(),
    }


async def mark_summary(db: Database, key: str) -> None:
    """Ask the holder of `key`'s partition to recompute its account-region's summary."""
    account_id, region = place_of(key)
    doc = {"_id": f"{account_id}:{region}", "account_id": account_id, "region": region}
    await insert_unique(db[SUMMARY_MARKS], doc | {"at": utcnow()})


async def held_marks(db: Database, holds: Callable[[str, str], bool]) -> list[Document]:
    """The summary marks of the account-regions `holds` accepts."""
    marks = await db[SUMMARY_MARKS].find({}).to_list(1000)
    return [m for m in marks if holds(m["account_id"], m["region"])]


async def settle_mark(db: Database, mark: Document) -> None:
    """Recompute a marked summary (in its account-region's turn); the mark is removed
    first, so one left meanwhile is seen next time."""
    await db[SUMMARY_MARKS].delete_one({"_id": mark["_id"]})
    await summarise(db, mark["account_id"], mark["region"])


async def summary_totals(db: Database, account_ids: list[str] | None = None) -> dict[str, Any]:
    """The estate's counters: the account-region summaries, summed."""
    query: dict[str, Any] = {} if account_ids is None else {"account_id": {"$in": account_ids}}
    totals: dict[str, Any] = {"open_issues": 0, "groups_with_open": 0, "groups_by_severity": {}}
    counters = {"open_issues": 1, "groups_with_open": 1, "groups_by_severity": 1}
    async for doc in db[SUMMARIES].find(query, counters):
        totals["open_issues"] += int(doc.get("open_issues") or 0)
        totals["groups_with_open"] += int(doc.get("groups_with_open") or 0)
        for severity, n in (doc.get("groups_by_severity") or {}).items():
            totals["groups_by_severity"][severity] = (
                totals["groups_by_severity"].get(severity, 0) + n
            )
    return totals


async def read_summaries(db: Database, account_id: str | None = None) -> list[Document]:
    """The summaries (per-rule counts and most severe issues) of one account or all: what a
    report's counts and a dashboard's list are made of, one document per account-region."""
    query: dict[str, Any] = {} if account_id is None else {"account_id": account_id}
    return await db[SUMMARIES].find(query, {"account_id": 1, "rules": 1, "top": 1}).to_list(None)


async def read_open_rows(
    db: Database, account_id: str | None, min_rank: int
) -> list[list[Row]] | None:
    """Every open issue of rank >= `min_rank` of one account or all, as the summaries keep
    them: one list per account-region, each in report order (most severe first, then by
    `_id`). A place marked for a recount (the API justified or reopened one of its issues
    since) is read as its holder will recount it. None when some summarised place has no
    rows (an older release's, or more than ROWS_KEPT): the caller then reads the issues
    themselves."""
    query: dict[str, Any] = {} if account_id is None else {"account_id": account_id}
    where = {"account_id": 1, "region": 1}
    marked = {(m["account_id"], m["region"]) async for m in db[SUMMARY_MARKS].find(query, where)}
    summarised = {(d["account_id"], d["region"]) async for d in db[SUMMARIES].find(query, where)}
    stored = {
        (d["account_id"], d["region"]): d
        async for d in db[ROWS].find(query, {**where, "rows": 1, "lines": 1})
    }
    places = []
    for place in sorted(summarised):
        doc = stored.get(place)
        if doc is None or (doc.get("lines") is None and doc.get("rows") is None):
            return None
        try:
            if place in marked:
                _, issues = await place_state(db, *place)
                rows = rows_of(most_severe(issues, len(issues)))
            elif doc.get("lines") is not None:
                rows = text_rows(doc["lines"])
            else:  # an older release's: the issues packed
                rows = rows_of(unpack(doc["rows"]))
        except ValidationError:
            return None  # an issue that cannot be shown: the caller reads the issues
        places.append([r for r in rows if r.rank >= min_rank])
    return places


def in_report_order(places: list[list[Row]]) -> Iterator[Row]:
    """The places' rows (each list in report order) merged into one report order."""
    return heapq.merge(*places, key=_order)


def _order(row: Row) -> tuple[int, str]:
    return -row.rank, row.id


def summary_rows(summaries: Iterable[Document]) -> list[tuple[str, str, str, int]]:
    """Every (account, rule, severity, open issues) of the summaries."""
    return [
        (str(doc["account_id"]), row["rule_id"], row["severity"], int(row["n"]))
        for doc in summaries
        for row in doc.get("rules") or []
    ]


def summary_top(summaries: Iterable[Document], min_rank: int, limit: int) -> list[Document]:
    """The `limit` (<= TOP) most severe open issues of rank >= `min_rank`, in report order:
    each summary keeps its place's first TOP, so the estate's first `limit` are among them."""
    if limit > TOP:
        raise ValueError(f"summaries keep {TOP} issues per account-region, not {limit}")
    kept = [d for doc in summaries for d in doc.get("top") or [] if d["severity_rank"] >= min_rank]
    return most_severe(kept, limit)
