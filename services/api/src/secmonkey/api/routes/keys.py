"""`/keys`: API keys (admin). A new key is shown once; only its hash is stored."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from secmonkey.api.audit import actions
from secmonkey.api.audit.deps import AdminTrail
from secmonkey.api.deps import Admin, Db, Verifier
from secmonkey.api.problems import problem_responses
from secmonkey.api.queries import keys
from secmonkey.api.schemas.admin import KEY_ID_PATTERN, KeyCreated, KeyIn, KeyUpdate, KeyView

router = APIRouter(prefix="/keys", tags=["keys"], responses=problem_responses(401, 403, 422))
KeyId = Annotated[str, Path(pattern=KEY_ID_PATTERN, description="the key's ID")]


@router.get("", response_model=list[KeyView], summary="List API keys")
async def list_keys(db: Db, _: Admin) -> list[KeyView]:
    return await keys.list_keys(db)


@router.post("", response_model=KeyCreated, status_code=201, summary="Create an API key")
async def new_key(trail: AdminTrail, body: KeyIn) -> KeyCreated:
    return await actions.create_key(trail, body)


@router.get(
    "/{key_id}", response_model=KeyView, summary="One API key", responses=problem_responses(404)
)
async def get_key(db: Db, _: Admin, key_id: KeyId) -> KeyView:
    return await keys.get_key(db, key_id)


@router.patch(
    "/{key_id}",
    response_model=KeyView,
    summary="Rename, change the role of, disable or enable a key",
    responses=problem_responses(404, 409),
)
async def update_key(
    trail: AdminTrail, verifier: Verifier, key_id: KeyId, body: KeyUpdate
) -> KeyView:
    assert trail.principal is not None
    return await actions.update_key(trail, verifier, trail.principal, key_id, body)


@router.delete(
    "/{key_id}",
    status_code=204,
    summary="Revoke (delete) an API key",
    responses=problem_responses(404, 409),
)
async def delete_key(trail: AdminTrail, verifier: Verifier, key_id: KeyId) -> Response:
    assert trail.principal is not None
    await actions.delete_key(trail, verifier, trail.principal, key_id)
    return Response(status_code=204)
