"""Which groups each account-region holds, readable by `_id` alone: `place_rosters`.

A sweep's end (which active groups did the sweep miss?) and a summary's recount (the
account-region's items and open issues) need every group of one account-region. A query
on `account_id` and `region` is served by an index on MongoDB, but FerretDB 1.24 pushes
only a single `_id` equality down to SQLite and parses every document of the collection
for anything else: at 100 accounts x 17 regions, each of the 1,700 sweep ends would read
all 34,000 items, twice. So the auditor keeps, per account-region, one roster document
(`_id` `<account>:<region>`, `groups` `{<group id>: <entry>}`), and the readers below turn
it into point reads (`Store.read`: one `$in` query on MongoDB).

An entry is `UNKNOWN` (1) or a text the auditor writes of the group's committed state
(`secmonkey.auditor.known_states`), so that it decides new and unchanged groups without
reading their items. Writers and order (the auditor replica holding the account-region's
partition, one message at a time): a group is entered before anything about it is
written (its exposure state, revisions, item), set back to unknown before a write changes
what its entry says, and struck off after the item that deletes it is committed and its
exposure forgotten. A crash in between leaves an entry too many (or unknown), never one
too few; readers read the items themselves and skip (and strike off) entries whose item
is missing or deleted. `backfill` builds the rosters of a database from before them, once
(a marker document records it).

Issues opened outside the auditor's findings (a rejected change review's
`unauthorized-change`) are not in any item's `issue_ids` (the auditor would close them as
fixed); their ids go into an append-only log of the place, one document per entry
(`_id` `<account>:<region>#<n>`, taken by unique insert so that concurrent writers never
lose one), read by point lookups up to the first gap.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from secmonkey.common.item_keys import item_key
from secmonkey.common.storage import Database, Document, Store, Update, WriteOp, insert_unique

log = logging.getLogger(__name__)

ROSTERS = "place_rosters"
PLACE_ISSUES = "place_issues"
BUILT_ID = "$built"
UNKNOWN = 1  # an entry whose group's state only its item tells
Place = tuple[str, str]  # account, region
Entry = int | str  # UNKNOWN, or what the auditor last committed of the group (its own text)


def place_id(account_id: str, region: str) -> str:
    return f"{account_id}:{region}"


async def enter(db: Database, account_id: str, region: str, group_ids: Iterable[str]) -> None:
    """Enter groups in their account-region's roster (before their items are committed),
    their state unknown."""
    await mark(Store(db), {(account_id, region): dict.fromkeys(group_ids, UNKNOWN)})


async def mark(store: Store, values: dict[tuple[str, str], dict[str, Entry]]) -> None:
    """Set the roster entries of these groups, by account-region (entering those not on
    it): one bulk write for all the account-regions."""
    writes: list[WriteOp] = []
    for (account_id, region), entries_of in sorted(values.items()):
        fields = {f"groups.{g}": entries_of[g] for g in sorted(entries_of)}
        if fields:
            change = {"$set": {"account_id": account_id, "region": region, **fields}}
            writes.append(Update(place_id(account_id, region), change, upsert=True))
    await store.write(ROSTERS, writes)


async def entries(
    store: Store, places: list[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Entry]]:
    """The rosters of these account-regions: each group id and its entry (one read)."""
    ids = {place_id(a, r): (a, r) for a, r in places}
    found = await store.read(ROSTERS, list(ids))
    return {place: dict((found.get(pid) or {}).get("groups") or {}) for pid, place in ids.items()}


async def strike(store: Store, group_ids: Mapping[tuple[str, str], Iterable[str]]) -> None:
    """Strike groups off their account-region's roster (after their deletion is
    committed): one bulk write for all the account-regions."""
    writes: list[WriteOp] = []
    for (account_id, region), ids in sorted(group_ids.items()):
        fields = {f"groups.{g}": "" for g in sorted(set(ids))}
        if fields:
            writes.append(Update(place_id(account_id, region), {"$unset": fields}))
    await store.write(ROSTERS, writes)


async def group_ids(store: Store, account_id: str, region: str) -> list[str]:
    """The group ids on the account-region's roster (possibly a few stale ones)."""
    return sorted((await entries(store, [(account_id, region)]))[(account_id, region)])


async def active_items(
    store: Store,
    account_id: str,
    region: str,
    projection: dict[str, Any] | None = None,
    *,
    among: Iterable[str] | None = None,
) -> list[Document]:
    """The active items of an account-region (`projection` plus `state`, `group_id`),
    read by `_id` from its roster (only those of the group ids `among`, if given); stale
    entries are struck off on the way."""
    place = (account_id, region)
    groups = None if among is None else {place: among}
    return (await active_items_of(store, [place], projection, among=groups))[place]


async def active_items_of(
    store: Store,
    places: list[Place],
    projection: dict[str, Any] | None = None,
    *,
    among: Mapping[Place, Iterable[str]] | None = None,
) -> dict[Place, list[Document]]:
    """`active_items` of several account-regions, in one read of their rosters, one of
    their items and (if any entry is stale) one write."""
    if among is None:
        rosters = await entries(store, places)
        ids = {p: sorted(rosters[p]) for p in places}
    else:
        ids = {p: sorted(set(among[p])) for p in places}
    wanted = None if projection is None else {**projection, "state": 1, "group_id": 1}
    keys = {p: [item_key(*p, g) for g in ids[p]] for p in places}
    items = await store.read("items", [k for p in places for k in keys[p]], wanted)

    def active(key: str) -> bool:
        return items.get(key, {}).get("state") == "active"

    stale = {p: [g for g, k in zip(ids[p], keys[p], strict=True) if not active(k)] for p in places}
    await strike(store, {p: gone for p, gone in stale.items() if gone})
    return {p: [items[k] for k in keys[p] if active(k)] for p in places}


async def log_issue(db: Database, account_id: str, region: str, issue_id: str) -> None:
    """Record an issue of the place that no item lists (append-only, race-free; before the
    issue is stored, so that a crash leaves an entry without an issue, which readers skip,
    rather than an issue no summary counts)."""
    place = place_id(account_id, region)
    logged = await _logged(db, place)
    if any(d["issue_id"] == issue_id for d in logged):
        return
    n = len(logged)
    while not await insert_unique(
        db[PLACE_ISSUES], {"_id": f"{place}#{n}", "place": place, "issue_id": issue_id}
    ):
        n += 1


async def logged_issue_ids(db: Database, account_id: str, region: str) -> list[str]:
    """The ids `log_issue` recorded for the place, oldest first."""
    place = (account_id, region)
    return (await logged_issue_ids_of(Store(db), [place]))[place]


async def logged_issue_ids_of(store: Store, places: list[Place]) -> dict[Place, list[str]]:
    """`logged_issue_ids` of several account-regions: one read per entry position, for
    all the places whose log reaches it (one read when none has any)."""
    found: dict[Place, list[str]] = {p: [] for p in places}
    reading = list(places)
    while reading:
        n = len(found[reading[0]])
        ids = {f"{place_id(*p)}#{n}": p for p in reading}
        docs = await store.read(PLACE_ISSUES, list(ids))
        reading = []
        for doc_id, place in ids.items():
            if doc_id in docs:
                found[place].append(docs[doc_id]["issue_id"])
                reading.append(place)
    return found


async def _logged(db: Database, place: str) -> list[Document]:
    docs: list[Document] = []
    while (doc := await db[PLACE_ISSUES].find_one({"_id": f"{place}#{len(docs)}"})) is not None:
        docs.append(doc)
    return docs


async def backfill(db: Database) -> int:
    """Build the rosters from the active items, once per database; how many places."""
    if await db[ROSTERS].find_one({"_id": BUILT_ID}) is not None:
        return 0
    places: dict[tuple[str, str], list[str]] = {}
    query = {"state": "active"}
    async for doc in db.items.find(query, {"account_id": 1, "region": 1, "group_id": 1}):
        places.setdefault((doc["account_id"], doc["region"]), []).append(doc["group_id"])
    for (account_id, region), ids in sorted(places.items()):
        await enter(db, account_id, region, ids)
    await insert_unique(db[ROSTERS], {"_id": BUILT_ID})
    if places:
        log.info("built the group rosters of %d account-region(s)", len(places))
    return len(places)
