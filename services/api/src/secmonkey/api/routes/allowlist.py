"""`/allowlist`: named networks whose findings are silenced. Reads: viewer; writes: admin."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from secmonkey.api.deps import Admin, Db, Viewer
from secmonkey.api.problems import problem_responses
from secmonkey.api.schemas.admin import NAME_PATTERN, AllowlistIn, AllowlistNew, AllowlistView
from secmonkey.common.documents import AllowlistEntry
from secmonkey.common.errors import Conflict, NotFound
from secmonkey.common.storage import insert_unique

router = APIRouter(
    prefix="/allowlist", tags=["allowlist"], responses=problem_responses(401, 403, 422)
)
EntryName = Annotated[str, Path(pattern=NAME_PATTERN, description="the network's name")]


@router.get("", response_model=list[AllowlistView], summary="List allowlisted networks")
async def list_entries(db: Db, _: Viewer) -> list[AllowlistView]:
    docs = await db.allowlist.find({}).sort("_id", 1).to_list()
    return [AllowlistView.of(AllowlistEntry.model_validate(d)) for d in docs]


@router.post(
    "",
    response_model=AllowlistView,
    status_code=201,
    summary="Add a named network",
    responses=problem_responses(409),
)
async def create_entry(db: Db, _: Admin, body: AllowlistNew) -> AllowlistView:
    entry = AllowlistEntry(name=body.name, cidr=body.cidr, description=body.description)
    if not await insert_unique(db.allowlist, entry.to_mongo()):
        raise Conflict(
            f"allowlist entry {body.name!r} exists; PUT /allowlist/{body.name} replaces it"
        )
    return AllowlistView.of(entry)


@router.get(
    "/{name}", response_model=AllowlistView, summary="One entry", responses=problem_responses(404)
)
async def get_entry(db: Db, _: Viewer, name: EntryName) -> AllowlistView:
    doc = await db.allowlist.find_one({"_id": name})
    if doc is None:
        raise NotFound(f"no allowlist entry {name!r}")
    return AllowlistView.of(AllowlistEntry.model_validate(doc))


@router.put("/{name}", response_model=AllowlistView, summary="Add or replace a named network")
async def put_entry(db: Db, _: Admin, name: EntryName, body: AllowlistIn) -> AllowlistView:
    entry = AllowlistEntry(name=name, cidr=body.cidr, description=body.description)
    fields = {k: v for k, v in entry.to_mongo().items() if k != "_id"}
    await db.allowlist.update_one({"_id": name}, {"$set": fields}, upsert=True)
    return AllowlistView.of(entry)


@router.delete(
    "/{name}", status_code=204, summary="Remove a named network", responses=problem_responses(404)
)
async def delete_entry(db: Db, _: Admin, name: EntryName) -> Response:
    result = await db.allowlist.delete_one({"_id": name})
    if result.deleted_count == 0:
        raise NotFound(f"no allowlist entry {name!r}")
    return Response(status_code=204)
