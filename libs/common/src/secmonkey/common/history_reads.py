"""Reads of the auditor's history (`items`, `revisions`, `events`) by other services.

The auditor owns these collections (see `storage.collections`); the collector's real-time
path reads them only through these functions, so their shape has one place to change.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from secmonkey.common.storage import Database, Document


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


async def changes_between(
    db: Database, types: Iterable[str], after: datetime, until: datetime, limit: int
) -> list[Document]:
    """Feed events of these types in (after, until], oldest first, at most `limit`."""
    query = {"type": {"$in": list(types)}, "at": {"$gt": after, "$lte": until}}
    return await db.events.find(query).sort("at", 1).limit(limit).to_list(limit)
