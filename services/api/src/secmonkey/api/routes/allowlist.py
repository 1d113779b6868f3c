"""`/allowlist`: named networks whose findings are silenced. Reads: viewer; writes: admin."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from secmonkey.api.audit import actions
from secmonkey.api.audit.deps import AdminTrail
from secmonkey.api.deps import Db, Viewer
from secmonkey.api.problems import problem_responses
from secmonkey.api.queries import allowlist
from secmonkey.api.schemas.admin import NAME_PATTERN, AllowlistIn, AllowlistNew, AllowlistView

router = APIRouter(
    prefix="/allowlist", tags=["allowlist"], responses=problem_responses(401, 403, 422)
)
EntryName = Annotated[str, Path(pattern=NAME_PATTERN, description="the network's name")]


@router.get("", response_model=list[AllowlistView], summary="List allowlisted networks")
async def list_entries(db: Db, _: Viewer) -> list[AllowlistView]:
    return await allowlist.list_entries(db)


@router.post(
    "",
    response_model=AllowlistView,
    status_code=201,
    summary="Add a named network",
    responses=problem_responses(409),
)
async def create_entry(trail: AdminTrail, body: AllowlistNew) -> AllowlistView:
    return await actions.create_allowlist_entry(trail, body)


@router.get(
    "/{name}", response_model=AllowlistView, summary="One entry", responses=problem_responses(404)
)
async def get_entry(db: Db, _: Viewer, name: EntryName) -> AllowlistView:
    return await allowlist.get_entry(db, name)


@router.put("/{name}", response_model=AllowlistView, summary="Add or replace a named network")
async def put_entry(trail: AdminTrail, name: EntryName, body: AllowlistIn) -> AllowlistView:
    return await actions.put_allowlist_entry(trail, name, body)


@router.delete(
    "/{name}", status_code=204, summary="Remove a named network", responses=problem_responses(404)
)
async def delete_entry(trail: AdminTrail, name: EntryName) -> Response:
    await actions.delete_allowlist_entry(trail, name)
    return Response(status_code=204)
