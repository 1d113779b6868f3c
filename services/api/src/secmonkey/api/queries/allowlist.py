"""The allowlist: named networks whose findings the auditor silences."""

from __future__ import annotations

from secmonkey.api.schemas.admin import AllowlistIn, AllowlistNew, AllowlistView
from secmonkey.common.documents import AllowlistEntry
from secmonkey.common.errors import Conflict, NotFound
from secmonkey.common.storage import Database, insert_unique


async def list_entries(db: Database) -> list[AllowlistView]:
    docs = await db.allowlist.find({}).sort("_id", 1).to_list()
    return [AllowlistView.of(AllowlistEntry.model_validate(d)) for d in docs]


async def get_entry(db: Database, name: str) -> AllowlistView:
    doc = await db.allowlist.find_one({"_id": name})
    if doc is None:
        raise NotFound(f"no allowlist entry {name!r}")
    return AllowlistView.of(AllowlistEntry.model_validate(doc))


async def create_entry(db: Database, body: AllowlistNew) -> AllowlistView:
    """Add a named network; `Conflict` if the name is taken."""
    entry = AllowlistEntry(name=body.name, cidr=body.cidr, description=body.description)
    if not await insert_unique(db.allowlist, entry.to_mongo()):
        raise Conflict(
            f"allowlist entry {body.name!r} exists; PUT /allowlist/{body.name} replaces it"
        )
    return AllowlistView.of(entry)


async def put_entry(db: Database, name: str, body: AllowlistIn) -> AllowlistView:
    """Add the named network, or replace the one of that name."""
    entry = AllowlistEntry(name=name, cidr=body.cidr, description=body.description)
    fields = {k: v for k, v in entry.to_mongo().items() if k != "_id"}
    await db.allowlist.update_one({"_id": name}, {"$set": fields}, upsert=True)
    return AllowlistView.of(entry)


async def delete_entry(db: Database, name: str) -> None:
    result = await db.allowlist.delete_one({"_id": name})
    if result.deleted_count == 0:
        raise NotFound(f"no allowlist entry {name!r}")
