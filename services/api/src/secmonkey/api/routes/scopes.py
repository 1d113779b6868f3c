"""`/scopes`: compliance scopes (pci, sox, hipaa…). Reads: viewer; writes: admin."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from secmonkey.api.deps import Admin, Db, Viewer
from secmonkey.api.problems import problem_responses
from secmonkey.api.queries import scopes
from secmonkey.api.schemas.change_control import ScopeIn, ScopeView
from secmonkey.common.compliance_scopes import SCOPE_NAME_PATTERN

router = APIRouter(
    prefix="/scopes", tags=["change control"], responses=problem_responses(401, 403, 422)
)
ScopeName = Annotated[str, Path(pattern=SCOPE_NAME_PATTERN, description="e.g. pci")]


@router.get("", response_model=list[ScopeView], summary="List compliance scopes")
async def list_scopes(db: Db, _: Viewer) -> list[ScopeView]:
    return await scopes.list_scopes(db)


@router.get(
    "/{name}", response_model=ScopeView, summary="One scope", responses=problem_responses(404)
)
async def get_scope(db: Db, _: Viewer, name: ScopeName) -> ScopeView:
    return await scopes.get_scope(db, name)


@router.put("/{name}", response_model=ScopeView, summary="Create or replace a scope")
async def put_scope(db: Db, _: Admin, name: ScopeName, body: ScopeIn) -> ScopeView:
    return await scopes.put_scope(db, name, body)


@router.delete(
    "/{name}", status_code=204, summary="Delete a scope", responses=problem_responses(404)
)
async def delete_scope(db: Db, _: Admin, name: ScopeName) -> Response:
    await scopes.delete_scope(db, name)
    return Response(status_code=204)
