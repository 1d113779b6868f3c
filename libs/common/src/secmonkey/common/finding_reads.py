"""Reads of the auditor's issues by the collector's Security Hub export.

The auditor owns `items` and `issues`; the export reads them only through these
functions, so their shape has one place to change.
"""

from __future__ import annotations

from collections.abc import Sequence

from secmonkey.common.storage import Database, Document, Store


async def issues_by_id(db: Database, ids: Sequence[str]) -> dict[str, Document]:
    """The issues with these ids (missing ones are absent), in the backend's fastest form."""
    return await Store(db).read("issues", ids)


async def group_issue_ids(db: Database, key: str) -> list[str]:
    """Every issue id the group `key` has ever had (the item keeps the list)."""
    doc = await db.items.find_one({"_id": key}, {"issue_ids": 1})
    return [str(i) for i in (doc or {}).get("issue_ids") or []]


async def deleted_groups(db: Database, keys: Sequence[str]) -> set[str]:
    """Which of these groups are deleted now (their findings are archived)."""
    docs = await Store(db).read("items", keys, {"state": 1})
    return {key for key, doc in docs.items() if doc.get("state") == "deleted"}
