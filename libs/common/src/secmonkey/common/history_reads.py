"""Reads of the auditor's history (`items`, `revisions`, `events`) by other services.

The auditor owns these collections (see `storage.collections`); the collector's real-time
path and the notifier's emails read them only through these functions, so their shape has
one place to change. (The API is the query side of all of them and reads them directly.)
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from secmonkey.common.storage import Database, Document, Store


async def active_group_ids_named(
    db: Database, account_id: str, region: str, name: str, limit: int = 100
) -> list[str]:
    """The IDs of the active groups of an account-region with this name."""
    query = {"account_id": account_id, "region": region, "state": "active", "name": name}
    docs = await db.items.find(query, {"group_id": 1}).to_list(limit)
    return [str(d["group_id"]) for d in docs if d.get("group_id")]


async def revision(db: Database, key: str, seq: int) -> Document | None:
    """Revision `seq` of the group `key` (its `_id` is `<key>:<seq>`: a point read)."""
    return await db.revisions.find_one({"_id": f"{key}:{seq}"})


async def revisions_by_id(db: Database, ids: list[str]) -> dict[str, Document]:
    """Revisions by `_id` (`<key>:<seq>`); missing ones are absent. Through `Store.read`:
    an `$in` on `_id` parses every revision on FerretDB (seconds per email under load)."""
    return await Store(db).read("revisions", ids)


async def issues_changed_since(
    db: Database, key: str, since: datetime, limit: int
) -> list[Document]:
    """The group's issues opened or fixed at or after `since`."""
    query = {"key": key, "$or": [{"opened_at": {"$gte": since}}, {"fixed_at": {"$gte": since}}]}
    return await db.issues.find(query).limit(limit).to_list(limit)


async def changes_between(
    db: Database, types: Iterable[str], after: datetime, until: datetime, limit: int
) -> list[Document]:
    """Feed events of these types in (after, until], oldest first, at most `limit`."""
    query = {"type": {"$in": list(types)}, "at": {"$gt": after, "$lte": until}}
    return await db.events.find(query).sort("at", 1).limit(limit).to_list(limit)
